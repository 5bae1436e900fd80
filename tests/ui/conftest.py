"""Fixtures of the browser tests: the shared small history and one Voilà server on it for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pf9lib.demo import start_voila, stop_process
from tests.helpers.workbench_history import History, shared_history, shared_job_runs


@pytest.fixture(scope="session")
def history(tmp_path_factory) -> History:
    return shared_history(tmp_path_factory)


@pytest.fixture(scope="session")
def job_runs(tmp_path_factory) -> dict:
    return shared_job_runs(tmp_path_factory)


@pytest.fixture(scope="session")
def voila_server(history: History, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """(base URL, token) of Voilà serving dashboards/ on the history, without kernel culling.

    Culling is off here on purpose: on a loaded CI machine the culler killed the preheated kernel that waited
    in Voilà's pool (idle past the limit) just as a page took it, and the page then never rendered. The demo
    keeps culling on (300 s); the flags it passes are those of pf9lib.demo.voila_command."""
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    proc, url, token = start_voila(
        history.data_dir, log_path=log, cull_idle=0, cull_interval=10, extra_env={"PF9WB_USER": ""}
    )
    yield url, token
    stop_process(proc.pid)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Debian's Chromium (apt-get install chromium), never a downloaded browser.
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }
