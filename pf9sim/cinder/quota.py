"""Cinder quotas: limits (stored by state.make_quota, else Cinder's defaults), usage computed from the estate,
the checks volume/snapshot creation makes (413 like Cinder), os-quota-sets and /limits."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pf9sim.cinder.common import SNAP_PROJECT_KEY, TENANT_KEY, Ctx, bool_param, ctx_of, respond
from pf9sim.plumbing import SimError, read_json, require_admin
from pf9sim.state import Estate, make_quota

# Cinder's configured defaults (quota_volumes, quota_snapshots, ...); per-type quotas default to unlimited.
DEFAULTS = {
    "volumes": 10,
    "snapshots": 10,
    "gigabytes": 1000,
    "backups": 10,
    "backup_gigabytes": 1000,
    "groups": 10,
    "per_volume_gigabytes": -1,
}
_PER_TYPE = ("volumes", "snapshots", "gigabytes")


def _quota_id(region: str, project_id: str) -> str:
    return f"{region}/volume/{project_id}"


def default_limits(est: Estate, region: str) -> dict[str, int]:
    limits = dict(DEFAULTS)
    for vtype in est.all("volume_types", region):
        for res in _PER_TYPE:
            limits[f"{res}_{vtype['name']}"] = -1
    return limits


def limits_of(est: Estate, region: str, project_id: str) -> dict[str, int]:
    limits = default_limits(est, region)
    stored = est.get("quotas", _quota_id(region, project_id))
    if stored is not None:
        limits.update(stored["limits"])
    return limits


def usage_of(est: Estate, region: str, project_id: str) -> dict[str, int]:
    """in_use per quota resource, from the project's volumes and snapshots that consume quota."""
    type_names = {t["id"]: t["name"] for t in est.all("volume_types", region)}
    usage = {key: 0 for key in limits_of(est, region, project_id)}
    for vol in est.index("volumes", TENANT_KEY, region).get(project_id, ()):
        if not vol.get("consumes_quota", True):
            continue
        usage["volumes"] += 1
        usage["gigabytes"] += vol["size"]
        tname = type_names.get(vol.get("volume_type_id"), vol.get("volume_type"))
        usage[f"volumes_{tname}"] = usage.get(f"volumes_{tname}", 0) + 1
        usage[f"gigabytes_{tname}"] = usage.get(f"gigabytes_{tname}", 0) + vol["size"]
    for snap in est.index("snapshots", SNAP_PROJECT_KEY, region).get(project_id, ()):
        if not snap.get("consumes_quota", True):
            continue
        usage["snapshots"] += 1
        usage["gigabytes"] += snap["size"]
        tname = type_names.get(snap.get("_volume_type_id"))
        if tname is not None:
            usage[f"snapshots_{tname}"] = usage.get(f"snapshots_{tname}", 0) + 1
            usage[f"gigabytes_{tname}"] = usage.get(f"gigabytes_{tname}", 0) + snap["size"]
    return usage


def _over(resource: str, allowed: int, requested: int, consumed: int) -> SimError:
    # Cinder's fault middleware names the quota exception before its message.
    if resource.startswith("gigabytes"):
        msg = (
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
            f"{resource} quota. Requested {requested}G, quota is {allowed}G and {consumed}G has been "
            "consumed."
        )
    elif resource.startswith("snapshots"):
        msg = f"SnapshotLimitExceeded: Maximum number of snapshots allowed ({allowed}) exceeded"
    else:
        msg = (
            f"VolumeLimitExceeded: Maximum number of volumes allowed ({allowed}) exceeded for quota "
            f"'{resource}'."
        )
    return SimError(413, msg, headers={"Retry-After": "0"})


def check_quota(
    ctx: Ctx,
    project_id: str,
    vtype_name: str | None,
    volumes: int = 0,
    snapshots: int = 0,
    gigabytes: int = 0,
    type_only: bool = False,
) -> None:
    """Raise Cinder's 413 when adding these would pass a limit of the project (totals and the type's;
    only the type's for a retype, which moves usage between types)."""
    limits = limits_of(ctx.est, ctx.region, project_id)
    per_volume = limits.get("per_volume_gigabytes", -1)
    if volumes and not type_only and per_volume >= 0 and gigabytes > per_volume:
        raise SimError(
            413,
            f"VolumeSizeExceedsLimit: Requested volume size {gigabytes}G is larger than maximum allowed "
            f"limit {per_volume}G.",
            headers={"Retry-After": "0"},
        )
    usage = usage_of(ctx.est, ctx.region, project_id)
    wanted = {"volumes": volumes, "snapshots": snapshots, "gigabytes": gigabytes}
    for res, amount in list(wanted.items()):
        if vtype_name is not None:
            wanted[f"{res}_{vtype_name}"] = amount
        if type_only:
            del wanted[res]
    for res, amount in wanted.items():
        allowed = limits.get(res, -1)
        if amount and allowed >= 0 and usage.get(res, 0) + amount > allowed:
            raise _over(res, allowed, amount, usage.get(res, 0))


# -- handlers ------------------------------------------------------------------------------------
def _target_project(ctx: Ctx) -> str:
    project_id = ctx.request.match_info["target"]
    if not ctx.admin and project_id != ctx.project_id:
        raise SimError(403, "Policy doesn't allow volume_extension:quotas:show to be performed.")
    return project_id


async def show_quota(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    project_id = _target_project(ctx)
    limits = limits_of(ctx.est, ctx.region, project_id)
    body: dict[str, Any] = {"id": project_id}
    if bool_param(request.query.get("usage", "false"), "usage"):
        usage = usage_of(ctx.est, ctx.region, project_id)
        for res, limit in sorted(limits.items()):
            body[res] = {"limit": limit, "in_use": usage.get(res, 0), "reserved": 0}
    else:
        body.update(sorted(limits.items()))
    return respond(ctx, {"quota_set": body})


async def show_defaults(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    project_id = _target_project(ctx)
    body = {"id": project_id, **dict(sorted(default_limits(ctx.est, ctx.region).items()))}
    return respond(ctx, {"quota_set": body})


async def update_quota(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    require_admin(request)
    project_id = request.match_info["target"]
    body = await read_json(request)
    wanted = body.get("quota_set")
    if not isinstance(wanted, dict):
        raise SimError(400, "Missing required element 'quota_set' in request body.")
    limits = limits_of(ctx.est, ctx.region, project_id)
    wanted = {k: v for k, v in wanted.items() if k not in ("id", "tenant_id")}
    bad = sorted(k for k in wanted if k not in limits)
    if bad:
        raise SimError(400, f"Bad key(s) in quota set: {', '.join(bad)}")
    for key, value in wanted.items():
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise SimError(400, f"Invalid input for field/attribute {key}. Value: {value}.") from None
        if number < -1:
            raise SimError(
                400, f"Invalid input received: Quota limit {number} for {key} must be -1 or greater."
            )
        limits[key] = number
    stored = ctx.est.get("quotas", _quota_id(ctx.region, project_id))
    if stored is None:
        make_quota(ctx.est, project_id, "volume", ctx.region, limits)
    else:
        stored["limits"] = limits
        ctx.est.touch()
    return respond(ctx, {"quota_set": dict(sorted(limits.items()))})


async def delete_quota(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    require_admin(request)
    ctx.est.remove("quotas", _quota_id(ctx.region, request.match_info["target"]))
    return respond(ctx, None)


async def limits(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    project_id = ctx.project_id
    if ctx.version >= (3, 39) and request.query.get("project_id"):
        project_id = request.query["project_id"]
        if not ctx.admin and project_id != ctx.project_id:
            raise SimError(403, "Policy doesn't allow limits_extension:used_limits to be performed.")
    lim = limits_of(ctx.est, ctx.region, project_id)
    use = usage_of(ctx.est, ctx.region, project_id)
    absolute = {
        "maxTotalVolumes": lim["volumes"],
        "maxTotalSnapshots": lim["snapshots"],
        "maxTotalVolumeGigabytes": lim["gigabytes"],
        "maxTotalBackups": lim["backups"],
        "maxTotalBackupGigabytes": lim["backup_gigabytes"],
        "totalVolumesUsed": use["volumes"],
        "totalSnapshotsUsed": use["snapshots"],
        "totalGigabytesUsed": use["gigabytes"],
        "totalBackupsUsed": 0,
        "totalBackupGigabytesUsed": 0,
    }
    return respond(ctx, {"limits": {"rate": [], "absolute": absolute}})


ROUTES = [
    ("GET", "/os-quota-sets/{target}", show_quota),
    ("GET", "/os-quota-sets/{target}/defaults", show_defaults),
    ("PUT", "/os-quota-sets/{target}", update_quota),
    ("DELETE", "/os-quota-sets/{target}", delete_quota),
    ("GET", "/limits", limits),
]
