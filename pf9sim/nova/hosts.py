"""Simulated Nova hypervisors, compute services and availability zones (the admin's view of the hosts)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from pf9sim.nova.base import Ctx, hypervisor_usage, nova_api, nova_page, query_bool, servers_on
from pf9sim.plumbing import SimError, json_response, read_json
from pf9sim.state import stamp_updated

_USAGE_KEYS = (
    "vcpus_used",
    "memory_mb_used",
    "local_gb_used",
    "free_ram_mb",
    "free_disk_gb",
    "current_workload",
    "running_vms",
    "disk_available_least",
)


# -- hypervisors --------------------------------------------------------------------------------
def _hyp_id(ctx: Ctx, hyp: dict[str, Any]) -> Any:
    return hyp["id"] if ctx.since(53) else hyp["_int_id"]


def _uptime(ctx: Ctx, hyp: dict[str, Any]) -> str:
    created = hyp.get("_created") or ctx.est.now_iso()
    seconds = max(0, int((ctx.est.now() - _parse_iso(created)).total_seconds())) + 86400 * 3 + 4321
    days, rest = divmod(seconds, 86400)
    clock = ctx.est.now().strftime("%H:%M:%S")
    since = f"{rest // 3600}:{rest % 3600 // 60:02d}"
    return f" {clock} up {days} days, {since},  1 user,  load average: 0.52, 0.58, 0.59"


def _parse_iso(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _hyp_view(ctx: Ctx, hyp: dict[str, Any], detail: bool, with_servers: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": _hyp_id(ctx, hyp),
        "hypervisor_hostname": hyp["hypervisor_hostname"],
        "state": hyp["state"],
        "status": hyp["status"],
    }
    if detail:
        service = hyp["service"]
        out.update(
            host_ip=hyp["host_ip"],
            hypervisor_type=hyp["hypervisor_type"],
            hypervisor_version=hyp["hypervisor_version"],
            service={
                "host": service["host"],
                "id": service["id"] if ctx.since(53) else hyp["_int_id"],
                "disabled_reason": service["disabled_reason"],
            },
        )
        if ctx.since(88):
            out["uptime"] = _uptime(ctx, hyp) if hyp["state"] == "up" else None
        else:
            out.update(vcpus=hyp["vcpus"], memory_mb=hyp["memory_mb"], local_gb=hyp["local_gb"])
            out["cpu_info"] = hyp["cpu_info"] if ctx.since(28) else json.dumps(hyp["cpu_info"])
            out.update(hypervisor_usage(ctx.est, hyp))
    if with_servers:
        servers = servers_on(ctx.est, hyp)
        if servers:
            out["servers"] = [{"name": s["OS-EXT-SRV-ATTR:instance_name"], "uuid": s["id"]} for s in servers]
    return out


def _hypervisors(ctx: Ctx) -> list[dict[str, Any]]:
    return sorted(ctx.est.all("hypervisors", ctx.region), key=lambda h: h["_int_id"])


async def _list_hypervisors(ctx: Ctx, detail: bool) -> web.Response:
    ctx.require_admin()
    hyps = _hypervisors(ctx)
    with_servers = bool(query_bool(ctx, "with_servers")) and ctx.since(53)
    pattern = ctx.request.query.get("hypervisor_hostname_pattern") if ctx.since(53) else None
    if pattern is not None:
        if "limit" in ctx.request.query or "marker" in ctx.request.query:
            raise SimError(
                400,
                "Paging over hypervisors with the hypervisor_hostname_pattern query parameter "
                "is not supported.",
            )
        hyps = [h for h in hyps if pattern in h["hypervisor_hostname"]]
        if not hyps:
            raise SimError(404, f"No hypervisor matching '{pattern}' could be found.")
    extra: dict[str, Any] = {}
    if ctx.since(33):
        hyps, extra = nova_page(ctx, hyps, "hypervisors_links", marker_of=lambda h: _hyp_id(ctx, h))
    return json_response({"hypervisors": [_hyp_view(ctx, h, detail, with_servers) for h in hyps], **extra})


@nova_api
async def list_hypervisors(ctx: Ctx) -> web.Response:
    return await _list_hypervisors(ctx, detail=False)


@nova_api
async def list_hypervisors_detail(ctx: Ctx) -> web.Response:
    return await _list_hypervisors(ctx, detail=True)


def _find_hypervisor(ctx: Ctx) -> dict[str, Any]:
    ctx.require_admin()
    raw = ctx.request.match_info["hypervisor_id"]
    for hyp in ctx.est.all("hypervisors", ctx.region):
        if raw == hyp["id"] or raw == str(hyp["_int_id"]):
            return hyp
    raise SimError(404, f"Hypervisor with ID {raw} could not be found.")


@nova_api
async def show_hypervisor(ctx: Ctx) -> web.Response:
    with_servers = bool(query_bool(ctx, "with_servers")) and ctx.since(53)
    return json_response({"hypervisor": _hyp_view(ctx, _find_hypervisor(ctx), True, with_servers)})


@nova_api
async def hypervisor_uptime(ctx: Ctx) -> web.Response:
    if ctx.since(88):
        raise SimError(404, "The resource could not be found.")
    hyp = _find_hypervisor(ctx)
    out = _hyp_view(ctx, hyp, False, False)
    out["uptime"] = _uptime(ctx, hyp)
    return json_response({"hypervisor": out})


@nova_api
async def hypervisor_statistics(ctx: Ctx) -> web.Response:
    ctx.require_admin()
    if ctx.since(88):
        raise SimError(404, "The resource could not be found.")
    totals = dict.fromkeys(("count", "vcpus", "memory_mb", "local_gb", *_USAGE_KEYS), 0)
    for hyp in _hypervisors(ctx):
        totals["count"] += 1
        for key in ("vcpus", "memory_mb", "local_gb"):
            totals[key] += hyp[key]
        for key, value in hypervisor_usage(ctx.est, hyp).items():
            totals[key] += value
    return json_response({"hypervisor_statistics": totals})


@nova_api
async def hypervisor_search(ctx: Ctx) -> web.Response:
    ctx.require_admin()
    if ctx.since(53):
        raise SimError(404, "The resource could not be found.")
    pattern = ctx.request.match_info["pattern"]
    with_servers = ctx.request.path.endswith("/servers")
    hyps = [h for h in _hypervisors(ctx) if pattern in h["hypervisor_hostname"]]
    if not hyps:
        raise SimError(404, f"No hypervisor matching '{pattern}' could be found.")
    return json_response({"hypervisors": [_hyp_view(ctx, h, False, with_servers) for h in hyps]})


# -- compute services ---------------------------------------------------------------------------
def controller_host(region: str) -> str:
    return f"{region.lower()}-controller"


def _services(ctx: Ctx) -> list[dict[str, Any]]:
    """nova-conductor and nova-scheduler on the region's controller, then one nova-compute per hypervisor."""
    now = ctx.est.now_micro()
    uuid_ids = ctx.since(53)
    out = []
    for n, binary in enumerate(("nova-conductor", "nova-scheduler"), start=1):
        host = controller_host(ctx.region)
        sid = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{binary}.{host}")) if uuid_ids else n
        out.append(
            {
                "id": sid,
                "binary": binary,
                "host": host,
                "zone": "internal",
                "status": "enabled",
                "state": "up",
                "updated_at": now,
                "disabled_reason": None,
                "forced_down": False,
            }
        )
    for hyp in _hypervisors(ctx):
        service = hyp["service"]
        out.append(
            {
                "id": service["id"] if uuid_ids else 2 + hyp["_int_id"],
                "binary": "nova-compute",
                "host": service["host"],
                "zone": hyp.get("_az", "nova"),
                "status": hyp["status"],
                "state": hyp["state"],
                "updated_at": now,
                "disabled_reason": service["disabled_reason"],
                "forced_down": bool(hyp.get("_forced_down", False)),
                "_hyp": hyp,
            }
        )
    if not ctx.since(11):
        for svc in out:
            svc.pop("forced_down")
    return out


@nova_api
async def list_services(ctx: Ctx) -> web.Response:
    ctx.require_admin()
    q = ctx.request.query
    services = [
        s
        for s in _services(ctx)
        if q.get("binary", s["binary"]) == s["binary"] and q.get("host", s["host"]) == s["host"]
    ]
    return json_response({"services": [{k: v for k, v in s.items() if k != "_hyp"} for s in services]})


@nova_api
async def update_service(ctx: Ctx) -> web.Response:
    """PUT /os-services/{uuid} (2.53+): enable/disable a compute service (its hypervisor shows it)."""
    ctx.require_admin()
    if not ctx.since(53):
        raise SimError(404, "The resource could not be found.")
    service_id = ctx.request.match_info["service_id"]
    service = next((s for s in _services(ctx) if str(s["id"]) == service_id), None)
    if service is None:
        raise SimError(404, f"Service {service_id} could not be found.")
    body = await read_json(ctx.request)
    hyp = service.get("_hyp")
    if hyp is not None:
        if body.get("status") in ("enabled", "disabled"):
            hyp["status"] = body["status"]
            hyp["service"]["disabled_reason"] = (
                body.get("disabled_reason") if body["status"] == "disabled" else None
            )
        if "forced_down" in body:
            hyp["_forced_down"] = bool(body["forced_down"])
            hyp["state"] = "down" if body["forced_down"] else "up"
        stamp_updated(ctx.est, "hypervisors", hyp)
    service = next(s for s in _services(ctx) if str(s["id"]) == service_id)
    return json_response({"service": {k: v for k, v in service.items() if k != "_hyp"}})


# -- availability zones -------------------------------------------------------------------------
def _zones(ctx: Ctx) -> dict[str, dict[str, dict[str, Any]]]:
    """zone name -> {host: {"nova-compute": {...}}} for every stored zone and every hypervisor's zone."""
    now = ctx.est.now_micro()
    zones: dict[str, dict[str, dict[str, Any]]] = {}
    for zone in sorted(ctx.est.all("availability_zones", ctx.region), key=lambda z: z["zoneName"]):
        hosts = zones.setdefault(zone["zoneName"], {})
        for host in zone.get("_hosts") or ():
            hosts[host] = {"nova-compute": {"available": True, "active": True, "updated_at": now}}
    for hyp in _hypervisors(ctx):
        hosts = zones.setdefault(hyp.get("_az", "nova"), {})
        hosts[hyp["service"]["host"]] = {
            "nova-compute": {
                "available": hyp["state"] == "up",
                "active": hyp["status"] == "enabled",
                "updated_at": now,
            }
        }
    return zones


def _zone_available(hosts: dict[str, dict[str, Any]]) -> bool:
    return not hosts or any(svc["active"] for per_host in hosts.values() for svc in per_host.values())


@nova_api
async def list_zones(ctx: Ctx) -> web.Response:
    info = [
        {"zoneName": name, "zoneState": {"available": _zone_available(hosts)}, "hosts": None}
        for name, hosts in _zones(ctx).items()
    ]
    return json_response({"availabilityZoneInfo": info})


@nova_api
async def list_zones_detail(ctx: Ctx) -> web.Response:
    ctx.require_admin()
    now = ctx.est.now_micro()
    state = {"available": True, "active": True, "updated_at": now}
    internal = {controller_host(ctx.region): {"nova-conductor": dict(state), "nova-scheduler": dict(state)}}
    info = [{"zoneName": "internal", "zoneState": {"available": True}, "hosts": internal}]
    info += [
        {"zoneName": name, "zoneState": {"available": _zone_available(hosts)}, "hosts": hosts or None}
        for name, hosts in _zones(ctx).items()
    ]
    return json_response({"availabilityZoneInfo": info})


def register(app: web.Application) -> None:
    base = "/{region}/compute/v2.1"
    r = app.router
    r.add_get(f"{base}/os-hypervisors", list_hypervisors)
    r.add_get(f"{base}/os-hypervisors/detail", list_hypervisors_detail)
    r.add_get(f"{base}/os-hypervisors/statistics", hypervisor_statistics)
    r.add_get(f"{base}/os-hypervisors/{{hypervisor_id}}", show_hypervisor)
    r.add_get(f"{base}/os-hypervisors/{{hypervisor_id}}/uptime", hypervisor_uptime)
    r.add_get(f"{base}/os-hypervisors/{{pattern}}/search", hypervisor_search)
    r.add_get(f"{base}/os-hypervisors/{{pattern}}/servers", hypervisor_search)
    r.add_get(f"{base}/os-services", list_services)
    r.add_put(f"{base}/os-services/{{service_id}}", update_service)
    r.add_get(f"{base}/os-availability-zone", list_zones)
    r.add_get(f"{base}/os-availability-zone/detail", list_zones_detail)
