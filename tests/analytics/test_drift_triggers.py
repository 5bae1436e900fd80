"""Every built-in rule, its field moved each way (a value to another, a value to nothing, nothing to a value),
gives exactly the events its trigger says (docs/domain.md §3). Real Parquet through the store's RunWriter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pf9lib.analytics.drift_events import evaluate_run
from pf9lib.analytics.drift_rules import BUILTIN_RULES
from pf9lib.normalize.rows import Lookups, normalize
from pf9lib.store.writer import RunWriter

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _key(key: str):
    def put(raw: dict[str, Any], value: Any) -> None:
        raw[key] = value

    return put


def _flavor(raw: dict[str, Any], value: Any) -> None:
    raw["flavor"] = {"original_name": value, "vcpus": 1, "ram": 512, "disk": 1}


def _attached(raw: dict[str, Any], value: Any) -> None:
    raw["attachments"] = [{"server_id": value, "device": "/dev/vdb"}] if value else []


# column → how the raw API object carries it, and two different values (booleans: True / False).
WIRE = {
    "flavor_name": (_flavor, "m1.small", "m1.large"),
    "status": (_key("status"), "ACTIVE", "ERROR"),
    "vm_state": (_key("OS-EXT-STS:vm_state"), "active", "error"),
    "hypervisor_hostname": (_key("OS-EXT-SRV-ATTR:hypervisor_hostname"), "hv-a", "hv-b"),
    "host_id": (_key("hostId"), "host-a", "host-b"),
    "attached_server_id": (_attached, "srv-a", "srv-b"),
    "size_gb": (_key("size"), 10, 20),
    "volume_type": (_key("volume_type"), "ssd", "hdd"),
    "admin_state_up": (_key("admin_state_up"), True, False),
    "shared": (_key("shared"), True, False),
    "device_id": (_key("device_id"), "dev-a", "dev-b"),
    "mac_address": (_key("mac_address"), "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"),
    "port_id": (_key("port_id"), "port-a", "port-b"),
    "router_id": (_key("router_id"), "router-a", "router-b"),
    "description": (_key("description"), "web tier", "db tier"),
    "gateway_ip": (_key("gateway_ip"), "10.0.0.1", "10.0.0.254"),
    "cidr": (_key("cidr"), "10.0.0.0/24", "10.1.0.0/24"),
    "enable_dhcp": (_key("enable_dhcp"), True, False),
}
EMPTY = None
CASES = [
    (kind, column, before, after, label)
    for kind, column in dict.fromkeys((r[1], r[2]) for r in BUILTIN_RULES)
    for label, (before, after) in {
        "value to another": (WIRE[column][1], WIRE[column][2]),
        "value to nothing": (WIRE[column][1], EMPTY),
        "nothing to a value": (EMPTY, WIRE[column][1]),
    }.items()
]


def should_fire(trigger: str, before: Any, after: Any) -> bool:
    """docs/domain.md §3 in the test's own words: `changed` is a value to a different value, `cleared` a
    value to nothing, `changed_or_cleared` either; nothing to a value is a first assignment, never drift."""
    if before is None or before == after:
        return False
    return {"changed": after is not None, "cleared": after is None, "changed_or_cleared": True}[trigger]


def _raw(kind: str, column: str, label: str, value: Any) -> dict[str, Any]:
    name = f"{column}-{label.replace(' ', '-')}"
    raw: dict[str, Any] = {"id": name, "name": name, "project_id": "p1", "tenant_id": "p1"}
    WIRE[column][0](raw, value)
    return raw


def test_each_field_moved_each_way_gives_exactly_the_triggered_events(tmp_path):
    kinds = sorted({c[0] for c in CASES})
    runs = []
    for n in (0, 1):  # one object per (column, move); run 0 holds the values before, run 1 after
        with RunWriter(tmp_path, "c1", ["r1"], kinds, started_at=T0 + timedelta(days=n)) as writer:
            for kind in kinds:
                raws = [
                    _raw(k, col, label, (before, after)[n])
                    for k, col, before, after, label in CASES
                    if k == kind
                ]
                writer.write_type(
                    kind, "r1", raws, True, lambda objs, kind=kind: normalize(kind, objs, Lookups())
                )
        runs.append(writer.run_id)
    events = evaluate_run(tmp_path, runs[1])
    got = {(e.type, e.object_id): [] for e in events.itertuples()}
    for e in events.itertuples():
        got[(e.type, e.object_id)].append((e.rule_id, e.severity))
    for kind, column, before, after, label in CASES:
        obj = _raw(kind, column, label, None)["id"]
        # Independent of the engine: the rules on this column, filtered by what their trigger means.
        expected = sorted(
            (r[0], r[3])
            for r in BUILTIN_RULES
            if r[1] == kind and r[2] == column and should_fire(r[5], before, after)
        )
        assert sorted(got.get((kind, obj), [])) == expected, (kind, column, label)
    assert len(events) == sum(
        1
        for k, col, b, a, _ in CASES
        for r in BUILTIN_RULES
        if r[1] == k and r[2] == col and should_fire(r[5], b, a)
    )
    # The detach is its own, quiet rule; only a re-attachment to another VM is critical.
    assert got[("volumes", "attached_server_id-value-to-another")] == [
        ("volumes.attached_server", "critical")
    ]
    assert got[("volumes", "attached_server_id-value-to-nothing")] == [("volumes.detached", "info")]
    assert ("volumes", "attached_server_id-nothing-to-a-value") not in got
