"""Simulated Glance v2: version discovery and route registration (images.py serves images, tags, schemas
and import info; members.py image sharing)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pf9sim.glance import images, members
from pf9sim.plumbing import json_response, public, region_of

VERSIONS = [f"2.{n}" for n in range(16, -1, -1)]  # v2.16 CURRENT down to v2.0


# -- version discovery -----------------------------------------------------------------------------
def _versions(request: web.Request) -> dict[str, Any]:
    href = f"{request.app['sim'].base_url}/{region_of(request)}/image/v2/"
    return {
        "versions": [
            {
                "id": f"v{v}",
                "status": "CURRENT" if i == 0 else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for i, v in enumerate(VERSIONS)
        ]
    }


@public
async def versions_root(request: web.Request) -> web.Response:
    return json_response(_versions(request), status=300)


@public
async def versions_list(request: web.Request) -> web.Response:
    return json_response(_versions(request))


def register(app: web.Application) -> None:
    r = app.router
    for path in ("/{region}/image", "/{region}/image/"):
        r.add_get(path, versions_root)
    r.add_get("/{region}/image/versions", versions_list)
    v2 = "/{region}/image/v2"
    r.add_get(f"{v2}/images", images.list_images)
    r.add_post(f"{v2}/images", images.create_image)
    r.add_get(f"{v2}/images/{{image_id}}", images.show_image)
    r.add_delete(f"{v2}/images/{{image_id}}", images.delete_image)
    r.add_patch(f"{v2}/images/{{image_id}}", images.patch_image)
    r.add_put(f"{v2}/images/{{image_id}}/file", images.upload_file)
    r.add_post(f"{v2}/images/{{image_id}}/actions/{{action}}", images.image_action)
    r.add_put(f"{v2}/images/{{image_id}}/tags/{{tag}}", images.tag)
    r.add_delete(f"{v2}/images/{{image_id}}/tags/{{tag}}", images.tag)
    r.add_get(f"{v2}/schemas/{{name}}", images.schema)
    r.add_get(f"{v2}/info/import", images.info_import)
    r.add_get(f"{v2}/info/stores", images.info_stores)
    members.register(app, v2, images.get_image, images.require_owner)
