"""`pf9wb snapshots assign | run | sla | policies`: snapshot policies, policy runs and SLA compliance.

assign and run print a plan and change nothing unless --apply; sla reads the store only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pf9lib.commands import DATA_DIR_HELP, data_dir_of

RULES_HELP = """\
Rules (YAML or JSON; a list, or `rules:` holding one), tried by priority (lower first, then file order); the
first matching rule decides a volume, but a matching exclusion (auto_snapshot: false) always wins:
  rules:
    - {name: no-scratch, match: {volume_name_prefix: scratch-}, auto_snapshot: false}
    - {name: prod, priority: 10, match: {tenant_name: [shop-prod]}, policies: [daily_7, monthly_1st]}
    - {name: rest, priority: 100, match: {}, policies: [daily_3]}
Match keys: volume_type, domain_name, tenant_name, volume_name_prefix, volume_name_contains, bootable,
min_size_gb, max_size_gb, metadata_equals, metadata_contains. Default file: <data>/snapshots/rules.yaml."""


def register(subparsers: argparse._SubParsersAction) -> None:
    snaps = subparsers.add_parser("snapshots", help="snapshot policies, runs and SLA")
    sub = snaps.add_subparsers(dest="snapshots_command", metavar="SNAPSHOTS_COMMAND")
    sub.required = True
    assign = sub.add_parser(
        "assign",
        help="give volumes their policy metadata from a rules file",
        epilog=RULES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    assign.add_argument("--rules", type=Path, help="rules file (default <data>/snapshots/rules.yaml)")
    run = sub.add_parser("run", help="take the due automatic snapshots and prune beyond retention")
    run.add_argument("--policy", action="append", help="only this policy (repeatable)")
    run.add_argument("--project", action="append", help="only this project, by name or id (repeatable)")
    run.add_argument("--max-size-gb", type=int, help="skip volumes larger than this")
    run.add_argument(
        "--no-servers",
        dest="servers",
        action="store_false",
        help="volumes only: leave out the image snapshots of servers enrolled through their metadata",
    )
    run.add_argument(
        "--at", help="the run's time (ISO, UTC; default now): a simulated history passes its clock"
    )
    for p in (assign, run):
        p.add_argument("--apply", action="store_true", help="apply the plan now (default: only plan it)")
        p.add_argument("--cloud", help="clouds.yaml cloud name (default OS_CLOUD or the PF9_* variables)")
        p.add_argument("--data-dir", help=DATA_DIR_HELP)
        p.add_argument("--quiet", action="store_true", help="print the plan's summary, not every line")
    assign.set_defaults(func=cmd_assign)
    run.set_defaults(func=cmd_run)
    sla = sub.add_parser("sla", help="SLA compliance from the store (docs/domain.md §5)")
    sla.add_argument("--by", choices=("tenant", "domain", "policy"), default="tenant")
    sla.add_argument("--csv", type=Path, help="write the per-volume statuses to this CSV file")
    sla.add_argument("--cloud-name", dest="cloud_filter", help="only this cloud")
    sla.add_argument("--region")
    sla.add_argument("--data-dir", help=DATA_DIR_HELP)
    sla.set_defaults(func=cmd_sla)


def _settings_who(args: argparse.Namespace):
    from pf9lib.config import load_settings
    from pf9lib.identity import cli_identity

    return load_settings(cloud=args.cloud, data_dir=args.data_dir), cli_identity(data_dir_of(args))


def _show(plan, quiet: bool) -> None:
    if quiet:
        print(f"plan {plan.plan_id} ({plan.kind}): {plan.summary}")
    else:
        print(plan.describe())


def cmd_assign(args: argparse.Namespace) -> int:
    from pf9lib.actions.snapshot_assign import plan_assign

    settings, who = _settings_who(args)
    plan = plan_assign(settings, who, args.rules)
    _show(plan, args.quiet)
    return _maybe_apply(args, settings, who, plan)


def cmd_run(args: argparse.Namespace) -> int:
    from pf9lib.actions.snapshot_run import plan_run
    from pf9lib.store.reader import parse_time

    settings, who = _settings_who(args)
    at = parse_time(args.at) if args.at else None
    if args.at and at is None:
        from pf9lib.errors import Pf9Error

        raise Pf9Error(f"--at {args.at!r} is not an ISO time: give e.g. 2026-11-30T02:00:00Z")
    plan = plan_run(settings, who, args.policy, args.project, at, args.max_size_gb, args.servers)
    _show(plan, args.quiet)
    return _maybe_apply(args, settings, who, plan)


def _maybe_apply(args, settings, who, plan) -> int:
    if not args.apply:
        print(f"nothing changed: apply it with `pf9wb plan apply {plan.plan_id}` (or rerun with --apply)")
        return 0
    from pf9lib.commands.admin_cmd import _apply

    return _apply(settings, who, plan.plan_id)


def cmd_sla(args: argparse.Namespace) -> int:
    from pf9lib.analytics import sla

    data_dir = data_dir_of(args)
    if args.csv:
        df = sla.status(data_dir, args.cloud_filter, args.region)
        df.to_csv(args.csv, index=False)
        print(f"wrote {len(df)} (volume, policy) statuses to {args.csv}")
    table = sla.compliance(data_dir, args.by, args.cloud_filter, args.region)
    if table.empty:
        print("no enrolled volume in the store: assign policies with `pf9wb snapshots assign`, then collect")
        return 0
    print(table.to_string(index=False))
    return 0
