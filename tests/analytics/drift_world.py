"""A small drift history built against a real simulated cloud, shared by the drift test modules.

Round A: one mutation per built-in rule, each on its own object, then one collect: every rule must fire once.
Round B: servers.flavor disabled, ports.status re-graded critical, an ignore file (glob + `!` re-include),
a first assignment, a port status change, and a deleted server; then one collect.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pf9lib.analytics.drift_events import evaluate_run
from pf9lib.analytics.drift_rules import change_rules
from pf9lib.collect.inventory import collect_cloud
from pf9lib.config import load_settings
from pf9lib.store.reader import open_store
from tests.helpers.roles import give_role


def _flip(value: Any, a: str, b: str) -> str:
    return b if value == a else a


def _new_uuid() -> str:
    return str(uuid.uuid4())


# rule id → (type, wire field, normalized column, row filter, new column value from (row, world), wire value)
# The new value is stated in column terms, so the expected event text does not depend on the engine.
def _rule_plans(servers, flavors, hypervisors, volume_types) -> dict[str, tuple]:
    def other_flavor(row, raw):
        name = next(f for f in flavors if f != row["flavor_name"])
        return name, {**raw["flavor"], "original_name": name}

    def other_hv(row, raw):
        name = next(h for h in hypervisors if h != row["hypervisor_hostname"])
        return name, name

    def other_server_attachment(row, raw):
        target = next(s for s in servers if s != row["attached_server_id"])
        return target, [{**raw["attachments"][0], "server_id": target}]

    def other_volume_type(row, raw):
        name = next(t for t in volume_types if t != row["volume_type"])
        return name, name

    def same(fn):  # the column value is the wire value
        return lambda row, raw: (lambda v: (v, v))(fn(row))

    def not_(col):
        return same(lambda r: not bool(r[col]))

    def has(*cols):
        return lambda r: all(r[c] not in (None, "") for c in cols)

    anything = has("id")
    return {
        "servers.flavor": ("servers", "flavor", "flavor_name", has("flavor_name"), other_flavor),
        "servers.status": (
            "servers",
            "status",
            "status",
            has("status"),
            same(lambda r: _flip(r["status"], "PAUSED", "ACTIVE")),
        ),
        "servers.vm_state": (
            "servers",
            "OS-EXT-STS:vm_state",
            "vm_state",
            has("vm_state"),
            same(lambda r: _flip(r["vm_state"], "paused", "active")),
        ),
        "servers.hypervisor_hostname": (
            "servers",
            "OS-EXT-SRV-ATTR:hypervisor_hostname",
            "hypervisor_hostname",
            has("hypervisor_hostname"),
            other_hv,
        ),
        "servers.host_id": ("servers", "hostId", "host_id", has("host_id"), same(lambda r: "f00d" * 14)),
        "volumes.status": (
            "volumes",
            "status",
            "status",
            has("status"),
            same(lambda r: _flip(r["status"], "error", "available")),
        ),
        "volumes.attached_server": (
            "volumes",
            "attachments",
            "attached_server_id",
            has("attached_server_id"),
            other_server_attachment,
        ),
        "volumes.detached": (
            "volumes",
            "attachments",
            "attached_server_id",
            has("attached_server_id"),
            lambda row, raw: (None, []),
        ),
        "volumes.size": (
            "volumes",
            "size",
            "size_gb",
            has("size_gb"),
            same(lambda r: int(r["size_gb"]) + 10),
        ),
        "volumes.volume_type": (
            "volumes",
            "volume_type",
            "volume_type",
            has("volume_type"),
            other_volume_type,
        ),
        "networks.status": (
            "networks",
            "status",
            "status",
            has("status"),
            same(lambda r: _flip(r["status"], "DOWN", "ACTIVE")),
        ),
        "networks.admin_state_up": (
            "networks",
            "admin_state_up",
            "admin_state_up",
            anything,
            not_("admin_state_up"),
        ),
        "networks.shared": ("networks", "shared", "shared", anything, not_("shared")),
        "ports.device_id": ("ports", "device_id", "device_id", has("device_id"), same(lambda r: _new_uuid())),
        "ports.detached": ("ports", "device_id", "device_id", has("device_id"), lambda row, raw: ("", "")),
        "ports.status": (
            "ports",
            "status",
            "status",
            has("status"),
            same(lambda r: _flip(r["status"], "ACTIVE", "DOWN")),
        ),
        "ports.mac_address": (
            "ports",
            "mac_address",
            "mac_address",
            has("mac_address"),
            same(lambda r: "fa:16:3e:00:00:aa"),
        ),
        "floating_ips.port_id": (
            "floating_ips",
            "port_id",
            "port_id",
            has("port_id"),
            same(lambda r: _new_uuid()),
        ),
        "floating_ips.released": (
            "floating_ips",
            "port_id",
            "port_id",
            has("port_id"),
            lambda row, raw: (None, None),
        ),
        "floating_ips.router_id": (
            "floating_ips",
            "router_id",
            "router_id",
            has("router_id"),
            same(lambda r: _new_uuid()),
        ),
        "floating_ips.status": (
            "floating_ips",
            "status",
            "status",
            has("status"),
            same(lambda r: _flip(r["status"], "ACTIVE", "DOWN")),
        ),
        "security_groups.description": (
            "security_groups",
            "description",
            "description",
            has("description"),
            same(lambda r: "changed by the drift test"),
        ),
        "snapshots.status": (
            "snapshots",
            "status",
            "status",
            has("status"),
            same(lambda r: _flip(r["status"], "error", "available")),
        ),
        "snapshots.size": (
            "snapshots",
            "size",
            "size_gb",
            has("size_gb"),
            same(lambda r: int(r["size_gb"]) + 1),
        ),
        "subnets.gateway_ip": (
            "subnets",
            "gateway_ip",
            "gateway_ip",
            has("gateway_ip", "cidr"),
            same(lambda r: "192.0.2.254"),
        ),
        "subnets.cidr": ("subnets", "cidr", "cidr", has("cidr"), same(lambda r: "198.51.100.0/24")),
        "subnets.enable_dhcp": ("subnets", "enable_dhcp", "enable_dhcp", anything, not_("enable_dhcp")),
    }


def text(value: Any) -> str | None:
    """How an event writes a value (independent of the engine's own helper)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class DriftWorld:
    data_dir: Path
    sim: Any
    runs: list[str] = field(default_factory=list)
    # rule id → {"id", "old", "new", "severity"} for round A
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)
    events_a: Any = None
    events_b: Any = None
    round_b: dict[str, Any] = field(default_factory=dict)

    def collect(self) -> str:
        settings = load_settings(cloud=self.sim.cloud_name, data_dir=str(self.data_dir), env=self.sim.env())
        result = collect_cloud(settings, self.data_dir)
        assert result.status == "success", result.stats
        self.runs.append(result.run_id)
        return result.run_id


def build_world(sim, data_dir: Path) -> DriftWorld:
    from pf9lib.analytics.drift_rules import BUILTIN_RULES

    world = DriftWorld(data_dir, sim)
    world.collect()
    store = open_store(data_dir)
    frames = {t: store.sql(f'SELECT * FROM "{t}" ORDER BY id') for t in {r[1] for r in BUILTIN_RULES}}
    plans = _rule_plans(
        servers=frames["servers"]["id"].tolist(),
        flavors=store.sql("SELECT name FROM flavors ORDER BY name")["name"].tolist(),
        hypervisors=store.sql("SELECT name FROM hypervisors ORDER BY name")["name"].tolist(),
        volume_types=store.sql("SELECT name FROM volume_types ORDER BY name")["name"].tolist(),
    )
    used: set[str] = set()
    severity = {r[0]: r[3] for r in BUILTIN_RULES}
    # Most constrained rules first, so each gets an object whose old value is set.
    order = sorted(plans, key=lambda rid: sum(plans[rid][3](r) for r in _records(frames[plans[rid][0]])))
    for rule_id in order:
        kind, wire, column, wanted, make = plans[rule_id]
        row = next((r for r in _records(frames[kind]) if r["id"] not in used and wanted(r)), None)
        assert row is not None, f"the tiny estate has no free {kind} for {rule_id}"
        used.add(row["id"])
        raw = sim.client.get_object(kind, row["id"])
        new_value, wire_value = make(row, raw)
        sim.mutate(kind, row["id"], {wire: wire_value})
        world.expected[rule_id] = {
            "id": row["id"],
            "old": text(row[column]),
            "new": text(new_value),
            "severity": severity[rule_id],
        }
    world.collect()
    world.events_a = evaluate_run(data_dir, world.runs[-1])
    _round_b(world, frames, used)
    return world


def _records(df) -> list[dict[str, Any]]:
    return [{k: (None if _missing(v) else v) for k, v in r.items()} for r in df.to_dict("records")]


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(value != value)  # NaN / NaT
    except (TypeError, ValueError):
        return False


def _round_b(world: DriftWorld, frames: dict, used: set[str]) -> None:
    sim, store = world.sim, open_store(world.data_dir)
    free = {t: [r for r in _records(df) if r["id"] not in used] for t, df in frames.items()}
    give_role(world.data_dir, "test-operator", "admin")
    change_rules(store, ["servers.flavor"], "disable", actor="test-operator", note="resizes are planned")
    change_rules(store, ["ports.status"], "grade", "critical", actor="test-operator", note="ports matter")
    servers = free["servers"]
    flavor_server, deleted_server = servers[0], servers[1]
    attached = set(store.sql("SELECT id FROM ports WHERE device_id = ?", [deleted_server["id"]])["id"])
    ports = [p for p in free["ports"] if p["mac_address"] and p["id"] not in attached]
    ignored_port, watched_port, status_port = ports[0], ports[1], ports[2]
    unattached = next(r for r in free["volumes"] if not r["attached_server_id"])
    (world.data_dir / "drift").mkdir(exist_ok=True)
    (world.data_dir / "drift" / "ignore").write_text(
        "# known noise\n"
        "ports.*.mac_address\n"
        f"!ports.{watched_port['id']}.mac_address\n"
        "subnets.does-not-exist.cidr   \n"
    )
    flavor = next(f for f in frames["servers"]["flavor_name"] if f != flavor_server["flavor_name"])
    raw = sim.client.get_object("servers", flavor_server["id"])
    sim.mutate("servers", flavor_server["id"], {"flavor": {**raw["flavor"], "original_name": flavor}})
    for port in (ignored_port, watched_port):
        sim.mutate("ports", port["id"], {"mac_address": "fa:16:3e:00:00:bb"})
    new_status = _flip(status_port["status"], "ACTIVE", "DOWN")
    sim.mutate("ports", status_port["id"], {"status": new_status})
    volume_raw = sim.client.get_object("volumes", unattached["id"])
    sim.mutate(
        "volumes",
        unattached["id"],
        {
            "status": volume_raw["status"],
            "attachments": [
                {"server_id": flavor_server["id"], "volume_id": unattached["id"], "device": "/dev/vdz"}
            ],
        },
    )
    sim.delete("servers", deleted_server["id"])
    world.collect()
    world.events_b = evaluate_run(world.data_dir, world.runs[-1])
    world.round_b = {
        "flavor_server": flavor_server["id"],
        "deleted_server": deleted_server,
        "deleted_ports": attached,
        "ignored_port": ignored_port["id"],
        "watched_port": watched_port["id"],
        "status_port": (status_port["id"], status_port["status"], new_status),
        "first_assignment_volume": unattached["id"],
    }
