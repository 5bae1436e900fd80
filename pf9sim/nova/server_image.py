"""Simulated Nova `createImage` server action: a snapshot of a server as a Glance image.

What real Nova does, and so do we:
- 202; before microversion 2.45 a `Location` header naming the image in Glance and no body, from 2.45
  on a body `{"image_id": …}` and no header;
- allowed in vm_state active, stopped, paused or suspended (409 otherwise);
- an image-backed server's image inherits its base image's properties and gets `image_type=snapshot`,
  `instance_uuid`, `user_id` (the caller), `base_image_ref`, `owner_project_name`, `owner_user_name`,
  `boot_roles` (the booting user's roles), the libvirt driver's `image_location=snapshot`,
  `image_state=available` and `owner_id`, then the request's metadata (which wins); the owner is the caller's
  project, private when that is the server's project, else shared with it (`instance_owner`, a member);
- a volume-backed server gets a zero-size image whose `block_device_mapping` lists a Cinder snapshot of
  each attached volume ("snapshot for <name>"), with `bdm_v2` and `root_device_name`.

One difference: the image goes queued → active at once here (the Glance image reads active on its first
GET, as the simulated Cinder's volumes are available at once); the real stack's fake virt driver never
uploads data, so there an image snapshot stays queued.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from pf9sim.keystone.base import effective_role_ids, with_implied
from pf9sim.model import volume as model_volume
from pf9sim.model.compute import volumes_by_server
from pf9sim.model.image import CORE_KEYS, add_image_member, make_image, set_image_status
from pf9sim.nova.base import Ctx, empty
from pf9sim.nova.boot import regional
from pf9sim.plumbing import SimError, json_response

SNAPSHOT_VM_STATES = ("active", "stopped", "paused", "suspended")
# Nova's NON_INHERITABLE_IMAGE_PROPERTIES plus the default [DEFAULT]non_inheritable_image_properties.
NON_INHERITABLE = frozenset(
    {
        "cinder_encryption_key_id",
        "cinder_encryption_key_deletion_policy",
        "img_signature",
        "img_signature_hash_method",
        "img_signature_key_type",
        "img_signature_certificate_uuid",
        "cache_in_nova",
        "bittorrent",
    }
)
# Properties of a base image that describe that image, not a snapshot of a server booted from it.
_NOT_CARRIED = frozenset({"image_type", "instance_uuid", "base_image_ref", "block_device_mapping", "bdm_v2"})


def _spec(arg: Any) -> tuple[str, dict[str, str]]:
    if not isinstance(arg, dict):
        raise SimError(400, "Invalid input for field/attribute createImage. Value: None.")
    name = arg.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise SimError(400, f"Invalid input for field/attribute name. Value: {name!r}.")
    metadata = arg.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SimError(400, "Invalid input for field/attribute metadata: values must be strings.")
    return name.strip(), dict(metadata)


def _booted_by(ctx: Ctx, server: dict[str, Any]) -> dict[str, str]:
    """What Nova keeps in the server's system metadata about who booted it."""
    est = ctx.est
    project = est.get("projects", server["tenant_id"]) or {}
    user = est.get("users", server["user_id"]) or {}
    role_ids = effective_role_ids(est, server["user_id"], project_id=server["tenant_id"])
    roles = [r["name"] for r in with_implied(est, role_ids)]
    return {
        "owner_project_name": project.get("name") or "",
        "owner_user_name": user.get("name") or "",
        "boot_roles": ",".join(roles),
    }


def _volume_backed_properties(ctx: Ctx, server: dict[str, Any], name: str) -> dict[str, Any]:
    """A Cinder snapshot of each attached volume and the image's block device mapping (JSON text, as Glance
    keeps every property as a string)."""
    mapping = []
    volumes = volumes_by_server(ctx.est, ctx.region).get(server["id"], [])
    for volume in sorted(volumes, key=lambda v: _device(v, server) or ""):
        device = _device(volume, server)
        snap = model_volume.make_snapshot(
            ctx.est, volume=volume, name=f"snapshot for {name}", description=volume.get("description")
        )
        mapping.append(
            {
                "source_type": "snapshot",
                "destination_type": "volume",
                "snapshot_id": snap["id"],
                "volume_id": None,
                "image_id": None,
                "volume_size": volume["size"],
                "device_name": device,
                "boot_index": 0 if device == "/dev/vda" else None,
                "delete_on_termination": False,
                "guest_format": None,
                "disk_bus": None,
                "device_type": None,
                "no_device": None,
                "tag": None,
                "volume_type": None,
            }
        )
    return {
        "block_device_mapping": json.dumps(mapping),
        "bdm_v2": "True",
        "root_device_name": server.get("OS-EXT-SRV-ATTR:root_device_name") or "/dev/vda",
    }


def _device(volume: dict[str, Any], server: dict[str, Any]) -> str | None:
    return next((a.get("device") for a in volume["attachments"] if a["server_id"] == server["id"]), None)


def create_image(ctx: Ctx, server: dict[str, Any], arg: Any, action: str) -> web.Response:
    name, metadata = _spec(arg)
    if server["OS-EXT-STS:vm_state"] not in SNAPSHOT_VM_STATES:
        raise SimError(
            409,
            f"Cannot '{action}' instance {server['id']} while it is in vm_state "
            f"{server['OS-EXT-STS:vm_state']}",
        )
    base_id = server["image"]["id"] if isinstance(server.get("image"), dict) else ""
    base = regional(ctx, "images", base_id) if base_id else None
    inherited = {
        k: v
        for k, v in (base or {}).items()
        if k not in CORE_KEYS and not k.startswith("_") and k not in NON_INHERITABLE | _NOT_CARRIED
    }
    props: dict[str, Any] = {
        **inherited,
        **_booted_by(ctx, server),
        "base_image_ref": base_id,
        "instance_uuid": server["id"],
        "user_id": ctx.token.user_id,
        "image_type": "snapshot",
    }
    volume_backed = not base_id
    if volume_backed:
        props.update(_volume_backed_properties(ctx, server, name))
    else:  # the libvirt driver's additions on upload
        props.update(image_location="snapshot", image_state="available", owner_id=server["tenant_id"])
    caller = ctx.project_id or server["tenant_id"]
    shared = caller != server["tenant_id"]
    if shared:
        props["instance_owner"] = server["tenant_id"]
    props.update(metadata)
    props = {k: v for k, v in props.items() if k not in CORE_KEYS and not k.startswith("_")}
    image = make_image(
        ctx.est,
        name=name,
        owner=caller,
        region=ctx.region,
        visibility="shared" if shared else "private",
        status="queued",
        size=None,
        disk_format=None,
        container_format=None,
        min_disk=max((base or {}).get("min_disk") or 0, server["flavor"]["disk"]),
        min_ram=(base or {}).get("min_ram") or 0,
        properties=props,
    )
    if shared:
        add_image_member(ctx.est, image, server["tenant_id"])
    # The upload: a volume-backed image holds no data; an image-backed one is a copy of the root disk.
    image["size"] = 0 if volume_backed else (base or {}).get("size") or 0
    if not volume_backed:
        image.update(disk_format=(base or {}).get("disk_format") or "qcow2", container_format="bare")
    set_image_status(ctx.est, image, "active")
    if ctx.since(45):
        return json_response({"image_id": image["id"]}, status=202)
    response = empty(202)
    response.headers["Location"] = f"{ctx.base}/{ctx.region}/image/images/{image['id']}"
    return response
