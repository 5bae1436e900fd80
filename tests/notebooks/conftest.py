"""The shared small history (tests/helpers/workbench_history.py) for the notebook tests."""

from __future__ import annotations

import pytest

from tests.helpers.workbench_history import History, shared_history


@pytest.fixture(scope="session")
def history(tmp_path_factory) -> History:
    return shared_history(tmp_path_factory)
