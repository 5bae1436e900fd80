"""The shared small history (tests/ui/workbench_history.py) for the scheduling tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))
from workbench_history import History, shared_history, shared_job_runs  # noqa: E402


@pytest.fixture(scope="session")
def history(tmp_path_factory) -> History:
    return shared_history(tmp_path_factory)


@pytest.fixture(scope="session")
def job_runs(tmp_path_factory) -> dict:
    return shared_job_runs(tmp_path_factory)
