"""Cinder v3 snapshots: list/detail, show, create, update, delete, metadata and actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from pf9sim.cinder.common import (
    SNAP_PROJECT_KEY,
    Ctx,
    apply_name_and_description,
    bool_param,
    check_metadata,
    collection,
    common_predicates,
    ctx_of,
    get_snapshot,
    get_volume,
    list_page,
    render_snapshot,
    respond,
    snapshot_drop,
    update_spec,
)
from pf9sim.cinder.quota import check_quota
from pf9sim.cinder.volumes import metadata_handlers
from pf9sim.model import volume as model_volume
from pf9sim.plumbing import SimError, read_json, require_admin
from pf9sim.state import stamp_updated

_SORT_KEYS = frozenset(
    {"id", "name", "status", "size", "created_at", "updated_at", "volume_id", "project_id", "user_id"}
)


def _predicates(ctx: Ctx) -> list[Callable[[dict[str, Any]], bool]]:
    q = ctx.request.query
    preds = common_predicates(q)
    if "volume_id" in q:
        vid = q["volume_id"]
        preds.append(lambda o: o.get("volume_id") == vid)
    if "user_id" in q:
        uid = q["user_id"]
        preds.append(lambda o: o.get("user_id") == uid)
    return preds


async def list_snapshots(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    page, full, count = list_page(ctx, "snapshots", SNAP_PROJECT_KEY, _SORT_KEYS, _predicates(ctx))
    drop = snapshot_drop(ctx, detail=request.path.endswith("/detail"))
    rendered = [render_snapshot(s, drop) for s in page]
    return respond(ctx, collection(ctx, "snapshots", rendered, full, count, page[-1]["id"] if page else None))


async def show_snapshot(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    snap = get_snapshot(ctx, request.match_info["snapshot_id"])
    return respond(ctx, {"snapshot": render_snapshot(snap, snapshot_drop(ctx))})


async def create_snapshot(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    body = await read_json(request)
    spec = body.get("snapshot")
    if not isinstance(spec, dict):
        raise SimError(400, "Missing required element 'snapshot' in request body.")
    if not spec.get("volume_id"):
        raise SimError(400, "Invalid input for field/attribute volume_id. Value: None.")
    vol = get_volume(ctx, spec["volume_id"])
    force = spec.get("force")
    if ctx.version >= (3, 66):
        # From 3.66 in-use volumes need no force; an explicit false force is refused.
        if force is not None and not bool_param(force, "force"):
            raise SimError(
                400,
                "Invalid input received: The 'force' flag is not allowed to be false for "
                "snapshots from microversion 3.66.",
            )
        allowed: tuple[str, ...] = ("available", "in-use")
    else:
        allowed = (
            ("available", "in-use") if force is not None and bool_param(force, "force") else ("available",)
        )
    if vol["status"] not in allowed:
        raise SimError(
            400,
            f"Invalid volume: Volume {vol['id']} status must be available, but current status "
            f"is: {vol['status']}.",
        )
    metadata = check_metadata(spec.get("metadata") or {})
    # Cinder puts the snapshot (and its quota) in the caller's project, not the volume's.
    check_quota(ctx, ctx.project_id, vol["volume_type"], snapshots=1, gigabytes=vol["size"])
    snap = model_volume.make_snapshot(
        ctx.est,
        volume=vol,
        name=spec.get("name") or spec.get("display_name"),
        description=spec.get("description") or spec.get("display_description"),
        metadata=metadata,
    )
    snap[SNAP_PROJECT_KEY] = ctx.project_id
    snap["user_id"] = ctx.token.user_id
    ctx.est.touch()
    rendered = render_snapshot(snap, snapshot_drop(ctx))
    rendered["status"] = "creating"
    rendered["os-extended-snapshot-attributes:progress"] = "0%"
    return respond(ctx, {"snapshot": rendered}, status=202)


async def update_snapshot(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    snap = get_snapshot(ctx, request.match_info["snapshot_id"])
    apply_name_and_description(snap, update_spec(await read_json(request), "snapshot"))
    stamp_updated(ctx.est, "snapshots", snap)
    return respond(ctx, {"snapshot": render_snapshot(snap, snapshot_drop(ctx))})


async def delete_snapshot(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    snap = get_snapshot(ctx, request.match_info["snapshot_id"])
    if snap["status"] not in ("available", "error"):
        raise SimError(
            400,
            "Invalid snapshot: Volume Snapshot status must be available or error and must not "
            "be part of a group.",
        )
    model_volume.delete_snapshot(ctx.est, snap["id"])
    return respond(ctx, None, status=202)


async def snapshot_action(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    snap = get_snapshot(ctx, request.match_info["snapshot_id"])
    body = await read_json(request)
    if "os-reset_status" in body:
        require_admin(request)
        status = (body["os-reset_status"] or {}).get("status")
        if not status:
            raise SimError(400, "Must specify 'status'")
        snap["status"] = str(status)
        stamp_updated(ctx.est, "snapshots", snap)
        return respond(ctx, None, status=202)
    raise SimError(400, f"There is no such action: {', '.join(body) or 'none'}")


def routes() -> list[tuple[str, str, Callable]]:
    return [
        ("GET", "/snapshots", list_snapshots),
        ("GET", "/snapshots/detail", list_snapshots),
        ("POST", "/snapshots", create_snapshot),
        ("GET", "/snapshots/{snapshot_id}", show_snapshot),
        ("PUT", "/snapshots/{snapshot_id}", update_snapshot),
        ("DELETE", "/snapshots/{snapshot_id}", delete_snapshot),
        ("POST", "/snapshots/{snapshot_id}/action", snapshot_action),
        *metadata_handlers("snapshots", get_snapshot, "snapshot_id", "Snapshot"),
    ]
