"""Simulated Nova keypairs, server groups and host aggregates."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from aiohttp import web

from pf9sim.model import compute as model_compute
from pf9sim.nova.base import MAX_PAGE, Ctx, empty, nova_api, nova_page, query_bool, quota_limits
from pf9sim.nova.boot import regional
from pf9sim.plumbing import SimError, int_param, json_response, read_json
from pf9sim.state import public


# -- keypairs -----------------------------------------------------------------------------------
def _keypair_owner(ctx: Ctx) -> str:
    """Whose keypairs: the caller's, or ?user_id= for admins from 2.10 (others: 403)."""
    wanted = ctx.request.query.get("user_id")
    if wanted and ctx.since(10) and wanted != ctx.token.user_id:
        ctx.require_admin()
        return wanted
    return ctx.token.user_id


def _keypair_view(ctx: Ctx, keypair: dict[str, Any], full: bool) -> dict[str, Any]:
    out = {k: keypair[k] for k in ("name", "public_key", "fingerprint")}
    if ctx.since(2):
        out["type"] = keypair["type"]
    if full:
        out.update({k: keypair[k] for k in ("user_id", "created_at", "updated_at", "deleted", "deleted_at")})
        out["id"] = keypair["_int_id"]
    return out


@nova_api
async def list_keypairs(ctx: Ctx) -> web.Response:
    owner = _keypair_owner(ctx)
    keypairs = sorted(
        (k for k in ctx.est.index("keypairs", "user_id", ctx.region).get(owner, [])), key=lambda k: k["name"]
    )
    if ctx.since(35):
        page, extra = nova_page(ctx, keypairs, "keypairs_links", marker_of=lambda k: k["name"])
    else:
        page, extra = keypairs, {}
    return json_response({"keypairs": [{"keypair": _keypair_view(ctx, k, False)} for k in page], **extra})


def _find_keypair(ctx: Ctx) -> dict[str, Any]:
    name = ctx.request.match_info["name"]
    keypair = ctx.est.get("keypairs", f"{_keypair_owner(ctx)}/{ctx.region}/{name}")
    if keypair is None:
        raise SimError(404, f"Keypair {name} not found for user {_keypair_owner(ctx)}")
    return keypair


@nova_api
async def show_keypair(ctx: Ctx) -> web.Response:
    return json_response({"keypair": _keypair_view(ctx, _find_keypair(ctx), True)})


def _fingerprint(public_key: str) -> str:
    try:
        blob = base64.b64decode(public_key.split()[1], validate=True)
    except (IndexError, ValueError):
        raise SimError(400, "Keypair data is invalid: failed to generate fingerprint") from None
    digest = hashlib.md5(blob).hexdigest()  # noqa: S324 - Nova's fingerprint format
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


@nova_api
async def create_keypair(ctx: Ctx) -> web.Response:
    spec = (await read_json(ctx.request)).get("keypair")
    if not isinstance(spec, dict) or not str(spec.get("name") or "").strip():
        raise SimError(400, "Invalid input for field/attribute keypair.")
    name = str(spec["name"])
    user_id = ctx.token.user_id
    if spec.get("user_id") and ctx.since(10) and spec["user_id"] != user_id:
        ctx.require_admin()
        user_id = spec["user_id"]
    key_type = spec.get("type", "ssh") if ctx.since(2) else "ssh"
    if ctx.est.get("keypairs", f"{user_id}/{ctx.region}/{name}") is not None:
        raise SimError(409, f"Key pair '{name}' already exists.")
    limit = quota_limits(ctx.est, ctx.project_id or "", ctx.region)["key_pairs"]
    if 0 <= limit <= len(ctx.est.index("keypairs", "user_id", ctx.region).get(user_id, [])):
        raise SimError(403, "Quota exceeded, too many key pairs.")
    imported = spec.get("public_key")
    if not imported and ctx.since(92):
        raise SimError(400, "Invalid input for field/attribute keypair. 'public_key' is a required property")
    fingerprint = _fingerprint(imported) if imported and key_type == "ssh" else None
    keypair = model_compute.make_keypair(ctx.est, name, user_id, ctx.region, key_type=key_type)
    if imported:
        keypair["public_key"] = imported
        keypair["fingerprint"] = fingerprint or keypair["fingerprint"]
    out = _keypair_view(ctx, keypair, False)
    out["user_id"] = user_id
    if not imported:
        body = base64.b64encode(hashlib.sha512(keypair["public_key"].encode()).digest() * 6).decode()
        out["private_key"] = (
            f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n"
        )
    return json_response({"keypair": out}, status=201 if ctx.since(2) else 200)


@nova_api
async def delete_keypair(ctx: Ctx) -> web.Response:
    ctx.est.remove("keypairs", _find_keypair(ctx)["id"])
    return empty(204 if ctx.since(2) else 202)


# -- server groups ------------------------------------------------------------------------------
def _group_view(ctx: Ctx, group: dict[str, Any]) -> dict[str, Any]:
    members = [m for m in group["members"] if ctx.est.get("servers", m) is not None]
    out: dict[str, Any] = {"id": group["id"], "name": group["name"], "members": members}
    if ctx.since(64):
        out.update(policy=group["policy"], rules=group.get("rules") or {})
    else:
        out.update(policies=[group["policy"]], metadata={})
    if ctx.since(13):
        out.update(project_id=group["project_id"], user_id=group["user_id"])
    return out


@nova_api
async def list_server_groups(ctx: Ctx) -> web.Response:
    groups = list(ctx.est.all("server_groups", ctx.region))
    if query_bool(ctx, "all_projects") and ctx.admin:
        pass
    else:
        groups = [g for g in groups if g["project_id"] == ctx.project_id]
    groups.sort(key=lambda g: g["id"])
    offset = int_param(ctx.request, "offset", 0) or 0
    limit = min(int_param(ctx.request, "limit", MAX_PAGE) or MAX_PAGE, MAX_PAGE)
    page = groups[offset : offset + limit]
    return json_response({"server_groups": [_group_view(ctx, g) for g in page]})


def _find_group(ctx: Ctx) -> dict[str, Any]:
    group_id = ctx.request.match_info["group_id"]
    group = regional(ctx, "server_groups", group_id)
    if group is None or (not ctx.admin and group["project_id"] != ctx.project_id):
        raise SimError(404, f"Instance group {group_id} could not be found.")
    return group


@nova_api
async def show_server_group(ctx: Ctx) -> web.Response:
    return json_response({"server_group": _group_view(ctx, _find_group(ctx))})


_POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


@nova_api
async def create_server_group(ctx: Ctx) -> web.Response:
    spec = (await read_json(ctx.request)).get("server_group")
    if not isinstance(spec, dict) or not spec.get("name"):
        raise SimError(400, "Invalid input for field/attribute server_group.")
    policy = spec.get("policy") if ctx.since(64) else (spec.get("policies") or [None])[0]
    if policy not in _POLICIES:
        raise SimError(400, f"Invalid input for field/attribute policy. Value: {policy}.")
    project = ctx.project_id or ""
    limit = quota_limits(ctx.est, project, ctx.region)["server_groups"]
    if 0 <= limit <= len(ctx.est.index("server_groups", "project_id", ctx.region).get(project, [])):
        raise SimError(403, "Quota exceeded, too many server groups.")
    group = model_compute.make_server_group(
        ctx.est, spec["name"], project, ctx.token.user_id, policy, ctx.region
    )
    if ctx.since(64) and spec.get("rules"):
        group["rules"] = dict(spec["rules"])
    return json_response({"server_group": _group_view(ctx, group)})


@nova_api
async def delete_server_group(ctx: Ctx) -> web.Response:
    group = _find_group(ctx)
    for member in group["members"]:
        server = ctx.est.get("servers", member)
        if server is not None:
            server["server_groups"] = [g for g in server["server_groups"] if g != group["id"]]
    ctx.est.remove("server_groups", group["id"])
    return empty(204)


# -- aggregates ---------------------------------------------------------------------------------
def _aggregate_view(ctx: Ctx, agg: dict[str, Any]) -> dict[str, Any]:
    out = public(agg)
    out["id"] = agg["_int_id"]
    if not ctx.since(41):
        out.pop("uuid", None)
    return out


def _find_aggregate(ctx: Ctx) -> dict[str, Any]:
    ctx.require_admin()
    raw = ctx.request.match_info["aggregate_id"]
    for agg in ctx.est.all("aggregates", ctx.region):
        if str(agg["_int_id"]) == raw or agg["uuid"] == raw:
            return agg
    raise SimError(404, f"Aggregate {raw} could not be found.")


@nova_api
async def list_aggregates(ctx: Ctx) -> web.Response:
    ctx.require_admin()
    aggs = sorted(ctx.est.all("aggregates", ctx.region), key=lambda a: a["_int_id"])
    return json_response({"aggregates": [_aggregate_view(ctx, a) for a in aggs]})


@nova_api
async def show_aggregate(ctx: Ctx) -> web.Response:
    return json_response({"aggregate": _aggregate_view(ctx, _find_aggregate(ctx))})


@nova_api
async def create_aggregate(ctx: Ctx) -> web.Response:
    ctx.require_admin()
    spec = (await read_json(ctx.request)).get("aggregate")
    if not isinstance(spec, dict) or not spec.get("name"):
        raise SimError(400, "Invalid input for field/attribute aggregate.")
    if any(a["name"] == spec["name"] for a in ctx.est.all("aggregates", ctx.region)):
        raise SimError(409, f"Aggregate {spec['name']} already exists.")
    agg = model_compute.make_aggregate(ctx.est, spec["name"], ctx.region, az=spec.get("availability_zone"))
    out = _aggregate_view(ctx, agg)
    for key in ("hosts", "metadata"):
        out.pop(key, None)  # POST answers without them, as Nova does
    return json_response({"aggregate": out})


@nova_api
async def delete_aggregate(ctx: Ctx) -> web.Response:
    agg = _find_aggregate(ctx)
    if agg["hosts"]:
        raise SimError(400, f"Cannot remove aggregate {agg['_int_id']}: it still has hosts")
    ctx.est.remove("aggregates", agg["id"])
    return empty(200)


@nova_api
async def aggregate_action(ctx: Ctx) -> web.Response:
    agg = _find_aggregate(ctx)
    body = await read_json(ctx.request)
    action, arg = next(iter(body.items())) if len(body) == 1 else ("", None)
    arg = arg or {}
    hosts = {h["service"]["host"] for h in ctx.est.all("hypervisors", ctx.region)}
    if action == "add_host":
        if arg.get("host") not in hosts:
            raise SimError(404, f"Compute host {arg.get('host')} could not be found.")
        if arg["host"] in agg["hosts"]:
            raise SimError(409, f"Aggregate {agg['_int_id']} already has host {arg['host']}.")
        agg["hosts"].append(arg["host"])
    elif action == "remove_host":
        if arg.get("host") not in agg["hosts"]:
            raise SimError(404, f"Cannot remove host {arg.get('host')} in aggregate {agg['_int_id']}")
        agg["hosts"].remove(arg["host"])
    elif action == "set_metadata":
        for key, value in (arg.get("metadata") or {}).items():
            if value is None:
                agg["metadata"].pop(key, None)
            else:
                agg["metadata"][key] = str(value)
        agg["availability_zone"] = agg["metadata"].get("availability_zone")
    else:
        raise SimError(400, f"There is no such action: {action}")
    agg["updated_at"] = ctx.est.now_micro()
    ctx.est.touch()
    return json_response({"aggregate": _aggregate_view(ctx, agg)})


def register(app: web.Application) -> None:
    base = "/{region}/compute/v2.1"
    r = app.router
    r.add_get(f"{base}/os-keypairs", list_keypairs)
    r.add_post(f"{base}/os-keypairs", create_keypair)
    r.add_get(f"{base}/os-keypairs/{{name}}", show_keypair)
    r.add_delete(f"{base}/os-keypairs/{{name}}", delete_keypair)
    r.add_get(f"{base}/os-server-groups", list_server_groups)
    r.add_post(f"{base}/os-server-groups", create_server_group)
    r.add_get(f"{base}/os-server-groups/{{group_id}}", show_server_group)
    r.add_delete(f"{base}/os-server-groups/{{group_id}}", delete_server_group)
    r.add_get(f"{base}/os-aggregates", list_aggregates)
    r.add_post(f"{base}/os-aggregates", create_aggregate)
    r.add_get(f"{base}/os-aggregates/{{aggregate_id}}", show_aggregate)
    r.add_delete(f"{base}/os-aggregates/{{aggregate_id}}", delete_aggregate)
    r.add_post(f"{base}/os-aggregates/{{aggregate_id}}/action", aggregate_action)
