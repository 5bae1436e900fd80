"""Restore points of a VM, from the store (docs/domain.md §8), and the listings a restore wizard starts from.

A restore point is what the VM's root disk can come back from:
- a boot-from-volume VM: an available Cinder snapshot of its root volume (the volume at Nova's
  root_device_name: /dev/vda under virtio, /dev/sda on a SCSI bus, /dev/xvda under Xen);
- a boot-from-image VM: an active Glance image with `image_type=snapshot` and the VM's uuid in
  `instance_uuid` (a Nova image snapshot). A volume-backed server's zero-size createImage image is not a
  point: its snapshots are, one by one.

Each point says whether it covers every attached data volume. A data volume is covered when it has an
available snapshot from the same policy run as the point (the same `pf9wb_run` mark), or else one taken
within MATCH_WINDOW_HOURS of the point (the closest one): a run snapshots a VM's volumes minutes apart, and a
day's runs are 24 hours apart, so three hours never pairs two different nights. The points are read from the
store (the last collect); a plan confirms the chosen one live before it is made.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from pf9lib.errors import Pf9Error
from pf9lib.store import as_store
from pf9lib.store.reader import Store

MATCH_WINDOW_HOURS = 3.0
VOLUME_SNAPSHOT, IMAGE_SNAPSHOT = "volume_snapshot", "image_snapshot"
_VM_COLUMNS = """id, name, region, project_id, project_name, domain_name, status, boot_from_volume, image_id,
    flavor_name, vcpus, ram_mb, disk_gb, networks, ip_addresses, volume_ids,
    json_extract_string(raw, '$."OS-EXT-SRV-ATTR:root_device_name"') AS root_device_name"""
DEFAULT_ROOT_DEVICE = "/dev/vda"


def root_device(server: dict[str, Any]) -> str:
    """The device a server boots from: Nova's root_device_name (a store row's column or a live server's
    extended attribute, which admins see), else /dev/vda (virtio, the common case)."""
    return (
        server.get("root_device_name")
        or server.get("OS-EXT-SRV-ATTR:root_device_name")
        or DEFAULT_ROOT_DEVICE
    )


def find_vm(store: Store | Any, vm: str) -> dict[str, Any]:
    """The VM with this id (or this exact name, when one VM has it) in the store's current state."""
    store = as_store(store)
    rows = store.records(f"SELECT {_VM_COLUMNS} FROM servers WHERE id = ?", [vm])
    if not rows:
        rows = store.records(f"SELECT {_VM_COLUMNS} FROM servers WHERE name = ? ORDER BY id", [vm])
    if len(rows) > 1:
        ids = ", ".join(r["id"] for r in rows)
        raise Pf9Error(f"{len(rows)} VMs are named {vm!r} ({ids}): give the id")
    if not rows:
        raise Pf9Error(f"no VM {vm!r} in the store: check the name or id, or collect again (`pf9wb collect`)")
    return rows[0]


def vm_volumes(store: Store, vm: dict[str, Any]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(root volume or None, data volumes by device) of a VM, from the store."""
    rows = store.records(
        """SELECT id, name, size_gb, attached_device AS device, bootable, status FROM volumes
           WHERE list_contains(attached_server_ids, ?) ORDER BY attached_device, id""",
        [vm["id"]],
    )
    device = root_device(vm)
    root = next((r for r in rows if r["device"] == device), None) if vm["boot_from_volume"] else None
    return root, [r for r in rows if r is not root]


def _snapshots(store: Store, volume_ids: list[str]) -> list[dict[str, Any]]:
    if not volume_ids:
        return []
    return store.records(
        """SELECT id, name, volume_id, size_gb, status, policy, created_at,
                  json_extract_string(metadata_json, '$.pf9wb_run') AS run_id
           FROM snapshots WHERE list_contains(?, volume_id) AND status = 'available'""",
        [volume_ids],
    )


def _images(store: Store, vm_id: str) -> list[dict[str, Any]]:
    return store.records(
        """SELECT id, name, status, created_at, size_bytes,
                  json_extract_string(raw, '$.pf9wb_run') AS run_id,
                  coalesce(json_extract_string(raw, '$.pf9wb_policy'), json_extract_string(raw, '$.policy'))
                      AS policy
           FROM images
           WHERE json_extract_string(raw, '$.image_type') = 'snapshot'
             AND json_extract_string(raw, '$.instance_uuid') = ? AND status = 'active'
             AND json_extract_string(raw, '$.block_device_mapping') IS NULL""",
        [vm_id],
    )


def match_data_snapshot(
    when: datetime, run_id: str | None, candidates: list[dict[str, Any]], window_hours: float
) -> dict[str, Any] | None:
    """The data-volume snapshot that goes with a point taken at `when` by run `run_id` (module docstring)."""
    if run_id:
        same = [c for c in candidates if c.get("run_id") == run_id]
        if same:
            return max(same, key=lambda c: c["created_at"])
    window = timedelta(hours=window_hours)
    near = [c for c in candidates if abs(c["created_at"] - when) <= window]
    return min(near, key=lambda c: abs(c["created_at"] - when)) if near else None


def points(store: Store | Any, vm: str, window_hours: float = MATCH_WINDOW_HOURS) -> pd.DataFrame:
    """The VM's restore points, newest first: point_id, kind, name, created_at, age_h (to `store.now`),
    size_gb, policy, run_id, covers_all, missing (data volume names without a matching snapshot) and
    data_snapshots (data volume id → snapshot id)."""
    store = as_store(store)
    server = find_vm(store, vm)
    root, data = vm_volumes(store, server)
    snaps = _snapshots(store, [v["id"] for v in data] + ([root["id"]] if root else []))
    rows = []
    if server["boot_from_volume"]:
        for s in (s for s in snaps if root and s["volume_id"] == root["id"]):
            rows.append({**s, "kind": VOLUME_SNAPSHOT})
    else:
        for i in _images(store, server["id"]):
            size = round((i["size_bytes"] or 0) / 1024**3, 1)
            rows.append({**i, "kind": IMAGE_SNAPSHOT, "size_gb": size})
    now = store.now
    out = []
    for row in rows:
        covered, missing = {}, []
        for volume in data:
            mine = [s for s in snaps if s["volume_id"] == volume["id"]]
            hit = match_data_snapshot(row["created_at"], row.get("run_id"), mine, window_hours)
            if hit is None:
                missing.append(volume["name"] or volume["id"])
            else:
                covered[volume["id"]] = hit["id"]
        out.append(
            {
                "point_id": row["id"],
                "kind": row["kind"],
                "name": row["name"],
                "created_at": row["created_at"],
                "age_h": round((now - row["created_at"]).total_seconds() / 3600, 1),
                "size_gb": row["size_gb"],
                "policy": row.get("policy"),
                "run_id": row.get("run_id"),
                "covers_all": not missing,
                "missing": missing,
                "data_snapshots": covered,
            }
        )
    columns = [
        "point_id",
        "kind",
        "name",
        "created_at",
        "age_h",
        "size_gb",
        "policy",
        "run_id",
        "covers_all",
        "missing",
        "data_snapshots",
    ]
    df = pd.DataFrame(out, columns=columns)
    return df.sort_values(["created_at", "point_id"], ascending=False, ignore_index=True)


def point(store: Store | Any, vm: str, point_id: str, window_hours: float = MATCH_WINDOW_HOURS) -> dict:
    """One restore point of a VM (a unique prefix of its id is enough)."""
    df = points(store, vm, window_hours)
    hit = df[df["point_id"].str.startswith(point_id)] if point_id else df.iloc[0:0]
    if len(hit) != 1:
        state = "ambiguous" if len(hit) else "not a restore point of this VM"
        raise Pf9Error(f"point {point_id!r} is {state}: list them with `pf9wb restore points {vm}`")
    return hit.iloc[0].to_dict()


# --------------------------------------------------------------------------------------------- the wizard


def projects_with_vms(store: Store | Any) -> pd.DataFrame:
    """Projects that have VMs, with how many: the wizard's first choice."""
    return as_store(store).sql(
        """SELECT project_id, project_name, domain_name, count(*) AS vms,
                  count(*) FILTER (WHERE boot_from_volume) AS boot_from_volume
           FROM servers GROUP BY ALL ORDER BY project_name, project_id"""
    )


def vms_of_project(store: Store | Any, project: str) -> pd.DataFrame:
    """The VMs of a project (by id or name): id, name, status, boot mode, flavor, networks, volumes."""
    return as_store(store).sql(
        """SELECT id, name, status, CASE WHEN boot_from_volume THEN 'volume' ELSE 'image' END AS boot,
                  flavor_name, networks, ip_addresses, len(volume_ids) AS volumes, region
           FROM servers WHERE project_id = ? OR project_name = ? ORDER BY name, id""",
        [project, project],
    )
