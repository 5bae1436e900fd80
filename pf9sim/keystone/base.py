"""What the simulated Keystone v3 handlers share: lookups, effective roles and rendering.

The handlers live in auth.py (tokens), catalog.py (catalog, services, endpoints, regions), admin.py
(listings, create/update/delete, groups), grants.py (role assignments and grants) and appcreds.py
(application credentials). This module holds what they share: an index of the
identity objects rebuilt only when the estate changes, effective-role computation, and Keystone's rendering
conventions (absolute links, unpaged lists with a "links" block, "Could not find ..." errors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from pf9sim.cloud import SimCloud
from pf9sim.model.identity import group_members
from pf9sim.plumbing import SimError, json_response
from pf9sim.state import Estate
from pf9sim.state import public as strip_hidden

# Keystone's bootstrap makes admin imply member and member imply reader; tokens carry the implied roles too.
IMPLIED_ROLES = {"admin": ("member",), "member": ("reader",)}
SINGULAR = {
    "domains": "domain",
    "projects": "project",
    "users": "user",
    "groups": "group",
    "roles": "role",
}


# -- the identity index ---------------------------------------------------------------------------
@dataclass
class IdentityIndex:
    """Lookups over the identity objects of one estate version."""

    estate: Estate
    version: int
    grants_by_actor: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    groups_of_user: dict[str, list[str]] = field(default_factory=dict)
    roles_by_name: dict[str, dict[str, Any]] = field(default_factory=dict)
    domains_by_name: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects_by_name: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    users_by_name: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    groups_by_name: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    projects_of_domain: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


_INDEXES: dict[int, IdentityIndex] = {}


def identity_index(est: Estate) -> IdentityIndex:
    """The index for the estate as it is now (cached until the estate next changes)."""
    idx = _INDEXES.get(id(est))
    if idx is not None and idx.estate is est and idx.version == est.version:
        return idx
    idx = IdentityIndex(estate=est, version=est.version)
    for grant in est.objects["role_assignments"].values():
        actor = ("user", grant["user"]["id"]) if "user" in grant else ("group", grant["group"]["id"])
        idx.grants_by_actor.setdefault(actor, []).append(grant)
    for gid, members in est.secrets.get("group_members", {}).items():
        for uid in members:
            idx.groups_of_user.setdefault(uid, []).append(gid)
    for role in est.objects["roles"].values():
        # A global role wins over a domain-specific role of the same name.
        if role.get("domain_id") is None or role["name"] not in idx.roles_by_name:
            idx.roles_by_name[role["name"]] = role
    for dom in est.objects["domains"].values():
        idx.domains_by_name[dom["name"]] = dom
    for proj in est.objects["projects"].values():
        idx.projects_by_name[(proj["domain_id"], proj["name"])] = proj
        idx.projects_of_domain.setdefault(proj["domain_id"], []).append(proj)
        if proj.get("parent_id") and proj["parent_id"] != proj["domain_id"]:
            idx.children.setdefault(proj["parent_id"], []).append(proj)
    for user in est.objects["users"].values():
        idx.users_by_name[(user["domain_id"], user["name"])] = user
    for group in est.objects["groups"].values():
        idx.groups_by_name[(group["domain_id"], group["name"])] = group
    if len(_INDEXES) > 8:  # tests build many estates; keep only recent ones
        _INDEXES.clear()
    _INDEXES[id(est)] = idx
    return idx


def _ancestors(est: Estate, project: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    parent_id = project.get("parent_id")
    while parent_id and parent_id != project["domain_id"] and len(out) < 16:
        parent = est.get("projects", parent_id)
        if parent is None:
            break
        out.append(parent)
        parent_id = parent.get("parent_id")
    return out


def effective_role_ids(
    est: Estate,
    user_id: str,
    project_id: str | None = None,
    domain_id: str | None = None,
    system: bool = False,
) -> set[str]:
    """Ids of the roles a user holds on one scope: direct grants, grants to the user's groups, and grants
    inherited from the project's domain or parent projects. Implied roles are not included."""
    idx = identity_index(est)
    actors = [("user", user_id)] + [("group", gid) for gid in idx.groups_of_user.get(user_id, [])]
    inherit_from: set[tuple[str, str]] = set()
    if project_id is not None:
        project = est.get("projects", project_id)
        if project is None:
            return set()
        inherit_from.add(("domain", project["domain_id"]))
        inherit_from.update(("project", p["id"]) for p in _ancestors(est, project))
    found: set[str] = set()
    for actor in actors:
        for grant in idx.grants_by_actor.get(actor, []):
            scope = grant["scope"]
            inherited = "OS-INHERIT:inherited_to" in scope
            if system:
                hit = "system" in scope
            elif project_id is not None:
                pid = scope.get("project", {}).get("id")
                did = scope.get("domain", {}).get("id")
                hit = (pid == project_id and not inherited) or (
                    inherited and (("project", pid) in inherit_from or ("domain", did) in inherit_from)
                )
            else:
                hit = scope.get("domain", {}).get("id") == domain_id and not inherited
            if hit:
                found.add(grant["role"]["id"])
    return found


def with_implied(est: Estate, role_ids: set[str]) -> list[dict[str, Any]]:
    """Role objects for the ids plus the roles they imply, as a token lists them."""
    idx = identity_index(est)
    roles = {rid: est.get("roles", rid) for rid in role_ids}
    pending = [r["name"] for r in roles.values() if r]
    while pending:
        for implied in IMPLIED_ROLES.get(pending.pop(), ()):
            role = idx.roles_by_name.get(implied)
            if role is not None and role["id"] not in roles:
                roles[role["id"]] = role
                pending.append(implied)
    return sorted((r for r in roles.values() if r), key=lambda r: r["name"])


def projects_of_user(est: Estate, user_id: str) -> list[dict[str, Any]]:
    """Enabled projects on which the user has any role (directly, via groups, or inherited)."""
    idx = identity_index(est)
    actors = [("user", user_id)] + [("group", gid) for gid in idx.groups_of_user.get(user_id, [])]
    found: dict[str, dict[str, Any]] = {}

    def add_tree(project: dict[str, Any] | None, with_children: bool) -> None:
        pending = [project] if project else []
        while pending:
            proj = pending.pop()
            found[proj["id"]] = proj
            if with_children:
                pending.extend(idx.children.get(proj["id"], []))

    for actor in actors:
        for grant in idx.grants_by_actor.get(actor, []):
            scope = grant["scope"]
            inherited = "OS-INHERIT:inherited_to" in scope
            if "project" in scope:
                # An inherited project grant applies to the project's subtree, not to the project itself.
                proj = est.get("projects", scope["project"]["id"])
                if inherited and proj is not None:
                    for child in idx.children.get(proj["id"], []):
                        add_tree(child, True)
                else:
                    add_tree(proj, False)
            elif "domain" in scope and inherited:
                for proj in idx.projects_of_domain.get(scope["domain"]["id"], []):
                    found[proj["id"]] = proj
    return [p for p in found.values() if p.get("enabled", True)]


def domains_of_user(est: Estate, user_id: str) -> list[dict[str, Any]]:
    """Enabled domains on which the user has a (non-inherited) role."""
    idx = identity_index(est)
    actors = [("user", user_id)] + [("group", gid) for gid in idx.groups_of_user.get(user_id, [])]
    ids = {
        g["scope"]["domain"]["id"]
        for a in actors
        for g in idx.grants_by_actor.get(a, [])
        if "domain" in g["scope"] and "OS-INHERIT:inherited_to" not in g["scope"]
    }
    doms = (est.get("domains", did) for did in sorted(ids))
    return [d for d in doms if d is not None and d.get("enabled", True)]


# -- lookups and rendering ------------------------------------------------------------------------
def sim_of(request: web.Request) -> SimCloud:
    return request.app["sim"]


def find(est: Estate, kind: str, obj_id: str) -> dict[str, Any]:
    """An identity object by id, or Keystone's 404."""
    obj = est.get(kind, obj_id)
    if obj is None:
        raise SimError(404, f"Could not find {SINGULAR.get(kind, kind)}: {obj_id}.")
    return obj


def render(base_url: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The wire form: hidden keys stripped, stored relative links made absolute."""
    out = strip_hidden(obj)
    links = out.get("links")
    if links:
        out["links"] = {
            k: base_url + v if isinstance(v, str) and v.startswith("/") else v for k, v in links.items()
        }
    return out


def collection(request: web.Request, key: str, items: list[dict[str, Any]]) -> web.Response:
    """Keystone lists are unpaged but carry a links block."""
    links = {"self": sim_of(request).base_url + request.path_qs, "previous": None, "next": None}
    return json_response({key: items, "links": links})


def is_true(value: str | None) -> bool:
    """Keystone's query_filter_is_true: present and not "0"/"false"."""
    return value is not None and value.lower() not in ("0", "false")


def enabled_filter(value: str) -> bool:
    return value.lower() not in ("0", "false", "no", "off")


__all__ = [
    "IdentityIndex",
    "collection",
    "effective_role_ids",
    "find",
    "group_members",
    "identity_index",
    "render",
    "with_implied",
]
