"""`pf9wb collect`, `pf9wb runs`, `pf9wb export rvtools`: inventory into the store and out as a workbook."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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
    collect.add_argument("--data-dir", help="data directory (default PF9WB_DATA_DIR or ./data)")
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
    rv.add_argument("--data-dir")
    rv.set_defaults(func=cmd_export_rvtools)


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("PF9WB_DATA_DIR") or "data").expanduser().resolve()


def cmd_collect(args: argparse.Namespace) -> int:
    from pf9lib.collect.inventory import collect_cloud
    from pf9lib.config import load_settings

    types = [t.strip() for t in args.types.split(",") if t.strip()] if args.types else None
    worst = 0
    for cloud in args.cloud or [None]:
        settings = load_settings(cloud=cloud, data_dir=args.data_dir)
        progress = None if args.no_progress else _ProgressBar()
        try:
            result = collect_cloud(settings, settings.data_dir, types, progress=progress)
        finally:
            if progress:
                progress.close()
        _print_summary(result)
        if result.status != "failed":
            _evaluate_drift(settings.data_dir, result.run_id)
        worst = max(worst, result.exit_code, key=lambda c: {0: 0, 3: 1, 1: 2}[c])
    # The workbench's own metrics, for node_exporter's textfile collector.
    from pf9lib.collect.metrics_textfile import write_workbench_textfile

    write_workbench_textfile(settings.data_dir)
    return worst


def _evaluate_drift(data_dir: Path, run_id: str) -> None:
    """Drift events of the new run; a broken rules file warns but never fails a collect that worked."""
    from pf9lib.analytics.drift_events import evaluate_run
    from pf9lib.errors import Pf9Error

    try:
        events = evaluate_run(data_dir, run_id)
    except Pf9Error as exc:
        print(f"pf9wb: warning: drift not evaluated: {exc}", file=sys.stderr)
        return
    if len(events):
        counts = events["severity"].value_counts().to_dict()
        print(
            "drift: " + ", ".join(f"{n} {sev}" for sev, n in sorted(counts.items())) + " (pf9wb drift events)"
        )


class _ProgressBar:
    def __init__(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(desc="collect", unit="listing", file=sys.stderr, leave=False)

    def __call__(self, event: str, listing) -> None:
        self.bar.update(1)
        self.bar.set_postfix_str(f"{listing.type}@{listing.region}: {len(listing.objects)}")

    def close(self) -> None:
        self.bar.close()


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

    store = open_store(_data_dir(args))
    df = store.runs().head(args.limit)
    if df.empty:
        print(f"no runs yet in {_data_dir(args)}: run `pf9wb collect`")
        return 0
    print(df[["run_id", "cloud", "started_at", "duration_s", "status", "error"]].to_string(index=False))
    return 0


def cmd_export_rvtools(args: argparse.Namespace) -> int:
    from pf9lib.reports.rvtools import export_rvtools
    from pf9lib.store.reader import open_store

    data_dir = _data_dir(args)
    out = Path(args.out) if args.out else data_dir / "reports" / "rvtools"
    path = export_rvtools(open_store(data_dir), out, args.run)
    print(f"wrote {path} (and CSVs in {path.with_name(path.stem + '-csv')})")
    return 0


def _print_housekeeping(what: str, result) -> None:
    print(
        f"{what}: files {result.files_before} -> {result.files_after}, history rows {result.rows_before} -> "
        f"{result.rows_after}, bytes {result.bytes_before:,} -> {result.bytes_after:,}"
    )


def cmd_store_compact(args: argparse.Namespace) -> int:
    from pf9lib.store.housekeeping import compact

    _print_housekeeping("compact", compact(_data_dir(args), wait=args.wait))
    return 0


def cmd_store_prune(args: argparse.Namespace) -> int:
    from pf9lib.store.housekeeping import prune

    _print_housekeeping("prune", prune(_data_dir(args), args.keep_days, wait=args.wait))
    return 0
