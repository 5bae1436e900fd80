"""The shared small history (tests/helpers/workbench_history.py) for the scheduling tests."""

from __future__ import annotations

import pytest

from tests.helpers.workbench_history import History, shared_history, shared_job_runs


@pytest.fixture(scope="session")
def history(tmp_path_factory) -> History:
    return shared_history(tmp_path_factory)


@pytest.fixture(scope="session")
def job_runs(tmp_path_factory) -> dict:
    return shared_job_runs(tmp_path_factory)
