"""Simulated Keystone v3 authentication: issue, validate and revoke tokens (password, application credential
and token methods; project, domain, system and unscoped), and what a token may see (/v3/auth/*)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from pf9sim.cloud import SimCloud
from pf9sim.keystone.base import (
    collection,
    domains_of_user,
    effective_role_ids,
    identity_index,
    is_true,
    projects_of_user,
    render,
    sim_of,
    with_implied,
)
from pf9sim.keystone.catalog import catalog
from pf9sim.plumbing import SimError, Token, json_response, public, read_json, token_of
from pf9sim.state import Estate

V3 = "/identity/v3"
UNAUTHORIZED = "The request you have made requires authentication."


# -- authentication -------------------------------------------------------------------------------
def _unauthorized() -> SimError:
    return SimError(401, UNAUTHORIZED)


def _field(container: Any, name: str, where: str) -> Any:
    if not isinstance(container, dict) or name not in container:
        raise SimError(400, f"Invalid input for field '{where}': '{name}' is a required property")
    return container[name]


def _domain_ref(est: Estate, ref: Any) -> dict[str, Any]:
    """A domain given as {"id"} or {"name"} (401 when unknown, as Keystone answers during auth)."""
    if not isinstance(ref, dict):
        raise SimError(
            400,
            "Expecting to find domain in project or user. The server could not comply with the "
            "request since it is either malformed or otherwise incorrect.",
        )
    dom = (
        est.get("domains", ref["id"])
        if "id" in ref
        else identity_index(est).domains_by_name.get(ref.get("name"))
    )
    if dom is None or not dom.get("enabled", True):
        raise _unauthorized()
    return dom


def _user_ref(est: Estate, ref: Any) -> dict[str, Any]:
    """A user given as {"id"} or {"name", "domain"}."""
    if not isinstance(ref, dict):
        raise SimError(400, "Invalid input for field 'user': expected an object")
    if "id" in ref:
        user = est.get("users", ref["id"])
    elif "name" in ref:
        dom = _domain_ref(est, ref.get("domain"))
        user = identity_index(est).users_by_name.get((dom["id"], ref["name"]))
    else:
        raise SimError(400, "Invalid input for field 'user': 'id' or 'name' is required")
    if user is None or not user.get("enabled", True):
        raise _unauthorized()
    dom = est.get("domains", user["domain_id"])
    if dom is not None and not dom.get("enabled", True):
        raise _unauthorized()
    return user


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _password_user(est: Estate, method: Any) -> dict[str, Any]:
    ref = _field(method, "user", "password")
    user = _user_ref(est, ref)
    stored = est.secrets.get("passwords", {}).get(user["id"])
    if stored is None or not _same(stored, str(ref.get("password", ""))):
        raise _unauthorized()
    return user


def _app_cred(est: Estate, method: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    creds = est.secrets.get("application_credentials", {})
    if not isinstance(method, dict):
        raise SimError(400, "Invalid input for field 'application_credential': expected an object")
    if "id" in method:
        cred = creds.get(method["id"])
    else:
        user = _user_ref(est, _field(method, "user", "application_credential"))
        name = _field(method, "name", "application_credential")
        cred = next((c for c in creds.values() if c["user_id"] == user["id"] and c["name"] == name), None)
    if cred is None or not _same(cred["_secret"], str(method.get("secret", ""))):
        raise _unauthorized()
    if cred.get("expires_at") and cred["expires_at"] <= datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"):
        raise _unauthorized()
    user = est.get("users", cred["user_id"])
    if user is None or not user.get("enabled", True):
        raise _unauthorized()
    return user, cred


def _scope_target(est: Estate, scope: Any) -> tuple[dict | None, dict | None, bool]:
    """(project, domain, system) named by an auth request's scope."""
    if scope is None or scope == "unscoped":
        return None, None, False
    if not isinstance(scope, dict):
        raise SimError(400, "Invalid input for field 'scope': expected an object")
    if "project" in scope:
        ref = scope["project"]
        if not isinstance(ref, dict):
            raise SimError(400, "Invalid input for field 'project': expected an object")
        if "id" in ref:
            project = est.get("projects", ref["id"])
        else:
            dom = _domain_ref(est, ref.get("domain"))
            project = identity_index(est).projects_by_name.get((dom["id"], ref.get("name")))
        if project is None or not project.get("enabled", True):
            raise _unauthorized()
        dom = est.get("domains", project["domain_id"])
        if dom is not None and not dom.get("enabled", True):
            raise _unauthorized()
        return project, None, False
    if "domain" in scope:
        return None, _domain_ref(est, scope["domain"]), False
    if "system" in scope:
        if scope["system"] != {"all": True}:
            raise SimError(400, "Invalid input for field 'system': only {\"all\": true} is supported")
        return None, None, True
    raise SimError(400, "Invalid input for field 'scope': expected project, domain or system")


def _default_project(est: Estate, user: dict[str, Any]) -> dict[str, Any] | None:
    """Keystone scopes a scope-less request to the user's default project when the user has a role there."""
    project = est.get("projects", user.get("default_project_id") or "")
    if project is None or not project.get("enabled", True):
        return None
    return project if effective_role_ids(est, user["id"], project_id=project["id"]) else None


async def issue_token(request: web.Request) -> web.Response:
    """POST /v3/auth/tokens."""
    sim = sim_of(request)
    est = sim.estate
    body = await read_json(request)
    auth = _field(body, "auth", "auth")
    identity = _field(auth, "identity", "auth")
    methods = _field(identity, "methods", "identity")
    if not isinstance(methods, list) or not methods:
        raise SimError(400, "Invalid input for field 'identity/methods': [] is too short")
    cred = None
    parent: Token | None = None
    if "application_credential" in methods:
        user, cred = _app_cred(est, _field(identity, "application_credential", "identity"))
    elif "password" in methods:
        user = _password_user(est, _field(identity, "password", "identity"))
    elif "token" in methods:
        ref = _field(identity, "token", "identity")
        parent = sim.tokens.validate(ref.get("id") if isinstance(ref, dict) else None)
        if parent is None:
            raise _unauthorized()
        if parent.app_cred_id:
            raise SimError(403, "Application credential tokens cannot be rescoped.")
        user = _user_ref(est, {"id": parent.user_id})  # the user may have been disabled meanwhile
    else:
        raise SimError(401, "Attempted to authenticate with an unsupported method.")

    if cred is not None:
        if auth.get("scope") not in (None, {"project": {"id": cred["project_id"]}}):
            raise SimError(401, "Application credentials cannot request a scope.")
        project, domain, system = _scope_target(est, {"project": {"id": cred["project_id"]}})
    else:
        project, domain, system = _scope_target(est, auth.get("scope"))
        if project is None and domain is None and not system and "scope" not in auth:
            project = _default_project(est, user)

    roles: list[str] = []
    if project is not None or domain is not None or system:
        role_ids = effective_role_ids(
            est,
            user["id"],
            project_id=project and project["id"],
            domain_id=domain and domain["id"],
            system=system,
        )
        roles = [r["name"] for r in with_implied(est, role_ids)]
        if cred is not None:
            # Keystone: the credential's roles that the user still holds (implied ones count), no more.
            cred_roles = {r["name"] for r in cred["roles"]}
            roles = [name for name in roles if name in cred_roles]
        if not roles:
            raise _unauthorized()
    method_names = ["token"] + [m for m in parent.methods if m != "token"] if parent else list(methods)
    if cred is not None:
        method_names = ["application_credential"]
    token = sim.tokens.issue(
        user["id"],
        method_names,
        roles,
        project_id=project and project["id"],
        domain_id=domain and domain["id"],
        system=system,
        app_cred_id=cred and cred["id"],
    )
    out = token_body(sim, token, with_catalog=not is_true(request.query.get("nocatalog", "0")))
    return json_response(out, status=201, headers={"X-Subject-Token": token.id})


def audit_id(token_id: str) -> str:
    """Keystone's audit ids are 22-character urlsafe strings; ours are derived from the token id."""
    return base64.urlsafe_b64encode(hashlib.sha256(token_id.encode()).digest()[:16]).decode().rstrip("=")


def _name_ref(est: Estate, kind: str, obj_id: str) -> dict[str, Any]:
    obj = est.get(kind, obj_id)
    return {"id": obj_id, "name": obj["name"] if obj else obj_id}


def token_body(sim: SimCloud, token: Token, with_catalog: bool = True) -> dict[str, Any]:
    """The token document of POST/GET /v3/auth/tokens."""
    est = sim.estate
    user = est.get("users", token.user_id) or {
        "id": token.user_id,
        "name": token.user_id,
        "domain_id": "default",
    }
    idx = identity_index(est)
    body: dict[str, Any] = {
        "methods": token.methods,
        "user": {
            "domain": _name_ref(est, "domains", user["domain_id"]),
            "id": user["id"],
            "name": user["name"],
            "password_expires_at": user.get("password_expires_at"),
        },
        "audit_ids": [audit_id(token.id)],
        "expires_at": token.expires_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "issued_at": token.issued_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    scoped = True
    if token.project_id:
        project = est.get("projects", token.project_id) or {"name": token.project_id, "domain_id": "default"}
        body["project"] = {
            "domain": _name_ref(est, "domains", project["domain_id"]),
            "id": token.project_id,
            "name": project["name"],
        }
        body["is_domain"] = bool(project.get("is_domain", False))
    elif token.domain_id:
        body["domain"] = _name_ref(est, "domains", token.domain_id)
    elif token.system:
        body["system"] = {"all": True}
    else:
        scoped = False
    if scoped:
        body["roles"] = [
            {"id": idx.roles_by_name[name]["id"] if name in idx.roles_by_name else name, "name": name}
            for name in token.roles
        ]
        if with_catalog:
            body["catalog"] = catalog(sim, token.project_id)
    if token.app_cred_id:
        cred = est.secrets.get("application_credentials", {}).get(token.app_cred_id, {})
        body["application_credential"] = {
            "id": token.app_cred_id,
            "name": cred.get("name"),
            "restricted": not cred.get("unrestricted", False),
        }
    return {"token": body}


def _subject(request: web.Request) -> Token:
    sim = sim_of(request)
    subject_id = request.headers.get("X-Subject-Token")
    if not subject_id:
        raise SimError(400, "Expecting to find X-Subject-Token in request headers.")
    subject = sim.tokens.validate(subject_id)
    if subject is None:
        raise SimError(404, f"Could not find token: {subject_id}.")
    caller = token_of(request)
    if not caller.is_admin and caller.user_id != subject.user_id:
        raise SimError(
            403, "You are not authorized to perform the requested action: identity:validate_token."
        )
    return subject


async def validate_token(request: web.Request) -> web.Response:
    """GET/HEAD /v3/auth/tokens with X-Subject-Token."""
    subject = _subject(request)
    headers = {"X-Subject-Token": subject.id}
    if request.method == "HEAD":
        return web.Response(status=200, headers=headers)
    with_catalog = not is_true(request.query.get("nocatalog"))
    return json_response(token_body(sim_of(request), subject, with_catalog), headers=headers)


async def revoke_token(request: web.Request) -> web.Response:
    subject = _subject(request)
    sim_of(request).tokens.revoke(subject.id)
    return web.Response(status=204)


async def auth_catalog(request: web.Request) -> web.Response:
    token = token_of(request)
    if not (token.project_id or token.domain_id or token.system):
        raise SimError(403, "Unscoped tokens do not have a service catalog.")
    return collection(request, "catalog", catalog(sim_of(request), token.project_id))


async def auth_projects(request: web.Request) -> web.Response:
    sim = sim_of(request)
    projects = projects_of_user(sim.estate, token_of(request).user_id)
    return collection(request, "projects", [render(sim.base_url, p) for p in projects])


async def auth_domains(request: web.Request) -> web.Response:
    sim = sim_of(request)
    domains = domains_of_user(sim.estate, token_of(request).user_id)
    return collection(request, "domains", [render(sim.base_url, d) for d in domains])


async def auth_system(request: web.Request) -> web.Response:
    est = sim_of(request).estate
    has = bool(effective_role_ids(est, token_of(request).user_id, system=True))
    return collection(request, "system", [{"all": True}] if has else [])


def register(app: web.Application) -> None:
    r = app.router
    r.add_post(f"{V3}/auth/tokens", public(issue_token))
    r.add_get(f"{V3}/auth/tokens", validate_token)  # HEAD is routed here too
    r.add_delete(f"{V3}/auth/tokens", revoke_token)
    r.add_get(f"{V3}/auth/catalog", auth_catalog)
    r.add_get(f"{V3}/auth/projects", auth_projects)
    r.add_get(f"{V3}/auth/domains", auth_domains)
    r.add_get(f"{V3}/auth/system", auth_system)
