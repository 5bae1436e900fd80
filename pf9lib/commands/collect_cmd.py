"""`pf9wb collect`, `pf9wb runs`, `pf9wb export rvtools`: inventory into the store and out as a workbook."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pf9lib.commands import DATA_DIR_HELP, data_dir_of
from pf9lib.resources import ALL_TYPES


def register(subparsers: argparse._SubParsersAction) -> None:
    collect = subparsers.add_parser(
        "collect", help="collect the inventory of one or more clouds into the store"
    )
    collect.add_argument(
        "--cloud",
        action="append",
        help="clouds.yaml cloud name (repeatable; default OS_CLOUD or the PF9_* variables)",
    )
    collect.add_argument(
        "--types", help=f"comma list of resource types (default all: {', '.join(ALL_TYPES)})"
    )
    collect.add_argument("--data-dir", help=DATA_DIR_HELP)
    collect.add_argument("--no-progress", action="store_true", help="no progress bar")
    collect.set_defaults(func=cmd_collect)

    runs = subparsers.add_parser("runs", help="list collection runs")
    runs.add_argument("--data-dir")
    runs.add_argument("--limit", type=int, default=20)
    runs.set_defaults(func=cmd_runs)

    store = subparsers.add_parser("store", help="store housekeeping")
    store_sub = store.add_subparsers(dest="store_command", metavar="STORE_COMMAND")
    store_sub.required = True
    compact = store_sub.add_parser("compact", help="merge small files (same logical content)")
    compact.add_argument("--data-dir")
    compact.add_argument("--wait", action="store_true", help="wait for a running collect instead of failing")
    compact.set_defaults(func=cmd_store_compact)
    prune = store_sub.add_parser(
        "prune", help="drop history older than N days (keeps the state at the start)"
    )
    prune.add_argument("--keep-days", type=int, required=True)
    prune.add_argument("--data-dir")
    prune.add_argument("--wait", action="store_true")
    prune.set_defaults(func=cmd_store_prune)

    export = subparsers.add_parser("export", help="export reports")
    sub = export.add_subparsers(dest="export_kind", metavar="KIND")
    sub.required = True
    rv = sub.add_parser("rvtools", help="RVTools-style workbook (xlsx + a CSV per sheet)")
    rv.add_argument("--run", help="run id (default: the latest completed run)")
    rv.add_argument("--out", help="output directory (default <data-dir>/reports/rvtools)")
    rv.add_argument(
        "--cloud-name", dest="cloud_filter", help="the cloud of a store holding several (default: the run's)"
    )
    rv.add_argument("--data-dir")
    rv.set_defaults(func=cmd_export_rvtools)


def cmd_collect(args: argparse.Namespace) -> int:
    from pf9lib import pipeline
    from pf9lib.config import load_settings
    from pf9lib.progress import Progress

    types = [t.strip() for t in args.types.split(",") if t.strip()] if args.types else None
    worst = 0
    for cloud in args.cloud or [None]:
        settings = load_settings(cloud=cloud, data_dir=args.data_dir)
        with Progress(f"collect {settings.cloud}", unit="listings") as bar:

            def progress(event: str, listing) -> None:
                if not args.no_progress:
                    bar.update(1, f"{listing.type}@{listing.region}: {len(listing.objects)}")

            outcome = pipeline.collect(settings, settings.data_dir, types, progress=progress)
        _print_summary(outcome.result)
        for hook in outcome.hooks:
            if hook.ok and hook.name == "drift" and hook.message.endswith("(pf9wb drift events)"):
                print(f"drift: {hook.message}")
            elif not hook.ok:
                print(f"pf9wb: warning: {hook.name} not done after the run: {hook.message}", file=sys.stderr)
        worst = max(worst, outcome.exit_code, key=lambda c: {0: 0, 3: 1, 1: 2}[c])
    return worst


def _print_summary(result) -> None:
    by_type: dict[str, list] = {}
    for s in result.stats:
        by_type.setdefault(s.type, []).append(s)
    print(f"{'type':<22}{'count':>8}{'created':>9}{'updated':>9}{'deleted':>9}  status")
    for kind in sorted(by_type):
        stats = by_type[kind]
        ok = all(s.complete for s in stats)
        errors = "; ".join(s.error for s in stats if s.error)
        print(
            f"{kind:<22}{sum(s.count for s in stats):>8}{sum(s.created for s in stats):>9}"
            f"{sum(s.updated for s in stats):>9}{sum(s.deleted for s in stats):>9}  "
            f"{'complete' if ok else 'PARTIAL: ' + errors[:120]}"
        )
    line = f"run {result.run_id} on cloud {result.cloud}: {result.status}"
    print(line if result.status == "success" else line + " (listings that failed infer no deletions)")


def cmd_runs(args: argparse.Namespace) -> int:
    from pf9lib.store.reader import open_store

    store = open_store(data_dir_of(args))
    df = store.runs().head(args.limit)
    if df.empty:
        print(f"no runs yet in {data_dir_of(args)}: run `pf9wb collect`")
        return 0
    print(df[["run_id", "cloud", "started_at", "duration_s", "status", "error"]].to_string(index=False))
    return 0


def cmd_export_rvtools(args: argparse.Namespace) -> int:
    from pf9lib.reports.rvtools import export_rvtools
    from pf9lib.store.reader import open_store

    data_dir = data_dir_of(args)
    out = Path(args.out) if args.out else data_dir / "reports" / "rvtools"
    path = export_rvtools(open_store(data_dir), out, args.run, args.cloud_filter)
    print(f"wrote {path} (and CSVs in {path.with_name(path.stem + '-csv')})")
    return 0


def _print_housekeeping(what: str, result) -> None:
    print(
        f"{what}: files {result.files_before} -> {result.files_after}, history rows {result.rows_before} -> "
        f"{result.rows_after}, bytes {result.bytes_before:,} -> {result.bytes_after:,}"
    )


def cmd_store_compact(args: argparse.Namespace) -> int:
    from pf9lib.store.housekeeping import compact

    _print_housekeeping("compact", compact(data_dir_of(args), wait=args.wait))
    return 0


def cmd_store_prune(args: argparse.Namespace) -> int:
    from pf9lib.store.housekeeping import prune

    _print_housekeeping("prune", prune(data_dir_of(args), args.keep_days, wait=args.wait))
    return 0
