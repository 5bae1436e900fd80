"""Factories for Keystone objects: domains, projects, users, groups, roles, grants, app credentials.

Objects are stored in the wire format of Keystone v3 GET responses. "links" are stored as paths relative to
the server ("/identity/v3/..."): the server's address is only known when it runs, so pf9sim.keystone makes
them absolute when rendering.

Things no Keystone listing returns live in ``estate.secrets``:
  secrets["passwords"][user_id]              -> password (never in the user object)
  secrets["group_members"][group_id]         -> sorted list of user ids
  secrets["application_credentials"][id]     -> the credential as GET returns it plus a hidden "_secret"
"""

from __future__ import annotations

import hashlib
from typing import Any

from pf9sim.state import Estate

V3 = "/identity/v3"


def _link(path: str) -> dict[str, str]:
    return {"self": f"{V3}/{path}"}


def make_domain(
    est: Estate, name: str, description: str = "", enabled: bool = True, domain_id: str | None = None
) -> dict[str, Any]:
    """A domain; the generator passes domain_id="default" for "Default" as Keystone's bootstrap does."""
    did = domain_id or est.new_hex_id()
    obj = {
        "id": did,
        "name": name,
        "description": description,
        "enabled": enabled,
        "tags": [],
        "options": {},
        "links": _link(f"domains/{did}"),
    }
    return est.add("domains", obj)


def make_project(
    est: Estate,
    name: str,
    domain_id: str,
    description: str = "",
    enabled: bool = True,
    tags: list[str] | None = None,
    project_id: str | None = None,
    is_domain: bool = False,
) -> dict[str, Any]:
    """A project; top-level projects have the domain as parent, as Keystone reports them."""
    pid = project_id or est.new_hex_id()
    obj = {
        "id": pid,
        "name": name,
        "domain_id": domain_id,
        "description": description,
        "enabled": enabled,
        "parent_id": domain_id,
        "is_domain": is_domain,
        "tags": list(tags or []),
        "options": {},
        "links": _link(f"projects/{pid}"),
    }
    return est.add("projects", obj)


def make_user(
    est: Estate,
    name: str,
    domain_id: str,
    password: str,
    email: str | None = None,
    default_project_id: str | None = None,
    enabled: bool = True,
    description: str = "",
) -> dict[str, Any]:
    """A local user; optional attributes appear only when set, as Keystone returns them."""
    uid = est.new_hex_id()
    obj: dict[str, Any] = {
        "id": uid,
        "name": name,
        "domain_id": domain_id,
        "enabled": enabled,
        "password_expires_at": None,
        "options": {},
        "links": _link(f"users/{uid}"),
    }
    if email is not None:
        obj["email"] = email
    if default_project_id is not None:
        obj["default_project_id"] = default_project_id
    if description:
        obj["description"] = description
    est.secrets.setdefault("passwords", {})[uid] = password
    return est.add("users", obj)


def make_group(est: Estate, name: str, domain_id: str, description: str = "") -> dict[str, Any]:
    gid = est.new_hex_id()
    obj = {
        "id": gid,
        "name": name,
        "domain_id": domain_id,
        "description": description,
        "links": _link(f"groups/{gid}"),
    }
    return est.add("groups", obj)


def make_role(
    est: Estate, name: str, domain_id: str | None = None, description: str = "", immutable: bool = False
) -> dict[str, Any]:
    rid = est.new_hex_id()
    obj = {
        "id": rid,
        "name": name,
        "domain_id": domain_id,
        "description": description or None,
        "options": {"immutable": True} if immutable else {},
        "links": _link(f"roles/{rid}"),
    }
    return est.add("roles", obj)


def assignment_id(role_id: str, actor: str, actor_id: str, scope: str, scope_id: str, inherited: bool) -> str:
    """Deterministic id of a grant: the same grant made twice is one object."""
    text = "|".join((role_id, actor, actor_id, scope, scope_id, "inherited" if inherited else ""))
    return hashlib.sha1(text.encode()).hexdigest()[:32]


def make_role_assignment(
    est: Estate,
    role_id: str,
    *,
    user_id: str | None = None,
    group_id: str | None = None,
    project_id: str | None = None,
    domain_id: str | None = None,
    system: bool = False,
    inherited: bool = False,
) -> dict[str, Any]:
    """A grant in the wire format of GET /v3/role_assignments, plus a deterministic "id"."""
    if (user_id is None) == (group_id is None):
        raise ValueError("a role assignment needs exactly one of user_id or group_id")
    if sum((project_id is not None, domain_id is not None, bool(system))) != 1:
        raise ValueError("a role assignment needs exactly one scope: project_id, domain_id or system")
    actor, actor_id = ("users", user_id) if user_id is not None else ("groups", group_id)
    if project_id is not None:
        scope_kind, scope_id, scope = "projects", project_id, {"project": {"id": project_id}}
    elif domain_id is not None:
        scope_kind, scope_id, scope = "domains", domain_id, {"domain": {"id": domain_id}}
    else:
        scope_kind, scope_id, scope = "system", "all", {"system": {"all": True}}
    if scope_kind == "system":
        link = f"{V3}/system/{actor}/{actor_id}/roles/{role_id}"
    elif inherited:
        scope["OS-INHERIT:inherited_to"] = "projects"
        grant_path = f"{scope_kind}/{scope_id}/{actor}/{actor_id}/roles/{role_id}"
        link = f"{V3}/OS-INHERIT/{grant_path}/inherited_to_projects"
    else:
        link = f"{V3}/{scope_kind}/{scope_id}/{actor}/{actor_id}/roles/{role_id}"
    obj: dict[str, Any] = {
        "id": assignment_id(role_id, actor, actor_id, scope_kind, scope_id, inherited),
        "role": {"id": role_id},
        actor[:-1]: {"id": actor_id},
        "scope": scope,
        "links": {"assignment": link},
    }
    return est.add("role_assignments", obj)


def group_members(est: Estate, group_id: str) -> list[str]:
    """User ids in a group (sorted)."""
    return est.secrets.get("group_members", {}).get(group_id, [])


def make_group_member(est: Estate, group_id: str, user_id: str) -> None:
    """Add a user to a group (stored in est.secrets["group_members"][group_id]; idempotent)."""
    members = est.secrets.setdefault("group_members", {}).setdefault(group_id, [])
    if user_id not in members:
        members.append(user_id)
        members.sort()
    est.touch()


def remove_group_member(est: Estate, group_id: str, user_id: str) -> bool:
    members = est.secrets.get("group_members", {}).get(group_id, [])
    if user_id not in members:
        return False
    members.remove(user_id)
    est.touch()
    return True


def _role_ref(est: Estate, role: Any) -> dict[str, Any]:
    """A role given by id, by name or as {"id"}/{"name"} -> {"id", "name", "domain_id"}."""
    if isinstance(role, dict):
        role = role.get("id") or role.get("name")
    obj = est.get("roles", role) or est.find_by_name("roles", role)
    if obj is None:
        raise ValueError(f"unknown role {role!r}")
    return {"id": obj["id"], "name": obj["name"], "domain_id": obj.get("domain_id")}


def make_application_credential(
    est: Estate,
    user_id: str,
    project_id: str,
    name: str,
    secret: str,
    roles: list[Any],
    description: str | None = None,
    unrestricted: bool = False,
    expires_at: str | None = None,
) -> dict[str, Any]:
    """An application credential (kept in est.secrets, not a listed resource type); roles by id or name."""
    cid = est.new_hex_id()
    obj = {
        "id": cid,
        "name": name,
        "description": description,
        "user_id": user_id,
        "project_id": project_id,
        "system": None,
        "roles": [_role_ref(est, r) for r in roles],
        "expires_at": expires_at,
        "unrestricted": unrestricted,
        "access_rules": [],
        "links": _link(f"users/{user_id}/application_credentials/{cid}"),
        "_secret": secret,
    }
    est.secrets.setdefault("application_credentials", {})[cid] = obj
    est.touch()
    return obj
