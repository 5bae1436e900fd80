"""scheduled/drift_report.ipynb: committed without outputs, parameterised for papermill, and when run on a
small history it writes an xlsx of exactly the open events at or above the minimum severity, and an HTML
report (nbconvert --no-input) dated when it was generated."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from pf9lib.analytics.drift import acknowledge
from pf9lib.analytics.drift_events import evaluate_run
from pf9lib.normalize.rows import Lookups, normalize
from pf9lib.store.writer import RunWriter
from tests.helpers.roles import give_role

NOTEBOOK = Path(__file__).resolve().parents[2] / "scheduled" / "drift_report.ipynb"
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.integration


def server(i: int, **changes) -> dict:
    raw = {
        "id": f"srv-{i}",
        "name": f"vm-{i}",
        "tenant_id": "p1",
        "status": "ACTIVE",
        "OS-EXT-STS:vm_state": "active",
        "flavor": {"original_name": "m1.small"},
        "hostId": "h1",
    }
    raw.update(changes)
    return raw


@pytest.fixture
def small_history(tmp_path):
    """Three runs over the last two days: a resize (critical), a stop (two warnings), a host move (info) and
    a deletion (warning); one warning is acknowledged."""
    return build_history(tmp_path / "data", datetime.now(UTC) - timedelta(days=2))


def build_history(data, first):
    states = [
        [server(1), server(2), server(3), server(4)],
        [
            server(1, flavor={"original_name": "m1.large"}),
            server(2, status="SHUTOFF", **{"OS-EXT-STS:vm_state": "stopped"}),
            server(3),
            server(4),
        ],
        [
            server(1, flavor={"original_name": "m1.large"}),
            server(2, status="SHUTOFF", **{"OS-EXT-STS:vm_state": "stopped"}),
            server(3, hostId="h2"),
        ],
    ]
    events = []
    for n, objects in enumerate(states):
        with RunWriter(data, "c1", ["r1"], ["servers"], started_at=first + timedelta(days=n)) as writer:
            writer.write_type(
                "servers", "r1", objects, True, lambda raws: normalize("servers", raws, Lookups())
            )
        events.append(evaluate_run(data, writer.run_id))
    import pandas as pd

    events = pd.concat(events, ignore_index=True)
    acked = events[events["rule_id"] == "servers.vm_state"]["event_id"].iloc[0]
    give_role(data, "ops", "operator")
    acknowledge(data, [acked], note="planned stop", actor="ops")
    return data, events, acked


def test_committed_without_outputs_and_with_a_parameters_cell():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    params = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1
    names = {line.split("=")[0].strip() for line in "".join(params[0]["source"]).splitlines() if "=" in line}
    assert names == {"window_days", "min_severity", "data_dir", "output_dir", "as_of"}


def test_papermill_run_writes_the_open_events_xlsx_and_html(small_history, tmp_path):
    data, events, acked = small_history
    out = tmp_path / "out"
    executed = tmp_path / "drift_report.out.ipynb"
    before = datetime.now(UTC)
    run = subprocess.run(
        [
            str(BIN / "papermill"),
            "--no-progress-bar",
            str(NOTEBOOK),
            str(executed),
            "-p", "data_dir", str(data),
            "-p", "output_dir", str(out),
            "-p", "min_severity", "warning",
            "-p", "window_days", "7",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    (xlsx,) = out.glob("drift-open-events-*.xlsx")
    rows = list(openpyxl.load_workbook(xlsx, read_only=True)["DriftEvents"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    want = events[events["severity"].isin(["critical", "warning"]) & (events["event_id"] != acked)]
    got_ids = sorted(r[header.index("event_id")] for r in body)
    assert got_ids == sorted(want["event_id"]) and len(got_ids) == 3  # flavor, status, deletion
    assert {r[header.index("severity")] for r in body} == {"critical", "warning"}
    html = subprocess.run(
        [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert html.returncode == 0, html.stderr[-2000:]
    page = executed.with_suffix(".html").read_text()
    assert "Drift report" in page and "servers.flavor" in page and "m1.large" in page
    assert (
        f"Generated <strong>{before:%Y-%m-%d}" in page
        or f"Generated <strong>{datetime.now(UTC):%Y-%m-%d}" in page
    )
    assert "drift.summary(" not in page  # --no-input: no code in the report


def _open_rows(data, tmp_path, as_of: str) -> int:
    out = tmp_path / f"out-{as_of}"
    run = subprocess.run(
        [str(BIN / "papermill"), "--no-progress-bar", str(NOTEBOOK), str(tmp_path / f"{as_of}.ipynb"),
         "-p", "data_dir", str(data), "-p", "output_dir", str(out), "-p", "as_of", as_of],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    (xlsx,) = out.glob("drift-open-events-*.xlsx")
    return len(list(openpyxl.load_workbook(xlsx, read_only=True)["DriftEvents"].iter_rows())) - 1


def test_as_of_latest_run_reports_a_history_dated_in_the_past(tmp_path):
    """A simulated history (the demo's) is dated weeks ago: "now" sees nothing, "latest-run" sees it all."""
    data, events, acked = build_history(tmp_path / "data", datetime.now(UTC) - timedelta(days=60))
    assert _open_rows(data, tmp_path, "now") == 0
    assert _open_rows(data, tmp_path, "latest-run") == int((events["event_id"] != acked).sum())
