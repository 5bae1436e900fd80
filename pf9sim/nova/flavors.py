"""Simulated Nova flavors and extra specs (private ones visible to the projects in "_projects")."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pf9sim.model import compute as model_compute
from pf9sim.nova.base import Ctx, empty, nova_api, nova_page, query_bool
from pf9sim.nova.boot import regional
from pf9sim.plumbing import SimError, int_param, json_response, read_json
from pf9sim.state import public


# -- flavors ------------------------------------------------------------------------------------
def _flavor_view(ctx: Ctx, flavor: dict[str, Any], detail: bool) -> dict[str, Any]:
    if not detail:
        out = {"id": flavor["id"], "name": flavor["name"], "links": ctx.links(flavor["links"])}
        if ctx.since(55):
            out["description"] = flavor["description"]
        return out
    out = public(flavor)
    out["links"] = ctx.links(flavor["links"])
    if not ctx.since(55):
        out.pop("description", None)
    if not ctx.since(61):
        out.pop("extra_specs", None)
    if not ctx.since(75) and not out["swap"]:
        out["swap"] = ""  # before 2.75 "no swap" was an empty string
    if ctx.since(102):  # 2.102 removed both fields from every flavor body
        out.pop("rxtx_factor", None)
        out.pop("OS-FLV-DISABLED:disabled", None)
    return out


def _flavor_visible(ctx: Ctx, flavor: dict[str, Any]) -> bool:
    return (
        ctx.admin or flavor["os-flavor-access:is_public"] or ctx.project_id in (flavor.get("_projects") or ())
    )


def _find_flavor(ctx: Ctx) -> dict[str, Any]:
    flavor_id = ctx.request.match_info["flavor_id"]
    flavor = regional(ctx, "flavors", flavor_id)
    if flavor is None or not _flavor_visible(ctx, flavor):
        raise SimError(404, f"Flavor {flavor_id} could not be found.")
    return flavor


async def _list_flavors(ctx: Ctx, detail: bool) -> web.Response:
    q = ctx.request.query
    flavors = list(ctx.est.all("flavors", ctx.region))
    if ctx.admin:
        raw = q.get("is_public")
        if raw is None or raw.strip().lower() not in ("none",):
            want = True if raw is None else query_bool(ctx, "is_public")
            own = ctx.project_id
            flavors = [
                f
                for f in flavors
                if f["os-flavor-access:is_public"] == want or (want and own in (f.get("_projects") or ()))
            ]
    else:
        flavors = [f for f in flavors if _flavor_visible(ctx, f) and not f["OS-FLV-DISABLED:disabled"]]
    min_ram, min_disk = int_param(ctx.request, "minRam"), int_param(ctx.request, "minDisk")
    if min_ram is not None:
        flavors = [f for f in flavors if f["ram"] >= min_ram]
    if min_disk is not None:
        flavors = [f for f in flavors if f["disk"] >= min_disk]
    sort_key = {
        "flavorid": "id",
        "id": "id",
        "name": "name",
        "memory_mb": "ram",
        "memory": "ram",
        "vcpus": "vcpus",
        "root_gb": "disk",
        "disk": "disk",
        "swap": "swap",
        "created_at": "id",
    }.get(q.get("sort_key", "flavorid"))
    if sort_key is None:
        raise SimError(400, f"Invalid sort_key provided: {q.get('sort_key')}")
    flavors.sort(key=lambda f: (f[sort_key], f["id"]), reverse=q.get("sort_dir", "asc").lower() == "desc")
    page, extra = nova_page(ctx, flavors, "flavors_links")
    return json_response({"flavors": [_flavor_view(ctx, f, detail) for f in page], **extra})


@nova_api
async def list_flavors(ctx: Ctx) -> web.Response:
    return await _list_flavors(ctx, detail=False)


@nova_api
async def list_flavors_detail(ctx: Ctx) -> web.Response:
    return await _list_flavors(ctx, detail=True)


@nova_api
async def show_flavor(ctx: Ctx) -> web.Response:
    return json_response({"flavor": _flavor_view(ctx, _find_flavor(ctx), True)})


@nova_api
async def create_flavor(ctx: Ctx) -> web.Response:
    ctx.require_admin()
    spec = (await read_json(ctx.request)).get("flavor")
    if not isinstance(spec, dict):
        raise SimError(400, "Invalid input for field/attribute flavor.")
    try:
        name = str(spec["name"]).strip()
        vcpus, ram, disk = int(spec["vcpus"]), int(spec["ram"]), int(spec.get("disk", 0))
        ephemeral, swap = int(spec.get("OS-FLV-EXT-DATA:ephemeral", 0)), int(spec.get("swap") or 0)
    except (KeyError, TypeError, ValueError) as exc:
        raise SimError(400, f"Invalid input for field/attribute flavor: {exc}") from None
    if not name or len(name) > 255 or vcpus < 1 or ram < 1 or disk < 0 or ephemeral < 0 or swap < 0:
        raise SimError(400, "Invalid input for field/attribute flavor.")
    flavor_id = spec.get("id")
    flavors = list(ctx.est.all("flavors", ctx.region))
    if any(f["name"] == name for f in flavors):
        raise SimError(409, f"Flavor with name {name} already exists.")
    if flavor_id and ctx.est.get("flavors", str(flavor_id)) is not None:
        raise SimError(409, f"Flavor with ID {flavor_id} already exists.")
    flavor = model_compute.make_flavor(
        ctx.est,
        name,
        vcpus,
        ram,
        disk,
        ctx.region,
        ephemeral=ephemeral,
        swap=swap,
        is_public=spec.get("os-flavor-access:is_public", True) is not False,
        description=spec.get("description") if ctx.since(55) else None,
        flavor_id=str(flavor_id) if flavor_id else None,
    )
    flavor["rxtx_factor"] = float(spec.get("rxtx_factor", 1.0))
    return json_response({"flavor": _flavor_view(ctx, flavor, True)})


@nova_api
async def delete_flavor(ctx: Ctx) -> web.Response:
    ctx.require_admin()
    flavor = _find_flavor(ctx)
    ctx.est.remove("flavors", flavor["id"])
    return empty(202)


@nova_api
async def flavor_extra_specs(ctx: Ctx) -> web.Response:
    flavor = _find_flavor(ctx)
    if ctx.request.method == "POST":
        ctx.require_admin()
        specs = (await read_json(ctx.request)).get("extra_specs")
        if not isinstance(specs, dict):
            raise SimError(400, "Invalid input for field/attribute extra_specs.")
        flavor["extra_specs"].update({str(k): str(v) for k, v in specs.items()})
        ctx.est.touch()
    return json_response({"extra_specs": flavor["extra_specs"]})


@nova_api
async def flavor_extra_spec(ctx: Ctx) -> web.Response:
    flavor = _find_flavor(ctx)
    key = ctx.request.match_info["key"]
    if ctx.request.method == "PUT":
        ctx.require_admin()
        body = await read_json(ctx.request)
        if list(body) != [key]:
            raise SimError(400, "Request body and URI mismatch")
        flavor["extra_specs"][key] = str(body[key])
        ctx.est.touch()
    if key not in flavor["extra_specs"]:
        raise SimError(404, f"Flavor {flavor['id']} has no extra specs with key {key}.")
    if ctx.request.method == "DELETE":
        ctx.require_admin()
        del flavor["extra_specs"][key]
        ctx.est.touch()
        return empty(202)
    return json_response({key: flavor["extra_specs"][key]})


def register(app: web.Application) -> None:
    base = "/{region}/compute/v2.1"
    r = app.router
    r.add_get(f"{base}/flavors", list_flavors)
    r.add_post(f"{base}/flavors", create_flavor)
    r.add_get(f"{base}/flavors/detail", list_flavors_detail)
    r.add_get(f"{base}/flavors/{{flavor_id}}", show_flavor)
    r.add_delete(f"{base}/flavors/{{flavor_id}}", delete_flavor)
    for method in ("GET", "POST"):
        r.add_route(method, f"{base}/flavors/{{flavor_id}}/os-extra_specs", flavor_extra_specs)
    for method in ("GET", "PUT", "DELETE"):
        r.add_route(method, f"{base}/flavors/{{flavor_id}}/os-extra_specs/{{key}}", flavor_extra_spec)
