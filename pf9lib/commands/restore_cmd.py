"""`pf9wb restore points | plan | execute | jobs | show | cancel | retry`: restore a VM from its snapshots
(docs/domain.md §8). A plan changes nothing; execute needs RESTORE_ENABLED=true and RESTORE_DRY_RUN=false."""

from __future__ import annotations

import argparse

from pf9lib.commands import DATA_DIR_HELP, data_dir_of

EXIT = {"succeeded": 0, "refused": 5}


def register(subparsers: argparse._SubParsersAction) -> None:
    restore = subparsers.add_parser("restore", help="restore a VM from its snapshots (plans, jobs)")
    sub = restore.add_subparsers(dest="restore_command", metavar="RESTORE_COMMAND")
    sub.required = True
    pts = sub.add_parser("points", help="a VM's restore points, newest first, from the store")
    pts.add_argument("vm", metavar="VM", help="VM id or name")
    pts.add_argument("--window-hours", type=float, help="how near a data-volume snapshot must be (default 3)")
    plan = sub.add_parser("plan", help="plan a restore (checks the live cloud; changes nothing)")
    plan.add_argument("vm", metavar="VM", help="VM id or name")
    plan.add_argument("--point", required=True, help="restore point id (or a unique prefix)")
    plan.add_argument("--mode", choices=("new", "replace"), default="new", help="side by side, or in place")
    plan.add_argument("--name", help="the restored VM's name (default <name>-restored-<YYYYMMDD-HHMM>)")
    plan.add_argument(
        "--ip-strategy",
        choices=("NEW_IPS", "TRY_SAME_IPS", "SAME_IPS_OR_FAIL", "MANUAL_IP"),
        default="NEW_IPS",
        type=str.upper,
    )
    plan.add_argument("--ip", action="append", dest="ips", help="MANUAL_IP: one address per port, in order")
    plan.add_argument("--network", help="put every port on this network (id or name)")
    plan.add_argument("--security-group", action="append", dest="groups", help="instead of the original's")
    plan.add_argument("--data-volume", action="append", dest="data_volumes", help="only these data volumes")
    plan.add_argument("--confirm", help="REPLACE: type exactly `DELETE AND RESTORE <vm name>`")
    plan.add_argument("--no-safety-snapshot", dest="safety", action="store_false", help="REPLACE only")
    plan.add_argument("--delete-volumes-on-failure", action="store_true", help="default: keep them")
    plan.add_argument("--cleanup-old-volumes", action="store_true", help="REPLACE: delete the original's")
    execute = sub.add_parser("execute", help="run a planned restore job")
    execute.add_argument("job", metavar="PLAN_ID")
    jobs = sub.add_parser("jobs", help="restore jobs, newest first, with their state")
    jobs.add_argument("--vm", help="only this VM (id or name)")
    jobs.add_argument("--state", help="only jobs in this state (PLANNED, RUNNING, FAILED, …)")
    show = sub.add_parser("show", help="one job: its plan, state and every step")
    show.add_argument("job", metavar="JOB")
    cancel = sub.add_parser("cancel", help="cancel a job (a running one stops before its next step)")
    cancel.add_argument("job", metavar="JOB")
    retry = sub.add_parser(
        "retry", help="run a failed, canceled or interrupted job again from where it stopped"
    )
    retry.add_argument("job", metavar="JOB")
    for p in (pts, plan, execute, jobs, show, cancel, retry):
        p.add_argument("--data-dir", help=DATA_DIR_HELP)
    for p in (plan, execute, cancel, retry):
        p.add_argument("--cloud", help="clouds.yaml cloud name (default OS_CLOUD or the PF9_* variables)")
    for p, func in (
        (pts, cmd_points),
        (plan, cmd_plan),
        (execute, cmd_run),
        (jobs, cmd_jobs),
        (show, cmd_show),
        (cancel, cmd_cancel),
        (retry, cmd_run),
    ):
        p.set_defaults(func=func)


def _settings_who(args: argparse.Namespace):
    from pf9lib.config import load_settings
    from pf9lib.identity import cli_identity

    return load_settings(cloud=args.cloud, data_dir=args.data_dir), cli_identity(data_dir_of(args))


def cmd_points(args: argparse.Namespace) -> int:
    from pf9lib.actions import restore

    window = args.window_hours or restore.MATCH_WINDOW_HOURS
    df = restore.points(data_dir_of(args), args.vm, window)
    if df.empty:
        print(f"no restore point of {args.vm} in the store: take snapshots, then `pf9wb collect`")
        return 0
    df["created_at"] = df["created_at"].dt.strftime("%Y-%m-%d %H:%M")
    df["covers"] = [
        "all" if ok else "misses " + ", ".join(missing)
        for ok, missing in zip(df["covers_all"], df["missing"], strict=True)
    ]
    print(
        df[["point_id", "kind", "created_at", "age_h", "size_gb", "policy", "covers"]].to_string(index=False)
    )
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from pf9lib.actions import restore

    settings, who = _settings_who(args)
    plan = restore.plan_restore(
        settings,
        who,
        args.vm,
        args.point,
        mode=args.mode,
        name=args.name,
        ip_strategy=args.ip_strategy,
        ips=args.ips,
        network=args.network,
        security_groups=args.groups,
        data_volumes=args.data_volumes,
        confirm=args.confirm,
        safety_snapshot=args.safety,
        delete_volumes_on_failure=args.delete_volumes_on_failure,
        cleanup_old_volumes=args.cleanup_old_volumes,
    )
    print("\n".join(restore.describe(plan)))
    if not settings.restore_enabled or settings.restore_dry_run:
        from pf9lib.actions.restore.executor import disabled_message

        print(disabled_message(settings))
    else:
        print(f"nothing changed: run it with `pf9wb restore execute {plan.plan_id}`")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pf9lib.actions import restore

    settings, who = _settings_who(args)
    act = restore.execute if args.restore_command == "execute" else restore.retry
    result = act(settings, args.job, who, progress=lambda line: print(f"  {line}", flush=True))
    print(f"job {result.plan_id}: {result.status}: {result.message} ({result.calls} API calls)")
    return EXIT.get(result.status, 1)


def cmd_jobs(args: argparse.Namespace) -> int:
    from pf9lib.actions import restore

    df = restore.jobs(data_dir_of(args), args.vm, args.state)
    if df.empty:
        print("no restore jobs: plan one with `pf9wb restore plan VM --point ID`")
        return 0
    df["updated_at"] = df["updated_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    print(df[["job_id", "mode", "vm_name", "state", "progress", "updated_at", "step"]].to_string(index=False))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from pf9lib.actions import restore

    found = restore.job(data_dir_of(args), args.job)
    print(f"job {found['job_id']} ({found['mode']}): {found['state']} — {found['summary']}")
    if found["detail"]:
        print(f"  {found['detail']}")
    for w in found["warnings"]:
        print(f"  warning: {w}")
    for step in found["steps"]:
        detail = f": {step['detail']}" if step["detail"] and step["detail"] != step["text"] else ""
        print(f"  step {step['n']} [{step['state']}] {step['text']}{detail}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from pf9lib.actions import restore

    settings, who = _settings_who(args)
    print(restore.cancel(settings, args.job, who))
    return 0
