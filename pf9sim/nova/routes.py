"""Simulated Nova (compute API v2.1, microversions 2.1-2.104): version discovery and route registration.

Handlers live in servers.py (list/show/delete), boot.py (create), server_ops.py (actions, attachments,
interfaces, metadata), flavors.py, misc.py (keypairs, server groups, aggregates), hosts.py (hypervisors,
services, availability zones) and quotas.py (quota sets, limits, usage); base.py holds what they share.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pf9sim.nova import boot, flavors, hosts, misc, quotas, server_ops, servers
from pf9sim.nova.base import MAX_VERSION, MIN_VERSION, VERSION_UPDATED
from pf9sim.plumbing import json_response, public, region_of


def _v21(request: web.Request) -> dict[str, Any]:
    base = request.app["sim"].base_url
    region = region_of(request)
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": VERSION_UPDATED,
        "links": [{"rel": "self", "href": f"{base}/{region}/compute/v2.1/"}],
    }


@public
async def versions(request: web.Request) -> web.Response:
    return json_response({"versions": [_v21(request)]})


@public
async def version_v21(request: web.Request) -> web.Response:
    doc = _v21(request)
    doc["links"].append({"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"})
    doc["media-types"] = [
        {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
    ]
    return json_response({"version": doc})


def register(app: web.Application) -> None:
    for path in ("/{region}/compute", "/{region}/compute/"):
        app.router.add_get(path, versions)
    for path in ("/{region}/compute/v2.1", "/{region}/compute/v2.1/"):
        app.router.add_get(path, version_v21)
    servers.register(app)
    boot.register(app)
    server_ops.register(app)
    flavors.register(app)
    misc.register(app)
    hosts.register(app)
    quotas.register(app)
