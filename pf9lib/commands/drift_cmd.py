"""`pf9wb drift`: evaluate runs against the drift rules, list and acknowledge events, manage the rules."""

from __future__ import annotations

import argparse

from pf9lib.commands import DATA_DIR_HELP, data_dir_of
from pf9lib.errors import Pf9Error

FILES_HELP = """\
files (both optional, under <data-dir>/drift/; `pf9wb drift check` validates them):
  rules.yaml   extra rules on any type and column:
                 rules:
                   - {type: servers, field: key_name, severity: warning, meaning: key pair replaced}
               keys: type, field (a column of the type), severity (critical|warning|info), and optional
               id (default TYPE.FIELD), meaning, enabled
  ignore       known noise, one TYPE.ID-OR-GLOB.FIELD per line (the id part also matches names), e.g.
                 ports.*.status
                 snapshots.auto-*.deleted        # deletions are the field `deleted`
                 !ports.3f2a0c1e-aaaa.status     # `!` re-includes; the last matching line wins
               wildcards * ? [..]; write a dot inside an id as \\.; `#` starts a comment
"""
_LIST_COLUMNS = [
    "event_id",
    "observed_at",
    "severity",
    "rule_id",
    "name",
    "old_value",
    "new_value",
    "project_name",
]


def register(subparsers: argparse._SubParsersAction) -> None:
    drift = subparsers.add_parser(
        "drift",
        help="drift events: evaluate, list, acknowledge; manage the rules",
        epilog=FILES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = drift.add_subparsers(dest="drift_command", metavar="ACTION")
    sub.required = True

    summary = sub.add_parser("summary", help="totals, open events by severity and type, daily trend")
    summary.add_argument("--days", type=int, default=7, help="days in the trend (default 7)")
    summary.set_defaults(func=cmd_summary)

    events = sub.add_parser("events", help="list events (filters combine)")
    _filter_args(events)
    events.add_argument("--sort", default="observed_at", help="observed_at, severity, type, rule_id, name, …")
    events.add_argument("--asc", action="store_true", help="ascending (default newest / highest first)")
    events.add_argument("--limit", type=int, default=50)
    events.add_argument("--offset", type=int, default=0)
    events.add_argument("--csv", metavar="PATH", help="write every matching event to a CSV (or .xlsx) file")
    events.add_argument(
        "--grouped",
        action="store_true",
        help="one row per incident: a parent change and what followed from it",
    )
    events.add_argument(
        "--expected",
        action="store_true",
        help="the expected changes instead (retention, plans, consequences)",
    )
    events.set_defaults(func=cmd_events)

    show = sub.add_parser("show", help="one event with its acknowledgements and the object's history")
    show.add_argument("event_id")
    show.set_defaults(func=cmd_show)

    ack = sub.add_parser("ack", help="acknowledge events by id, or every open event matching filters")
    ack.add_argument("event_ids", nargs="*", metavar="ID", help="event ids (or unique prefixes of ≥ 6 chars)")
    ack.add_argument("--note", required=True, help="why this is expected / what was done")
    ack.add_argument(
        "--matching", action="store_true", help="bulk: acknowledge every open event matching filters"
    )
    _filter_args(ack, with_state=False)
    ack.set_defaults(func=cmd_ack)

    rules = sub.add_parser("rules", help="list the rules, or enable / disable / grade them")
    rules.add_argument(
        "rules_action", nargs="?", choices=("list", "enable", "disable", "grade"), default="list"
    )
    rules.add_argument("args", nargs="*", metavar="ARG", help="rule ids; for grade: RULE_ID... SEVERITY")
    rules.add_argument("--note", default="", help="why (recorded with the change)")
    rules.set_defaults(func=cmd_rules)

    evaluate = sub.add_parser("evaluate", help="evaluate a run (default the latest) against the rules")
    evaluate.add_argument("--run", help="run id (default: the latest finished run)")
    evaluate.add_argument("--all-runs", action="store_true", help="every finished run, oldest first")
    evaluate.set_defaults(func=cmd_evaluate)

    check = sub.add_parser("check", help="validate <data-dir>/drift/rules.yaml and <data-dir>/drift/ignore")
    check.set_defaults(func=cmd_check)

    base = sub.add_parser(
        "baseline", help="accept the current state: acknowledge every open event as baseline"
    )
    base.add_argument("--before", help="only events observed up to this run id or ISO time (default: now)")
    base.add_argument("--apply", action="store_true", help="acknowledge them (default: only count them)")
    base.set_defaults(func=cmd_baseline)

    for parser in (summary, events, show, ack, rules, evaluate, check, base):
        parser.add_argument("--data-dir", help=DATA_DIR_HELP)


def _filter_args(parser: argparse.ArgumentParser, with_state: bool = True) -> None:
    parser.add_argument("--type", action="append", help="resource type (repeatable)")
    parser.add_argument("--severity", action="append", choices=("critical", "warning", "info"))
    parser.add_argument("--min-severity", choices=("critical", "warning", "info"))
    parser.add_argument("--project", help="project id or name")
    parser.add_argument("--domain", help="domain id or name")
    parser.add_argument("--rule", action="append", dest="rule_id", help="rule id (repeatable)")
    parser.add_argument("--run", dest="run_id", help="events of one run")
    parser.add_argument("--search", help="text anywhere in the event")
    parser.add_argument("--days", type=float, help="only events seen in the last N days")
    if with_state:
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--open", action="store_const", const=False, dest="acknowledged")
        state.add_argument("--acknowledged", action="store_const", const=True, dest="acknowledged")


def _filters(args: argparse.Namespace) -> dict:
    keys = ("type", "severity", "min_severity", "project", "domain", "rule_id", "run_id", "search", "days")
    out = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if getattr(args, "acknowledged", None) is not None:
        out["acknowledged"] = args.acknowledged
    return out


def _store(args: argparse.Namespace):
    from pf9lib.store.reader import open_store

    return open_store(data_dir_of(args))


def _print(df, columns: list[str] | None = None) -> None:
    import pandas as pd

    if df.empty:
        print("(none)")
        return
    shown = (df[columns] if columns else df).astype(object)
    shown = shown.where(pd.notna(shown), "")  # an empty cell, not NaN / None, for what is not set
    print(shown.to_string(index=False, max_colwidth=48))


def cmd_summary(args: argparse.Namespace) -> int:
    from pf9lib.analytics import drift

    result = drift.summary(_store(args), days=args.days)
    t = result["totals"].iloc[0]
    print(
        f"events {t['events']}  open {t['open']} in {t['open_incidents']} incident(s) "
        f"(critical {t['open_critical']}, warning {t['open_warning']}, info {t['open_info']})  "
        f"expected {t['expected']}  acknowledged {t['acknowledged']}"
    )
    print("\nopen by rule:")
    _print(drift.open_by_rule(_store(args)))
    print("\nopen by type:")
    _print(result["open_by_type"])
    print(f"\nnew events per day (last {args.days} days):")
    _print(result["trend"])
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    from pf9lib.analytics import drift

    store = _store(args)
    if args.csv:
        path = drift.export_events(store, args.csv, sort=args.sort, descending=not args.asc, **_filters(args))
        print(f"wrote {path}")
        return 0
    filters = {**_filters(args), "expected": True if args.expected else False}
    if args.grouped:
        df = drift.incidents(store, limit=args.limit, **filters)
        _print(df, ["event_id", "severity", "rule_id", "name", "children", "child_types", "observed_at"])
        print(f"({len(df)} of {df.attrs['total']} incidents)")
        return 0
    df = drift.events(
        store, sort=args.sort, descending=not args.asc, limit=args.limit, offset=args.offset, **filters
    )
    _print(df, _LIST_COLUMNS + (["expected_reason"] if args.expected else ["acknowledged"]))
    shown = f"{args.offset + 1}-{args.offset + len(df)}" if len(df) else "0"
    print(f"({shown} of {df.attrs['total']} events)")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from pf9lib.analytics import drift
    from pf9lib.identity import cli_identity

    store = _store(args)
    result = drift.baseline(store, args.before, actor=cli_identity(store.data_dir), apply=args.apply)
    until = f"{result['until']:%Y-%m-%d %H:%M} UTC"
    if not args.apply:
        print(
            f"{result['events']} open event(s) up to {until} would be acknowledged as baseline: add --apply"
        )
        return 0
    print(f"acknowledged {result['acknowledged']} open event(s) up to {until} as the baseline")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from pf9lib.analytics import drift
    from pf9lib.analytics.drift_events import resolve_event_ids

    store = _store(args)
    (event_id,) = resolve_event_ids(store, [args.event_id])
    detail = drift.event_detail(store, event_id)
    for key, value in detail["event"].items():
        print(f"{key:<14}{value}")
    print("\nacknowledgements:")
    _print(detail["acks"], ["acked_at", "action", "actor", "note"])
    print("\nhistory of the object:")
    _print(detail["history"])
    return 0


def _who(store):
    """The person behind the command (the OS login, or PF9WB_USER where the roles file lets them)."""
    from pf9lib.identity import cli_identity

    return cli_identity(store.data_dir)


def cmd_ack(args: argparse.Namespace) -> int:
    from pf9lib.analytics import drift

    store = _store(args)
    filters = _filters(args)
    if args.matching:
        if args.event_ids:
            raise Pf9Error("give event ids or --matching with filters, not both")
        count = drift.acknowledge_matching(store, note=args.note, actor=_who(store), **filters)
    elif filters:
        raise Pf9Error(
            "filters acknowledge in bulk only with --matching (so nothing is acknowledged by accident)"
        )
    else:
        count = drift.acknowledge(store, args.event_ids, note=args.note, actor=_who(store))
    print(f"acknowledged {count} event(s)")
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from pf9lib.analytics import drift
    from pf9lib.analytics.drift_rules import change_rules

    store = _store(args)
    if args.rules_action == "list":
        df = drift.rules(store)
        _print(
            df, ["rule_id", "severity", "enabled", "open_events", "events", "meaning", "source", "changed_by"]
        )
        return 0
    severity = None
    ids = list(args.args)
    if args.rules_action == "grade":
        if len(ids) < 2:
            raise Pf9Error("usage: pf9wb drift rules grade RULE_ID... critical|warning|info")
        severity = ids.pop()
    count = change_rules(store, ids, args.rules_action, severity, actor=_who(store), note=args.note)
    print(f"{args.rules_action}: {count} rule(s) changed")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pf9lib.analytics.drift_events import evaluate_run

    store = _store(args)
    if args.all_runs:
        runs = store.sql("SELECT run_id FROM runs WHERE status IN ('success', 'partial') ORDER BY started_at")
        run_ids = runs["run_id"].tolist()
    elif args.run:
        run_ids = [args.run]
    else:
        latest = store.latest_run()
        if latest is None:
            raise Pf9Error(f"no finished run in {store.data_dir}: run `pf9wb collect` first")
        run_ids = [latest["run_id"]]
    for run_id in run_ids:
        df = evaluate_run(store, run_id)
        by = df["severity"].value_counts().to_dict() if not df.empty else {}
        detail = ", ".join(f"{k} {by[k]}" for k in ("critical", "warning", "info") if k in by)
        detail = f": {detail}" if detail else ""
        print(f"run {run_id}: {len(df)} drift event(s) ({df.attrs['written']} new){detail}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from pf9lib.analytics.drift_rules import drift_dir, effective_rules, load_ignore

    store = _store(args)
    rules = effective_rules(store)
    ignore = load_ignore(store.data_dir)
    print(
        f"{drift_dir(store.data_dir)}: {len(rules)} rules ({sum(r.enabled for r in rules)} enabled), "
        f"{len(ignore)} ignore pattern(s): OK"
    )
    return 0
