"""The audit in the scheduled drift report: run with papermill as the drift_report job runs it (as_of the
latest run), it lists the audit records of its window, newest first, and leaves older ones out."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest

from pf9lib.actions import audit, record

NOTEBOOK = Path(__file__).resolve().parents[2] / "scheduled" / "drift_report.ipynb"
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.integration


def test_the_drift_report_shows_the_audit_records_of_its_window(history, tmp_path):
    data = shutil.copytree(history.data_dir, tmp_path / "data", symlinks=True)
    now = datetime.now(UTC)
    record(
        data,
        "ada",
        "admin.flavor.create.apply",
        "m1.in-window",
        "plan0recent",
        "succeeded",
        at=now - timedelta(days=1),
    )
    record(
        data,
        "vic",
        "admin.flavor.create.plan",
        "m1.refused",
        None,
        "denied",
        "needs admin",
        "viewer",
        at=now - timedelta(hours=2),
    )
    record(
        data,
        "ada",
        "admin.flavor.delete.apply",
        "m1.too-old",
        "plan0old",
        "succeeded",
        at=now - timedelta(days=30),
    )
    executed = tmp_path / "drift_report.out.ipynb"
    run = subprocess.run(
        [
            str(BIN / "papermill"), "--no-progress-bar", str(NOTEBOOK), str(executed),
            "-p", "data_dir", str(data), "-p", "output_dir", str(tmp_path / "out"),
            "-p", "window_days", "7", "-p", "as_of", "latest-run",
        ],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    cells = nbformat.read(executed, as_version=4).cells
    heading = next(
        n for n, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## Audit")
    )
    shown = "".join(
        str(out.get("data", {}).get("text/html", "")) + str(out.get("data", {}).get("text/markdown", ""))
        for out in cells[heading + 1].outputs
    )
    in_window = audit(data, since=now - timedelta(days=7))
    assert f"{len(in_window)} audit record(s) in the last 7 days" in shown
    assert "m1.in-window" in shown and "plan0recent" in shown and "needs admin" in shown
    assert "m1.too-old" not in shown and "plan0old" not in shown
    # newest first, as `pf9wb audit` lists them
    assert shown.index("m1.refused") < shown.index("m1.in-window")
