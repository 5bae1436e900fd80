"""Simulated Nova quota sets, absolute limits and simple tenant usage, with usage counted from the estate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from pf9sim.nova.base import DEFAULT_QUOTAS, Ctx, empty, nova_api, project_usage, quota_limits
from pf9sim.plumbing import SimError, json_response, read_json
from pf9sim.state import iso_micro, make_quota

_BASE_KEYS = (
    "instances",
    "cores",
    "ram",
    "key_pairs",
    "metadata_items",
    "server_groups",
    "server_group_members",
)
_FILE_KEYS = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")  # gone in 2.57
_NET_KEYS = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")  # gone in 2.36


def quota_keys(ctx: Ctx) -> tuple[str, ...]:
    keys = _BASE_KEYS
    if not ctx.since(57):
        keys += _FILE_KEYS
    if not ctx.since(36):
        keys += _NET_KEYS
    return keys


def _project(ctx: Ctx) -> str:
    project_id = ctx.request.match_info["project_id"]
    if not ctx.admin and project_id != ctx.project_id:
        raise SimError(403, "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.")
    return project_id


@nova_api
async def show_quota(ctx: Ctx) -> web.Response:
    project_id = _project(ctx)
    limits = quota_limits(ctx.est, project_id, ctx.region)
    detail = ctx.request.path.endswith("/detail")
    body: dict[str, Any] = {"id": project_id}
    if detail:
        used = project_usage(ctx.est, project_id, ctx.region)
        for key in quota_keys(ctx):
            body[key] = {"limit": limits[key], "in_use": used.get(key, 0), "reserved": 0}
    else:
        body.update({key: limits[key] for key in quota_keys(ctx)})
    return json_response({"quota_set": body})


@nova_api
async def show_defaults(ctx: Ctx) -> web.Response:
    project_id = ctx.request.match_info["project_id"]
    body = {"id": project_id, **{key: DEFAULT_QUOTAS[key] for key in quota_keys(ctx)}}
    return json_response({"quota_set": body})


@nova_api
async def update_quota(ctx: Ctx) -> web.Response:
    ctx.require_admin()
    project_id = ctx.request.match_info["project_id"]
    spec = (await read_json(ctx.request)).get("quota_set")
    if not isinstance(spec, dict):
        raise SimError(400, "Invalid input for field/attribute quota_set.")
    force = str(spec.pop("force", "false")).lower() in ("true", "1", "yes")
    spec.pop("id", None)
    allowed = quota_keys(ctx)
    used = project_usage(ctx.est, project_id, ctx.region)
    changes: dict[str, int] = {}
    for key, raw in spec.items():
        if key not in allowed:
            raise SimError(
                400,
                f"Invalid input for field/attribute quota_set. Additional properties are not "
                f"allowed ('{key}' was unexpected)",
            )
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise SimError(400, f"Invalid input for field/attribute {key}. Value: {raw}.") from None
        if value < -1:
            raise SimError(
                400,
                f"Invalid input for field/attribute {key}. Value: {raw}. {value} is less than "
                f"the minimum of -1",
            )
        if not force and value != -1 and value < used.get(key, 0):
            raise SimError(
                400,
                f"Quota limit {value} for {key} must be greater than or equal to already used "
                f"and reserved {used.get(key, 0)}.",
            )
        changes[key] = value
    stored = ctx.est.get("quotas", f"{ctx.region}/compute/{project_id}")
    if stored is None:
        make_quota(ctx.est, project_id, "compute", ctx.region, changes)
    else:
        stored["limits"].update(changes)
        ctx.est.touch()
    limits = quota_limits(ctx.est, project_id, ctx.region)
    return json_response({"quota_set": {key: limits[key] for key in allowed}})


@nova_api
async def delete_quota(ctx: Ctx) -> web.Response:
    ctx.require_admin()
    ctx.est.remove("quotas", f"{ctx.region}/compute/{ctx.request.match_info['project_id']}")
    return empty(202)


@nova_api
async def limits(ctx: Ctx) -> web.Response:
    project_id = ctx.request.query.get("tenant_id") or ctx.project_id or ""
    if project_id != ctx.project_id:
        ctx.require_admin()
    lim = quota_limits(ctx.est, project_id, ctx.region)
    used = project_usage(ctx.est, project_id, ctx.region)
    absolute: dict[str, int] = {
        "maxImageMeta": lim["metadata_items"],
        "maxServerMeta": lim["metadata_items"],
        "maxTotalCores": lim["cores"],
        "maxTotalInstances": lim["instances"],
        "maxTotalKeypairs": lim["key_pairs"],
        "maxTotalRAMSize": lim["ram"],
        "maxServerGroups": lim["server_groups"],
        "maxServerGroupMembers": lim["server_group_members"],
        "totalCoresUsed": used["cores"],
        "totalInstancesUsed": used["instances"],
        "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": used["server_groups"],
    }
    if not ctx.since(57):
        absolute.update(
            maxPersonality=lim["injected_files"], maxPersonalitySize=lim["injected_file_content_bytes"]
        )
    if not ctx.since(36):
        absolute.update(
            maxSecurityGroupRules=lim["security_group_rules"],
            maxSecurityGroups=lim["security_groups"],
            maxTotalFloatingIps=lim["floating_ips"],
            totalFloatingIpsUsed=0,
            totalSecurityGroupsUsed=0,
        )
    return json_response({"limits": {"absolute": absolute, "rate": []}})


# -- simple tenant usage ------------------------------------------------------------------------
def _when(ctx: Ctx, name: str) -> datetime:
    raw = ctx.request.query.get(name)
    if not raw:
        return ctx.est.now()
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(raw.rstrip("Z"), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise SimError(
        400,
        f"Invalid {name} time: {raw}. The time must be in the format of %Y-%m-%dT%H:%M:%S or "
        "%Y-%m-%dT%H:%M:%S.%f.",
    )


def _server_usage(ctx: Ctx, server: dict[str, Any], start: datetime, stop: datetime) -> dict[str, Any] | None:
    launched_raw = server.get("OS-SRV-USG:launched_at") or server["created"]
    launched = datetime.fromisoformat(launched_raw.replace("Z", "")).replace(tzinfo=UTC)
    now = ctx.est.now()
    if launched > stop:
        return None
    begin, end = max(start, launched), min(stop, now)
    hours = max(0.0, (end - begin).total_seconds() / 3600)
    flavor = server["flavor"]
    return {
        "instance_id": server["id"],
        "name": server["name"],
        "tenant_id": server["tenant_id"],
        "flavor": flavor["original_name"],
        "vcpus": flavor["vcpus"],
        "memory_mb": flavor["ram"],
        "local_gb": flavor["disk"],
        "hours": hours,
        "started_at": iso_micro(launched),
        "ended_at": None,
        "state": server["OS-EXT-STS:vm_state"],
        "uptime": int((now - launched).total_seconds()),
    }


def _tenant_usage(
    project_id: str, usages: list[dict[str, Any]], start: datetime, stop: datetime, detailed: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tenant_id": project_id,
        "start": iso_micro(start),
        "stop": iso_micro(stop),
        "total_hours": sum(u["hours"] for u in usages),
        "total_vcpus_usage": sum(u["hours"] * u["vcpus"] for u in usages),
        "total_memory_mb_usage": sum(u["hours"] * u["memory_mb"] for u in usages),
        "total_local_gb_usage": sum(u["hours"] * u["local_gb"] for u in usages),
    }
    if detailed:
        out["server_usages"] = usages
    return out


@nova_api
async def usage_all(ctx: Ctx) -> web.Response:
    ctx.require_admin()
    start, stop = _when(ctx, "start"), _when(ctx, "end")
    detailed = ctx.request.query.get("detailed", "0") not in ("0", "", "false", "False")
    per_project: dict[str, list[dict[str, Any]]] = {}
    for server in sorted(
        ctx.est.all("servers", ctx.region), key=lambda s: (s["tenant_id"], s["created"], s["id"])
    ):
        usage = _server_usage(ctx, server, start, stop)
        if usage is not None:
            per_project.setdefault(server["tenant_id"], []).append(usage)
    body = [_tenant_usage(p, u, start, stop, detailed) for p, u in sorted(per_project.items())]
    return json_response({"tenant_usages": body})


@nova_api
async def usage_one(ctx: Ctx) -> web.Response:
    project_id = ctx.request.match_info["project_id"]
    if project_id != ctx.project_id:
        ctx.require_admin()
    start, stop = _when(ctx, "start"), _when(ctx, "end")
    servers = sorted(
        ctx.est.index("servers", "tenant_id", ctx.region).get(project_id, []),
        key=lambda s: (s["created"], s["id"]),
    )
    usages = [u for u in (_server_usage(ctx, s, start, stop) for s in servers) if u is not None]
    body = _tenant_usage(project_id, usages, start, stop, True) if usages else {}
    return json_response({"tenant_usage": body})


def register(app: web.Application) -> None:
    base = "/{region}/compute/v2.1"
    r = app.router
    r.add_get(f"{base}/os-quota-sets/{{project_id}}/detail", show_quota)
    r.add_get(f"{base}/os-quota-sets/{{project_id}}/defaults", show_defaults)
    r.add_get(f"{base}/os-quota-sets/{{project_id}}", show_quota)
    r.add_put(f"{base}/os-quota-sets/{{project_id}}", update_quota)
    r.add_delete(f"{base}/os-quota-sets/{{project_id}}", delete_quota)
    r.add_get(f"{base}/limits", limits)
    r.add_get(f"{base}/os-simple-tenant-usage", usage_all)
    r.add_get(f"{base}/os-simple-tenant-usage/{{project_id}}", usage_one)
