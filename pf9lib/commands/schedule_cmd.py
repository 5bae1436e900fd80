"""`pf9wb schedule list | run JOB | run-due`: the jobs of the jobs file (notebooks and built-in commands)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pf9lib.commands import DATA_DIR_HELP, data_dir_of


def register(subparsers: argparse._SubParsersAction) -> None:
    sched = subparsers.add_parser("schedule", help="scheduled jobs: collect, metrics and report notebooks")
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
        p.add_argument(
            "--jobs", type=Path, help="jobs file (default PF9WB_JOBS, else the shipped scheduled/jobs.yaml)"
        )
        p.add_argument("--data-dir", help=DATA_DIR_HELP)
        p.set_defaults(func=cmd_schedule)


def cmd_schedule(args: argparse.Namespace) -> int:
    from pf9lib import scheduling

    jobs = scheduling.load_jobs(args.jobs)
    data_dir = data_dir_of(args)
    if args.schedule_command == "list":
        records = scheduling.run_records(data_dir)
        print(f"{'job':<20}{'schedule':<16}{'timeout':>8}  {'runs':<30}last run")
        for job in jobs:
            mine = records[records["job"] == job.name] if not records.empty else records
            last = (
                "never"
                if mine.empty
                else f"{mine.iloc[0]['started_at']:%Y-%m-%d %H:%M} {mine.iloc[0]['status']}"
            )
            print(f"{job.name:<20}{job.schedule:<16}{job.timeout_s:>7.0f}s  {job.what:<30}{last}")
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
    if any(r.status not in ("success", "partial") for r in done):
        return 1
    return 3 if any(r.status == "partial" for r in done) else 0
