"""The shared small history (tests/ui/workbench_history.py) for the notebook tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))
from workbench_history import History, shared_history  # noqa: E402


@pytest.fixture(scope="session")
def history(tmp_path_factory) -> History:
    return shared_history(tmp_path_factory)
