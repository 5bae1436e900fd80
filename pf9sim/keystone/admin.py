"""Simulated Keystone v3 administration: list/show/create/update/delete domains, projects, users, groups and
roles, group membership, a user's projects and groups, and application credentials."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from pf9sim.keystone.base import (
    SINGULAR,
    collection,
    enabled_filter,
    find,
    group_members,
    identity_index,
    projects_of_user,
    render,
    sim_of,
)
from pf9sim.model import identity as mi
from pf9sim.plumbing import SimError, Token, json_response, read_json, require_admin, token_of
from pf9sim.state import Estate

V3 = "/identity/v3"
# Query filters each listing honours (exact match on the field of the same name; "enabled" is boolean).
FILTERS = {
    "domains": ("name", "enabled"),
    "projects": ("domain_id", "name", "enabled", "parent_id", "is_domain"),
    "users": ("domain_id", "name", "enabled"),
    "groups": ("domain_id", "name"),
    "roles": ("name", "domain_id"),
}
# Fields a PATCH may change, per type.
UPDATABLE = {
    "domains": ("name", "description", "enabled", "tags"),
    "projects": ("name", "description", "enabled", "tags"),
    "users": ("name", "description", "enabled", "email", "default_project_id"),
    "groups": ("name", "description"),
    "roles": ("name", "description"),
}


def self_or_admin(request: web.Request, user_id: str) -> Token:
    token = token_of(request)
    if token.user_id != user_id and not token.is_admin:
        raise SimError(403, "You are not authorized to perform the requested action.")
    return token


def _matches(obj: dict[str, Any], key: str, value: str) -> bool:
    if key in ("enabled", "is_domain"):
        return bool(obj.get(key, key == "enabled")) == enabled_filter(value)
    return obj.get(key) == value


# -- listings and shows -----------------------------------------------------------------------------
def _list(kind: str) -> Callable:
    async def handler(request: web.Request) -> web.Response:
        require_admin(request)
        sim = sim_of(request)
        items: Any = sim.estate.objects[kind].values()
        filters = [(k, request.query[k]) for k in FILTERS[kind] if k in request.query]
        if kind == "roles" and "domain_id" not in request.query:
            items = (r for r in items if r.get("domain_id") is None)  # Keystone lists global roles by default
        tags = request.query.get("tags")
        any_tags = request.query.get("tags-any")
        out = []
        for obj in items:
            if (
                all(_matches(obj, k, v) for k, v in filters)
                and (not tags or set(tags.split(",")) <= set(obj.get("tags", [])))
                and (not any_tags or set(any_tags.split(",")) & set(obj.get("tags", [])))
            ):
                out.append(render(sim.base_url, obj))
        return collection(request, kind, out)

    return handler


def _show(kind: str) -> Callable:
    async def handler(request: web.Request) -> web.Response:
        sim = sim_of(request)
        obj = find(sim.estate, kind, request.match_info["id"])
        token = token_of(request)
        own = (
            (kind == "users" and obj["id"] == token.user_id)
            or (kind == "projects" and obj["id"] == token.project_id)
            or (kind == "domains" and obj["id"] == token.domain_id)
        )
        if not own:
            require_admin(request)
        return json_response({SINGULAR[kind]: render(sim.base_url, obj)})

    return handler


async def user_groups(request: web.Request) -> web.Response:
    sim = sim_of(request)
    user = find(sim.estate, "users", request.match_info["id"])
    self_or_admin(request, user["id"])
    gids = identity_index(sim.estate).groups_of_user.get(user["id"], [])
    groups = [render(sim.base_url, g) for g in (sim.estate.get("groups", gid) for gid in gids) if g]
    return collection(request, "groups", groups)


async def user_projects(request: web.Request) -> web.Response:
    sim = sim_of(request)
    user = find(sim.estate, "users", request.match_info["id"])
    self_or_admin(request, user["id"])
    projects = [render(sim.base_url, p) for p in projects_of_user(sim.estate, user["id"])]
    return collection(request, "projects", projects)


async def group_users(request: web.Request) -> web.Response:
    require_admin(request)
    sim = sim_of(request)
    group = find(sim.estate, "groups", request.match_info["id"])
    users = (sim.estate.get("users", uid) for uid in group_members(sim.estate, group["id"]))
    return collection(request, "users", [render(sim.base_url, u) for u in users if u])


async def membership(request: web.Request) -> web.Response:
    """HEAD/GET (check), PUT (add), DELETE (remove) /v3/groups/{g}/users/{u}."""
    require_admin(request)
    est = sim_of(request).estate
    group = find(est, "groups", request.match_info["id"])
    user = find(est, "users", request.match_info["uid"])
    if request.method == "PUT":
        mi.make_group_member(est, group["id"], user["id"])
    elif request.method == "DELETE":
        if not mi.remove_group_member(est, group["id"], user["id"]):
            raise SimError(404, f"Could not find user: {user['id']}.")
    elif user["id"] not in group_members(est, group["id"]):
        raise SimError(404, f"User '{user['id']}' not found in group '{group['id']}'")
    return web.Response(status=204)


# -- create, update, delete -------------------------------------------------------------------------
def _conflict(kind: str, name: str, domain_id: str | None) -> SimError:
    if kind == "projects":  # Keystone's resource backend words it its own way, naming the id it tried
        return SimError(
            409,
            "Conflict occurred attempting to store project - it is not permitted to have two projects "
            "with either the same name or same id in the same domain: "
            f"name is {name}, project id {uuid.uuid4().hex}.",
        )
    where = f" at domain ID {domain_id}" if domain_id else ""
    return SimError(
        409,
        f"Conflict occurred attempting to store {SINGULAR[kind]} - Duplicate entry found "
        f"with name {name}{where}.",
    )


def _check_unique(
    est: Estate, kind: str, name: str, domain_id: str | None, skip_id: str | None = None
) -> None:
    for obj in est.objects[kind].values():
        if obj["name"] == name and obj.get("domain_id") == domain_id and obj["id"] != skip_id:
            raise _conflict(kind, name, domain_id)


def _default_domain(est: Estate, token: Token) -> str:
    if token.domain_id:
        return token.domain_id
    project = est.get("projects", token.project_id or "")
    return project["domain_id"] if project else "default"


async def body_of(request: web.Request, key: str) -> dict[str, Any]:
    body = await read_json(request)
    ref = body.get(key)
    if not isinstance(ref, dict):
        raise SimError(400, f"Invalid input for field '{key}': '{key}' is a required property")
    return ref


def valid_name(ref: dict[str, Any]) -> str:
    name = ref.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise SimError(
            400, "Invalid input for field 'name': expected a non-empty string of at most 255 characters"
        )
    return name


def _created(request: web.Request, kind: str, obj: dict[str, Any]) -> web.Response:
    return json_response({SINGULAR[kind]: render(sim_of(request).base_url, obj)}, status=201)


async def create_domain(request: web.Request) -> web.Response:
    require_admin(request)
    est = sim_of(request).estate
    ref = await body_of(request, "domain")
    name = valid_name(ref)
    _check_unique(est, "domains", name, None)
    obj = mi.make_domain(est, name, ref.get("description", ""), bool(ref.get("enabled", True)))
    return _created(request, "domains", obj)


async def create_project(request: web.Request) -> web.Response:
    token = require_admin(request)
    est = sim_of(request).estate
    ref = await body_of(request, "project")
    name = valid_name(ref)
    parent = find(est, "projects", ref["parent_id"]) if ref.get("parent_id") else None
    domain_id = ref.get("domain_id") or (parent["domain_id"] if parent else _default_domain(est, token))
    find(est, "domains", domain_id)
    _check_unique(est, "projects", name, domain_id)
    obj = mi.make_project(
        est,
        name,
        domain_id,
        ref.get("description", ""),
        bool(ref.get("enabled", True)),
        tags=ref.get("tags"),
        is_domain=bool(ref.get("is_domain", False)),
    )
    if parent is not None and parent["id"] != domain_id:
        obj["parent_id"] = parent["id"]
        est.touch()
    return _created(request, "projects", obj)


async def create_user(request: web.Request) -> web.Response:
    token = require_admin(request)
    est = sim_of(request).estate
    ref = await body_of(request, "user")
    name = valid_name(ref)
    domain_id = ref.get("domain_id") or _default_domain(est, token)
    find(est, "domains", domain_id)
    _check_unique(est, "users", name, domain_id)
    if ref.get("default_project_id"):
        find(est, "projects", ref["default_project_id"])
    obj = mi.make_user(
        est,
        name,
        domain_id,
        str(ref.get("password") or ""),
        email=ref.get("email"),
        default_project_id=ref.get("default_project_id"),
        enabled=bool(ref.get("enabled", True)),
        description=ref.get("description", ""),
    )
    return _created(request, "users", obj)


async def create_group(request: web.Request) -> web.Response:
    token = require_admin(request)
    est = sim_of(request).estate
    ref = await body_of(request, "group")
    name = valid_name(ref)
    domain_id = ref.get("domain_id") or _default_domain(est, token)
    find(est, "domains", domain_id)
    _check_unique(est, "groups", name, domain_id)
    return _created(request, "groups", mi.make_group(est, name, domain_id, ref.get("description", "")))


async def create_role(request: web.Request) -> web.Response:
    require_admin(request)
    est = sim_of(request).estate
    ref = await body_of(request, "role")
    name = valid_name(ref)
    _check_unique(est, "roles", name, ref.get("domain_id"))
    obj = mi.make_role(est, name, ref.get("domain_id"), ref.get("description") or "")
    return _created(request, "roles", obj)


def _update(kind: str) -> Callable:
    async def handler(request: web.Request) -> web.Response:
        require_admin(request)
        sim = sim_of(request)
        est = sim.estate
        obj = find(est, kind, request.match_info["id"])
        ref = await body_of(request, SINGULAR[kind])
        if "name" in ref and ref["name"] != obj["name"]:
            _check_unique(est, kind, valid_name(ref), obj.get("domain_id"), skip_id=obj["id"])
        for key in UPDATABLE[kind]:
            if key in ref:
                obj[key] = ref[key]
        if kind == "users" and ref.get("password"):
            est.secrets.setdefault("passwords", {})[obj["id"]] = str(ref["password"])
        est.touch()
        return json_response({SINGULAR[kind]: render(sim.base_url, obj)})

    return handler


def _drop_grants(est: Estate, predicate: Callable[[dict[str, Any]], bool]) -> None:
    for gid in [g["id"] for g in est.objects["role_assignments"].values() if predicate(g)]:
        est.remove("role_assignments", gid)


def delete_cascade(est: Estate, kind: str, obj_id: str) -> None:
    """Remove an identity object and what hangs off it (grants, memberships, passwords, credentials)."""
    creds = est.secrets.get("application_credentials", {})
    members = est.secrets.get("group_members", {})
    if kind == "projects":
        _drop_grants(est, lambda g: g["scope"].get("project", {}).get("id") == obj_id)
        for cid in [c["id"] for c in creds.values() if c["project_id"] == obj_id]:
            del creds[cid]
    elif kind == "users":
        _drop_grants(est, lambda g: g.get("user", {}).get("id") == obj_id)
        est.secrets.get("passwords", {}).pop(obj_id, None)
        for cid in [c["id"] for c in creds.values() if c["user_id"] == obj_id]:
            del creds[cid]
        for users in members.values():
            if obj_id in users:
                users.remove(obj_id)
    elif kind == "groups":
        _drop_grants(est, lambda g: g.get("group", {}).get("id") == obj_id)
        members.pop(obj_id, None)
    elif kind == "roles":
        _drop_grants(est, lambda g: g["role"]["id"] == obj_id)
    elif kind == "domains":
        _drop_grants(est, lambda g: g["scope"].get("domain", {}).get("id") == obj_id)
        for sub in ("projects", "users", "groups"):
            for child in [o["id"] for o in est.objects[sub].values() if o.get("domain_id") == obj_id]:
                delete_cascade(est, sub, child)
    est.remove(kind, obj_id)


def _delete(kind: str) -> Callable:
    async def handler(request: web.Request) -> web.Response:
        require_admin(request)
        est = sim_of(request).estate
        obj = find(est, kind, request.match_info["id"])
        if kind == "domains" and obj.get("enabled", True):
            raise SimError(403, "Cannot delete a domain that is enabled, please disable it first.")
        delete_cascade(est, kind, obj["id"])
        return web.Response(status=204)

    return handler


def register(app: web.Application) -> None:
    r = app.router
    for kind in ("domains", "projects", "users", "groups", "roles"):
        r.add_get(f"{V3}/{kind}", _list(kind))
        r.add_get(f"{V3}/{kind}/{{id}}", _show(kind))
        r.add_patch(f"{V3}/{kind}/{{id}}", _update(kind))
        r.add_delete(f"{V3}/{kind}/{{id}}", _delete(kind))
    r.add_post(f"{V3}/domains", create_domain)
    r.add_post(f"{V3}/projects", create_project)
    r.add_post(f"{V3}/users", create_user)
    r.add_post(f"{V3}/groups", create_group)
    r.add_post(f"{V3}/roles", create_role)
    r.add_get(f"{V3}/users/{{id}}/groups", user_groups)
    r.add_get(f"{V3}/users/{{id}}/projects", user_projects)
    r.add_get(f"{V3}/groups/{{id}}/users", group_users)
    member = f"{V3}/groups/{{id}}/users/{{uid}}"
    r.add_route("HEAD", member, membership)
    r.add_get(member, membership, allow_head=False)
    r.add_put(member, membership)
    r.add_delete(member, membership)
