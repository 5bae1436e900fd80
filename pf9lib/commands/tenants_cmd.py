"""`pf9wb tenants`: the tenant summary (VMs, volumes, networks, users, SLA status) with health and risk."""

from __future__ import annotations

import argparse

from pf9lib.commands import DATA_DIR_HELP, data_dir_of
from pf9lib.errors import Pf9Error

COLUMNS = [
    "cloud",
    "region",
    "project_name",
    "domain_name",
    "vms",
    "running_vms",
    "volumes",
    "volume_gb",
    "networks",
    "users",
    "health",
    "status",
    "risk",
    "risk_level",
    "sla_status",
]


def register(subparsers: argparse._SubParsersAction) -> None:
    tenants = subparsers.add_parser(
        "tenants",
        help="tenant summary with health and risk (docs/domain.md §5)",
        description="One row per tenant (project) in each region: VMs, volumes, networks, users, SLA status, "
        "health 0-100 with its status and risk 0-100 with its level, as of the newest run.",
    )
    tenants.add_argument("--cloud", action="append", help="only this cloud (repeatable)")
    tenants.add_argument("--region", action="append", help="only this region (repeatable)")
    tenants.add_argument("--csv", metavar="FILE", help="write every column to a CSV file instead of printing")
    tenants.add_argument("--data-dir", help=DATA_DIR_HELP)
    tenants.set_defaults(func=cmd_tenants)


def cmd_tenants(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pandas as pd

    from pf9lib.analytics.tenants import tenant_summary
    from pf9lib.store.reader import open_store

    store = open_store(data_dir_of(args))
    if not store.has_runs:
        raise Pf9Error(f"no finished run in {store.data_dir}: run `pf9wb collect` first")
    df = tenant_summary(store, cloud=args.cloud, region=args.region)
    if args.csv:
        path = Path(args.csv)
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False)
        print(f"wrote {len(df)} tenant(s) to {path}")
        return 0
    if df.empty:
        print("(no tenant matches)")
        return 0
    shown = df[COLUMNS].copy()
    shown["health"] = shown["health"].round(1)
    shown["risk"] = shown["risk"].round(1)
    shown = shown.astype(object).where(pd.notna(shown), "")
    print(f"tenants as of {store.now.isoformat(timespec='seconds')}")
    print(shown.to_string(index=False, max_colwidth=40))
    return 0
