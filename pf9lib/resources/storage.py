"""Cinder v3 types (limit + marker with `*_links`) and Glance v2 images (`next` link paging)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from pf9lib.resources import Column, Resource, project_owner
from pf9lib.resources.extract import as_int, as_json, g, meta, truthy
from pf9lib.store.schema import INT, LS, TS, B, S


def _policy_list(raw: dict[str, Any]) -> list[str]:
    """`snapshot_policies` = "daily_5, monthly_1st" → ["daily_5", "monthly_1st"] (order kept, blanks out)."""
    text = meta("snapshot_policies")(raw) or ""
    return [p.strip() for p in str(text).split(",") if p.strip()]


def _retention(raw: dict[str, Any]) -> list[tuple[str, int]]:
    """`retention_<policy>` metadata keys → {policy: count}; a value that is not a count is left out."""
    out = []
    for key, value in sorted((raw.get("metadata") or {}).items()):
        count = as_int(value) if key.startswith("retention_") else None
        if count is not None:
            out.append((key.removeprefix("retention_"), count))
    return out


def _attachments(raw: dict[str, Any]) -> list[str]:
    return [a.get("server_id") for a in raw.get("attachments") or [] if a.get("server_id")]


VOLUMES = Resource(
    "volumes",
    "block-storage",
    "/volumes/detail",
    "volumes",
    (
        Column("status", S, g("status")),
        Column("size_gb", INT, g("size")),
        Column("volume_type", S, g("volume_type")),
        Column("bootable", B, lambda r: truthy(r.get("bootable"))),
        Column("encrypted", B, g("encrypted")),
        Column("multiattach", B, g("multiattach")),
        Column("availability_zone", S, g("availability_zone")),
        Column("attached_server_id", S, lambda r: next(iter(_attachments(r)), None)),
        Column("attached_server_ids", LS, _attachments),
        Column(
            "attached_device", S, lambda r: next((a.get("device") for a in r.get("attachments") or []), None)
        ),
        Column("snapshot_id", S, g("snapshot_id")),
        Column("source_volid", S, g("source_volid")),
        Column("user_id", S, g("user_id")),
        # The snapshot-policy contract lives in volume metadata (docs/domain.md, "Snapshot policies").
        Column("auto_snapshot", B, lambda r: truthy(meta("auto_snapshot")(r))),
        Column("snapshot_policies", S, meta("snapshot_policies")),
        Column("snapshot_policy_list", LS, _policy_list),
        Column("snapshot_retention", pa.map_(S, INT), _retention),
        Column("metadata_json", S, lambda r: as_json(r.get("metadata") or {})),
        Column("created_at", TS, g("created_at")),
        Column("updated_at", TS, g("updated_at")),
    ),
    params={"all_tenants": "1"},
    microversion="3.70",
    owner=project_owner("os-vol-tenant-attr:tenant_id"),
)

SNAPSHOTS = Resource(
    "snapshots",
    "block-storage",
    "/snapshots/detail",
    "snapshots",
    (
        Column("status", S, g("status")),
        Column("size_gb", INT, g("size")),
        Column("volume_id", S, g("volume_id")),
        Column("policy", S, meta("policy")),
        Column("created_by", S, meta("created_by")),
        Column(
            "is_automatic",
            B,
            lambda r: bool(meta("policy")(r)) or str(r.get("name") or "").startswith("auto-"),
        ),
        Column("metadata_json", S, lambda r: as_json(r.get("metadata") or {})),
        Column("created_at", TS, g("created_at")),
        Column("updated_at", TS, g("updated_at")),
    ),
    params={"all_tenants": "1"},
    microversion="3.70",
    owner=project_owner("os-extended-snapshot-attributes:project_id"),
)

RESOURCES = (
    VOLUMES,
    SNAPSHOTS,
    Resource(
        "volume_types",
        "block-storage",
        "/types",
        "volume_types",
        (Column("description", S, g("description")), Column("is_public", B, g("is_public"))),
        "none",
        params={"is_public": "None"},
    ),
    Resource(
        "images",
        "image",
        "/v2/images",
        "images",
        (
            Column("status", S, g("status")),
            Column("visibility", S, g("visibility")),
            Column("size_bytes", INT, g("size")),
            Column("disk_format", S, g("disk_format")),
            Column("os_distro", S, g("os_distro")),
            Column(
                "os_version", S, lambda r: None if r.get("os_version") is None else str(r.get("os_version"))
            ),
            Column("min_disk_gb", INT, g("min_disk")),
            Column("protected", B, g("protected")),
            Column("created_at", TS, g("created_at")),
            Column("updated_at", TS, g("updated_at")),
        ),
        "glance",
        params={"limit": "1000"},
        owner=project_owner("owner"),
    ),
)
