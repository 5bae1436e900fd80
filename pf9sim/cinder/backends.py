"""Simulated Cinder storage pools (GET /scheduler-stats/get_pools) and the attachments API (3.27+).

A pool is one backend host of the region (`host@backend#pool`, as volumes name it in os-vol-host-attr:host)
reporting an RBD driver's capabilities; attachments are the volumes' own attachment entries, shown the way
GET /attachments shows them to the server that owns them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pf9sim.cinder.common import Ctx, ctx_of, respond
from pf9sim.plumbing import SimError, paginate, require_admin

POOL_CAPACITY_GB = 100_000  # each simulated Ceph pool


def _pools(ctx: Ctx) -> dict[str, list[dict[str, Any]]]:
    """Pool name → the region's volumes placed there (every backend of a volume type has a pool)."""
    pools: dict[str, list[dict[str, Any]]] = {}
    for vtype in ctx.est.all("volume_types", ctx.region):
        backend = (vtype.get("extra_specs") or {}).get("volume_backend_name") or "lvmdriver-1"
        pools.setdefault(f"{ctx.region}-cinder@{backend}#{backend}", [])
    for volume in ctx.est.all("volumes", ctx.region):
        host = volume.get("os-vol-host-attr:host")
        if host:
            pools.setdefault(host, []).append(volume)
    return pools


def _capabilities(ctx: Ctx, name: str, volumes: list[dict[str, Any]]) -> dict[str, Any]:
    backend, _, pool = name.partition("@")[2].partition("#")
    allocated = sum(v.get("size") or 0 for v in volumes)
    return {
        "pool_name": pool or backend,
        "volume_backend_name": backend,
        "vendor_name": "Open Source",
        "driver_version": "1.3.0",
        "storage_protocol": "ceph",
        "total_capacity_gb": float(POOL_CAPACITY_GB),
        "free_capacity_gb": round(POOL_CAPACITY_GB - allocated * 0.4, 2),  # thin: data written, not sizes
        "allocated_capacity_gb": allocated,
        "provisioned_capacity_gb": allocated,
        "reserved_percentage": 0,
        "max_over_subscription_ratio": "20.0",
        "thin_provisioning_support": True,
        "multiattach": True,
        "QoS_support": False,
        "consistencygroup_support": False,
        "replication_enabled": False,
        "group_replication_enabled": False,
        "filter_function": None,
        "goodness_function": None,
        "backend_state": "up",
        "location_info": f"ceph:/etc/ceph/ceph.conf:{ctx.region}:cinder:volumes",
        "timestamp": ctx.est.now_micro(),
    }


async def get_pools(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    require_admin(request)
    detail = request.query.get("detail", "").strip().lower() in ("1", "true", "t", "yes", "y", "on")
    out = []
    for name, volumes in sorted(_pools(ctx).items()):
        pool: dict[str, Any] = {"name": name}
        if detail:
            pool["capabilities"] = _capabilities(ctx, name, volumes)
        out.append(pool)
    return respond(ctx, {"pools": out})


# -- attachments (3.27+) ---------------------------------------------------------------------------------
def _attachment(volume: dict[str, Any], entry: dict[str, Any], detail: bool) -> dict[str, Any]:
    out = {
        "id": entry["attachment_id"],
        "status": "attached",
        "instance": entry["server_id"],
        "volume_id": volume["id"],
    }
    if detail:
        out.update(
            attached_at=entry.get("attached_at") or "",
            detached_at="",
            attach_mode="rw",
            connection_info={
                "driver_volume_type": "rbd",
                "name": f"volumes/volume-{volume['id']}",
                "hosts": ["10.20.0.11", "10.20.0.12", "10.20.0.13"],
                "ports": ["6789", "6789", "6789"],
                "cluster_name": "ceph",
                "auth_enabled": True,
                "auth_username": "cinder",
                "secret_type": "ceph",
                "volume_id": volume["id"],
                "discard": True,
                "qos_specs": None,
                "access_mode": "rw",
                "encrypted": False,
                "cacheable": False,
                "enforce_multipath": False,
                "attachment_id": entry["attachment_id"],
            },
        )
    return out


def _attachments(ctx: Ctx, detail: bool) -> list[dict[str, Any]]:
    if ctx.version < (3, 27):
        raise SimError(404, "The resource could not be found.")
    q = ctx.request.query
    everyone = ctx.admin and q.get("all_tenants", "").strip().lower() in ("1", "true", "t", "yes", "y", "on")
    out = []
    for volume in sorted(ctx.est.all("volumes", ctx.region), key=lambda v: v["id"]):
        owner = volume.get("os-vol-tenant-attr:tenant_id")
        if not everyone and owner != ctx.project_id:
            continue
        for entry in volume.get("attachments") or ():
            row = _attachment(volume, entry, detail)
            if all(q.get(k) in (None, row.get(k)) for k in ("volume_id", "instance", "status")):
                out.append(row)
    return out


async def _list_attachments(request: web.Request, detail: bool) -> web.Response:
    ctx = ctx_of(request)
    items = sorted(_attachments(ctx, detail), key=lambda a: a["id"])
    limit = request.query.get("limit")
    page, _ = paginate(items, request.query.get("marker"), int(limit) if limit else None)
    return respond(ctx, {"attachments": page})


async def list_attachments(request: web.Request) -> web.Response:
    return await _list_attachments(request, detail=False)


async def list_attachments_detail(request: web.Request) -> web.Response:
    return await _list_attachments(request, detail=True)


async def show_attachment(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wanted = request.match_info["attachment_id"]
    if ctx.version < (3, 27):
        raise SimError(404, "The resource could not be found.")
    for row in _attachments(ctx, detail=True) if not ctx.admin else _all_detail(ctx):
        if row["id"] == wanted:
            return respond(ctx, {"attachment": row})
    raise SimError(404, f"VolumeAttachment {wanted} could not be found.")


def _all_detail(ctx: Ctx) -> list[dict[str, Any]]:
    return [
        _attachment(volume, entry, True)
        for volume in ctx.est.all("volumes", ctx.region)
        for entry in volume.get("attachments") or ()
    ]


ROUTES = [
    ("GET", "/scheduler-stats/get_pools", get_pools),
    ("GET", "/attachments", list_attachments),
    ("GET", "/attachments/detail", list_attachments_detail),
    ("GET", "/attachments/{attachment_id}", show_attachment),
]
