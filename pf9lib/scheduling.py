"""Scheduled notebook jobs: declared in scheduled/jobs.yaml, run with papermill under an outer timeout.

Each run writes `<data_dir>/reports/<job>/<UTC timestamp>/` holding the executed notebook, an HTML report
without code (plotly inlined, so it works offline) and whatever files the notebook writes to its `output_dir`
(xlsx …), and appends a run record (start, end, status, failing cell, error) to the store as a
`schedule_runs` event. `run_due` is what cron or a systemd timer calls every few minutes: a job runs when its
cron schedule fired since its last recorded run.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pf9lib.errors import ConfigError
from pf9lib.store.events import append_events

# Built-in jobs: the pf9wb command each runs (its parameters become options).
COMMANDS = {
    "collect": ["collect", "--no-progress"],
    "metrics": ["metrics", "collect"],
    "snapshots": ["snapshots", "run", "--quiet"],
    "compact": ["store", "compact"],
}
RUNS_KIND = "schedule_runs"  # declared in store/schema.py
EXPORT_RENDERER = "plotly_mimetype+notebook"  # inlines plotly.js: the HTML works offline
PAPERMILL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}  # cells papermill adds
LOOKBACK = timedelta(days=7)  # how far back run-due looks for a missed fire time


@dataclass(frozen=True)
class Job:
    """A notebook run by papermill, or a built-in `command` of the pf9wb pipeline (collect, metrics, …)."""

    name: str
    notebook: Path | None
    schedule: str
    timeout_s: float = 600.0
    parameters: dict[str, Any] = field(default_factory=dict)
    command: str | None = None

    @property
    def what(self) -> str:
        return self.notebook.name if self.notebook else f"pf9wb {' '.join(COMMANDS[self.command])}"


def default_jobs_file() -> Path:
    """The workspace's jobs file (PF9WB_JOBS, else the shipped scheduled/jobs.yaml)."""
    from pf9lib.workspace import workspace

    return workspace().jobs_file


# --------------------------------------------------------------------------------------------- cron

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _field(text: str, lo: int, hi: int, expr: str) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            start, end = lo, hi
        elif "-" in body:
            a, b = body.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = int(body)
            end = hi if step_text else start
        if step < 1 or start < lo or end > hi or start > end:
            raise ConfigError(f"cron field {part!r} of {expr!r} is out of range {lo}-{hi}")
        values.update(range(start, end + 1, step))
    return values


def parse_cron(expr: str) -> tuple[set[int], ...]:
    """Five fields (minute hour day-of-month month day-of-week; Sunday 0 or 7) of numbers, *, a-b, lists and
    /steps. ConfigError names the bad part."""
    parts = expr.split()
    if len(parts) != 5:
        raise ConfigError(f"cron schedule {expr!r} needs 5 fields: minute hour day month weekday")
    try:
        sets = [
            _field(p, lo, hi + (1 if i == 4 else 0), expr)  # weekday 7 is Sunday too
            for i, (p, (lo, hi)) in enumerate(zip(parts, _RANGES, strict=True))
        ]
    except ValueError:
        raise ConfigError(f"cron schedule {expr!r}: fields are numbers, *, a-b, lists and /steps") from None
    if 7 in sets[4]:
        sets[4] = (sets[4] - {7}) | {0}
    return tuple(sets) + (parts[2] == "*", parts[4] == "*")


def cron_matches(expr: str, when: datetime) -> bool:
    """Whether the minute `when` (UTC) is a fire time of `expr` (cron's rule: when both day fields are
    restricted, either may match)."""
    minute, hour, dom, month, dow, dom_any, dow_any = parse_cron(expr)
    when = when.astimezone(UTC)
    if when.minute not in minute or when.hour not in hour or when.month not in month:
        return False
    day_ok, wday_ok = when.day in dom, (when.isoweekday() % 7) in dow
    if dom_any or dow_any:
        return day_ok and wday_ok
    return day_ok or wday_ok


def last_fire_time(expr: str, now: datetime, lookback: timedelta = LOOKBACK) -> datetime | None:
    """The latest fire time of `expr` at or before `now` within `lookback`, else None."""
    parse_cron(expr)  # fail early on a bad expression
    t = now.astimezone(UTC).replace(second=0, microsecond=0)
    stop = t - lookback
    while t > stop:
        if cron_matches(expr, t):
            return t
        t -= timedelta(minutes=1)
    return None


# --------------------------------------------------------------------------------------------- jobs


def load_jobs(path: Path | str | None = None) -> list[Job]:
    """Jobs from a YAML file `jobs: [{name, notebook | command, schedule, timeout, parameters}]`; notebook
    paths are relative to the file's directory (or its parent, as `scheduled/x.ipynb`) when not absolute."""
    path = Path(path) if path else default_jobs_file()
    if not path.exists():
        raise ConfigError(f"no jobs file at {path}: create it or pass --jobs")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}".splitlines()[0]) from None
    jobs = []
    for n, item in enumerate(data.get("jobs") or []):
        if (
            not isinstance(item, dict)
            or not {"name", "schedule"} <= item.keys()
            or ("notebook" in item) == ("command" in item)
        ):
            raise ConfigError(f"{path}: job {n + 1} needs name, notebook (or command) and schedule")
        command = item.get("command")
        if command is not None and command not in COMMANDS:
            raise ConfigError(
                f"{path}: job {item['name']!r} has unknown command {command!r}: use {', '.join(COMMANDS)}"
            )
        parse_cron(str(item["schedule"]))
        jobs.append(
            Job(
                name=str(item["name"]),
                notebook=_notebook(path, item["notebook"]) if command is None else None,
                schedule=str(item["schedule"]),
                timeout_s=float(item.get("timeout", 600)),
                parameters=dict(item.get("parameters") or {}),
                command=command,
            )
        )
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: job names must be unique")
    return jobs


def _notebook(jobs_file: Path, given: str) -> Path:
    notebook = Path(given)
    if notebook.is_absolute():
        return notebook
    beside = jobs_file.parent / notebook
    return beside if beside.exists() else jobs_file.parent.parent / notebook


def find_job(jobs: list[Job], name: str) -> Job:
    for job in jobs:
        if job.name == name:
            return job
    raise ConfigError(f"no job named {name!r}: `pf9wb schedule list` shows {', '.join(j.name for j in jobs)}")


def run_records(data_dir: Path | str) -> pd.DataFrame:
    """Every recorded job run, newest first."""
    from pf9lib.store.reader import open_store

    store = open_store(data_dir)
    try:
        view = store.events(RUNS_KIND)
        return store.sql(f'SELECT * FROM "{view}" ORDER BY started_at DESC')
    finally:
        store.close()


@dataclass
class RunRecord:
    run_id: str
    job: str
    started_at: datetime
    ended_at: datetime
    status: str
    output_dir: Path
    failing_cell: int | None = None
    error: str | None = None
    files: list[Path] = field(default_factory=list)


def _failing_cell(notebook: Path) -> tuple[int | None, str | None]:
    """(index of the failing cell in the job's own notebook, 0-based; "Error: message") from an executed one.

    Cells papermill adds (the injected parameters, its error banners) are not counted, so the index points at
    the cell in the file the job names."""
    import nbformat

    if not notebook.exists():
        return None, None
    nb = nbformat.read(notebook, as_version=4)
    index = -1
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & PAPERMILL_TAGS:
            continue
        index += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return index, f"{out.get('ename')}: {out.get('evalue')}"[:500]
    return None, None


def run_job(job: Job, data_dir: Path | str, now: datetime | None = None) -> RunRecord:
    """Run one job now under its timeout and record the run: a notebook through papermill (then HTML without
    code), or a built-in command of the pipeline."""
    from pf9lib.workspace import workspace

    data_dir = Path(data_dir).resolve()
    started = (now or datetime.now(UTC)).astimezone(UTC)
    out_dir = workspace(data_dir).reports_dir / job.name / started.strftime("%Y%m%dT%H%M%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    if job.command is not None:
        status, error, failing = _run_command(job, data_dir, out_dir)
        return _record(job, data_dir, started, status, out_dir, failing, error)
    executed = out_dir / job.notebook.name
    params = {
        **job.parameters,
        "data_dir": str(data_dir),
        "output_dir": str(out_dir),
        "plotly_renderer": EXPORT_RENDERER,
    }
    cmd = [sys.executable, "-m", "papermill", "--no-progress-bar", str(job.notebook), str(executed)]
    for key, value in params.items():
        # -r keeps strings as given; -p lets papermill read numbers and booleans.
        cmd += ["-r" if isinstance(value, str) else "-p", key, str(value)]
    status, error, failing = "success", None, None
    log = out_dir / "papermill.log"
    try:
        # The outer timeout: papermill can hang when a kernel dies, so the whole run is bounded.
        with open(log, "wb") as fh:
            proc = subprocess.run(
                cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=job.timeout_s, cwd=job.notebook.parent
            )
        if proc.returncode != 0:
            status = "failed"
            failing, error = _failing_cell(executed)
            error = error or log.read_text(errors="replace").strip().splitlines()[-1:][0][:500]
    except subprocess.TimeoutExpired:
        status, error = "timeout", f"still running after {job.timeout_s:.0f} s: stopped"
        failing, _ = _failing_cell(executed)
    if executed.exists():
        html = subprocess.run(
            [sys.executable, "-m", "nbconvert", "--to", "html", "--no-input", str(executed)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if html.returncode != 0 and status == "success":
            status, error = "failed", f"nbconvert: {html.stderr.strip().splitlines()[-1:]}"
        elif html.returncode == 0:
            problem = _brand_report(executed.with_suffix(".html"), data_dir, job.name)
            if problem and status == "success":
                status, error = "failed", problem
    return _record(job, data_dir, started, status, out_dir, failing, error)


def _run_command(job: Job, data_dir: Path, out_dir: Path) -> tuple[str, str | None, None]:
    """`pf9wb <command> --data-dir D --<parameter> value …` under the job's timeout, logged beside its
    record. Exit 0 is success, 3 (some listings or targets failed) partial, anything else failed."""
    cmd = [sys.executable, "-m", "pf9lib.cli", *COMMANDS[job.command], "--data-dir", str(data_dir)]
    for key, value in job.parameters.items():
        flag = "--" + str(key).replace("_", "-")
        if value is True:
            cmd.append(flag)
        elif value not in (None, False):
            cmd += [flag, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    log = out_dir / f"{job.command}.log"
    try:
        with open(log, "wb") as fh:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=job.timeout_s)
    except subprocess.TimeoutExpired:
        return "timeout", f"still running after {job.timeout_s:.0f} s: stopped", None
    if proc.returncode == 0:
        return "success", None, None
    last = (log.read_text(errors="replace").strip().splitlines() or [f"exit {proc.returncode}"])[-1][:500]
    return ("partial" if proc.returncode == 3 else "failed"), last, None


def _record(
    job: Job,
    data_dir: Path,
    started: datetime,
    status: str,
    out_dir: Path,
    failing: int | None,
    error: str | None,
) -> RunRecord:
    ended = datetime.now(UTC)
    record = RunRecord(
        uuid.uuid4().hex, job.name, started, ended, status, out_dir, failing, error, sorted(out_dir.iterdir())
    )
    append_events(
        data_dir,
        RUNS_KIND,
        [
            {
                "run_id": record.run_id,
                "job": job.name,
                "notebook": str(job.notebook) if job.notebook else job.what,
                "started_at": started,
                "ended_at": ended,
                "status": status,
                "failing_cell": failing,
                "error": error,
                "output_dir": str(out_dir),
            }
        ],
    )
    return record


def _brand_report(html_path: Path, data_dir: Path, job_name: str) -> str | None:
    """Put the workbench branding (header bar, colours) into a report's HTML; the error line when the data
    directory's branding file is broken (the report stays, unbranded, and the run says why)."""
    from pf9lib.ui import branding

    try:
        branding.brand_html_report(html_path, branding.load(data_dir), _report_title(job_name))
    except ConfigError as exc:
        return f"branding: {exc}"
    return None


def _report_title(job_name: str) -> str:
    return job_name.replace("_", " ").capitalize()


def due_jobs(jobs: list[Job], data_dir: Path | str, now: datetime | None = None) -> list[Job]:
    """Jobs whose schedule fired (within LOOKBACK) after their last recorded run started."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    records = run_records(data_dir)
    due = []
    for job in jobs:
        fired = last_fire_time(job.schedule, now)
        if fired is None:
            continue
        mine = records[records["job"] == job.name] if not records.empty else records
        last = None if mine.empty else pd.Timestamp(mine["started_at"].max()).to_pydatetime()
        if last is None or last < fired:
            due.append(job)
    return due


def run_due(jobs: list[Job], data_dir: Path | str, now: datetime | None = None) -> list[RunRecord]:
    """Run every due job once, one after the other."""
    return [run_job(job, data_dir) for job in due_jobs(jobs, data_dir, now)]
