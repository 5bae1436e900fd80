"""Shared fixtures: a real simulated-cloud process and openstacksdk connections to it."""

from __future__ import annotations

from collections.abc import Iterator

import openstack
import pytest

from tests.helpers.sim import RunningSim, start_sim


@pytest.fixture(scope="session")
def sim(tmp_path_factory) -> Iterator[RunningSim]:
    """One `tiny` simulated cloud for the session. Tests that change the estate should use `fresh_sim`."""
    running = start_sim(tmp_path_factory.mktemp("sim"))
    yield running
    running.process.stop()


@pytest.fixture
def fresh_sim(tmp_path) -> Iterator[RunningSim]:
    """A new `tiny` simulated cloud for one test (its own estate, faults and tokens)."""
    running = start_sim(tmp_path)
    yield running
    running.process.stop()


@pytest.fixture(scope="session")
def sim_factory(tmp_path_factory):
    """Start simulated clouds of other sizes or seeds: sim_factory(size="small")."""
    started: list[RunningSim] = []

    def factory(size: str = "tiny", seed: int = 42) -> RunningSim:
        running = start_sim(tmp_path_factory.mktemp(f"sim-{size}"), size, seed)
        started.append(running)
        return running

    yield factory
    for running in started:
        running.process.stop()


@pytest.fixture(scope="session")
def sdk(sim) -> openstack.connection.Connection:
    """An unmodified openstacksdk connection, admin on the session's simulated cloud."""
    return sim.connect()
