"""Simulated Keystone v3 role assignments: GET /v3/role_assignments (filters, include_names, effective),
grants on projects, domains and the system (HEAD/GET/PUT/DELETE), and the per-target role lists."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pf9sim.keystone.base import collection, find, group_members, identity_index, is_true, render, sim_of
from pf9sim.model.identity import assignment_id, make_role_assignment
from pf9sim.plumbing import SimError, require_admin
from pf9sim.state import Estate

V3 = "/identity/v3"
INHERITED = "OS-INHERIT:inherited_to"


# -- GET /v3/role_assignments -----------------------------------------------------------------------
def _entity(grant: dict[str, Any]) -> dict[str, Any]:
    """A stored grant in Keystone's internal shape: actor id, target id, role id, inherited, indirect."""
    scope = grant["scope"]
    ent: dict[str, Any] = {"role_id": grant["role"]["id"], "inherited": INHERITED in scope, "indirect": {}}
    if "user" in grant:
        ent["user_id"] = grant["user"]["id"]
    else:
        ent["group_id"] = grant["group"]["id"]
    if "project" in scope:
        ent["project_id"] = scope["project"]["id"]
    elif "domain" in scope:
        ent["domain_id"] = scope["domain"]["id"]
    else:
        ent["system"] = True
    return ent


def _subtree(est: Estate, project_id: str) -> list[str]:
    idx = identity_index(est)
    out, pending = [], list(idx.children.get(project_id, []))
    while pending:
        proj = pending.pop()
        out.append(proj["id"])
        pending.extend(idx.children.get(proj["id"], []))
    return out


def _expand(est: Estate, ent: dict[str, Any], only_user: str | None) -> list[dict[str, Any]]:
    """Effective mode: group grants become one per member, inherited grants one per project below."""
    if "group_id" in ent:
        members = group_members(est, ent["group_id"])
        actors = [
            {"user_id": u, "indirect": {"group_id": ent["group_id"]}}
            for u in members
            if only_user is None or u == only_user
        ]
    else:
        actors = [{"user_id": ent["user_id"], "indirect": {}}]
    if not ent["inherited"]:
        targets = [{k: ent[k] for k in ("project_id", "domain_id", "system") if k in ent} | {"indirect": {}}]
    elif "domain_id" in ent:
        projects = identity_index(est).projects_of_domain.get(ent["domain_id"], [])
        targets = [{"project_id": p["id"], "indirect": {"domain_id": ent["domain_id"]}} for p in projects]
    else:
        targets = [
            {"project_id": pid, "indirect": {"project_id": ent["project_id"]}}
            for pid in _subtree(est, ent["project_id"])
        ]
    out = []
    for actor in actors:
        for target in targets:
            indirect = actor["indirect"] | target["indirect"]
            row = {
                "role_id": ent["role_id"],
                "user_id": actor["user_id"],
                "inherited": bool(target["indirect"]),
                "indirect": indirect,
            }
            row.update({k: v for k, v in target.items() if k != "indirect"})
            out.append(row)
    return out


def _named(est: Estate, kind: str, obj_id: str, with_domain: bool) -> dict[str, Any]:
    obj = est.get(kind, obj_id)
    ref: dict[str, Any] = {"id": obj_id}
    if obj is None:
        return ref
    ref["name"] = obj["name"]
    if with_domain and obj.get("domain_id"):
        dom = est.get("domains", obj["domain_id"])
        ref["domain"] = {"id": obj["domain_id"], "name": dom["name"] if dom else obj["domain_id"]}
    return ref


def _format(est: Estate, base: str, ent: dict[str, Any], names: bool) -> dict[str, Any]:
    """The wire form of one assignment, with the grant link Keystone builds for it."""
    indirect = ent["indirect"]
    out: dict[str, Any] = {"links": {}}
    if "project_id" in ent:
        ref = _named(est, "projects", ent["project_id"], True) if names else {"id": ent["project_id"]}
        out["scope"] = {"project": ref}
        if "domain_id" in indirect:
            link = f"/domains/{indirect['domain_id']}"
        elif "project_id" in indirect:
            link = f"/projects/{indirect['project_id']}"
        else:
            link = f"/projects/{ent['project_id']}"
    elif "domain_id" in ent:
        ref = _named(est, "domains", ent["domain_id"], False) if names else {"id": ent["domain_id"]}
        out["scope"] = {"domain": ref}
        link = f"/domains/{ent['domain_id']}"
    else:
        out["scope"] = {"system": {"all": True}}
        link = "/system"
    if "user_id" in ent:
        out["user"] = _named(est, "users", ent["user_id"], True) if names else {"id": ent["user_id"]}
        if "group_id" in indirect:
            out["links"]["membership"] = f"{base}{V3}/groups/{indirect['group_id']}/users/{ent['user_id']}"
            link += f"/groups/{indirect['group_id']}"
        else:
            link += f"/users/{ent['user_id']}"
    else:
        out["group"] = _named(est, "groups", ent["group_id"], True) if names else {"id": ent["group_id"]}
        link += f"/groups/{ent['group_id']}"
    out["role"] = _named(est, "roles", ent["role_id"], True) if names else {"id": ent["role_id"]}
    link += f"/roles/{ent['role_id']}"
    if ent["inherited"]:
        out["scope"][INHERITED] = "projects"
        link = f"/OS-INHERIT{link}/inherited_to_projects"
    out["links"]["assignment"] = f"{base}{V3}{link}"
    return out


def _check_filters(q: Any, effective: bool) -> None:
    for a, b, msg in (
        ("scope.domain.id", "scope.project.id", "Specify a domain or project, not both"),
        ("scope.domain.id", "scope.system", "Specify system or domain, not both"),
        ("scope.project.id", "scope.system", "Specify system or project, not both"),
        ("user.id", "group.id", "Specify a user or group, not both"),
    ):
        if q.get(a) and q.get(b):
            raise SimError(400, msg)
    if effective and q.get("group.id"):
        raise SimError(400, "Combining effective and group filter will always result in an empty list.")


async def list_role_assignments(request: web.Request) -> web.Response:
    require_admin(request)
    sim = sim_of(request)
    est = sim.estate
    q = request.query
    effective = is_true(q.get("effective"))
    names = is_true(q.get("include_names"))
    _check_filters(q, effective)
    idx = identity_index(est)
    user_id, group_id, role_id = q.get("user.id"), q.get("group.id"), q.get("role.id")
    if user_id:
        actors = [("user", user_id)]
        if effective:
            actors += [("group", g) for g in idx.groups_of_user.get(user_id, [])]
        grants: Any = [g for a in actors for g in idx.grants_by_actor.get(a, [])]
    elif group_id:
        grants = idx.grants_by_actor.get(("group", group_id), [])
    else:
        grants = est.objects["role_assignments"].values()
    rows: list[dict[str, Any]] = []
    for grant in grants:
        if role_id and grant["role"]["id"] != role_id:
            continue
        ent = _entity(grant)
        rows.extend(_expand(est, ent, user_id) if effective else [ent])
    project_id, domain_id = q.get("scope.project.id"), q.get("scope.domain.id")
    if project_id:
        rows = [r for r in rows if r.get("project_id") == project_id]
    if domain_id:
        rows = [r for r in rows if r.get("domain_id") == domain_id]
    if q.get("scope.system"):
        rows = [r for r in rows if r.get("system")]
    if INHERITED in {k.removeprefix("scope.") for k in q}:
        wanted = q.get(f"scope.{INHERITED}") == "projects"
        rows = [r for r in rows if r["inherited"] == wanted]
    items = [_format(est, sim.base_url, r, names) for r in rows]
    return collection(request, "role_assignments", items)


# -- grants ---------------------------------------------------------------------------------------
def _grant_parts(request: web.Request) -> dict[str, Any]:
    """Resolve and check the role, actor and target named by a grant URL (404 for any unknown one)."""
    est = sim_of(request).estate
    mi = request.match_info
    actor_kind = mi["actor"]
    find(est, actor_kind, mi["aid"])
    find(est, "roles", mi["rid"])
    target = mi.get("target", "system")
    if target != "system":
        find(est, target, mi["tid"])
    inherited = request.path.endswith("/inherited_to_projects")
    return {
        "role_id": mi["rid"],
        "actor": actor_kind,
        "actor_id": mi["aid"],
        "target": target,
        "target_id": mi.get("tid", "all"),
        "inherited": inherited,
    }


async def grant(request: web.Request) -> web.Response:
    """HEAD/GET (check), PUT (create) and DELETE one grant; 204 or 404, as Keystone answers."""
    require_admin(request)
    est = sim_of(request).estate
    p = _grant_parts(request)
    gid = assignment_id(p["role_id"], p["actor"], p["actor_id"], p["target"], p["target_id"], p["inherited"])
    exists = est.get("role_assignments", gid) is not None
    if request.method == "PUT":
        if not exists:
            actor = {"user_id" if p["actor"] == "users" else "group_id": p["actor_id"]}
            scope: dict[str, Any] = {"system": True}
            if p["target"] != "system":
                scope = {"project_id" if p["target"] == "projects" else "domain_id": p["target_id"]}
            make_role_assignment(est, p["role_id"], **actor, **scope, inherited=p["inherited"])
        return web.Response(status=204)
    if not exists:
        raise SimError(
            404,
            f"Could not find role assignment with role: {p['role_id']}, user or group: "
            f"{p['actor_id']}, project, domain, or system: {p['target_id']}.",
        )
    if request.method == "DELETE":
        est.remove("role_assignments", gid)
    return web.Response(status=204)


async def list_target_roles(request: web.Request) -> web.Response:
    """GET /v3/{projects|domains}/{t}/{users|groups}/{a}/roles and /v3/system/{users|groups}/{a}/roles."""
    require_admin(request)
    sim = sim_of(request)
    est = sim.estate
    mi = request.match_info
    find(est, mi["actor"], mi["aid"])
    target = mi.get("target", "system")
    if target != "system":
        find(est, target, mi["tid"])
    scope_key = {"projects": "project", "domains": "domain", "system": "system"}[target]
    actor = ("user" if mi["actor"] == "users" else "group", mi["aid"])
    role_ids = []
    for g in identity_index(est).grants_by_actor.get(actor, []):
        scope = g["scope"]
        if (
            scope_key in scope
            and INHERITED not in scope
            and (target == "system" or scope[scope_key]["id"] == mi["tid"])
        ):
            role_ids.append(g["role"]["id"])
    roles = [render(sim.base_url, r) for r in (est.get("roles", rid) for rid in role_ids) if r]
    return collection(request, "roles", roles)


def register(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{V3}/role_assignments", list_role_assignments)
    target = f"{V3}/{{target:projects|domains}}/{{tid}}/{{actor:users|groups}}/{{aid}}/roles"
    system = f"{V3}/system/{{actor:users|groups}}/{{aid}}/roles"
    inherited = f"{V3}/OS-INHERIT/{{target:projects|domains}}/{{tid}}/{{actor:users|groups}}/{{aid}}/roles"
    for base in (target, system):
        r.add_get(base, list_target_roles)
    for path in (f"{target}/{{rid}}", f"{system}/{{rid}}", f"{inherited}/{{rid}}/inherited_to_projects"):
        r.add_route("HEAD", path, grant)
        r.add_get(path, grant, allow_head=False)
        r.add_put(path, grant)
        r.add_delete(path, grant)
