"""`pf9wb schedule list | run JOB | run-due`: the papermill jobs of scheduled/jobs.yaml."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    sched = subparsers.add_parser("schedule", help="scheduled notebook jobs (scheduled/jobs.yaml)")
    sub = sched.add_subparsers(dest="schedule_command", metavar="SCHEDULE_COMMAND")
    sub.required = True
    for name, helptext in (
        ("list", "the jobs, their schedules and last runs"),
        ("run", "run one job now"),
        ("run-due", "run the jobs whose schedule fired since their last run (for cron / systemd timers)"),
    ):
        p = sub.add_parser(name, help=helptext)
        if name == "run":
            p.add_argument("job")
        p.add_argument("--jobs", type=Path, help="jobs file (default scheduled/jobs.yaml of the repository)")
        p.add_argument("--data-dir", help="data directory (default PF9WB_DATA_DIR or ./data)")
        p.set_defaults(func=cmd_schedule)


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("PF9WB_DATA_DIR") or "data").expanduser().resolve()


def cmd_schedule(args: argparse.Namespace) -> int:
    from pf9lib import scheduling

    jobs = scheduling.load_jobs(args.jobs or scheduling.DEFAULT_JOBS)
    data_dir = _data_dir(args)
    if args.schedule_command == "list":
        records = scheduling.run_records(data_dir)
        print(f"{'job':<20}{'schedule':<16}{'timeout':>8}  last run")
        for job in jobs:
            mine = records[records["job"] == job.name] if not records.empty else records
            last = (
                "never"
                if mine.empty
                else f"{mine.iloc[0]['started_at']:%Y-%m-%d %H:%M} {mine.iloc[0]['status']}"
            )
            print(f"{job.name:<20}{job.schedule:<16}{job.timeout_s:>7.0f}s  {last}")
        return 0
    if args.schedule_command == "run":
        done = [scheduling.run_job(scheduling.find_job(jobs, args.job), data_dir)]
    else:
        done = scheduling.run_due(jobs, data_dir)
        if not done:
            print("no job due")
    for rec in done:
        where = f" at cell {rec.failing_cell}" if rec.failing_cell is not None else ""
        print(
            f"{rec.job}: {rec.status}{where} in {(rec.ended_at - rec.started_at).total_seconds():.1f} s -> "
            f"{rec.output_dir}" + (f"\n  {rec.error}" if rec.error else "")
        )
    return 0 if all(r.status == "success" for r in done) else 1
