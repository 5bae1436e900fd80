"""Factory for Glance v2 images, stored in the wire format of GET /v2/images/{id}.

Custom properties (os_distro, os_version, hw_*, ...) are top-level keys of the image body, as Glance returns
them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pf9sim.state import Estate, stamp_updated

# The store image data lands in (GET /v2/info/stores); Glance names it in `stores` once an image has data.
DEFAULT_STORE = "ceph"
# Keys Glance itself owns; everything else in an image body is a user property.
CORE_KEYS = frozenset(
    {
        "id",
        "name",
        "status",
        "visibility",
        "protected",
        "owner",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "created_at",
        "updated_at",
        "tags",
        "self",
        "file",
        "schema",
        "disk_format",
        "container_format",
        "min_disk",
        "min_ram",
        "os_hidden",
        "locations",
        "direct_url",
        "stores",
    }
)


def make_image(
    est: Estate,
    *,
    name: str,
    owner: str,
    region: str,
    os_distro: str | None = None,
    os_version: str | None = None,
    visibility: str = "public",
    size: int | None = 2147483648,
    disk_format: str | None = "qcow2",
    container_format: str | None = "bare",
    status: str = "active",
    min_disk: int = 0,
    min_ram: int = 0,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An image; a "queued" image has no data yet, so no size, checksum or hash (as Glance reports it)."""
    iid = est.new_uuid()
    now = est.now_iso()
    has_data = status not in ("queued", "saving", "uploading", "importing")
    obj: dict[str, Any] = {
        "id": iid,
        "name": name,
        "status": status,
        "visibility": visibility,
        "protected": False,
        "owner": owner,
        "size": size if has_data else None,
        "virtual_size": size if has_data else None,
        "checksum": hashlib.md5(iid.encode()).hexdigest() if has_data else None,
        "os_hash_algo": "sha512" if has_data else None,
        "os_hash_value": hashlib.sha512(iid.encode()).hexdigest() if has_data else None,
        "created_at": now,
        "updated_at": now,
        "tags": [],
        "self": f"/v2/images/{iid}",
        "file": f"/v2/images/{iid}/file",
        "schema": "/v2/schemas/image",
        "disk_format": disk_format,
        "container_format": container_format,
        "min_disk": min_disk,
        "min_ram": min_ram,
        "os_hidden": False,
        "_region": region,
    }
    if has_data:
        obj["stores"] = DEFAULT_STORE
    if os_distro is not None:
        obj["os_distro"] = os_distro
    if os_version is not None:
        obj["os_version"] = os_version
    for key, value in (properties or {}).items():
        if key in CORE_KEYS or key.startswith("_"):
            raise ValueError(f"image property {key!r} is reserved")
        obj[key] = value
    return est.add("images", obj)


def uploaded_by_sdk(name: str) -> dict[str, str]:
    """The properties openstacksdk (and so `openstack image create`) sets on every image it uploads; real
    clouds' images carry them unless another client made them. Recent SDKs leave the checksums empty."""
    return {
        "owner_specified.openstack.md5": "",
        "owner_specified.openstack.sha256": "",
        "owner_specified.openstack.object": f"images/{name}",
    }


def set_image_status(est: Estate, image: dict[str, Any], status: str) -> None:
    """Change an image's status (e.g. queued -> active), filling in data fields when it becomes active."""
    image["status"] = status
    if status == "active":
        image.setdefault("stores", DEFAULT_STORE)
    if status == "active" and image.get("checksum") is None:
        iid = image["id"]
        image["size"] = image["size"] or 0
        image["virtual_size"] = image["size"]
        image["checksum"] = hashlib.md5(iid.encode()).hexdigest()
        image["os_hash_algo"] = "sha512"
        image["os_hash_value"] = hashlib.sha512(iid.encode()).hexdigest()
    stamp_updated(est, "images", image)


def delete_image(est: Estate, image_id: str) -> dict[str, Any] | None:
    return est.remove("images", image_id)


def add_image_member(
    est: Estate, image: dict[str, Any], project_id: str, status: str = "accepted"
) -> dict[str, Any]:
    """Share an image with a project (Glance image member); the image's visibility should be "shared"."""
    if status not in ("pending", "accepted", "rejected"):
        raise ValueError(f"unknown member status {status!r}")
    now = est.now_iso()
    members = image.setdefault("_members", {})
    entry = members.get(project_id)
    if entry is None:
        entry = members[project_id] = {"status": status, "created_at": now, "updated_at": now}
    else:
        entry.update(status=status, updated_at=now)
    est.touch()
    return member_body(image, project_id)


def member_body(image: dict[str, Any], project_id: str) -> dict[str, Any]:
    """One image member as GET /v2/images/{id}/members/{member} returns it."""
    entry = image["_members"][project_id]
    return {
        "created_at": entry["created_at"],
        "image_id": image["id"],
        "member_id": project_id,
        "schema": "/v2/schemas/member",
        "status": entry["status"],
        "updated_at": entry["updated_at"],
    }
