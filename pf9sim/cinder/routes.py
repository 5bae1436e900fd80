"""Simulated Cinder v3 (block storage): version discovery, routing, volume types, AZs, services.

The API answers under both /{region}/volume/v3/{project_id}/... and /{region}/volume/v3/... (Cinder accepts
both since 3.x); volumes, snapshots and quotas live in volumes.py, snapshots.py and quota.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from pf9sim.cinder import backends, quota, snapshots, volumes
from pf9sim.cinder.common import MAX_VERSION, MIN_VERSION, Ctx, ctx_of, default_type, respond
from pf9sim.plumbing import SimError, json_response, paginate, public, region_of, require_admin

# A project id in the URL: Keystone ids are 32 hex digits (UUID form accepted); "volumes" etc. never match.
_PROJECT = "{project_id:[0-9a-fA-F-]{8,64}}"
# Extra specs a non-admin may see (Cinder's user-visible specs).
_USER_VISIBLE_SPECS = frozenset({"RESKEY:availability_zones", "multiattach", "replication_enabled"})
_UPDATED = "2023-08-31T00:00:00Z"  # the 3.71 release


# -- version discovery -----------------------------------------------------------------------------
def _version_doc(request: web.Request) -> dict[str, Any]:
    region = region_of(request)
    base = request.app["sim"].base_url
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": _UPDATED,
        "links": [
            {"href": "https://docs.openstack.org/", "type": "text/html", "rel": "describedby"},
            {"href": f"{base}/{region}/volume/v3/", "rel": "self"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


@public
async def versions(request: web.Request) -> web.Response:
    """The service root lists the versions with 300 Multiple Choices, as Cinder does."""
    return json_response({"versions": [_version_doc(request)]}, status=300)


@public
async def version_v3(request: web.Request) -> web.Response:
    return json_response({"versions": [_version_doc(request)]})


# -- volume types ----------------------------------------------------------------------------------
def _render_type(ctx: Ctx, vtype: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in vtype.items() if k[0] != "_"}
    specs = dict(vtype.get("extra_specs") or {})
    if not ctx.admin:
        specs = {k: v for k, v in specs.items() if k in _USER_VISIBLE_SPECS}
        body.pop("qos_specs_id", None)
    body["extra_specs"] = specs
    return body


def _visible_type(ctx: Ctx, vtype: dict[str, Any]) -> bool:
    return ctx.admin or vtype.get("is_public", True) or ctx.project_id in vtype.get("_access", ())


def _get_type(ctx: Ctx, type_id: str) -> dict[str, Any]:
    if type_id == "default" and ctx.version >= (3, 62):
        return default_type(ctx)
    vtype = ctx.est.get("volume_types", type_id)
    if vtype is None or vtype.get("_region") != ctx.region or not _visible_type(ctx, vtype):
        raise SimError(404, f"Volume type {type_id} could not be found.")
    return vtype


async def list_types(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    raw = request.query.get("is_public")
    # Cinder: an admin may ask for all (is_public=None) or private types; everyone else sees public ones.
    if not ctx.admin or raw is None:
        want: bool | None = True
    elif raw.strip().lower() == "none":
        want = None
    else:
        want = raw.strip().lower() in ("1", "t", "true", "on", "y", "yes")
    types = [
        t
        for t in ctx.est.all("volume_types", ctx.region)
        if (want is None or bool(t.get("is_public", True)) == want)
        or (not ctx.admin and ctx.project_id in t.get("_access", ()))
    ]
    types.sort(key=lambda t: t["name"])
    limit = request.query.get("limit")
    page, _ = paginate(types, request.query.get("marker"), int(limit) if limit else None)
    return respond(ctx, {"volume_types": [_render_type(ctx, t) for t in page]})


async def show_type(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return respond(ctx, {"volume_type": _render_type(ctx, _get_type(ctx, request.match_info["type_id"]))})


async def type_extra_specs(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    specs = _render_type(ctx, _get_type(ctx, request.match_info["type_id"]))["extra_specs"]
    key = request.match_info.get("key")
    if key is None:
        return respond(ctx, {"extra_specs": specs})
    if key not in specs:
        raise SimError(404, f"Volume Type {request.match_info['type_id']} has no extra specs with key {key}.")
    return respond(ctx, {key: specs[key]})


async def type_access(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    require_admin(request)
    vtype = _get_type(ctx, request.match_info["type_id"])
    if vtype.get("is_public", True):
        raise SimError(404, "Access list not available for public volume types.")
    access = [{"volume_type_id": vtype["id"], "project_id": p} for p in vtype.get("_access", ())]
    return respond(ctx, {"volume_type_access": access})


# -- availability zones, services, extensions ------------------------------------------------------
def _zones(ctx: Ctx) -> list[str]:
    zones = {z for z in ctx.est.index("volumes", "availability_zone", ctx.region) if z}
    return sorted(zones or {"nova"})


async def availability_zones(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    info = [{"zoneName": z, "zoneState": {"available": True}} for z in _zones(ctx)]
    return respond(ctx, {"availabilityZoneInfo": info})


async def services(request: web.Request) -> web.Response:
    """cinder-scheduler plus one cinder-volume per backend host seen on volumes or types of the region."""
    ctx = ctx_of(request)
    require_admin(request)
    est = ctx.est
    hosts = {h.split("#", 1)[0] for h in est.index("volumes", "os-vol-host-attr:host", ctx.region) if h}
    for vtype in est.all("volume_types", ctx.region):
        backend = (vtype.get("extra_specs") or {}).get("volume_backend_name") or "lvmdriver-1"
        hosts.add(f"{ctx.region}-cinder@{backend}")
    zone = _zones(ctx)[0]
    now = est.now_micro()
    rows: list[dict[str, Any]] = []
    base = {"zone": zone, "status": "enabled", "state": "up", "updated_at": now, "disabled_reason": None}
    if ctx.version >= (3, 7):
        base["cluster"] = None
    rows.append({"binary": "cinder-scheduler", "host": f"{ctx.region}-cinder", **base})
    for host in sorted(hosts):
        row = {
            "binary": "cinder-volume",
            "host": host,
            **base,
            "replication_status": "disabled",
            "active_backend_id": None,
            "frozen": False,
        }
        if ctx.version >= (3, 49):
            row["backend_state"] = "up"
        rows.append(row)
    q = request.query
    rows = [r for r in rows if q.get("host") in (None, r["host"]) and q.get("binary") in (None, r["binary"])]
    return respond(ctx, {"services": rows})


async def extensions(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return respond(ctx, {"extensions": []})


def _check_url_project(handler: Callable) -> Callable:
    """Cinder refuses a URL whose project id is not the token's ("Malformed request url")."""

    async def wrapper(request: web.Request) -> web.Response:
        project_id = request.match_info.get("project_id")
        token = request["token"]
        if project_id and project_id != token.project_id:
            raise SimError(400, "Malformed request url")
        return await handler(request)

    return wrapper


def routes() -> list[tuple[str, str, Callable]]:
    return [
        *volumes.routes(),
        *snapshots.routes(),
        *quota.ROUTES,
        *backends.ROUTES,
        ("GET", "/types", list_types),
        ("GET", "/types/{type_id}", show_type),
        ("GET", "/types/{type_id}/extra_specs", type_extra_specs),
        ("GET", "/types/{type_id}/extra_specs/{key}", type_extra_specs),
        ("GET", "/types/{type_id}/os-volume-type-access", type_access),
        ("GET", "/os-availability-zone", availability_zones),
        ("GET", "/os-services", services),
        ("GET", "/extensions", extensions),
    ]


def register(app: web.Application) -> None:
    router = app.router
    for path in ("/{region}/volume", "/{region}/volume/"):
        router.add_get(path, versions)
    for path in (
        "/{region}/volume/v3",
        "/{region}/volume/v3/",
        f"/{{region}}/volume/v3/{_PROJECT}",
        f"/{{region}}/volume/v3/{_PROJECT}/",
    ):
        router.add_get(path, version_v3)
    table = routes()
    for method, path, handler in table:
        router.add_route(method, "/{region}/volume/v3" + path, handler)
    for method, path, handler in table:
        router.add_route(method, f"/{{region}}/volume/v3/{_PROJECT}" + path, _check_url_project(handler))
