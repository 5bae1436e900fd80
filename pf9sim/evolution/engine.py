"""The estate over time: `advance(estate, hours)` changes it plausibly, `mutate`/`delete` change it exactly.

advance moves the clock forward in steps that end on whole hours. In each step, changes arrive as Poisson
processes whose rates scale with the estate (a `small` estate sees tens of changes a day, `xl` thousands),
at random moments inside the step; the nightly snapshot job (02:00 UTC) adds its snapshots and prunes old
ones. Only estate.rng is used, so the same estate advanced the same way changes the same way.

Every call returns one record per changed object — {"type", "id", "name", "kind": created|updated|deleted,
"fields": [changed top-level fields, for updated], "at"} — exactly what a before/after diff of the objects'
public JSON finds (several changes of one object merge; created then deleted leaves nothing). Fields that
the services compute when rendering (hypervisor and quota usage, a server's addresses and attached volumes)
are not stored, so they are not reported either.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pf9sim.evolution import compute, network, storage
from pf9sim.evolution.world import Tracker, World, name_of, poisson
from pf9sim.model.compute import delete_server
from pf9sim.model.image import delete_image
from pf9sim.model.network import (
    delete_floating_ip,
    delete_network,
    delete_port,
    delete_router,
    delete_security_group,
    delete_security_group_rule,
    delete_subnet,
    stamp_change,
    sync_group_rule,
)
from pf9sim.model.volume import delete_snapshot, delete_volume
from pf9sim.plumbing import SimError
from pf9sim.state import NETWORK_TYPES, Estate, public, stamp_updated

# (operation, changes per day per unit, unit)
RATES: tuple[tuple[Callable[[World], None], float, str], ...] = (
    (compute.create_server, 0.010, "servers"),
    (compute.delete_random_server, 0.008, "servers"),
    (compute.resize, 0.002, "servers"),
    (compute.migrate, 0.003, "servers"),
    (compute.stop, 0.004, "servers"),
    (compute.start, 0.003, "servers"),
    (compute.fail, 0.0005, "servers"),
    (compute.recover, 0.0008, "servers"),
    (storage.create_volume, 0.004, "volumes"),
    (storage.extend, 0.002, "volumes"),
    (storage.retype, 0.0005, "volumes"),
    (storage.attach_random, 0.002, "volumes"),
    (storage.detach_random, 0.0015, "volumes"),
    (storage.delete_random_volume, 0.002, "volumes"),
    (storage.take_manual, 0.003, "volumes"),
    (storage.drop_manual, 0.002, "volumes"),
    (network.add_rule, 0.01, "groups"),
    (network.remove_rule, 0.008, "groups"),
    (network.release_fip, 0.004, "fips"),
    (network.assign_fip, 0.005, "fips"),
    (network.change_mac, 0.0002, "ports"),
    (network.change_gateway, 0.001, "subnets"),
    (network.toggle_shared, 0.001, "networks"),
)


class UnknownObject(KeyError):
    """No object of that type with that id (the control API answers 404)."""


def nightly_snapshots(estate: Estate) -> bool:
    """Whether the simulator's nightly snapshot job runs (the demo turns it off and runs the workbench's)."""
    return bool(estate.secrets.get("options", {}).get("nightly_snapshots", True))


def advance(estate: Estate, hours: float) -> list[dict[str, Any]]:
    """Move the clock forward by `hours`, changing the estate on the way; returns the change records."""
    if hours < 0:
        raise ValueError("hours must not be negative")
    track = Tracker(estate)
    w = World.build(estate, track)
    rng = estate.rng
    units = {
        "servers": len(estate.objects["servers"]),
        "volumes": len(estate.objects["volumes"]),
        "groups": len(w.groups),
        "fips": len(w.fips),
        "ports": len(w.ports),
        "subnets": len(w.subnets),
        "networks": len(w.networks),
    }
    end = estate.clock + timedelta(hours=hours)
    while estate.clock < end:
        start = estate.clock
        step_end = min(end, start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
        span = (step_end - start).total_seconds()
        events: list[tuple[Any, int, Callable[..., None], tuple]] = []
        for op, rate, unit in RATES:
            for _ in range(poisson(rng, rate * units[unit] * span / 86400)):
                events.append((start + timedelta(seconds=rng.random() * span), len(events), op, ()))
        if nightly_snapshots(estate):
            for when, fn, args in storage.policy_events(w, start, step_end):
                events.append((when, len(events), fn, args))
        events.sort(key=lambda e: (e[0], e[1]))
        for when, _, fn, args in events:
            estate.clock = when
            fn(w, *args)
        estate.clock = step_end
    estate.touch()
    return track.records()


def mutate(estate: Estate, kind: str, obj_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Set top-level fields of one object exactly (its updated time is stamped first, so a value given for it
    wins); KeyError (UnknownObject) for an unknown type or id."""
    obj = _get(estate, kind, obj_id)
    bad = [k for k in changes if k == "id" or k.startswith("_")]
    if bad:
        raise SimError(400, f"Fields {bad} cannot be set: ids and hidden bookkeeping keys are fixed")
    if kind in NETWORK_TYPES:
        stamp_change(estate, kind, obj)
    else:
        stamp_updated(estate, kind, obj)
    obj.update(changes)
    if kind == "security_group_rules":
        group = estate.get("security_groups", obj["security_group_id"])
        if group is not None:
            sync_group_rule(group, obj)
            stamp_change(estate, "security_groups", group)
    estate.touch()
    return obj


# Types a deletion of each type can change, for the exact report of `delete`.
_AFFECTS = {
    "servers": ("servers", "ports", "floating_ips", "volumes", "server_groups"),
    "volumes": ("volumes", "snapshots", "servers"),
    "ports": ("ports", "floating_ips"),
    "networks": ("networks", "subnets", "ports", "floating_ips"),
    "subnets": ("subnets", "networks"),
    "routers": ("routers", "ports"),
    "floating_ips": ("floating_ips", "ports"),
    "security_groups": ("security_groups", "security_group_rules"),
    "security_group_rules": ("security_group_rules", "security_groups"),
}


def delete(estate: Estate, kind: str, obj_id: str) -> list[dict[str, Any]]:
    """Delete one object the way its service would (a server through delete_server: ports go, volumes detach;
    a volume with its snapshots); returns the change records. KeyError (UnknownObject) when unknown."""
    obj = _get(estate, kind, obj_id)
    kinds = _AFFECTS.get(kind, (kind,))
    before = {k: _dump(estate, k) for k in kinds}
    if kind == "servers":
        compute.prepare_teardown(estate, obj)
        delete_server(estate, obj_id)
    elif kind == "volumes":
        for snap in list(estate.index("snapshots", "volume_id", obj["_region"]).get(obj_id, [])):
            delete_snapshot(estate, snap["id"])
        delete_volume(estate, obj_id)
    elif kind == "snapshots":
        delete_snapshot(estate, obj_id)
    elif kind == "ports":
        delete_port(estate, obj, force=True)
    elif kind in _NEUTRON_DELETE:
        _NEUTRON_DELETE[kind](estate, obj)
    elif kind == "images":
        delete_image(estate, obj_id)
    else:
        estate.remove(kind, obj_id)
    estate.touch()
    at = estate.now_iso()
    out = []
    for k in kinds:
        after = _dump(estate, k)
        for oid, text in before[k].items():
            if oid not in after:
                out.append(
                    {
                        "type": k,
                        "id": oid,
                        "name": name_of(json.loads(text)),
                        "kind": "deleted",
                        "fields": [],
                        "at": at,
                    }
                )
            elif after[oid] != text:
                old, new = json.loads(text), json.loads(after[oid])
                fields = sorted(f for f in old.keys() | new.keys() if old.get(f) != new.get(f))
                out.append(
                    {
                        "type": k,
                        "id": oid,
                        "name": name_of(new),
                        "kind": "updated",
                        "fields": fields,
                        "at": at,
                    }
                )
        for oid in sorted(after.keys() - before[k].keys()):
            out.append(
                {
                    "type": k,
                    "id": oid,
                    "name": name_of(json.loads(after[oid])),
                    "kind": "created",
                    "fields": [],
                    "at": at,
                }
            )
    return out


_NEUTRON_DELETE: dict[str, Callable[[Estate, dict[str, Any]], None]] = {
    "networks": delete_network,
    "subnets": delete_subnet,
    "routers": delete_router,
    "floating_ips": delete_floating_ip,
    "security_groups": lambda est, group: delete_security_group(est, group, is_admin=True),
    "security_group_rules": delete_security_group_rule,
}


def _get(estate: Estate, kind: str, obj_id: str) -> dict[str, Any]:
    if kind not in estate.objects:
        raise UnknownObject(f"unknown resource type {kind!r}")
    obj = estate.get(kind, obj_id)
    if obj is None:
        raise UnknownObject(f"no {kind} with id {obj_id!r}")
    return obj


def _dump(estate: Estate, kind: str) -> dict[str, str]:
    return {oid: json.dumps(public(o), sort_keys=True) for oid, o in estate.objects[kind].items()}
