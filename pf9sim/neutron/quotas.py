"""Neutron quotas (limits stored by state.make_quota, usage counted from the estate), agents and AZs."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from pf9sim.model.network import DEFAULT_AZ, DEFAULT_QUOTAS
from pf9sim.neutron.resources import V2, Ctx, ctx_of, quota_limit
from pf9sim.plumbing import SimError, json_response, read_json
from pf9sim.state import EPOCH, make_quota

# Quota resource -> the estate type whose objects it counts (None: nothing of that kind is simulated).
COUNTED = {
    "network": "networks",
    "subnet": "subnets",
    "subnetpool": None,
    "port": "ports",
    "router": "routers",
    "floatingip": "floating_ips",
    "security_group": "security_groups",
    "security_group_rule": "security_group_rules",
    "rbac_policy": None,
    "router_route": None,  # counted from the routers' routes, below
}


def _limits(ctx: Ctx, project_id: str) -> dict[str, int]:
    return {key: quota_limit(ctx.est, ctx.region, project_id, key) for key in DEFAULT_QUOTAS}


def _used(ctx: Ctx, project_id: str, key: str) -> int:
    if key == "router_route":
        routers = ctx.est.index("routers", "project_id", ctx.region).get(project_id, ())
        return sum(len(r.get("routes") or ()) for r in routers)
    kind = COUNTED.get(key)
    if kind is None:
        return 0
    return len(ctx.est.index(kind, "project_id", ctx.region).get(project_id, ()))


def _may_read(ctx: Ctx, project_id: str) -> None:
    if not ctx.is_admin and project_id != ctx.project_id:
        raise SimError(403, "(rule:get_quota) is disallowed by policy", kind="PolicyNotAuthorized")


async def list_quotas(request: web.Request) -> web.Response:
    """Projects with quotas set (Neutron lists only non-default ones; here: every stored quota)."""
    ctx = ctx_of(request)
    if not ctx.is_admin:
        raise SimError(403, "(rule:get_quota) is disallowed by policy", kind="PolicyNotAuthorized")
    out = []
    for quota in sorted(ctx.est.all("quotas", ctx.region), key=lambda q: q["project_id"]):
        if quota.get("_service") != "network":
            continue
        row: dict[str, Any] = _limits(ctx, quota["project_id"])
        row.update(project_id=quota["project_id"], tenant_id=quota["project_id"])
        out.append(row)
    return json_response({"quotas": out})


async def show_quota(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    project_id = request.match_info["project_id"]
    _may_read(ctx, project_id)
    return json_response({"quota": _limits(ctx, project_id)})


async def quota_details(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    project_id = request.match_info["project_id"]
    _may_read(ctx, project_id)
    limits = _limits(ctx, project_id)
    body = {
        key: {"limit": limit, "used": _used(ctx, project_id, key), "reserved": 0}
        for key, limit in limits.items()
    }
    return json_response({"quota": body})


async def quota_defaults(request: web.Request) -> web.Response:
    ctx_of(request)
    return json_response({"quota": dict(DEFAULT_QUOTAS)})


async def update_quota(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    if not ctx.is_admin:
        raise SimError(403, "(rule:update_quota) is disallowed by policy", kind="PolicyNotAuthorized")
    project_id = request.match_info["project_id"]
    changes = (await read_json(request)).get("quota")
    if not isinstance(changes, dict):
        raise SimError(400, "Resource body required: expected a 'quota' object.", kind="BadRequest")
    unknown = sorted(set(changes) - set(DEFAULT_QUOTAS) - {"force", "check_limit"})
    if unknown:
        raise SimError(400, f"Unrecognized attribute(s) '{', '.join(unknown)}'", kind="HTTPBadRequest")
    for key, value in changes.items():
        if key in DEFAULT_QUOTAS and (isinstance(value, bool) or not isinstance(value, int) or value < -1):
            raise SimError(
                400,
                f"Invalid input for {key}. Reason: '{value}' is not a valid integer >= -1.",
                kind="HTTPBadRequest",
            )
    quota = ctx.est.get("quotas", f"{ctx.region}/network/{project_id}")
    if quota is None:
        quota = make_quota(ctx.est, project_id, "network", ctx.region, {})
    quota["limits"].update({k: v for k, v in changes.items() if k in DEFAULT_QUOTAS})
    ctx.est.touch()
    return json_response({"quota": _limits(ctx, project_id)})


async def reset_quota(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    if not ctx.is_admin:
        raise SimError(403, "(rule:delete_quota) is disallowed by policy", kind="PolicyNotAuthorized")
    ctx.est.remove("quotas", f"{ctx.region}/network/{request.match_info['project_id']}")
    return web.Response(status=204)


async def quota_project(request: web.Request) -> web.Response:
    """GET /quotas/tenant and /quotas/project: who the caller is, for old clients."""
    ctx = ctx_of(request)
    word = request.path.rstrip("/").rsplit("/", 1)[-1]
    return json_response({word: {f"{word}_id": ctx.project_id}})


# -- agents and availability zones -------------------------------------------------------------
_AGENTS = (
    ("Open vSwitch agent", "neutron-openvswitch-agent", "N/A", None),
    ("L3 agent", "neutron-l3-agent", "l3_agent", DEFAULT_AZ),
    ("Metadata agent", "neutron-metadata-agent", "N/A", None),
    ("DHCP agent", "neutron-dhcp-agent", "dhcp_agent", DEFAULT_AZ),
)


def agents(ctx: Ctx) -> list[dict[str, Any]]:
    """The agents of every hypervisor (DHCP only on the first two hosts): derived, so they never drift."""
    heartbeat = ctx.est.now().strftime("%Y-%m-%d %H:%M:%S")
    started = EPOCH.strftime("%Y-%m-%d %H:%M:%S")
    hosts = sorted(ctx.est.all("hypervisors", ctx.region), key=lambda h: h["hypervisor_hostname"])
    out = []
    for pos, hyp in enumerate(hosts):
        host = hyp.get("service", {}).get("host") or hyp["hypervisor_hostname"]
        for agent_type, binary, topic, az in _AGENTS:
            if agent_type == "DHCP agent" and pos >= 2:
                continue
            out.append(
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"pf9sim/{ctx.region}/{host}/{binary}")),
                    "agent_type": agent_type,
                    "binary": binary,
                    "topic": topic,
                    "host": host,
                    "availability_zone": az,
                    "admin_state_up": hyp.get("status", "enabled") == "enabled",
                    "alive": hyp.get("state", "up") == "up",
                    "description": None,
                    "created_at": started,
                    "started_at": started,
                    "heartbeat_timestamp": heartbeat,
                    "resources_synced": None,
                    "configurations": {"tunnel_types": ["vxlan"], "bridge_mappings": {"external": "br-ex"}}
                    if binary == "neutron-openvswitch-agent"
                    else {},
                }
            )
    return out


def _filtered(request: web.Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for name in set(request.query.keys()) - {"fields", "limit", "marker", "sort_key", "sort_dir"}:
        wanted = set(request.query.getall(name))
        rows = [r for r in rows if str(r.get(name)) in wanted or str(r.get(name)).lower() in wanted]
    return rows


async def list_agents(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    if not ctx.is_admin:
        raise SimError(403, "(rule:get_agent) is disallowed by policy", kind="PolicyNotAuthorized")
    return json_response({"agents": _filtered(request, agents(ctx))})


async def show_agent(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    if not ctx.is_admin:
        raise SimError(403, "(rule:get_agent) is disallowed by policy", kind="PolicyNotAuthorized")
    for agent in agents(ctx):
        if agent["id"] == request.match_info["id"]:
            return json_response({"agent": agent})
    raise SimError(404, f"Agent {request.match_info['id']} could not be found.", kind="AgentNotFound")


async def list_availability_zones(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    names = {DEFAULT_AZ}
    for kind in ("networks", "routers"):
        for obj in ctx.est.all(kind, ctx.region):
            names.update(obj.get("availability_zones") or ())
    rows = [
        {"name": name, "resource": resource, "state": "available"}
        for resource in ("network", "router")
        for name in sorted(names)
    ]
    return json_response({"availability_zones": _filtered(request, rows)})


def register_quotas(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{V2}/quotas", list_quotas)
    r.add_get(f"{V2}/quotas/tenant", quota_project)
    r.add_get(f"{V2}/quotas/project", quota_project)
    r.add_get(f"{V2}/quotas/{{project_id}}", show_quota)
    r.add_put(f"{V2}/quotas/{{project_id}}", update_quota)
    r.add_delete(f"{V2}/quotas/{{project_id}}", reset_quota)
    r.add_get(f"{V2}/quotas/{{project_id}}/details", quota_details)
    r.add_get(f"{V2}/quotas/{{project_id}}/default", quota_defaults)
    r.add_get(f"{V2}/agents", list_agents)
    r.add_get(f"{V2}/agents/{{id}}", show_agent)
    r.add_get(f"{V2}/availability_zones", list_availability_zones)
