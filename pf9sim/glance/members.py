"""Glance v2 image members (sharing): /v2/images/{id}/members[/{member_id}]."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from pf9sim.model.image import add_image_member, member_body
from pf9sim.plumbing import SimError, json_response, read_json, token_of

ImageGetter = Callable[[web.Request], dict[str, Any]]
OwnerCheck = Callable[[web.Request, dict[str, Any], str], None]


def register(app: web.Application, v2: str, get_image: ImageGetter, require_owner: OwnerCheck) -> None:
    """Add the member routes under `v2`; image lookup and ownership checks come from images.py."""
    est_of = lambda request: request.app["sim"].estate  # noqa: E731

    def _member(request: web.Request, img: dict[str, Any]) -> str:
        member_id = request.match_info["member_id"]
        token = token_of(request)
        visible = token.is_admin or img.get("owner") == token.project_id or member_id == token.project_id
        if member_id not in img.get("_members", {}) or not visible:
            raise SimError(404, f"Member {member_id} not found for image {img['id']}")
        return member_id

    async def list_members(request: web.Request) -> web.Response:
        img = get_image(request)
        token = token_of(request)
        members = sorted(img.get("_members", {}))
        if not token.is_admin and img.get("owner") != token.project_id:
            members = [m for m in members if m == token.project_id]
        return json_response(
            {"members": [member_body(img, m) for m in members], "schema": "/v2/schemas/members"}
        )

    async def add_member(request: web.Request) -> web.Response:
        img = get_image(request)
        require_owner(request, img, "share")
        if img.get("visibility") != "shared":
            raise SimError(403, f"Image {img['id']} is not shared: only shared images have members.")
        body = await read_json(request)
        member_id = body.get("member")
        if not isinstance(member_id, str) or not member_id:
            raise SimError(400, "Member to be added not specified")
        if member_id in img.get("_members", {}):
            raise SimError(409, f"Member {member_id} already associated with image {img['id']}")
        return json_response(add_image_member(est_of(request), img, member_id, status="pending"))

    async def show_member(request: web.Request) -> web.Response:
        img = get_image(request)
        return json_response(member_body(img, _member(request, img)))

    async def update_member(request: web.Request) -> web.Response:
        img = get_image(request)
        member_id = _member(request, img)
        if token_of(request).project_id != member_id:
            raise SimError(403, "You are not permitted to modify the status of this member.")
        body = await read_json(request)
        status = body.get("status")
        if status not in ("pending", "accepted", "rejected"):
            raise SimError(400, f"Invalid status value: {status}")
        return json_response(add_image_member(est_of(request), img, member_id, status=status))

    async def delete_member(request: web.Request) -> web.Response:
        img = get_image(request)
        member_id = _member(request, img)
        require_owner(request, img, "unshare")
        del img["_members"][member_id]
        est_of(request).touch()
        return web.Response(status=204)

    r = app.router
    r.add_get(f"{v2}/images/{{image_id}}/members", list_members)
    r.add_post(f"{v2}/images/{{image_id}}/members", add_member)
    r.add_get(f"{v2}/images/{{image_id}}/members/{{member_id}}", show_member)
    r.add_put(f"{v2}/images/{{image_id}}/members/{{member_id}}", update_member)
    r.add_delete(f"{v2}/images/{{image_id}}/members/{{member_id}}", delete_member)
