"""`pf9wb admin …` (plan, and with --apply apply, admin operations), `pf9wb plan list|show|apply`,
`pf9wb access grant|revoke|list` and `pf9wb audit`.

Without --apply an admin command only prints the plan and its id: nothing in the cloud changes. Who acts is
the OS login (or PF9WB_USER where the roles file allows it): see pf9lib.identity.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pf9lib.commands import DATA_DIR_HELP, data_dir_of


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_admin(subparsers)
    plan = subparsers.add_parser("plan", help="stored action plans: list, show, apply")
    sub = plan.add_subparsers(dest="plan_command", metavar="PLAN_COMMAND")
    sub.required = True
    lst = sub.add_parser("list", help="plans, newest first, with their state")
    lst.add_argument("--kind", help="only plans of this kind (e.g. admin.flavor.create)")
    lst.add_argument("--limit", type=int, default=30)
    show = sub.add_parser("show", help="a plan, its preconditions, steps and what happened")
    show.add_argument("plan_id")
    app = sub.add_parser("apply", help="apply a stored plan (re-checks it first)")
    app.add_argument("plan_id")
    for p in (lst, show, app):
        _common(p)
    lst.set_defaults(func=cmd_plan_list)
    show.set_defaults(func=cmd_plan_show)
    app.set_defaults(func=cmd_plan_apply)

    access = subparsers.add_parser("access", help="who may do what: viewer, operator, admin")
    asub = access.add_subparsers(dest="access_command", metavar="ACCESS_COMMAND")
    asub.required = True
    grant = asub.add_parser("grant", help="give a user a role (the first grant, of an admin, bootstraps)")
    grant.add_argument("user")
    grant.add_argument("role", choices=("viewer", "operator", "admin"))
    revoke = asub.add_parser("revoke", help="take a user's role away")
    revoke.add_argument("user")
    listing = asub.add_parser("list", help="users with a role")
    for p, fn in ((grant, cmd_access), (revoke, cmd_access), (listing, cmd_access)):
        p.add_argument("--data-dir", help=DATA_DIR_HELP)
        p.set_defaults(func=fn)

    audit = subparsers.add_parser("audit", help="the audit trail: who did what, when, with which result")
    audit.add_argument("--since", help="run id or ISO time")
    audit.add_argument("--actor")
    audit.add_argument("--action", help="an action or its prefix (admin, drift.ack, access …)")
    audit.add_argument("--limit", type=int, default=50)
    audit.add_argument("--csv", type=Path, help="write every matching record to this CSV file")
    audit.add_argument("--data-dir", help=DATA_DIR_HELP)
    audit.set_defaults(func=cmd_audit)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cloud", help="clouds.yaml cloud name (default OS_CLOUD or the PF9_* variables)")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)


def _register_admin(subparsers: argparse._SubParsersAction) -> None:
    admin = subparsers.add_parser("admin", help="admin operations as plans (add --apply to carry them out)")
    kinds = admin.add_subparsers(dest="admin_kind", metavar="KIND")
    kinds.required = True
    specs = {
        "flavor": {
            "create": [
                ("name",),
                ("--vcpus", int, True),
                ("--ram", int, True),
                ("--disk", int, True),
                ("--private", "flag"),
            ],
            "delete": [("name_or_id",)],
        },
        "network": {
            "create": [
                ("name",),
                ("--project", str, True),
                ("--shared", "flag"),
                ("--external", "flag"),
                ("--subnet", str, False),
                ("--no-dhcp", "flag"),
            ],
            "delete": [("network_id",)],
        },
        "secgroup": {
            "create": [("name",), ("--project", str, True)],
            "delete": [("group_id",)],
        },
        "secgroup-rule": {
            "create": [
                ("group_id",),
                ("--direction", str, True),
                ("--protocol", str, False),
                ("--ethertype", str, False),
                ("--port-min", int, False),
                ("--port-max", int, False),
                ("--remote-ip", str, False),
            ],
            "delete": [("rule_id",)],
        },
    }
    for kind, ops in specs.items():
        kp = kinds.add_parser(kind, help=f"create or delete a {kind.replace('-', ' ')}")
        osub = kp.add_subparsers(dest="admin_op", metavar="OPERATION")
        osub.required = True
        for op, args in ops.items():
            p = osub.add_parser(op, help=f"{op} a {kind.replace('-', ' ')}")
            for spec in args:
                if len(spec) == 1:
                    p.add_argument(spec[0])
                elif spec[1] == "flag":
                    p.add_argument(spec[0], action="store_true")
                else:
                    p.add_argument(spec[0], type=spec[1], required=spec[2])
            p.add_argument("--region", help="region (default: the cloud's first)")
            p.add_argument("--apply", action="store_true", help="apply the plan now (default: only plan it)")
            _common(p)
            p.set_defaults(func=cmd_admin)


def _settings(args: argparse.Namespace):
    from pf9lib.config import load_settings

    return load_settings(cloud=args.cloud, data_dir=args.data_dir)


def _who(args: argparse.Namespace):
    from pf9lib.identity import cli_identity

    return cli_identity(data_dir_of(args))


def cmd_admin(args: argparse.Namespace) -> int:
    from pf9lib.actions import admin_flavors as fl
    from pf9lib.actions import admin_network as nw

    settings, who, region = _settings(args), _who(args), args.region
    kind, op = args.admin_kind, args.admin_op
    if kind == "flavor" and op == "create":
        plan = fl.plan_flavor_create(
            settings, who, args.name, args.vcpus, args.ram, args.disk, not args.private, region
        )
    elif kind == "flavor":
        plan = fl.plan_flavor_delete(settings, who, args.name_or_id, region)
    elif kind == "network" and op == "create":
        plan = nw.plan_network_create(
            settings,
            who,
            args.name,
            args.project,
            args.shared,
            args.external,
            args.subnet,
            not args.no_dhcp,
            region,
        )
    elif kind == "network":
        plan = nw.plan_network_delete(settings, who, args.network_id, region)
    elif kind == "secgroup" and op == "create":
        plan = nw.plan_secgroup_create(settings, who, args.name, args.project, region)
    elif kind == "secgroup":
        plan = nw.plan_secgroup_delete(settings, who, args.group_id, region)
    elif op == "create":
        plan = nw.plan_rule_create(
            settings,
            who,
            args.group_id,
            args.direction,
            args.protocol or "tcp",
            args.ethertype or "IPv4",
            args.port_min,
            args.port_max,
            args.remote_ip,
            region,
        )
    else:
        plan = nw.plan_rule_delete(settings, who, args.rule_id, region)
    print(plan.describe())
    if not args.apply:
        print(f"nothing changed: apply it with `pf9wb plan apply {plan.plan_id}` (or rerun with --apply)")
        return 0
    return _apply(settings, who, plan.plan_id)


def _apply(settings, who, plan_id: str) -> int:
    from pf9lib.actions import apply

    result = apply(settings, plan_id, who, progress=lambda line: print(f"  {line}", flush=True))
    print(f"plan {result.plan_id}: {result.status}: {result.message} ({result.calls} API calls)")
    return {"succeeded": 0, "refused": 5}.get(result.status, 1)


def cmd_plan_list(args: argparse.Namespace) -> int:
    from pf9lib.actions.plan import mark_interrupted, plans

    data_dir = data_dir_of(args)
    mark_interrupted(data_dir)
    df = plans(data_dir, kind=args.kind, limit=args.limit)
    if df.empty:
        print("no plans yet: make one with `pf9wb admin …`")
        return 0
    df["created_at"] = df["created_at"].dt.strftime("%Y-%m-%d %H:%M")
    print(df[["plan_id", "created_at", "kind", "target", "actor", "state"]].to_string(index=False))
    return 0


def cmd_plan_show(args: argparse.Namespace) -> int:
    from pf9lib.actions.plan import load_plan, plan_state, steps_of

    data_dir = data_dir_of(args)
    plan = load_plan(data_dir, args.plan_id)
    print(plan.describe())
    print(f"state: {plan_state(data_dir, plan.plan_id)}")
    for row in steps_of(data_dir, plan.plan_id).itertuples():
        where = "plan" if row.step < 0 else f"step {row.step + 1}"
        detail = f": {row.detail}" if row.detail else ""
        print(f"  {row.at:%Y-%m-%d %H:%M:%S} {where} {row.state}{detail}")
    return 0


def cmd_plan_apply(args: argparse.Namespace) -> int:
    return _apply(_settings(args), _who(args), args.plan_id)


def cmd_access(args: argparse.Namespace) -> int:
    from pf9lib import identity

    data_dir = data_dir_of(args)
    if args.access_command == "list":
        rows = identity.grants(data_dir)
        if not rows:
            print(f"no roles file: everyone is a viewer; {identity.GRANT_HINT}")
        for user, role in rows:
            print(f"{user:<32}{role}")
        return 0
    who = identity.cli_identity(data_dir)
    if args.access_command == "grant":
        print(identity.grant(data_dir, who, args.user, args.role))
    else:
        print(identity.revoke(data_dir, who, args.user))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from pf9lib.actions.audit import audit

    df = audit(data_dir_of(args), since=args.since, actor=args.actor, action=args.action)
    if args.csv:
        df.to_csv(args.csv, index=False)
        print(f"wrote {len(df)} audit record(s) to {args.csv}", file=sys.stderr)
        return 0
    if df.empty:
        print("no audit records match")
        return 0
    df = df.head(args.limit).copy()
    df["at"] = df["at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    df["note"] = df["note"].str.slice(0, 60)
    print(
        df[["at", "actor", "role", "action", "target", "result", "plan_id", "note"]]
        .fillna("")
        .to_string(index=False)
    )
    return 0
