"""Errors answer like real OpenStack's: for each refused call the workbench makes (unknown ids, bad markers,
conflicts, quota) the simulated cloud gives the real status, media type, body keys and wording."""

from __future__ import annotations

import os

import pytest

from tests.realos import errors


@pytest.mark.integration
def test_simulated_errors_match_the_recorded_real_ones(sim):
    # Every call is refused, so the session's simulated cloud is left as it was.
    problems = errors.compare_clouds(errors.load_errors(), errors.record_cloud(sim.connect()))
    assert not problems, "\n".join(problems)


@pytest.mark.realos
def test_live_real_errors_match_the_fixture_and_the_simulated_cloud(stack, sim):
    live = errors.record_cloud(stack.connect("realos-admin"))
    if os.environ.get("REALOS_REFRESH_FIXTURES") == "1":
        errors.write_errors(live)
    stale = errors.compare_clouds(live, errors.load_errors())
    assert not stale, "the real stack's errors differ from tests/realos/fixtures/errors.json:\n" + "\n".join(
        stale
    )
    problems = errors.compare_clouds(live, errors.record_cloud(sim.connect()))
    assert not problems, "\n".join(problems)
