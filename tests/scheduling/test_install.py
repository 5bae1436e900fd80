"""A non-editable install finds its shipped jobs and notebooks from any directory (package data)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def test_a_wheel_install_lists_and_runs_the_shipped_jobs_from_another_directory(history, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # uv from the test venv: the same resolution as `make`, without building an editable link.
    install = subprocess.run(
        [sys.executable, "-m", "uv", "pip", "install", "-q", "--python", str(python), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PF9", "OS_", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    pf9wb = str(venv / "bin" / "pf9wb")
    located = subprocess.run(
        [str(python), "-c", "from pf9lib.workspace import workspace; print(workspace().jobs_file)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(venv) in located.stdout and "site-packages/pf9lib/scheduled/jobs.yaml" in located.stdout
    listed = subprocess.run(
        [pf9wb, "schedule", "list", "--data-dir", str(history.data_dir)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr
    assert "inventory_report" in listed.stdout and "inventory_report.ipynb" in listed.stdout
    data = tmp_path / "data"
    subprocess.run(["cp", "-r", str(history.data_dir), str(data)], check=True)
    ran = subprocess.run(
        [pf9wb, "schedule", "run", "inventory_report", "--data-dir", str(data)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert list((data / "reports" / "inventory_report").glob("*/inventory_report.html"))
