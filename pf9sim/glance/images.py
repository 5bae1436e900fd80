"""Simulated Glance v2 images: list/show/create/update/delete, upload, tags, schemas and import info
(routes.py registers them beside version discovery and members.py).

Image sharing is kept on the image as a hidden "_members" map {project_id: {"status", "created_at",
"updated_at"}}; members.py serves it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from pf9sim.glance.patch import apply_patch, check_new_image
from pf9sim.glance.schemas import SCHEMAS, VISIBILITIES
from pf9sim.listing import page_after, parse_sort, sorted_view
from pf9sim.model.image import DEFAULT_STORE, make_image, set_image_status
from pf9sim.plumbing import SimError, Token, json_response, public, read_json, region_of, token_of
from pf9sim.state import public as public_fields
from pf9sim.state import stamp_updated

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000  # api_limit_max
_SORT_KEYS = frozenset(
    {
        "name",
        "status",
        "container_format",
        "disk_format",
        "size",
        "id",
        "created_at",
        "updated_at",
        "visibility",
        "owner",
        "min_disk",
        "min_ram",
        "virtual_size",
    }
)
_DEFAULT_SORT = (("created_at", "desc"), ("id", "desc"))
# Query parameters with a meaning of their own; any other parameter filters on an image property.
_CONTROL_PARAMS = frozenset(
    {
        "limit",
        "marker",
        "sort",
        "sort_key",
        "sort_dir",
        "visibility",
        "member_status",
        "os_hidden",
        "tag",
        "size_min",
        "size_max",
        "created_at",
        "updated_at",
    }
)


# -- visibility --------------------------------------------------------------------------------------
def can_see(token: Token, img: dict[str, Any]) -> bool:
    """Show rules: admins see everything; others public, community, their own and images shared with them."""
    if token.is_admin or img.get("owner") == token.project_id:
        return True
    if img.get("visibility") in ("public", "community"):
        return True
    return img.get("visibility") == "shared" and token.project_id in img.get("_members", {})


def get_image(request: web.Request, image_id: str | None = None) -> dict[str, Any]:
    image_id = image_id or request.match_info["image_id"]
    img = request.app["sim"].estate.get("images", image_id)
    if img is None or img.get("_region") != region_of(request) or not can_see(token_of(request), img):
        raise SimError(404, f"No image found with ID {image_id}")
    return img


def require_owner(request: web.Request, img: dict[str, Any], action: str) -> None:
    token = token_of(request)
    if not token.is_admin and img.get("owner") != token.project_id:
        raise SimError(403, f"You are not permitted to {action} this image.")


def _list_filter(
    token: Token, visibility: str | None, member_status: str
) -> Callable[[dict[str, Any]], bool]:
    project = token.project_id

    def member_ok(img: dict[str, Any]) -> bool:
        member = img.get("_members", {}).get(project)
        return member is not None and member_status in ("all", member["status"])

    if token.is_admin:
        return lambda img: visibility in (None, "all") or img.get("visibility") == visibility

    def visible(img: dict[str, Any]) -> bool:
        vis = img.get("visibility")
        own = img.get("owner") == project
        if visibility is None:  # Glance's default list leaves community images out
            return own or vis == "public" or (vis == "shared" and member_ok(img))
        if visibility == "all":
            return own or vis in ("public", "community") or (vis == "shared" and member_ok(img))
        if visibility == "private":
            return vis == "private" and own
        if visibility == "shared":
            return vis == "shared" and (own or member_ok(img))
        return vis == visibility

    return visible


def _int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SimError(400, f"{name} param must be an integer") from None


def _predicates(request: web.Request) -> list[Callable[[dict[str, Any]], bool]]:
    q = request.query
    visibility = q.get("visibility")
    if visibility is not None and visibility not in (*VISIBILITIES, "all"):
        raise SimError(400, f"Invalid visibility value: {visibility}")
    member_status = q.get("member_status", "accepted")
    if member_status not in ("pending", "accepted", "rejected", "all"):
        raise SimError(400, f"Invalid status value: {member_status}")
    preds = [_list_filter(token_of(request), visibility, member_status)]
    hidden = q.get("os_hidden", "false").lower() in ("true", "1", "yes")
    preds.append(lambda img: bool(img.get("os_hidden")) == hidden)
    tags = q.getall("tag", [])
    if tags:
        preds.append(lambda img: all(t in img.get("tags", ()) for t in tags))
    if "size_min" in q:
        low = _int(q["size_min"], "size_min")
        preds.append(lambda img: img.get("size") is not None and img["size"] >= low)
    if "size_max" in q:
        high = _int(q["size_max"], "size_max")
        preds.append(lambda img: img.get("size") is not None and img["size"] <= high)
    for key, raw in q.items():
        if key in _CONTROL_PARAMS:
            continue
        if raw.startswith("in:") and key in ("id", "name", "status", "container_format", "disk_format"):
            values = {v.strip('"') for v in raw[3:].split(",")}
            preds.append(lambda img, k=key, vs=values: str(img.get(k)) in vs)
        elif key == "protected":
            want = raw.lower() == "true"
            preds.append(lambda img, w=want: bool(img.get("protected")) == w)
        else:
            preds.append(lambda img, k=key, v=raw: img.get(k) is not None and str(img.get(k)) == v)
    return preds


# -- images ------------------------------------------------------------------------------------------
async def list_images(request: web.Request) -> web.Response:
    est = request.app["sim"].estate
    region = region_of(request)
    q = request.query
    limit = _int(q["limit"], "limit") if "limit" in q else DEFAULT_LIMIT
    if limit < 0:
        raise SimError(400, "limit param must be positive")
    limit = min(limit, MAX_LIMIT)
    try:
        sort = parse_sort(
            q.get("sort"),
            ",".join(q.getall("sort_key", [])) or None,
            ",".join(q.getall("sort_dir", [])) or None,
            _DEFAULT_SORT,
            _SORT_KEYS,
        )
    except ValueError as exc:
        raise SimError(400, str(exc)) from None
    preds = _predicates(request)
    items, positions = sorted_view(est, "images", region, sort)
    page = page_after(
        items,
        positions,
        q.get("marker"),
        limit,
        lambda img: all(p(img) for p in preds),
        lambda m: SimError(400, f"No image found with ID {m}"),
    )
    params = [(k, v) for k, v in q.items() if k != "marker"]
    body: dict[str, Any] = {
        "images": [public_fields(img) for img in page],
        "first": "/v2/images" + (f"?{urlencode(params)}" if params else ""),
        "schema": "/v2/schemas/images",
    }
    if page and len(page) == limit:
        body["next"] = "/v2/images?" + urlencode([*params, ("marker", page[-1]["id"])])
    return json_response(body)


async def show_image(request: web.Request) -> web.Response:
    return json_response(public_fields(get_image(request)))


async def create_image(request: web.Request) -> web.Response:
    est = request.app["sim"].estate
    region = region_of(request)
    token = token_of(request)
    spec = await read_json(request)
    fields = check_new_image(spec, token.is_admin)
    wanted_id = fields.pop("id", None)
    if wanted_id is not None:
        try:
            wanted_id = str(uuid.UUID(str(wanted_id)))
        except ValueError:
            raise SimError(400, f"Invalid id {wanted_id!r}: must be a UUID") from None
        if est.get("images", wanted_id) is not None:
            raise SimError(409, f"Image with identifier {wanted_id} already exists!")
    core = {
        k: fields.pop(k)
        for k in ("visibility", "disk_format", "container_format", "min_disk", "min_ram")
        if k in fields
    }
    extras = {k: fields.pop(k) for k in ("protected", "tags", "os_hidden") if k in fields}
    owner = fields.pop("owner", None) or token.project_id
    img = make_image(
        est,
        name=fields.pop("name", None),
        owner=owner,
        region=region,
        status="queued",
        size=None,
        **{"visibility": "shared", "disk_format": None, "container_format": None, **core},
        properties=fields,
    )
    img.update(extras)
    if wanted_id is not None:
        est.remove("images", img["id"])
        img.update(id=wanted_id, self=f"/v2/images/{wanted_id}", file=f"/v2/images/{wanted_id}/file")
        est.add("images", img)
    return json_response(public_fields(img), status=201, headers={"Location": f"/v2/images/{img['id']}"})


async def delete_image(request: web.Request) -> web.Response:
    est = request.app["sim"].estate
    img = get_image(request)
    require_owner(request, img, "delete")
    if img.get("protected"):
        raise SimError(403, f"Image {img['id']} is protected and cannot be deleted.")
    est.remove("images", img["id"])
    return web.Response(status=204)


_PATCH_TYPES = (
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
)


async def patch_image(request: web.Request) -> web.Response:
    if request.content_type not in _PATCH_TYPES:
        raise SimError(415, f"Unsupported Content-Type {request.content_type!r}: use {_PATCH_TYPES[0]}")
    img = get_image(request)
    require_owner(request, img, "modify")
    try:
        ops = json.loads(await request.read() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SimError(400, f"Malformed JSON in request body: {exc}") from None
    if not isinstance(ops, list):
        raise SimError(400, "Request body must be a JSON array of operation objects.")
    apply_patch(img, ops, token_of(request).is_admin)
    stamp_updated(request.app["sim"].estate, "images", img)
    return json_response(public_fields(img))


async def upload_file(request: web.Request) -> web.Response:
    est = request.app["sim"].estate
    img = get_image(request)
    require_owner(request, img, "upload data to")
    if img["status"] != "queued":
        raise SimError(409, f"Image status transition from {img['status']} to saving is not allowed")
    size = 0
    async for chunk in request.content.iter_any():  # counted, not kept: the simulator stores no image data
        size += len(chunk)
    img["size"] = size
    set_image_status(est, img, "active")
    return web.Response(status=204)


async def image_action(request: web.Request) -> web.Response:
    est = request.app["sim"].estate
    img = get_image(request)
    require_owner(request, img, "change the status of")
    action = request.match_info["action"]
    if action not in ("deactivate", "reactivate"):
        raise SimError(404, f"The resource could not be found: unknown action {action}")
    if img["status"] not in ("active", "deactivated"):
        raise SimError(403, f"Not allowed to {action} image in status '{img['status']}'")
    img["status"] = "deactivated" if action == "deactivate" else "active"
    stamp_updated(est, "images", img)
    return web.Response(status=204)


async def tag(request: web.Request) -> web.Response:
    img = get_image(request)
    require_owner(request, img, "modify tags of")
    value = request.match_info["tag"]
    if request.method == "PUT":
        if value not in img["tags"]:
            img["tags"] = [*img["tags"], value]
    elif value in img["tags"]:
        img["tags"] = [t for t in img["tags"] if t != value]
    else:
        raise SimError(404, f"Tag {value} not found")
    stamp_updated(request.app["sim"].estate, "images", img)
    return web.Response(status=204)


# -- schemas, info -------------------------------------------------------------------------------------
@public
async def schema(request: web.Request) -> web.Response:
    maker = SCHEMAS.get(request.match_info["name"])
    if maker is None:
        raise SimError(404, f"Unknown schema {request.match_info['name']}")
    return json_response(maker())


async def info_import(request: web.Request) -> web.Response:
    return json_response(
        {
            "import-methods": {
                "description": "Import methods available.",
                "type": "array",
                "value": ["glance-direct", "web-download", "copy-image"],
            }
        }
    )


async def info_stores(request: web.Request) -> web.Response:
    return json_response({"stores": [{"id": DEFAULT_STORE, "description": "RBD backend", "default": True}]})
