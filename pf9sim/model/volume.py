"""Factories for Cinder v3 objects: volume types, volumes, attachments, snapshots.

Objects are stored in the wire format of Cinder's detail bodies at microversion 3.70. Volume "links" are
stored as paths ("/{region}/volume/v3/{project}/volumes/{id}"); pf9sim.cinder makes them absolute when
rendering, because the server's address is only known when it runs.
"""

from __future__ import annotations

import uuid
from typing import Any

from pf9sim.state import Estate, stamp_updated

# Image fields Cinder copies into volume_image_metadata (all values become strings there).
_IMAGE_META_KEYS = ("checksum", "container_format", "disk_format", "min_disk", "min_ram", "size")
_IMAGE_SKIP = frozenset(
    {
        "id",
        "name",
        "status",
        "visibility",
        "protected",
        "owner",
        "virtual_size",
        "created_at",
        "updated_at",
        "tags",
        "self",
        "file",
        "schema",
        "os_hidden",
        "os_hash_algo",
        "os_hash_value",
        "locations",
        "direct_url",
        "stores",
    }
)


def make_volume_type(
    est: Estate,
    name: str,
    region: str,
    description: str = "",
    is_public: bool = True,
    extra_specs: dict[str, str] | None = None,
) -> dict[str, Any]:
    tid = est.new_uuid()
    obj = {
        "id": tid,
        "name": name,
        "description": description,
        "is_public": is_public,
        "os-volume-type-access:is_public": is_public,
        "extra_specs": dict(extra_specs or {}),
        "qos_specs_id": None,
        "_region": region,
    }
    return est.add("volume_types", obj)


def _host_of(region: str, volume_type: dict[str, Any]) -> str:
    backend = volume_type.get("extra_specs", {}).get("volume_backend_name") or "lvmdriver-1"
    return f"{region}-cinder@{backend}#{backend}"


def _volume_links(region: str, project_id: str, vid: str) -> list[dict[str, str]]:
    return [
        {"href": f"/{region}/volume/v3/{project_id}/volumes/{vid}", "rel": "self"},
        {"href": f"/{region}/volume/{project_id}/volumes/{vid}", "rel": "bookmark"},
    ]


def image_metadata(image: dict[str, Any]) -> dict[str, str]:
    """volume_image_metadata as Cinder builds it from a Glance image: id, name, core fields, properties."""
    meta = {"image_id": image["id"], "image_name": image.get("name") or ""}
    for key in _IMAGE_META_KEYS:
        if image.get(key) is not None:
            meta[key] = str(image[key])
    for key, value in image.items():
        if key not in _IMAGE_SKIP and key not in meta and not key.startswith("_") and value is not None:
            meta[key] = str(value)
    return meta


def make_volume(
    est: Estate,
    *,
    name: str,
    project_id: str,
    user_id: str,
    size: int,
    region: str,
    volume_type: dict[str, Any],
    az: str = "nova",
    bootable: bool = False,
    image: dict[str, Any] | None = None,
    snapshot_id: str | None = None,
    source_volid: str | None = None,
    metadata: dict[str, str] | None = None,
    status: str = "available",
    description: str | None = None,
) -> dict[str, Any]:
    """A volume; one created from an image is bootable and carries volume_image_metadata, as in Cinder."""
    vid = est.new_uuid()
    now = est.now_micro()
    host = _host_of(region, volume_type)
    obj: dict[str, Any] = {
        "id": vid,
        "name": name,
        "description": description,
        "status": status,
        "size": int(size),
        "availability_zone": az,
        "created_at": now,
        "updated_at": now,
        "attachments": [],
        "bootable": "true" if (bootable or image is not None) else "false",
        "encrypted": False,
        "multiattach": False,
        "metadata": dict(metadata or {}),
        "volume_type": volume_type["name"],
        "volume_type_id": volume_type["id"],
        "snapshot_id": snapshot_id,
        "source_volid": source_volid,
        "consistencygroup_id": None,
        "replication_status": None,
        "migration_status": None,
        "user_id": user_id,
        "os-vol-tenant-attr:tenant_id": project_id,
        "os-vol-host-attr:host": host,
        "os-vol-mig-status-attr:migstat": None,
        "os-vol-mig-status-attr:name_id": None,
        "group_id": None,
        "provider_id": None,
        "service_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, host)),
        "shared_targets": True,
        "cluster_name": None,
        "consumes_quota": True,
        "links": _volume_links(region, project_id, vid),
        "_region": region,
    }
    if image is not None:
        obj["volume_image_metadata"] = image_metadata(image)
    return est.add("volumes", obj)


def attach_volume(
    est: Estate, volume: dict[str, Any], server: dict[str, Any], device: str = "/dev/vdb"
) -> None:
    """Attach to a Nova server dict: a Cinder attachment entry and status "in-use" (Nova derives the server's
    os-extended-volumes:volumes_attached from the volumes' attachments)."""
    attachment_id = est.new_uuid()
    volume["attachments"].append(
        {
            "id": volume["id"],  # Cinder's attachment summary repeats the volume id here
            "attachment_id": attachment_id,
            "volume_id": volume["id"],
            "server_id": server["id"],
            "host_name": server.get("OS-EXT-SRV-ATTR:host"),
            "device": device,
            "attached_at": est.now_micro(),
        }
    )
    volume["status"] = "in-use"
    stamp_updated(est, "volumes", volume)


def detach_volume(est: Estate, volume: dict[str, Any], server_id: str) -> None:
    """Remove the attachment to `server_id`; the volume becomes "available" when no attachment remains."""
    volume["attachments"] = [a for a in volume["attachments"] if a["server_id"] != server_id]
    if not volume["attachments"] and volume["status"] == "in-use":
        volume["status"] = "available"
    stamp_updated(est, "volumes", volume)


def make_snapshot(
    est: Estate,
    *,
    volume: dict[str, Any],
    name: str,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    status: str = "available",
) -> dict[str, Any]:
    """A snapshot of `volume`, in the volume's project and region, of the volume's size."""
    sid = est.new_uuid()
    now = est.now_micro()
    obj = {
        "id": sid,
        "name": name,
        "description": description,
        "status": status,
        "size": volume["size"],
        "volume_id": volume["id"],
        "created_at": now,
        "updated_at": now,
        "metadata": dict(metadata or {}),
        "os-extended-snapshot-attributes:project_id": volume["os-vol-tenant-attr:tenant_id"],
        "os-extended-snapshot-attributes:progress": "100%" if status == "available" else "0%",
        "user_id": volume["user_id"],
        "group_snapshot_id": None,
        "consumes_quota": True,
        "_region": volume["_region"],
        # Cinder keeps the volume's type on the snapshot (per-type snapshot quotas use it).
        "_volume_type_id": volume.get("volume_type_id"),
    }
    return est.add("snapshots", obj)


def extend_volume(est: Estate, volume: dict[str, Any], new_size: int) -> None:
    if int(new_size) <= volume["size"]:
        raise ValueError(f"new size {new_size} must be greater than the current size {volume['size']}")
    volume["size"] = int(new_size)
    stamp_updated(est, "volumes", volume)


def retype_volume(est: Estate, volume: dict[str, Any], volume_type: dict[str, Any]) -> None:
    volume["volume_type"] = volume_type["name"]
    volume["volume_type_id"] = volume_type["id"]
    volume["os-vol-host-attr:host"] = _host_of(volume["_region"], volume_type)
    stamp_updated(est, "volumes", volume)


def delete_volume(est: Estate, volume_id: str) -> dict[str, Any] | None:
    """Remove a volume, and its entries in the servers it was attached to."""
    volume = est.get("volumes", volume_id)
    if volume is None:
        return None
    for att in list(volume["attachments"]):
        detach_volume(est, volume, att["server_id"])
    return est.remove("volumes", volume_id)


def delete_snapshot(est: Estate, snapshot_id: str) -> dict[str, Any] | None:
    return est.remove("snapshots", snapshot_id)
