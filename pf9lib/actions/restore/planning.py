"""A restore plan (docs/domain.md §8): the options checked against the live cloud, the network plan per
original port, the quotas with their numbers, what will differ from the original, and the step list the
executor runs. Nothing in the cloud changes; the plan is stored PLANNED through the action spine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pf9lib.actions.audit import record
from pf9lib.actions.engine import ActionContext, authorize, make_plan
from pf9lib.actions.plan import Plan
from pf9lib.actions.restore import cloud
from pf9lib.actions.restore.machine import build_steps
from pf9lib.actions.restore.network import network_plan
from pf9lib.actions.restore.points import IMAGE_SNAPSHOT, VOLUME_SNAPSHOT, find_vm, point, root_device
from pf9lib.errors import Pf9Error
from pf9lib.identity import Identity
from pf9lib.store.reader import Store

MODES = ("NEW", "REPLACE")
IP_STRATEGIES = ("NEW_IPS", "TRY_SAME_IPS", "SAME_IPS_OR_FAIL", "MANUAL_IP")
KINDS = {"NEW": "restore.new", "REPLACE": "restore.replace"}
POLICY_KEYS = ("auto_snapshot", "snapshot_policies")  # and retention_<policy>: the snapshot contract


def confirmation(vm_name: str) -> str:
    """The text a REPLACE must be confirmed with."""
    return f"DELETE AND RESTORE {vm_name}"


def default_name(vm_name: str, now: datetime) -> str:
    return f"{vm_name}-restored-{now:%Y%m%d-%H%M}"


def _refuse(settings, who, kind: str, target: str, message: str) -> None:
    record(settings.data_dir, str(who), f"{kind}.plan", target, result="refused", note=message)
    raise Pf9Error(message)


@dataclass(frozen=True)
class RestoreOptions:
    """What a restore plan is asked for (docs/domain.md §8); `checked()` normalises and validates it."""

    mode: str = "NEW"  # NEW (side by side) or REPLACE (in place)
    name: str | None = None  # default <name>-restored-<YYYYMMDD-HHMM>
    ip_strategy: str = "NEW_IPS"
    ips: tuple[str, ...] = ()  # MANUAL_IP: one per original port, in the plan's port order
    network: str | None = None  # every port on this network instead of the original's
    security_groups: tuple[str, ...] = ()  # instead of the original ports' groups
    data_volumes: tuple[str, ...] | None = None  # None: every data volume the point covers
    confirm: str | None = None  # REPLACE: `DELETE AND RESTORE <vm name>`
    safety_snapshot: bool = True  # REPLACE: snapshot the VM before deleting it
    delete_volumes_on_failure: bool = False  # default: a failed job keeps (and lists) its volumes
    cleanup_old_volumes: bool = False  # REPLACE: delete the original's volumes at the end

    def checked(self) -> RestoreOptions:
        mode, strategy = self.mode.upper(), self.ip_strategy.upper()
        if mode not in MODES:
            raise Pf9Error(f"mode {mode!r} is not one of {', '.join(MODES)}")
        if strategy not in IP_STRATEGIES:
            raise Pf9Error(f"IP strategy {strategy!r} is not one of {', '.join(IP_STRATEGIES)}")
        if self.ips and strategy != "MANUAL_IP":
            raise Pf9Error(
                "addresses are given only with the MANUAL_IP strategy: add --ip-strategy MANUAL_IP"
            )
        wanted = None if self.data_volumes is None else tuple(self.data_volumes)
        return replace(
            self,
            mode=mode,
            ip_strategy=strategy,
            ips=tuple(self.ips or ()),
            security_groups=tuple(self.security_groups or ()),
            data_volumes=wanted,
        )


def plan_restore(
    settings,
    who: Identity | str,
    vm: str,
    point_id: str,
    options: RestoreOptions | None = None,
    now: datetime | None = None,
    store: Store | None = None,
    **option: Any,
) -> Plan:
    """Plan restoring `vm` (id or name) from restore point `point_id` (see `points`), with `options` (or
    their fields as keywords: mode="REPLACE", ip_strategy=…); a Pf9Error names the first thing that stands in
    the way (refusals of a REPLACE and quota shortfalls are audited)."""
    opts = (options or RestoreOptions(**option)).checked()
    kind = KINDS[opts.mode]
    authorize(settings, who, kind, vm)
    store = store or Store(settings.data_dir)
    row = find_vm(store, vm)
    target = row["name"] or row["id"]
    if opts.mode == "REPLACE" and opts.confirm != confirmation(target):
        message = (
            f"REPLACE deletes VM {target}: confirm by typing exactly `{confirmation(target)}` (--confirm)"
        )
        _refuse(settings, who, kind, target, message)
    chosen = point(store, row["id"], point_id)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    ctx = ActionContext(settings, Path(settings.data_dir), "probe", row["region"])
    w = ctx.writer()
    live = cloud.server(w, row["id"])
    if live is None:
        raise Pf9Error(
            f"VM {target} is not in the cloud any more: collect again (`pf9wb collect`) and choose"
        )
    facts = _live_facts(w, live, chosen)
    data, warnings = _data_plan(w, facts, chosen, opts.data_volumes)
    ports, more = network_plan(w, facts["ports"], opts, live)
    needs = _needs(facts, data, ports, opts.mode)
    quota = cloud.quotas(w, live["tenant_id"])
    short = cloud.shortfalls(quota, needs)
    if short:
        project = row["project_name"] or live["tenant_id"]
        message = (
            f"quota of project {project} is short: "
            + "; ".join(short)
            + ": raise the quota or free resources"
        )
        _refuse(settings, who, kind, target, message)
    new_name = opts.name or default_name(target, now)
    warnings += more + _differences(settings, live, facts, new_name, opts)
    inputs = _inputs(opts, row, live, facts, data, ports, needs, quota, warnings, new_name, now)
    p = facts["point"]
    summary = (
        f"{opts.mode} restore of {target} from {p['kind'].replace('_', ' ')} {p['name'] or p['id']} "
        f"({p['created_at'][:16]}) as {new_name}: {len(data) + bool(facts['root'])} volume(s), "
        f"{len(ports)} port(s), {len(warnings)} warning(s)"
    )
    return make_plan(
        settings, who, kind, target, summary, build_steps(inputs), [], inputs, row["region"], ctx
    )


def _inputs(opts, row, live, facts, data, ports, needs, quota, warnings, new_name, now) -> dict[str, Any]:
    """The plan's inputs: what the executor needs, as the plan saw it (never the user data)."""
    return {
        "vm": _vm_inputs(row, live, facts),
        "point": facts["point"],
        "mode": opts.mode,
        "name": new_name,
        "ip_strategy": opts.ip_strategy,
        "network": opts.network,
        "security_groups": list(opts.security_groups),
        "root": facts["root"],
        "data_volumes": data,
        "ports": ports,
        "quota": {k: {**quota[k], "need": needs[k]} for k in needs},
        "warnings": warnings,
        "options": {
            "safety_snapshot": opts.safety_snapshot and opts.mode == "REPLACE",
            "delete_volumes_on_failure": opts.delete_volumes_on_failure,
            "cleanup_old_volumes": opts.cleanup_old_volumes and opts.mode == "REPLACE",
        },
        "confirmation": opts.confirm if opts.mode == "REPLACE" else None,
        "planned_at": now.isoformat(),
    }


def _live_facts(w, live: dict[str, Any], chosen: dict[str, Any]) -> dict[str, Any]:
    """The VM as the cloud has it now: boot mode, flavor, root and data volumes, ports, and the point."""
    boot = "image" if isinstance(live.get("image"), dict) and live["image"].get("id") else "volume"
    expected = IMAGE_SNAPSHOT if boot == "image" else VOLUME_SNAPSHOT
    if chosen["kind"] != expected:
        raise Pf9Error(
            f"VM {live['name']} boots from {boot}: restore it from a {expected.replace('_', ' ')}, not from "
            f"{chosen['kind'].replace('_', ' ')} {chosen['point_id']}"
        )
    flavor = cloud.flavor_named(w, live["flavor"].get("original_name") or "")
    if flavor is None:
        raise Pf9Error(
            f"flavor {live['flavor'].get('original_name')} of VM {live['name']} no longer exists: recreate it"
        )
    attached = []
    for att in sorted(cloud.attachments(w, live["id"]), key=lambda a: a.get("device") or ""):
        vol = cloud.volume(w, att["volumeId"]) or {}
        attached.append(
            {
                "id": att["volumeId"],
                "name": vol.get("name") or "",
                "size": vol.get("size"),
                "device": att["device"],
            }
        )
    device = root_device(live)
    root = next((v for v in attached if v["device"] == device), None) if boot == "volume" else None
    facts = {
        "boot": boot,
        "flavor": {k: flavor[k] for k in ("id", "name", "vcpus", "ram", "disk")},
        "attached": attached,
        "data": [v for v in attached if v is not root],
        "ports": sorted(
            cloud.ports(w, device_id=live["id"]), key=lambda p: (p.get("created_at") or "", p["id"])
        ),
        "point": confirm_point(w, chosen, live["id"], root),
    }
    facts["root"] = (
        {**root, "snapshot_id": chosen["point_id"], "size": max(root["size"] or 0, facts["point"]["size_gb"])}
        if root
        else None
    )
    return facts


def confirm_point(w, chosen: dict[str, Any], vm_id: str, root: dict[str, Any] | None) -> dict[str, Any]:
    """The restore point as the cloud has it now (a Pf9Error when it is gone or not usable)."""
    pid = chosen["point_id"]
    if chosen["kind"] == VOLUME_SNAPSHOT:
        snap = cloud.snapshot(w, pid)
        if snap is None or snap.get("status") != "available":
            state = "gone" if snap is None else snap.get("status")
            raise Pf9Error(f"snapshot {pid} is {state}: choose another point (`pf9wb restore points`)")
        if root is not None and snap.get("volume_id") != root["id"]:
            raise Pf9Error(
                f"snapshot {pid} is not of the VM's root volume {root['id']}: choose another point"
            )
        size, created = int(snap.get("size") or 0), snap.get("created_at")
    else:
        img = cloud.image(w, pid)
        if img is None or img.get("status") != "active" or img.get("instance_uuid") != vm_id:
            state = "gone" if img is None else f"{img.get('status')}, of instance {img.get('instance_uuid')}"
            raise Pf9Error(f"image {pid} is {state}: choose another point (`pf9wb restore points`)")
        size, created = round((img.get("size") or 0) / 1024**3, 1), img.get("created_at")
    return {
        "id": pid,
        "kind": chosen["kind"],
        "name": chosen["name"],
        "created_at": str(created),
        "size_gb": size,
    }


def _data_plan(w, facts, chosen, wanted: list[str] | None) -> tuple[list[dict[str, Any]], list[str]]:
    """The data volumes to restore (default: every one the point covers), each with its snapshot."""
    covered: dict[str, str] = chosen.get("data_snapshots") or {}
    data, warnings = facts["data"], []
    if wanted is not None:
        picked = []
        for ref in wanted:
            hits = [v for v in data if ref in (v["id"], v["name"])]
            if len(hits) != 1:
                raise Pf9Error(f"{ref!r} is not one data volume of this VM: give the id of an attached one")
            if hits[0]["id"] not in covered:
                raise Pf9Error(
                    f"data volume {ref} has no snapshot near this point: choose another point or leave it out"
                )
            picked.append(hits[0])
    else:
        picked = [v for v in data if v["id"] in covered]
    out = []
    for vol in data:
        label = vol["name"] or vol["id"]
        if vol not in picked:
            why = "not chosen" if vol["id"] in covered else "no snapshot near this point"
            warnings.append(f"data volume {label} ({vol['device']}) is not restored: {why}")
            continue
        snap = cloud.snapshot(w, covered[vol["id"]])
        if snap is None or snap.get("status") != "available":
            raise Pf9Error(f"snapshot {covered[vol['id']]} of data volume {label} is not available any more")
        out.append(
            {**vol, "snapshot_id": snap["id"], "size": max(int(snap.get("size") or 0), vol["size"] or 0)}
        )
    return out, warnings


def _needs(facts, data, ports, mode: str) -> dict[str, int]:
    """What the restore consumes; a REPLACE frees the original's instance, cores, RAM and ports first."""
    flavor = facts["flavor"]
    volumes = data + ([facts["root"]] if facts["root"] else [])
    needs = {
        "instances": 1,
        "cores": flavor["vcpus"],
        "ram": flavor["ram"],
        "volumes": len(volumes),
        "gigabytes": sum(int(v["size"] or 0) for v in volumes),
        "ports": len(ports),
    }
    if mode == "REPLACE":
        for key in ("instances", "cores", "ram", "ports"):
            needs[key] = 0
    return needs


def _vm_inputs(row, live, facts) -> dict[str, Any]:
    return {
        "id": live["id"],
        "name": live["name"],
        "project_id": live["tenant_id"],
        "project_name": row["project_name"],
        "region": row["region"],
        "boot": facts["boot"],
        "flavor": facts["flavor"],
        "availability_zone": live.get("OS-EXT-AZ:availability_zone"),
        "metadata": live.get("metadata") or {},
        "has_user_data": bool(live.get("OS-EXT-SRV-ATTR:user_data")),
        "attached": facts["attached"],
        "key_name": live.get("key_name"),
    }


def _differences(settings, live, facts, new_name: str, opts: RestoreOptions) -> list[str]:
    """What the restored VM will not have of the original (the network plan adds the addresses)."""
    out = [f"the restored VM is named {new_name}"] if new_name != live["name"] else []
    if live.get("key_name"):
        out.append(
            f"key pair {live['key_name']} is not passed (it belongs to its user): the disk keeps its keys"
        )
    mode, groups, network = opts.mode, opts.security_groups, opts.network
    if live.get("OS-EXT-SRV-ATTR:user_data") and mode == "REPLACE":
        out.append("user data is read just before the delete: a crash after the delete loses it")
    meta = live.get("metadata") or {}
    if mode == "NEW" and any(k in POLICY_KEYS or k.startswith("retention_") for k in meta):
        out.append("snapshot policy keys are not copied (the original keeps its enrolment)")
    if network:
        out.append(f"every port goes on network {network}")
    if groups:
        out.append(f"security groups are {', '.join(groups)} instead of the original ports' groups")
    if facts["ports"]:
        out.append("ports are new: MAC addresses and port ids differ from the original's")
    if not settings.snapshot_service_user_email:
        out.append(
            "no service user (SNAPSHOT_SERVICE_USER_EMAIL): execution is refused until one is set, so that "
            "the VM is made in its own project"
        )
    return out
