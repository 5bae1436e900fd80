"""Quotas of the generated estate: per project, service and region, above what is in use — some only just.

Limits are set after everything is built, from the usage the estate actually has: most projects get
comfortable headroom (never below the services' defaults), some sit at or near their limits so that quota
checks (snapshot runs, restores) have something to find.
"""

from __future__ import annotations

import math
from typing import Any

from pf9sim.generator.base import Ctx
from pf9sim.generator.catalog import VOLUME_TYPES
from pf9sim.model.network import DEFAULT_QUOTAS
from pf9sim.state import make_quota

NOVA_DEFAULTS = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "key_pairs": 100,
    "server_groups": 10,
    "server_group_members": 10,
    "metadata_items": 128,
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
}
CINDER_DEFAULTS = {
    "volumes": 10,
    "snapshots": 10,
    "gigabytes": 1000,
    "backups": 10,
    "backup_gigabytes": 1000,
    "per_volume_gigabytes": -1,
    "groups": 10,
}
NEUTRON_KEYS = {
    "networks": "network",
    "subnets": "subnet",
    "ports": "port",
    "routers": "router",
    "floating_ips": "floatingip",
    "security_groups": "security_group",
    "security_group_rules": "security_group_rule",
}


def usage(ctx: Ctx) -> dict[tuple[str, str], dict[str, dict[str, int]]]:
    """In-use counts per (project, region) and service, from one pass over the estate."""
    est = ctx.est
    out: dict[tuple[str, str], dict[str, dict[str, int]]] = {}

    def bucket(pid: str, region: str, service: str) -> dict[str, int]:
        return out.setdefault((pid, region), {}).setdefault(service, {})

    def add(counter: dict[str, int], key: str, amount: int) -> None:
        counter[key] = counter.get(key, 0) + amount

    for server in est.all("servers"):
        c = bucket(server["tenant_id"], server["_region"], "compute")
        add(c, "instances", 1)
        add(c, "cores", server["flavor"]["vcpus"])
        add(c, "ram", server["flavor"]["ram"])
    for group in est.all("server_groups"):
        c = bucket(group["project_id"], group["_region"], "compute")
        add(c, "server_groups", 1)
        add(c, "server_group_members", len(group["members"]))
    for volume in est.all("volumes"):
        c = bucket(volume["os-vol-tenant-attr:tenant_id"], volume["_region"], "volume")
        add(c, "volumes", 1)
        add(c, "gigabytes", volume["size"])
    for snap in est.all("snapshots"):
        c = bucket(snap["os-extended-snapshot-attributes:project_id"], snap["_region"], "volume")
        add(c, "snapshots", 1)
        add(c, "gigabytes", snap["size"])
    for kind, key in NEUTRON_KEYS.items():
        for obj in est.all(kind):
            if obj.get("project_id"):
                add(bucket(obj["project_id"], obj["_region"], "network"), key, 1)
    return out


def _limit(used: int, default: int, factor: float, near: bool) -> int:
    if default == -1:
        return -1
    if near:
        return used + (0 if used == 0 else math.ceil(used * 0.05))
    step = 10 if used < 200 else 100
    return max(default, math.ceil(used * factor / step) * step)


def build_quotas(ctx: Ctx) -> None:
    est, rng = ctx.est, ctx.rng
    used = usage(ctx)
    for project in ctx.projects:
        for region in project.regions:
            in_use = used.get((project.id, region), {})
            is_admin = project.kind == "admin"
            # Which services of this project run close to their limits.
            near = {s: (not is_admin and rng.random() < 0.12) for s in ("compute", "volume", "network")}
            factor = rng.uniform(1.4, 3.0)
            compute = _limits(
                NOVA_DEFAULTS,
                in_use.get("compute", {}),
                factor,
                near["compute"],
                is_admin,
                tight=("instances", "cores", "ram"),
            )
            volume_defaults = dict(CINDER_DEFAULTS)
            for name, *_ in VOLUME_TYPES:
                for key in ("volumes", "gigabytes", "snapshots"):
                    volume_defaults[f"{key}_{name}"] = -1
            volume = _limits(
                volume_defaults,
                in_use.get("volume", {}),
                factor,
                near["volume"],
                is_admin,
                tight=("snapshots", "gigabytes"),
            )
            network = _limits(
                DEFAULT_QUOTAS,
                in_use.get("network", {}),
                factor,
                near["network"],
                is_admin,
                tight=("port", "floatingip"),
            )
            make_quota(est, project.id, "compute", region, compute)
            make_quota(est, project.id, "volume", region, volume)
            make_quota(est, project.id, "network", region, network)


def _limits(
    defaults: dict[str, int],
    in_use: dict[str, int],
    factor: float,
    near: bool,
    is_admin: bool,
    tight: tuple[str, ...],
) -> dict[str, Any]:
    out = {}
    for key, default in defaults.items():
        used = in_use.get(key, 0)
        if is_admin and default != -1:
            out[key] = max(default * 10, used * 2)
        else:
            out[key] = _limit(used, default, factor, near and key in tight)
    return out
