"""Which drift events were expected, and which belong together (docs/domain.md §3, "Expected changes").

A change is kept in the history and its event stored, but it does not count as drift by default when:
- it is an automatic snapshot's deletion: its retention policy pruned it (named `auto-…`, or carrying a
  policy in its metadata);
- a workbench plan made it: the object was created, deleted, pruned or rolled back by a plan's step;
- it follows a parent's deletion in the same run: the ports of a deleted server (deleted, or detached), its
  volumes' detaches, the floating IPs released from its ports; the subnets and ports of a deleted network;
  the snapshots of a deleted volume.
Those follow-on events form one incident with the parent's deletion: their `incident_id` is the parent's
event id (the parent's own event has its own id as incident id). An ignore-file line starting with `!` that
matches an expected event makes it drift again.
"""

from __future__ import annotations

import json
from typing import Any

from pf9lib.analytics.drift_rules import IgnoreList
from pf9lib.store.reader import Store

# Context a rule does not watch but the classification needs, per type (the old value before the run, or
# the last state of a deleted object).
CONTEXT: dict[str, tuple[str, ...]] = {
    "snapshots": ("is_automatic", "volume_id", "policy"),
    "ports": ("device_id", "network_id", "device_owner"),
    "volumes": ("attached_server_id",),
    "floating_ips": ("port_id",),
    "subnets": ("network_id",),
}
PARENTS = ("servers", "networks", "volumes")


def plan_objects(store: Store) -> dict[str, str]:
    """Object id → plan id for everything a workbench plan's steps created, deleted, pruned or rolled back."""
    out: dict[str, str] = {}
    for plan_id, created in store.rows(
        "SELECT plan_id, created_json FROM action_steps WHERE coalesce(created_json, '[]') <> '[]'"
    ):
        for obj in json.loads(created):
            if obj.get("id"):
                out[str(obj["id"])] = plan_id
    for plan_id, steps in store.rows("SELECT plan_id, steps_json FROM action_plans"):
        for step in json.loads(steps or "[]"):
            if step["action"].endswith((".delete", ".prune")):
                inputs = step.get("inputs") or {}
                for key in ("id", "snapshot_id", "network_id"):
                    if inputs.get(key):
                        out.setdefault(str(inputs[key]), plan_id)
    return out


def deleted_parents(store: Store, run_id: str) -> dict[str, dict[str, str]]:
    """type → {id: name} of the servers, networks and volumes a run saw deleted."""
    out: dict[str, dict[str, str]] = {kind: {} for kind in PARENTS}
    for kind, obj_id, name in store.rows(
        "SELECT type, id, name FROM changes WHERE run_id = ? AND kind = 'deleted' AND type IN (?, ?, ?)",
        [run_id, *PARENTS],
    ):
        out[kind][obj_id] = name or obj_id
    return out


def classify(
    events: list[dict[str, Any]],
    parents: dict[str, dict[str, str]],
    by_plan: dict[str, str],
    ignore: IgnoreList,
) -> None:
    """Set `expected_reason` and `incident_id` on a run's events (in place; each carries its `_ctx`)."""
    roots = {(e["type"], e["object_id"]): e["event_id"] for e in events if e["change"] == "deleted"}
    server_ports: dict[str, str] = {}  # port id → the deleted server it was on
    for e in events:
        if e["type"] == "ports" and str(e["_ctx"].get("device_id") or "") in parents["servers"]:
            server_ports[e["object_id"]] = e["_ctx"]["device_id"]
    for e in events:
        e.setdefault("expected_reason", None)
        e.setdefault("incident_id", None)
        if (e["type"], e["object_id"]) in roots and e["type"] in PARENTS:
            e["incident_id"] = e["event_id"]
        reason, parent = _why(e, parents, server_ports, by_plan)
        if parent is not None:
            e["incident_id"] = roots.get(parent)
        if reason and ignore.verdict(e["type"], e["object_id"], e["name"], e["field"]) is not False:
            e["expected_reason"] = reason


def _why(e: dict[str, Any], parents, server_ports: dict[str, str], by_plan: dict[str, str]):
    """(why the event was expected, the parent (type, id) it follows) — (None, None) for real drift."""
    kind, ctx, deleted = e["type"], e["_ctx"], e["change"] == "deleted"
    if (
        kind == "snapshots"
        and deleted
        and (ctx.get("is_automatic") or str(e["name"] or "").startswith("auto-"))
    ):
        policy = ctx.get("policy")
        return f"pruned by retention ({'policy ' + policy if policy else 'an automatic snapshot'})", None
    if e["object_id"] in by_plan:
        return f"made by workbench plan {by_plan[e['object_id']]}", None

    def follows(parent_kind: str, parent_id: Any) -> tuple[str, tuple[str, str]] | None:
        name = parents[parent_kind].get(str(parent_id or ""))
        if name is None:
            return None
        return f"follows the deletion of {parent_kind[:-1]} {name}", (parent_kind, str(parent_id))

    found = None
    if kind == "ports":
        found = follows("servers", ctx.get("device_id")) or follows("networks", ctx.get("network_id"))
    elif kind == "volumes":
        found = follows("servers", ctx.get("attached_server_id"))
    elif kind == "floating_ips" and str(ctx.get("port_id") or "") in server_ports:
        found = follows("servers", server_ports[ctx["port_id"]])
    elif kind == "subnets":
        found = follows("networks", ctx.get("network_id"))
    elif kind == "snapshots":
        found = follows("volumes", ctx.get("volume_id"))
    return found if found else (None, None)
