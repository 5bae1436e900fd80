"""Simulated Keystone v3: version discovery and route registration.

The handlers live in auth.py (tokens), catalog.py (catalog, services, endpoints, regions), admin.py
(listings, create/update/delete, groups), grants.py (role assignments and grants) and appcreds.py
(application credentials); base.py holds what they share.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pf9sim.keystone import admin, appcreds, auth, catalog, grants
from pf9sim.keystone.base import sim_of
from pf9sim.plumbing import json_response, public

V3_ID = "v3.14"
V3_UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPE = "application/vnd.openstack.identity-v3+json"


def _v3_version(base_url: str) -> dict[str, Any]:
    return {
        "id": V3_ID,
        "status": "stable",
        "updated": V3_UPDATED,
        "links": [{"rel": "self", "href": f"{base_url}/identity/v3/"}],
        "media-types": [{"base": "application/json", "type": MEDIA_TYPE}],
    }


@public
async def versions(request: web.Request) -> web.Response:
    """GET /identity: Keystone answers 300 Multiple Choices with the versions it serves."""
    body = {"versions": {"values": [_v3_version(sim_of(request).base_url)]}}
    return json_response(body, status=300)


@public
async def version_v3(request: web.Request) -> web.Response:
    return json_response({"version": _v3_version(sim_of(request).base_url)})


def register(app: web.Application) -> None:
    for path in ("/identity", "/identity/"):
        app.router.add_get(path, versions)
    for path in ("/identity/v3", "/identity/v3/"):
        app.router.add_get(path, version_v3)
    auth.register(app)
    admin.register(app)
    grants.register(app)
    appcreds.register(app)
    catalog.register(app)
