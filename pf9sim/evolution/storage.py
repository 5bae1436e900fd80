"""Volume and snapshot changes of an advancing estate.

Volumes are created, extended, retyped, attached, detached and deleted; manual snapshots come and go; and
the nightly snapshot job runs at 02:00 UTC over the enrolled volumes (daily policies every day, monthly_1st
and monthly_15th on those days): quota checked first, occasionally missed or failed (status error), then
pruning the volume's automatic snapshots of that policy beyond its retention.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pf9sim.evolution.compute import RUNNING, attach, next_device, placed, policy_metadata
from pf9sim.evolution.world import World
from pf9sim.generator.snapshots import (
    RUN_HOUR,
    SNAPSHOTTABLE,
    attached_server_name,
    auto_snapshot,
    is_due,
    manual_snapshot,
    policies_of,
    run_offset,
)
from pf9sim.model.volume import (
    delete_snapshot,
    delete_volume,
    detach_volume,
    extend_volume,
    make_volume,
    retype_volume,
)
from pf9sim.state import stamp_updated

RUN_WINDOW = timedelta(seconds=1531)  # every volume's run offset falls within this after 02:00


def create_volume(w: World) -> None:
    est, rng = w.est, w.rng
    owner = w.pick(w.servers, "servers", lambda s: placed(s))
    if owner is None:
        return
    pid, region = owner["tenant_id"], owner["_region"]
    size = rng.choice((10, 20, 50, 100, 250))
    if not w.room(pid, region, "volume", volumes=1, gigabytes=size):
        return
    vtypes = list(est.all("volume_types", region))
    volume = make_volume(
        est,
        name=f"{owner['name'].rsplit('-', 1)[0]}-vol-{rng.getrandbits(16):04x}",
        project_id=pid,
        user_id=owner["user_id"],
        size=size,
        region=region,
        volume_type=vtypes[rng.randrange(len(vtypes))],
        az=owner["OS-EXT-AZ:availability_zone"],
        metadata=policy_metadata(rng) if rng.random() < 0.4 else {},
    )
    w.track.created("volumes", volume["id"])
    w.volumes.append(volume["id"])
    w.use(pid, region, volumes=1, gigabytes=size)
    if owner["status"] in RUNNING and rng.random() < 0.5:
        attach(w, volume, owner, next_device(est, w, owner["id"]))


def extend(w: World) -> None:
    est, rng = w.est, w.rng
    volume = w.pick(w.volumes, "volumes", lambda v: v["status"] in SNAPSHOTTABLE)
    if volume is None:
        return
    grow = rng.choice((10, 20, 50, 100))
    pid, region = volume["os-vol-tenant-attr:tenant_id"], volume["_region"]
    if not w.room(pid, region, "volume", gigabytes=grow):
        return
    w.track.touch("volumes", volume["id"])
    if rng.random() < 0.03:
        volume["status"] = "error_extending"  # the backend failed: Cinder keeps the old size
        stamp_updated(est, "volumes", volume)
        return
    extend_volume(est, volume, volume["size"] + grow)
    w.use(pid, region, gigabytes=grow)


def retype(w: World) -> None:
    est, rng = w.est, w.rng
    volume = w.pick(w.volumes, "volumes", lambda v: v["status"] == "available")
    if volume is None:
        return
    others = [t for t in est.all("volume_types", volume["_region"]) if t["id"] != volume["volume_type_id"]]
    if others:
        w.track.touch("volumes", volume["id"])
        retype_volume(est, volume, rng.choice(others))


def attach_random(w: World) -> None:
    est, rng = w.est, w.rng
    volume = w.pick(w.volumes, "volumes", lambda v: v["status"] == "available")
    if volume is None:
        return
    candidates = w.by_tenancy.get((volume["os-vol-tenant-attr:tenant_id"], volume["_region"]), [])
    for _ in range(10 if candidates else 0):
        server = est.get("servers", candidates[rng.randrange(len(candidates))])
        if server is not None and server["status"] in RUNNING and placed(server):
            attach(w, volume, server, next_device(est, w, server["id"]))
            return


def detach_random(w: World) -> None:
    volume = w.pick(
        w.volumes,
        "volumes",
        lambda v: v["status"] == "in-use" and any(a["device"] != "/dev/vda" for a in v["attachments"]),
    )
    if volume is None:
        return
    att = next(a for a in volume["attachments"] if a["device"] != "/dev/vda")
    w.track.touch("volumes", volume["id"])
    w.track.touch("servers", att["server_id"])
    detach_volume(w.est, volume, att["server_id"])
    ids = w.vols_of.get(att["server_id"], [])
    if volume["id"] in ids:
        ids.remove(volume["id"])


def delete_random_volume(w: World) -> None:
    volume = w.pick(
        w.volumes,
        "volumes",
        lambda v: (
            v["status"] in ("available", "error") and not v["attachments"] and not w.snaps_of.get(v["id"])
        ),
    )
    if volume is None:
        return
    w.track.touch("volumes", volume["id"])
    w.use(volume["os-vol-tenant-attr:tenant_id"], volume["_region"], volumes=-1, gigabytes=-volume["size"])
    delete_volume(w.est, volume["id"])


def take_manual(w: World) -> None:
    volume = w.pick(w.volumes, "volumes", lambda v: v["status"] in SNAPSHOTTABLE)
    if volume is None:
        return
    pid, region = volume["os-vol-tenant-attr:tenant_id"], volume["_region"]
    if not w.room(pid, region, "volume", snapshots=1, gigabytes=volume["size"]):
        return
    snap = manual_snapshot(w.est, volume, "error" if w.rng.random() < 0.02 else "available")
    w.track.created("snapshots", snap["id"])
    w.add_snapshot(snap)


def drop_manual(w: World) -> None:
    snap = w.pick(w.manual_snaps, "snapshots")
    if snap is not None:
        remove_snapshot(w, snap)


def remove_snapshot(w: World, snap: dict[str, Any]) -> None:
    w.track.touch("snapshots", snap["id"])
    w.drop_snapshot(snap)
    delete_snapshot(w.est, snap["id"])


# -- the nightly snapshot job ------------------------------------------------------------------
def policy_events(w: World, start: datetime, end: datetime) -> list[tuple[datetime, Any, tuple]]:
    """Per enrolled volume, its place in each nightly run that falls in (start, end]."""
    events: list[tuple[datetime, Any, tuple]] = []
    day = datetime(start.year, start.month, start.day, RUN_HOUR, tzinfo=start.tzinfo) - timedelta(days=1)
    while day < end:
        if day + RUN_WINDOW > start:
            for vid in w.volumes:
                volume = w.est.get("volumes", vid)
                if volume is None or not volume["metadata"].get("snapshot_policies"):
                    continue
                when = day + run_offset(vid)
                if start < when <= end:
                    events.append((when, run_volume, (vid, day)))
        day += timedelta(days=1)
    return events


def run_volume(w: World, volume_id: str, run: datetime) -> None:
    est, rng = w.est, w.rng
    volume = est.get("volumes", volume_id)
    if volume is None or volume["status"] not in SNAPSHOTTABLE:
        return
    pid, region = volume["os-vol-tenant-attr:tenant_id"], volume["_region"]
    for policy, keep in policies_of(volume["metadata"]):
        if not is_due(policy, run):
            continue
        if rng.random() < 0.02:
            continue  # the run skipped this volume (timeout, API hiccup): the SLA sees it late
        if not w.room(pid, region, "volume", snapshots=1, gigabytes=volume["size"]):
            continue  # blocked by quota
        status = "error" if rng.random() < 0.015 else "available"
        service_user = est.secrets.get("snapshot_service_user_id", "")
        snap = auto_snapshot(est, volume, policy, status, service_user, attached_server_name(est, volume))
        w.track.created("snapshots", snap["id"])
        w.add_snapshot(snap)
        autos = [est.get("snapshots", sid) for sid in w.snaps_of.get(volume_id, [])]
        autos = [
            s for s in autos if s and s["name"].startswith("auto-") and s["metadata"].get("policy") == policy
        ]
        autos.sort(key=lambda s: (s["created_at"], s["id"]), reverse=True)
        for old in autos[keep:]:
            remove_snapshot(w, old)
