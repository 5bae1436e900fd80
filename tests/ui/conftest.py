"""Fixtures of the browser tests: the shared small history and one Voilà server on it for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pf9lib.demo import start_voila, stop_process
from tests.helpers.roles import give_role
from tests.helpers.workbench_history import VIEWER as USER
from tests.helpers.workbench_history import History, shared_history, shared_job_runs


@pytest.fixture(scope="session")
def history(tmp_path_factory) -> History:
    return shared_history(tmp_path_factory)


@pytest.fixture(scope="session")
def job_runs(tmp_path_factory) -> dict:
    return shared_job_runs(tmp_path_factory)


@pytest.fixture(scope="session")
def voila_server(history: History, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """(base URL, token) of Voilà serving dashboards/ on the history, started as the demo starts it
    (pf9lib.demo.voila_command: token, one preheated kernel, idle kernels culled). tests/ui/test_culling.py
    serves its own with a short cull limit.

    PF9WB_USER is emptied so the viewer's identity can only come from the X-Forwarded-User header; the
    tests' viewer is made an operator, as `pf9wb access grant` would."""
    give_role(history.data_dir, USER, "operator")
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    proc, url, token = start_voila(history.data_dir, log_path=log, extra_env={"PF9WB_USER": ""})
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
