"""Simulated Keystone v3 service catalog: the catalog in tokens and /v3/auth/catalog, and the listings
behind it (/v3/services, /v3/endpoints, /v3/regions). Ids are derived from names, so they are stable."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from pf9sim.cloud import SimCloud
from pf9sim.keystone.base import collection, sim_of
from pf9sim.plumbing import SimError, json_response, require_admin

V3 = "/identity/v3"
# (type, name) of every catalog service; volumev3 and block-storage share Cinder's endpoints.
CATALOG_SERVICES = (
    ("identity", "keystone"),
    ("compute", "nova"),
    ("volumev3", "cinderv3"),
    ("block-storage", "cinder"),
    ("network", "neutron"),
    ("image", "glance"),
)
INTERFACES = ("public", "internal", "admin")


# -- the catalog ----------------------------------------------------------------------------------
def _hex(*parts: str) -> str:
    """Stable ids for catalog entries (they must not consume the estate's RNG)."""
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:32]


def endpoint_url(base: str, service_type: str, region: str, project_id: str | None) -> str:
    """Where a service lives; project_id None gives Cinder's URL without the tenant part."""
    if service_type == "identity":
        return f"{base}/identity/v3"
    if service_type == "compute":
        return f"{base}/{region}/compute/v2.1"
    if service_type in ("volumev3", "block-storage"):
        return f"{base}/{region}/volume/v3" + (f"/{project_id}" if project_id else "")
    return f"{base}/{region}/{service_type}"


def catalog(sim: SimCloud, project_id: str | None) -> list[dict[str, Any]]:
    """The token catalog: every service, one public/internal/admin endpoint per region."""
    out = []
    for stype, name in CATALOG_SERVICES:
        endpoints = [
            {
                "id": _hex("endpoint", stype, region, iface),
                "interface": iface,
                "region": region,
                "region_id": region,
                "url": endpoint_url(sim.base_url, stype, region, project_id),
            }
            for region in sim.estate.regions
            for iface in INTERFACES
        ]
        out.append({"endpoints": endpoints, "id": _hex("service", stype), "type": stype, "name": name})
    return out


def _service_obj(sim: SimCloud, stype: str, name: str) -> dict[str, Any]:
    sid = _hex("service", stype)
    return {
        "id": sid,
        "type": stype,
        "name": name,
        "enabled": True,
        "description": f"{name} ({stype})",
        "links": {"self": f"{sim.base_url}{V3}/services/{sid}"},
    }


def _endpoint_objs(sim: SimCloud) -> list[dict[str, Any]]:
    out = []
    for stype, _name in CATALOG_SERVICES:
        for region in sim.estate.regions:
            for iface in INTERFACES:
                eid = _hex("endpoint", stype, region, iface)
                # /v3/endpoints shows the URL template, as Keystone stores it.
                url = endpoint_url(sim.base_url, stype, region, "%(project_id)s")
                out.append(
                    {
                        "id": eid,
                        "interface": iface,
                        "region": region,
                        "region_id": region,
                        "service_id": _hex("service", stype),
                        "url": url,
                        "enabled": True,
                        "links": {"self": f"{sim.base_url}{V3}/endpoints/{eid}"},
                    }
                )
    return out


def _region_obj(sim: SimCloud, region: str) -> dict[str, Any]:
    return {
        "id": region,
        "description": "",
        "parent_region_id": None,
        "links": {"self": f"{sim.base_url}{V3}/regions/{region}"},
    }


async def list_services(request: web.Request) -> web.Response:
    require_admin(request)
    sim = sim_of(request)
    items = [_service_obj(sim, t, n) for t, n in CATALOG_SERVICES]
    if "type" in request.query:
        items = [s for s in items if s["type"] == request.query["type"]]
    if "name" in request.query:
        items = [s for s in items if s["name"] == request.query["name"]]
    return collection(request, "services", items)


async def show_service(request: web.Request) -> web.Response:
    require_admin(request)
    sim = sim_of(request)
    for stype, name in CATALOG_SERVICES:
        if _hex("service", stype) == request.match_info["id"]:
            return json_response({"service": _service_obj(sim, stype, name)})
    raise SimError(404, f"Could not find service: {request.match_info['id']}.")


async def list_endpoints(request: web.Request) -> web.Response:
    require_admin(request)
    items = _endpoint_objs(sim_of(request))
    for param in ("service_id", "interface", "region_id"):
        if param in request.query:
            items = [e for e in items if e[param] == request.query[param]]
    return collection(request, "endpoints", items)


async def show_endpoint(request: web.Request) -> web.Response:
    require_admin(request)
    for endpoint in _endpoint_objs(sim_of(request)):
        if endpoint["id"] == request.match_info["id"]:
            return json_response({"endpoint": endpoint})
    raise SimError(404, f"Could not find endpoint: {request.match_info['id']}.")


async def list_regions(request: web.Request) -> web.Response:
    sim = sim_of(request)
    return collection(request, "regions", [_region_obj(sim, r) for r in sim.estate.regions])


async def show_region(request: web.Request) -> web.Response:
    sim = sim_of(request)
    region = request.match_info["id"]
    if region not in sim.estate.regions:
        raise SimError(404, f"Could not find region: {region}.")
    return json_response({"region": _region_obj(sim, region)})


def register(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{V3}/services", list_services)
    r.add_get(f"{V3}/services/{{id}}", show_service)
    r.add_get(f"{V3}/endpoints", list_endpoints)
    r.add_get(f"{V3}/endpoints/{{id}}", show_endpoint)
    r.add_get(f"{V3}/regions", list_regions)
    r.add_get(f"{V3}/regions/{{id}}", show_region)
