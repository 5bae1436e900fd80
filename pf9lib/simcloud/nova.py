"""Simulated Nova (compute API v2.1, microversions 2.1-2.96): version discovery and route registration.

Handlers live in nova_servers (list/show/delete), nova_boot (create), nova_server_ops (actions, attachments,
interfaces, metadata), nova_flavors, nova_misc (keypairs, server groups, aggregates), nova_hosts (hypervisors,
services, availability zones) and nova_quotas (quota sets, limits, usage); nova_base holds what they share.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pf9lib.simcloud.app import public, region_of
from pf9lib.simcloud.common import json_response
from pf9lib.simcloud.nova_base import MAX_VERSION, MIN_VERSION, VERSION_UPDATED


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
    from pf9lib.simcloud import (
        nova_boot,
        nova_flavors,
        nova_hosts,
        nova_misc,
        nova_quotas,
        nova_server_ops,
        nova_servers,
    )

    for path in ("/{region}/compute", "/{region}/compute/"):
        app.router.add_get(path, versions)
    for path in ("/{region}/compute/v2.1", "/{region}/compute/v2.1/"):
        app.router.add_get(path, version_v21)
    nova_servers.register(app)
    nova_boot.register(app)
    nova_server_ops.register(app)
    nova_flavors.register(app)
    nova_misc.register(app)
    nova_hosts.register(app)
    nova_quotas.register(app)
