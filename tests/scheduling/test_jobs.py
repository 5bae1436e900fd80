"""The shipped jobs and the runner: files under data/reports/<job>/<UTC timestamp>/, run records, failures,
timeouts and run-due, on the shared small history."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import openpyxl
import pytest

from pf9lib import scheduling
from pf9lib.cli import main
from pf9lib.store.reader import open_store

pytestmark = pytest.mark.integration


def _record(data_dir: Path, run_id: str) -> dict:
    df = scheduling.run_records(data_dir)
    return df[df["run_id"] == run_id].iloc[0].to_dict()


@pytest.mark.parametrize("name", ["inventory_report", "drift_report"])
def test_job_writes_notebook_html_xlsx_and_a_record(job_runs, history, name):
    rec = job_runs[name]
    assert rec.status == "success", rec.error
    assert rec.output_dir.parent == history.data_dir / "reports" / name
    assert re.fullmatch(r"\d{8}T\d{6}Z", rec.output_dir.name)
    assert rec.output_dir.name == rec.started_at.strftime("%Y%m%dT%H%M%SZ")
    executed = nbformat.read(rec.output_dir / f"{name}.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    html = (rec.output_dir / f"{name}.html").read_text()
    # No code in the report: the source of a code cell does not appear, its outputs do.
    assert "pf9lib.open_store(data_dir)" not in html and "import pf9lib" not in html
    # The workbench branding: its style block and header bar (product name, the job as title) come first.
    assert html.count('<style id="pf9-branding">') == 1 and "--pf9-header-bg" in html
    header = html[html.index('<div class="pf9-header">') :][:4000]
    assert "PF9 Workbench" in header and name.replace("_", " ").capitalize() in header
    xlsx = sorted(rec.output_dir.glob("*.xlsx"))
    assert len(xlsx) == 1
    stored = _record(history.data_dir, rec.run_id)
    assert stored["status"] == "success" and stored["job"] == name
    assert stored["started_at"] <= stored["ended_at"]
    assert stored["failing_cell"] is None or stored["failing_cell"] != stored["failing_cell"]  # None / NA
    assert stored["output_dir"] == str(rec.output_dir)


def test_inventory_report_contents(job_runs, history):
    rec = job_runs["inventory_report"]
    html = (rec.output_dir / "inventory_report.html").read_text()
    # plotly.js is inlined (the HTML works offline) and both figures are in it.
    assert len(html) > 3_000_000 and html.count('class="plotly-graph-div"') == 2
    workbook = openpyxl.load_workbook(next(rec.output_dir.glob("*.xlsx")))
    servers = open_store(history.data_dir).sql("SELECT count(*) AS n FROM servers")["n"][0]
    assert workbook["Servers"].max_row - 1 == servers  # one header row


def _notebook(path: Path, sources: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [nbformat.v4.new_code_cell('data_dir = ""\noutput_dir = ""\nplotly_renderer = ""')]
    cells[0].metadata["tags"] = ["parameters"]
    nb.cells = cells + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_failing_cell_and_timeout_are_recorded(history, tmp_path):
    failing = scheduling.Job(
        "failing",
        _notebook(tmp_path / "f.ipynb", ["x = 1", "raise ValueError('boom')", "y = 2"]),
        "* * * * *",
    )
    rec = scheduling.run_job(failing, history.data_dir)
    assert rec.status == "failed"
    # Cell 0 is the parameters cell: the raise is cell 2 of the job's notebook (papermill's own not counted).
    assert rec.failing_cell == 2 and rec.error == "ValueError: boom"
    stored = _record(history.data_dir, rec.run_id)
    assert (stored["status"], stored["failing_cell"], stored["error"]) == ("failed", 2, "ValueError: boom")

    slow = scheduling.Job(
        "slow", _notebook(tmp_path / "s.ipynb", ["import time; time.sleep(60)"]), "* * * * *", 5
    )
    rec = scheduling.run_job(slow, history.data_dir)
    assert rec.status == "timeout"
    assert (rec.ended_at - rec.started_at).total_seconds() < 30
    assert _record(history.data_dir, rec.run_id)["status"] == "timeout"


def test_run_due_follows_the_schedule_and_the_records(job_runs, history):
    jobs = scheduling.load_jobs()
    inventory = job_runs["inventory_report"]
    # Right after its run, inventory_report is not due until its next fire time (06:15 UTC daily).
    just_after = inventory.started_at + timedelta(seconds=30)
    due = {j.name for j in scheduling.due_jobs(jobs, history.data_dir, just_after)}
    assert "inventory_report" not in due
    next_fire = (inventory.started_at + timedelta(days=1)).replace(hour=6, minute=15, second=0, microsecond=0)
    due = {j.name for j in scheduling.due_jobs(jobs, history.data_dir, next_fire + timedelta(minutes=1))}
    assert "inventory_report" in due


def test_schedule_list_cli(job_runs, history, capsys):
    assert main(["schedule", "list", "--data-dir", str(history.data_dir)]) == 0
    out = capsys.readouterr().out
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d"
    row = rf"inventory_report\s+15 6 \* \* \*\s+600s\s+inventory_report\.ipynb\s+{when} success"
    assert re.search(row, out)
    assert re.search(r"auto_snapshots\s+0 2 \* \* \*\s+3600s\s+pf9wb snapshots run --quiet\s+never", out)
    assert "drift_report" in out


def test_never_run_job_is_due(tmp_path):
    job = scheduling.Job("x", tmp_path / "x.ipynb", "0 * * * *")
    now = datetime(2026, 11, 26, 10, 5, tzinfo=UTC)
    assert [j.name for j in scheduling.due_jobs([job], tmp_path / "empty", now)] == ["x"]


def test_the_compact_job_merges_small_files_and_keeps_the_content(history, tmp_path):
    import shutil

    data = shutil.copytree(history.data_dir, tmp_path / "data", symlinks=True)
    before = open_store(data).sql("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM servers_history")
    files_before = len(list((data / "store" / "history").rglob("*.parquet")))
    job = {j.name: j for j in scheduling.load_jobs()}["compact"]
    rec = scheduling.run_job(job, data)
    assert rec.status == "success", rec.error
    files_after = len(list((data / "store" / "history").rglob("*.parquet")))
    assert files_after < files_before
    after = open_store(data).sql("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM servers_history")
    assert after.values.tolist() == before.values.tolist()
