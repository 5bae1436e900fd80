"""Keystone v3 types: unpaged lists, one Keystone for every region (scope "global")."""

from __future__ import annotations

from typing import Any

from pf9lib.resources import Column, Resource, identity_owner
from pf9lib.resources.extract import g
from pf9lib.store.schema import B, S


def _scope(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return next(iter((raw.get("scope") or {}).items()), ("none", {}))


def _assignment_id(raw: dict[str, Any]) -> str:
    actor = raw.get("user") or raw.get("group") or {}
    scope_type, scope = _scope(raw)
    scope_id = "all" if scope_type == "system" else scope.get("id")
    kind = "user" if "user" in raw else "group"
    return f"{raw.get('role', {}).get('id')}:{kind}:{actor.get('id')}:{scope_type}:{scope_id}"


def _assignment_name(raw: dict[str, Any]) -> str:
    actor = raw.get("user") or raw.get("group") or {}
    role = raw.get("role") or {}
    return f"{role.get('name', role.get('id'))} → {actor.get('name', actor.get('id'))}"


def _assignment_owner(raw: dict[str, Any], lookups: Any) -> tuple[str | None, str | None]:
    scope = raw.get("scope") or {}
    if "project" in scope:
        return scope["project"].get("id"), None
    if "domain" in scope:
        return None, scope["domain"].get("id")
    return None, None


def _scope_name(raw: dict[str, Any]) -> str | None:
    scope_type, scope = _scope(raw)
    # System scope has no name in Keystone's answer ({"system": {"all": true}}): say what it is.
    return "all (system)" if scope_type == "system" else scope.get("name")


def _scope_id(raw: dict[str, Any]) -> str | None:
    scope_type, scope = _scope(raw)
    return "all" if scope_type == "system" else scope.get("id")


RESOURCES = (
    Resource(
        "domains",
        "identity",
        "/v3/domains",
        "domains",
        (Column("enabled", B, g("enabled")), Column("description", S, g("description"))),
        "none",
        "global",
        owner=lambda raw, lookups: (None, raw.get("id")),
    ),
    Resource(
        "projects",
        "identity",
        "/v3/projects",
        "projects",
        (
            Column("enabled", B, g("enabled")),
            Column("description", S, g("description")),
            Column("parent_id", S, g("parent_id")),
            Column("is_domain", B, g("is_domain")),
        ),
        "none",
        "global",
        owner=identity_owner("id"),
    ),
    Resource(
        "users",
        "identity",
        "/v3/users",
        "users",
        (
            Column("enabled", B, g("enabled")),
            Column("email", S, g("email")),
            Column("default_project_id", S, g("default_project_id")),
        ),
        "none",
        "global",
        owner=identity_owner("default_project_id"),
    ),
    Resource(
        "groups",
        "identity",
        "/v3/groups",
        "groups",
        (Column("description", S, g("description")),),
        "none",
        "global",
        owner=identity_owner(None),
    ),
    Resource(
        "roles",
        "identity",
        "/v3/roles",
        "roles",
        (Column("description", S, g("description")),),
        "none",
        "global",
        owner=identity_owner(None),
    ),
    Resource(
        "role_assignments",
        "identity",
        "/v3/role_assignments",
        "role_assignments",
        (
            Column("role_id", S, g("role", "id")),
            Column("role_name", S, g("role", "name")),
            Column("user_id", S, g("user", "id")),
            Column("user_name", S, g("user", "name")),
            Column("group_id", S, g("group", "id")),
            Column("group_name", S, g("group", "name")),
            Column("scope_type", S, lambda r: next(iter(r.get("scope") or {}), None)),
            Column("scope_id", S, _scope_id),
            Column("scope_name", S, _scope_name),
            Column("inherited", B, lambda r: "OS-INHERIT:inherited_to" in (r.get("scope") or {})),
        ),
        "none",
        "global",
        params={"include_names": "true"},
        revision=2,  # system scope is named ("all (system)"), not null
        owner=_assignment_owner,
        id_of=_assignment_id,
        name_of=_assignment_name,
    ),
)
