"""`pytest --nbval-lax` over notebooks/, dashboards/ and scheduled/ on the shared small history.

nbval starts each kernel in the notebook's own directory, and the drift report reads its data directory from a
parameter whose default is the relative `data`: so the notebooks are copied, unchanged, into a scratch tree
whose `data` entries link to the history, and PF9WB_DATA_DIR names it for the notebooks that read it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
DIRS = ("notebooks", "dashboards", "scheduled")

pytestmark = pytest.mark.integration


def _notebooks() -> list[Path]:
    return sorted(p for d in DIRS for p in (REPO / d).glob("*.ipynb"))


def test_every_notebook_is_committed_without_outputs():
    assert len(_notebooks()) >= 4
    for path in _notebooks():
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def test_nbval_lax_over_the_notebooks(history, tmp_path):
    tree = tmp_path / "nb"
    copies = []
    for d in DIRS:
        (tree / d).mkdir(parents=True)
        (tree / d / "data").symlink_to(history.data_dir, target_is_directory=True)
        for path in (REPO / d).glob("*.ipynb"):
            copies.append(shutil.copy(path, tree / d / path.name))
    # notebooks/ defaults to ../data (the repository's data directory seen from notebooks/)
    (tree / "data").symlink_to(history.data_dir, target_is_directory=True)
    env = {**os.environ, "PF9WB_DATA_DIR": str(history.data_dir)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--rootdir",
            str(tree),
            # the files, not the directories: `data` links into the history, which holds executed reports
            *[str(c) for c in copies],
        ],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    cells = sum(
        1 for path in _notebooks() for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"
    )
    assert f"{cells} passed" in proc.stdout, proc.stdout[-2000:]
