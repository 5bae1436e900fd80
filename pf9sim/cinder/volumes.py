"""Cinder v3 volumes: list/detail, show, create, update, delete, metadata and actions."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from aiohttp import web

from pf9sim.cinder.common import (
    TENANT_KEY,
    Ctx,
    apply_name_and_description,
    bool_param,
    check_metadata,
    collection,
    common_predicates,
    ctx_of,
    default_type,
    find_type,
    get_snapshot,
    get_volume,
    list_page,
    render_volume,
    respond,
    update_spec,
    volume_drop,
    volume_summary,
)
from pf9sim.cinder.quota import check_quota
from pf9sim.glance.images import can_see
from pf9sim.model import volume as model_volume
from pf9sim.plumbing import SimError, read_json, require_admin
from pf9sim.state import stamp_updated

_SORT_KEYS = frozenset(
    {
        "id",
        "name",
        "status",
        "size",
        "created_at",
        "updated_at",
        "availability_zone",
        "bootable",
        "volume_type",
        "project_id",
        "user_id",
    }
)
_DELETABLE = ("available", "error", "error_restoring", "error_extending", "error_managing")
_DELETE_REFUSED = (
    "Invalid volume: Volume status must be available or error or error_restoring or "
    "error_extending or error_managing and must not be migrating, attached, belong to a group, "
    "have snapshots, awaiting a transfer, or be disassociated from snapshots after volume "
    "transfer."
)


def _predicates(ctx: Ctx) -> list[Callable[[dict[str, Any]], bool]]:
    q = ctx.request.query
    preds = common_predicates(q)
    if "bootable" in q:
        want = "true" if bool_param(q["bootable"], "bootable") else "false"
        preds.append(lambda o: o.get("bootable") == want)
    if "availability_zone" in q:
        az = q["availability_zone"]
        preds.append(lambda o: o.get("availability_zone") == az)
    if "volume_type" in q:
        vt = q["volume_type"]
        preds.append(lambda o: vt in (o.get("volume_type"), o.get("volume_type_id")))
    if "user_id" in q:
        uid = q["user_id"]
        preds.append(lambda o: o.get("user_id") == uid)
    return preds


async def list_volumes(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    page, full, count = list_page(ctx, "volumes", TENANT_KEY, _SORT_KEYS, _predicates(ctx))
    base = ctx.base_url()
    if request.path.endswith("/detail"):
        drop = volume_drop(ctx)
        rendered = [render_volume(v, drop, base) for v in page]
    else:
        rendered = [volume_summary(v, base) for v in page]
    return respond(ctx, collection(ctx, "volumes", rendered, full, count, page[-1]["id"] if page else None))


async def show_volume(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    vol = get_volume(ctx, request.match_info["volume_id"])
    return respond(ctx, {"volume": render_volume(vol, volume_drop(ctx), ctx.base_url())})


def _size_of(value: Any) -> int:
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = 0
    if isinstance(value, bool) or size < 1 or str(value).strip() != str(size):
        raise SimError(
            400,
            f"Invalid input for field/attribute size. Value: {value}. {value!r} is not a valid "
            "size: it must be an integer greater than 0.",
        )
    return size


async def create_volume(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    body = await read_json(request)
    spec = body.get("volume")
    if not isinstance(spec, dict):
        raise SimError(400, "Missing required element 'volume' in request body.")
    est = ctx.est
    snapshot = source = image = None
    inherited_type: str | None = None
    az_default: str | None = None
    min_size = 1
    if spec.get("snapshot_id"):
        snapshot = get_snapshot(ctx, spec["snapshot_id"])
        if snapshot["status"] != "available":
            raise SimError(
                400, "Invalid snapshot: Originating snapshot status must be one of 'available' values"
            )
        min_size = snapshot["size"]
        origin = est.get("volumes", snapshot["volume_id"])
        inherited_type = snapshot.get("_volume_type_id") or (origin or {}).get("volume_type_id")
        az_default = (origin or {}).get("availability_zone")
    elif spec.get("source_volid"):
        source = get_volume(ctx, spec["source_volid"])
        if source["status"] not in ("available", "in-use"):
            raise SimError(400, "Invalid volume: Source volume status must be available or in-use.")
        min_size = source["size"]
        inherited_type = source.get("volume_type_id")
        az_default = source.get("availability_zone")
    elif spec.get("imageRef"):
        image = est.get("images", spec["imageRef"])
        if image is None or image.get("_region") != ctx.region or not can_see(ctx.token, image):
            raise SimError(
                400,
                f"Invalid image identifier or unable to access requested image. "
                f"(image {spec['imageRef']} not found)",
            )
        if image.get("status") != "active":
            raise SimError(400, f"Invalid image: Image {image['id']} is not active.")
        min_size = max(1, image.get("min_disk") or 0, math.ceil((image.get("size") or 0) / 1024**3))
    size = _size_of(spec["size"]) if spec.get("size") is not None else None
    if size is None:
        if snapshot is None and source is None:
            raise SimError(
                400,
                "Invalid input for field/attribute size. Value: None. None is not of type "
                "'integer', 'string'",
            )
        size = min_size
    if size < min_size:
        what = "snapshot" if snapshot else ("source volume" if source else "image")
        raise SimError(
            400,
            f"Invalid input received: Volume size {size}GB cannot be smaller than the {what} "
            f"size {min_size}GB. They must be >= original {what} size.",
        )
    if spec.get("volume_type"):
        vtype = find_type(ctx, spec["volume_type"])
    elif inherited_type and est.get("volume_types", inherited_type):
        vtype = est.get("volume_types", inherited_type)
    else:
        vtype = default_type(ctx)
    zones = set(est.index("volumes", "availability_zone", ctx.region)) | {
        z.get("name") or z.get("zoneName") for z in est.all("availability_zones", ctx.region)
    }
    zones.discard(None)
    zones = zones or {"nova"}
    az = spec.get("availability_zone") or az_default or ("nova" if "nova" in zones else sorted(zones)[0])
    if az not in zones:
        raise SimError(400, f"Invalid input received: Availability zone '{az}' is invalid.")
    metadata = check_metadata(spec.get("metadata") or {})
    check_quota(ctx, ctx.project_id, vtype["name"], volumes=1, gigabytes=size)
    vol = model_volume.make_volume(
        est,
        name=spec.get("name") or spec.get("display_name"),
        project_id=ctx.project_id,
        user_id=ctx.token.user_id,
        size=size,
        region=ctx.region,
        volume_type=vtype,
        az=az,
        image=image,
        snapshot_id=snapshot["id"] if snapshot else None,
        source_volid=source["id"] if source else None,
        metadata=metadata,
        description=spec.get("description") or spec.get("display_description"),
    )
    # A volume cloned from a bootable volume (or its snapshot) is bootable with the same image metadata.
    origin = source or (est.get("volumes", snapshot["volume_id"]) if snapshot else None)
    if origin is not None and origin.get("volume_image_metadata"):
        vol["volume_image_metadata"] = dict(origin["volume_image_metadata"])
    if origin is not None:
        vol["bootable"] = origin["bootable"]
    # The stored volume is already available; the creating response lets clients exercise their wait loops.
    rendered = render_volume(vol, volume_drop(ctx), ctx.base_url())
    rendered["status"] = "creating"
    return respond(ctx, {"volume": rendered}, status=202)


async def update_volume(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    vol = get_volume(ctx, request.match_info["volume_id"])
    spec = update_spec(await read_json(request), "volume")
    apply_name_and_description(vol, spec)
    if "metadata" in spec:
        vol["metadata"] = check_metadata(spec["metadata"])
    stamp_updated(ctx.est, "volumes", vol)
    return respond(ctx, {"volume": render_volume(vol, volume_drop(ctx), ctx.base_url())})


async def delete_volume(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    vol = get_volume(ctx, request.match_info["volume_id"])
    cascade = bool_param(request.query.get("cascade", "false"), "cascade")
    snaps = ctx.est.index("snapshots", "volume_id", ctx.region).get(vol["id"], [])
    if vol["status"] not in _DELETABLE or vol.get("attachments") or (snaps and not cascade):
        raise SimError(400, _DELETE_REFUSED)
    for snap in list(snaps):
        model_volume.delete_snapshot(ctx.est, snap["id"])
    model_volume.delete_volume(ctx.est, vol["id"])
    return respond(ctx, None, status=202)


# -- metadata ------------------------------------------------------------------------------------
def metadata_handlers(
    kind: str, getter: Callable[[Ctx, str], dict[str, Any]], id_key: str, label: str
) -> list[tuple[str, str, Callable]]:
    """GET/POST/PUT on .../metadata and GET/PUT/DELETE on .../metadata/{key}, for volumes and snapshots."""

    def _obj(request: web.Request) -> tuple[Ctx, dict[str, Any]]:
        ctx = ctx_of(request)
        return ctx, getter(ctx, request.match_info[id_key])

    async def show_all(request: web.Request) -> web.Response:
        ctx, obj = _obj(request)
        return respond(ctx, {"metadata": dict(obj.get("metadata") or {})})

    async def merge_or_replace(request: web.Request) -> web.Response:
        ctx, obj = _obj(request)
        body = await read_json(request)
        if "metadata" not in body:
            raise SimError(400, "Malformed request body: missing 'metadata'")
        meta = check_metadata(body["metadata"])
        obj["metadata"] = meta if request.method == "PUT" else {**(obj.get("metadata") or {}), **meta}
        stamp_updated(ctx.est, kind, obj)
        return respond(ctx, {"metadata": dict(obj["metadata"])})

    def _key(ctx: Ctx, obj: dict[str, Any], key: str) -> str:
        if key not in (obj.get("metadata") or {}):
            raise SimError(404, f"{label} {obj['id']} has no metadata with key {key}.")
        return obj["metadata"][key]

    async def show_item(request: web.Request) -> web.Response:
        ctx, obj = _obj(request)
        key = request.match_info["key"]
        return respond(ctx, {"meta": {key: _key(ctx, obj, key)}})

    async def set_item(request: web.Request) -> web.Response:
        ctx, obj = _obj(request)
        key = request.match_info["key"]
        body = await read_json(request)
        meta = body.get("meta")
        if not isinstance(meta, dict):
            raise SimError(400, "Malformed request body: missing 'meta'")
        if len(meta) > 1:
            raise SimError(400, "Request body contains too many items.")
        if key not in meta:
            raise SimError(400, "Request body and URI mismatch")
        check_metadata(meta)
        obj["metadata"] = {**(obj.get("metadata") or {}), key: meta[key]}
        stamp_updated(ctx.est, kind, obj)
        return respond(ctx, {"meta": {key: meta[key]}})

    async def delete_item(request: web.Request) -> web.Response:
        ctx, obj = _obj(request)
        key = request.match_info["key"]
        _key(ctx, obj, key)
        obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k != key}
        stamp_updated(ctx.est, kind, obj)
        return respond(ctx, None)

    base = f"/{kind}/{{{id_key}}}/metadata"
    return [
        ("GET", base, show_all),
        ("POST", base, merge_or_replace),
        ("PUT", base, merge_or_replace),
        ("GET", base + "/{key}", show_item),
        ("PUT", base + "/{key}", set_item),
        ("DELETE", base + "/{key}", delete_item),
    ]


# -- actions -------------------------------------------------------------------------------------
async def volume_action(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    vol = get_volume(ctx, request.match_info["volume_id"])
    body = await read_json(request)
    if len(body) != 1:
        raise SimError(400, "Invalid request body: exactly one action expected.")
    ((name, args),) = body.items()
    args = args if isinstance(args, dict) else {}
    est = ctx.est
    if name == "os-extend":
        new_size = _size_of(args.get("new_size"))
        allowed = ("available", "in-use") if ctx.version >= (3, 42) else ("available",)
        if vol["status"] not in allowed:
            raise SimError(
                400,
                f"Invalid volume: Volume {vol['id']} status must be {' or '.join(allowed)}, "
                f"but current status is: {vol['status']}.",
            )
        if new_size <= vol["size"]:
            raise SimError(
                400,
                f"Invalid input received: New size for extend must be greater than current "
                f"size. (current: {vol['size']}, extended: {new_size}).",
            )
        check_quota(ctx, vol[TENANT_KEY], vol["volume_type"], gigabytes=new_size - vol["size"])
        model_volume.extend_volume(est, vol, new_size)
        return respond(ctx, None, status=202)
    if name == "os-retype":
        vtype = find_type(ctx, str(args.get("new_type") or ""))
        if vtype["id"] == vol.get("volume_type_id"):
            raise SimError(400, "Invalid input received: Retype requires a new volume type.")
        if vol["status"] not in ("available", "in-use"):
            raise SimError(400, f"Invalid volume: Volume {vol['id']} status must be available or in-use.")
        check_quota(ctx, vol[TENANT_KEY], vtype["name"], volumes=1, gigabytes=vol["size"], type_only=True)
        model_volume.retype_volume(est, vol, vtype)
        return respond(ctx, None, status=202)
    if name == "os-reset_status":
        require_admin(request)
        if "status" in args:
            vol["status"] = str(args["status"])
        if "migration_status" in args:
            vol["migration_status"] = args["migration_status"]
            vol["os-vol-mig-status-attr:migstat"] = args["migration_status"]
        stamp_updated(est, "volumes", vol)
        return respond(ctx, None, status=202)
    if name == "os-set_bootable":
        vol["bootable"] = "true" if bool_param(args.get("bootable"), "bootable") else "false"
        stamp_updated(est, "volumes", vol)
        return respond(ctx, None, status=200)
    if name == "os-update_readonly_flag":
        bool_param(args.get("readonly"), "readonly")
        return respond(ctx, None, status=202)
    raise SimError(400, f"There is no such action: {name}")


def routes() -> list[tuple[str, str, Callable]]:
    return [
        ("GET", "/volumes", list_volumes),
        ("GET", "/volumes/detail", list_volumes),
        ("POST", "/volumes", create_volume),
        ("GET", "/volumes/{volume_id}", show_volume),
        ("PUT", "/volumes/{volume_id}", update_volume),
        ("DELETE", "/volumes/{volume_id}", delete_volume),
        ("POST", "/volumes/{volume_id}/action", volume_action),
        *metadata_handlers("volumes", get_volume, "volume_id", "Volume"),
    ]
