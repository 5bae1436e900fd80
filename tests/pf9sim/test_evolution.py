"""Evolution of an estate: exact change reports, plausible rates, policy snapshots, mutate and delete."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from pf9sim.evolution import network as evolution_network
from pf9sim.evolution.engine import UnknownObject, advance, delete, mutate
from pf9sim.evolution.world import Tracker, World
from pf9sim.generator.estate import generate
from pf9sim.generator.snapshots import policies_of
from pf9sim.state import EPOCH, Estate, iso, public

from .estate_checks import check_integrity


def dump(est: Estate) -> dict[tuple[str, str], str]:
    # Hypervisors carry no changing stored fields (their usage is computed when rendered): left out as the
    # change report leaves them out.
    return {
        (kind, oid): json.dumps(public(obj), sort_keys=True)
        for kind, objs in est.objects.items()
        if kind != "hypervisors"
        for oid, obj in objs.items()
    }


def expected_changes(before: dict, after: dict) -> dict[tuple[str, str], tuple[str, list[str]]]:
    """An independent before/after diff, in the report's terms."""
    out = {}
    for key in before.keys() | after.keys():
        if key not in after:
            out[key] = ("deleted", [])
        elif key not in before:
            out[key] = ("created", [])
        elif before[key] != after[key]:
            old, new = json.loads(before[key]), json.loads(after[key])
            out[key] = ("updated", sorted(f for f in old.keys() | new.keys() if old.get(f) != new.get(f)))
    return out


def reported(records: list[dict]) -> dict[tuple[str, str], tuple[str, list[str]]]:
    out = {}
    for r in records:
        assert set(r) == {"type", "id", "name", "kind", "fields", "at"}
        assert (r["type"], r["id"]) not in out, "one record per object"
        out[r["type"], r["id"]] = (r["kind"], r["fields"])
    return out


def advance_checked(est: Estate, hours: float) -> list[dict]:
    before = dump(est)
    start = est.clock
    records = advance(est, hours)
    assert est.clock == start + timedelta(hours=hours)
    assert reported(records) == expected_changes(before, dump(est))
    for r in records:
        assert iso(start) <= r["at"] <= iso(est.clock)
    return records


@pytest.mark.parametrize("size,steps", [("tiny", (24, 0.5, 7.25, 48)), ("small", (24, 1, 26.5, 72))])
def test_report_matches_independent_diff(size: str, steps: tuple[float, ...]) -> None:
    est = generate(seed=9, size=size)
    kinds = Counter()
    for hours in steps:
        kinds.update((r["type"], r["kind"]) for r in advance_checked(est, hours))
    assert kinds["snapshots", "created"] > 0 and kinds["snapshots", "deleted"] > 0
    if size == "small":
        for key in (
            ("servers", "created"),
            ("servers", "deleted"),
            ("ports", "created"),
            ("ports", "deleted"),
            ("volumes", "updated"),
            ("servers", "updated"),
        ):
            assert kinds[key] > 0, key
    check_integrity(est)


def test_same_estate_same_changes() -> None:
    one, two = generate(seed=4, size="small"), generate(seed=4, size="small")
    assert advance(one, 30) == advance(two, 30)
    assert json.dumps(one.objects) == json.dumps(two.objects)


def test_zero_hours_changes_nothing_and_negative_is_refused() -> None:
    est = generate(seed=1, size="tiny")
    before = dump(est)
    assert advance(est, 0) == []
    assert dump(est) == before and est.clock == EPOCH
    with pytest.raises(ValueError):
        advance(est, -1)


def test_small_sees_tens_of_changes_a_day_besides_snapshots() -> None:
    est = generate(seed=42, size="small")
    days = [advance(est, 24) for _ in range(3)]
    other = [sum(1 for r in day if r["type"] != "snapshots") for day in days]
    assert 5 <= sum(other) / 3 <= 80, other
    assert all(day for day in days)


def test_weeks_of_evolution_keep_the_estate_consistent() -> None:
    est = generate(seed=5, size="small")
    for _ in range(3):
        advance_checked(est, 24 * 5)
    check_integrity(est)
    assert est.clock == EPOCH + timedelta(days=15)


def test_nightly_snapshot_run_follows_policies_and_retention() -> None:
    est = generate(seed=42, size="small")
    # From Oct 1 00:00 to Oct 2 00:00: one nightly run, and Oct 1 is a monthly_1st day.
    records = advance(est, 24)
    created = [
        est.get("snapshots", r["id"]) for r in records if r["type"] == "snapshots" and r["kind"] == "created"
    ]
    autos = [s for s in created if s["name"].startswith("auto-")]
    assert {s["metadata"]["policy"].split("_")[0] for s in autos} == {"daily", "monthly"}
    assert all(s["created_at"].startswith("2026-10-01T02:") for s in autos)
    assert not any(s["metadata"]["policy"] == "monthly_15th" for s in autos)
    svc = est.secrets["snapshot_service_user_id"]
    assert all(s["user_id"] == svc for s in autos)
    for snap in autos:
        volume = est.get("volumes", snap["volume_id"])
        assert snap["metadata"]["policy"] in dict(policies_of(volume["metadata"]))
        assert volume["status"] in ("available", "in-use")
    # Retention: never more automatic snapshots of a (volume, policy) than the policy keeps.
    kept = Counter(
        (s["volume_id"], s["metadata"]["policy"])
        for s in est.all("snapshots")
        if s["name"].startswith("auto-")
    )
    for (vid, policy), count in kept.items():
        assert count <= dict(policies_of(est.get("volumes", vid)["metadata"]))[policy]
    # The job prunes automatic snapshots only, during its run; nothing else deletes them.
    pruned = [
        r
        for r in records
        if r["type"] == "snapshots" and r["kind"] == "deleted" and r["name"].startswith("auto-")
    ]
    assert pruned and all(r["at"].startswith("2026-10-01T02:") for r in pruned)


def test_a_deleted_server_reports_its_ports_and_volumes() -> None:
    est = generate(seed=42, size="small")
    for _ in range(10):
        ports_of = {
            p["id"]: p["device_id"] for p in est.all("ports") if p["device_owner"].startswith("compute:")
        }
        attached = {v["id"]: {a["server_id"] for a in v["attachments"]} for v in est.all("volumes")}
        records = advance(est, 24)
        gone = {r["id"] for r in records if r["type"] == "servers" and r["kind"] == "deleted"}
        if any(sid in attached_to for attached_to in attached.values() for sid in gone):
            break
    assert gone
    kinds = {(r["type"], r["id"]): r["kind"] for r in records}
    for port_id, server_id in ports_of.items():
        if server_id in gone:
            assert kinds[("ports", port_id)] == "deleted"
    touched = [vid for vid, servers in attached.items() if servers & gone]
    assert touched
    for vid in touched:
        assert kinds[("volumes", vid)] in ("updated", "deleted")
        volume = est.get("volumes", vid)
        assert volume is None or not any(a["server_id"] in gone for a in volume["attachments"])


def _world(est: Estate) -> World:
    return World.build(est, Tracker(est))


def test_rule_added_reports_the_group_too() -> None:
    est = generate(seed=42, size="tiny")
    w = _world(est)
    for _ in range(20):
        evolution_network.add_rule(w)
    records = w.track.records()
    rules = [r for r in records if r["type"] == "security_group_rules"]
    groups = {r["id"]: r for r in records if r["type"] == "security_groups"}
    assert rules and all(r["kind"] == "created" for r in rules)
    for rule in rules:
        group = groups[est.get("security_group_rules", rule["id"])["security_group_id"]]
        assert group["kind"] == "updated"
        assert {"security_group_rules", "revision_number", "updated_at"} <= set(group["fields"])


@pytest.mark.parametrize(
    "operation,kind,fields",
    [
        (evolution_network.change_mac, "ports", ["mac_address", "revision_number", "updated_at"]),
        (evolution_network.change_gateway, "subnets", ["gateway_ip", "revision_number", "updated_at"]),
        (evolution_network.toggle_shared, "networks", ["revision_number", "shared", "updated_at"]),
    ],
)
def test_critical_changes(operation, kind: str, fields: list[str]) -> None:
    est = generate(seed=42, size="tiny")
    est.clock += timedelta(hours=1)
    w = _world(est)
    operation(w)
    records = w.track.records()
    assert [(r["type"], r["kind"], r["fields"]) for r in records] == [(kind, "updated", fields)]
    assert records[0]["at"] == iso(EPOCH + timedelta(hours=1))


def test_mutate_sets_fields_and_stamps_updated() -> None:
    est = generate(seed=42, size="tiny")
    est.clock += timedelta(minutes=5)
    server = next(iter(est.all("servers")))
    obj = mutate(est, "servers", server["id"], {"name": "renamed", "metadata": {"owner": "x"}})
    assert obj["name"] == "renamed" and obj["metadata"] == {"owner": "x"}
    assert obj["updated"] == iso(est.clock)
    network = next(iter(est.all("networks")))
    revision = network["revision_number"]
    mutate(est, "networks", network["id"], {"shared": True})
    assert network["shared"] is True and network["revision_number"] == revision + 1
    explicit = mutate(
        est, "volumes", next(iter(est.objects["volumes"])), {"updated_at": "2026-01-01T00:00:00.000000"}
    )
    assert explicit["updated_at"] == "2026-01-01T00:00:00.000000"
    with pytest.raises(KeyError):
        mutate(est, "servers", "no-such-id", {"name": "x"})
    with pytest.raises(UnknownObject):
        mutate(est, "widgets", "x", {"name": "x"})


def test_mutating_a_rule_keeps_its_group_in_step() -> None:
    est = generate(seed=42, size="tiny")
    rule = next(r for r in est.all("security_group_rules") if r["port_range_min"] == 22)
    mutate(est, "security_group_rules", rule["id"], {"remote_ip_prefix": "0.0.0.0/0"})
    group = est.get("security_groups", rule["security_group_id"])
    (embedded,) = [r for r in group["security_group_rules"] if r["id"] == rule["id"]]
    assert embedded["remote_ip_prefix"] == "0.0.0.0/0"
    assert {
        k: v for k, v in embedded.items() if k not in ("standard_attr_id", "tags", "belongs_to_default_sg")
    } == {k: v for k, v in public(rule).items() if k != "belongs_to_default_sg"}


def test_delete_server_goes_through_nova_semantics() -> None:
    est = generate(seed=42, size="small")
    server = next(
        s
        for s in est.all("servers")
        if s["status"] == "ACTIVE"
        and any(
            v["attachments"] and v["attachments"][0]["server_id"] == s["id"]
            for v in est.all("volumes", s["_region"])
        )
    )
    ports = [p["id"] for p in est.all("ports") if p["device_id"] == server["id"]]
    before = dump(est)
    records = delete(est, "servers", server["id"])
    assert reported(records) == expected_changes(before, dump(est))
    kinds = {(r["type"], r["kind"]) for r in records}
    assert ("servers", "deleted") in kinds
    assert ("volumes", "updated") in kinds or ("volumes", "deleted") in kinds
    assert {r["id"] for r in records if r["type"] == "ports" and r["kind"] == "deleted"} == set(ports)
    for volume in est.all("volumes"):
        assert all(a["server_id"] != server["id"] for a in volume["attachments"])
    check_integrity(est)
    with pytest.raises(KeyError):
        delete(est, "servers", server["id"])


@pytest.mark.parametrize("kind", ["volumes", "security_group_rules", "floating_ips", "snapshots", "ports"])
def test_delete_other_types_reports_exactly(kind: str) -> None:
    est = generate(seed=42, size="small")
    candidates = list(est.all(kind))
    if kind == "ports":
        candidates = [p for p in candidates if p["device_owner"] == ""]
    obj = candidates[len(candidates) // 2]
    before = dump(est)
    records = delete(est, kind, obj["id"])
    assert reported(records) == expected_changes(before, dump(est))
    assert (kind, obj["id"]) in {(r["type"], r["id"]) for r in records if r["kind"] == "deleted"}
    check_integrity(est)
