"""Simulated Keystone v3 application credentials: create (secret shown once), list, show and delete under
/v3/users/{user_id}/application_credentials. They live in estate.secrets, not in a listed resource type."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from pf9sim.keystone.admin import body_of, self_or_admin, valid_name
from pf9sim.keystone.base import (
    collection,
    effective_role_ids,
    find,
    identity_index,
    render,
    sim_of,
    with_implied,
)
from pf9sim.model import identity as mi
from pf9sim.plumbing import SimError, json_response, token_of
from pf9sim.state import Estate

V3 = "/identity/v3"


def _creds(est: Estate) -> dict[str, dict[str, Any]]:
    return est.secrets.setdefault("application_credentials", {})


def _find_cred(est: Estate, user_id: str, cred_id: str) -> dict[str, Any]:
    cred = _creds(est).get(cred_id)
    if cred is None or cred["user_id"] != user_id:
        raise SimError(404, f"Could not find Application Credential: {cred_id}.")
    return cred


async def create_app_cred(request: web.Request) -> web.Response:
    sim = sim_of(request)
    est = sim.estate
    user = find(est, "users", request.match_info["id"])
    token = token_of(request)
    if token.user_id != user["id"]:
        raise SimError(
            403,
            "You are not authorized to perform the requested action: identity:create_application_credential.",
        )
    if not token.project_id:
        raise SimError(400, "Application credentials must be created with a project-scoped token.")
    if token.app_cred_id and not _creds(est).get(token.app_cred_id, {}).get("unrestricted"):
        raise SimError(
            403,
            "Using method 'application_credential' is not allowed for managing additional "
            "application credentials.",
        )
    ref = await body_of(request, "application_credential")
    name = valid_name(ref)
    if any(c["name"] == name and c["user_id"] == user["id"] for c in _creds(est).values()):
        raise SimError(
            409,
            f"Conflict occurred attempting to store application_credential - Duplicate entry "
            f"found with name {name}.",
        )
    # Roles the user holds on the project, implied ones included, as the token shows them.
    held = {
        r["id"] for r in with_implied(est, effective_role_ids(est, user["id"], project_id=token.project_id))
    }
    wanted = ref.get("roles") or [{"id": rid} for rid in sorted(held)]
    roles = []
    for role in wanted:
        obj = est.get("roles", role.get("id", "")) or identity_index(est).roles_by_name.get(
            role.get("name", "")
        )
        if obj is None or obj["id"] not in held:
            raise SimError(
                404, f"Could not find role assignment for role {role} on project {token.project_id}."
            )
        roles.append(obj["id"])
    secret = ref.get("secret") or base64.urlsafe_b64encode(est.rng.randbytes(48)).decode().rstrip("=")
    cred = mi.make_application_credential(
        est,
        user["id"],
        token.project_id,
        name,
        secret,
        roles,
        description=ref.get("description"),
        unrestricted=bool(ref.get("unrestricted", False)),
        expires_at=ref.get("expires_at"),
    )
    out = render(sim.base_url, cred) | {"secret": secret}
    return json_response({"application_credential": out}, status=201)


async def list_app_creds(request: web.Request) -> web.Response:
    sim = sim_of(request)
    user = find(sim.estate, "users", request.match_info["id"])
    self_or_admin(request, user["id"])
    creds = [c for c in _creds(sim.estate).values() if c["user_id"] == user["id"]]
    if "name" in request.query:
        creds = [c for c in creds if c["name"] == request.query["name"]]
    return collection(request, "application_credentials", [render(sim.base_url, c) for c in creds])


async def app_cred(request: web.Request) -> web.Response:
    """GET or DELETE /v3/users/{u}/application_credentials/{c}."""
    sim = sim_of(request)
    user = find(sim.estate, "users", request.match_info["id"])
    self_or_admin(request, user["id"])
    cred = _find_cred(sim.estate, user["id"], request.match_info["cid"])
    if request.method == "DELETE":
        del _creds(sim.estate)[cred["id"]]
        sim.estate.touch()
        return web.Response(status=204)
    return json_response({"application_credential": render(sim.base_url, cred)})


def register(app: web.Application) -> None:
    r = app.router
    creds = f"{V3}/users/{{id}}/application_credentials"
    r.add_post(creds, create_app_cred)
    r.add_get(creds, list_app_creds)
    r.add_get(f"{creds}/{{cid}}", app_cred)
    r.add_delete(f"{creds}/{{cid}}", app_cred)
