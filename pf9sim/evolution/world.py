"""What one `advance` works with: the change tracker and lookup tables kept current while the estate changes.

Tracker: copy-on-first-touch. Every operation touches each object it is about to change (or delete) and
reports what it creates; at the end the state before the first touch is compared with the state now, so
repeated changes merge into one record and an object created then deleted within one advance leaves no
record.

World: the tables operations pick from and join with (servers per tenancy, ports per server, volumes per
server, snapshots per volume, hypervisor and quota usage). They are built once per advance and updated by
the operations themselves: Estate.index is rebuilt after every change, which would make a busy advance
quadratic.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

from pf9sim.state import Estate, public

NAME_FALLBACKS = ("name", "floating_ip_address", "hypervisor_hostname", "zoneName")


def snapshot_of(obj: dict[str, Any]) -> dict[str, Any]:
    """A deep, comparable copy of an object's public fields."""
    return json.loads(json.dumps(public(obj)))


def name_of(obj: dict[str, Any]) -> Any:
    for key in NAME_FALLBACKS:
        if obj.get(key) is not None:
            return obj[key]
    return None


class Tracker:
    """Records which objects an advance changed, and reports each once (see module doc)."""

    def __init__(self, est: Estate) -> None:
        self.est = est
        self.before: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.at: dict[tuple[str, str], str] = {}

    def touch(self, kind: str, obj_id: str) -> None:
        """Call before changing or deleting an object (and after creating one: created())."""
        key = (kind, obj_id)
        if key not in self.before:
            obj = self.est.get(kind, obj_id)
            self.before[key] = None if obj is None else snapshot_of(obj)
        self.at[key] = self.est.now_iso()

    def created(self, kind: str, obj_id: str) -> None:
        key = (kind, obj_id)
        if key not in self.before:
            self.before[key] = None
        self.at[key] = self.est.now_iso()

    def records(self) -> list[dict[str, Any]]:
        out = []
        for (kind, obj_id), before in self.before.items():
            obj = self.est.get(kind, obj_id)
            after = None if obj is None else snapshot_of(obj)
            if before is None and after is None:
                continue
            record: dict[str, Any] = {"type": kind, "id": obj_id, "name": name_of(after or before)}
            if before is None:
                record.update(kind="created", fields=[])
            elif after is None:
                record.update(kind="deleted", fields=[])
            else:
                fields = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
                if not fields:
                    continue
                record.update(kind="updated", fields=fields)
            record["at"] = self.at[(kind, obj_id)]
            out.append(record)
        return out


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass
class World:
    """Lookup tables for one advance (see module doc); operations keep them current."""

    est: Estate
    track: Tracker
    servers: list[str] = field(default_factory=list)  # pick pools: ids, may hold deleted ones
    volumes: list[str] = field(default_factory=list)
    manual_snaps: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    fips: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    by_tenancy: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (project, region) -> servers
    ports_of: dict[str, list[str]] = field(default_factory=dict)  # server -> port ids
    fip_of_port: dict[str, str] = field(default_factory=dict)  # port -> floating IP pointing at it
    router_of_net: dict[str, str] = field(default_factory=dict)  # network -> router with an interface on it
    vols_of: dict[str, list[str]] = field(default_factory=dict)  # server -> attached volume ids
    snaps_of: dict[str, list[str]] = field(default_factory=dict)  # volume -> snapshot ids
    host_use: dict[str, list[int]] = field(default_factory=dict)  # hypervisor hostname -> [vcpus, ram, disk]
    quota_use: dict[tuple[str, str], dict[str, int]] = field(
        default_factory=dict
    )  # (project, region) -> usage
    names: set[str] = field(default_factory=set)  # server names in use

    @property
    def rng(self) -> random.Random:
        return self.est.rng

    @classmethod
    def build(cls, est: Estate, track: Tracker) -> World:
        w = cls(est, track)
        for s in est.objects["servers"].values():
            w.add_server(s)
        for v in est.objects["volumes"].values():
            w.volumes.append(v["id"])
            w.use(v["os-vol-tenant-attr:tenant_id"], v["_region"], volumes=1, gigabytes=v["size"])
            for att in v["attachments"]:
                w.vols_of.setdefault(att["server_id"], []).append(v["id"])
        snaps_of, manual, use = w.snaps_of, w.manual_snaps, w.quota_use
        for snap in est.objects["snapshots"].values():  # add_snapshot, inlined: xl has 40k of them
            snaps_of.setdefault(snap["volume_id"], []).append(snap["id"])
            if not snap["name"].startswith("auto-"):
                manual.append(snap["id"])
            usage = use.setdefault((snap["os-extended-snapshot-attributes:project_id"], snap["_region"]), {})
            usage["snapshots"] = usage.get("snapshots", 0) + 1
            usage["gigabytes"] = usage.get("gigabytes", 0) + snap["size"]
        for p in est.objects["ports"].values():
            w.ports.append(p["id"])
            if p["device_owner"].startswith("compute:"):
                w.ports_of.setdefault(p["device_id"], []).append(p["id"])
            elif p["device_owner"] == "network:router_interface":
                w.router_of_net.setdefault(p["network_id"], p["device_id"])
        for g in est.objects["security_groups"].values():
            if g["name"] != "default":
                w.groups.append(g["id"])
        w.rules = [r["id"] for r in est.objects["security_group_rules"].values()]
        w.fips = list(est.objects["floating_ips"])
        w.fip_of_port = {f["port_id"]: f["id"] for f in est.objects["floating_ips"].values() if f["port_id"]}
        w.subnets = [s["id"] for s in est.objects["subnets"].values() if not s["router:external"]]
        w.networks = [n["id"] for n in est.objects["networks"].values() if not n["router:external"]]
        return w

    # -- bookkeeping -----------------------------------------------------------------------------
    def add_server(self, s: dict[str, Any]) -> None:
        self.servers.append(s["id"])
        self.names.add(s["name"])
        self.by_tenancy.setdefault((s["tenant_id"], s["_region"]), []).append(s["id"])
        self.place(s, +1)
        self.use(
            s["tenant_id"], s["_region"], instances=1, cores=s["flavor"]["vcpus"], ram=s["flavor"]["ram"]
        )

    def place(self, s: dict[str, Any], sign: int) -> None:
        host = s.get("OS-EXT-SRV-ATTR:hypervisor_hostname")
        if host:
            use = self.host_use.setdefault(host, [0, 0, 0])
            use[0] += sign * s["flavor"]["vcpus"]
            use[1] += sign * s["flavor"]["ram"]
            use[2] += sign * (s["flavor"]["disk"] if s.get("image") else 0)

    def add_snapshot(self, snap: dict[str, Any]) -> None:
        self.snaps_of.setdefault(snap["volume_id"], []).append(snap["id"])
        if not snap["name"].startswith("auto-"):
            self.manual_snaps.append(snap["id"])
        pid = snap["os-extended-snapshot-attributes:project_id"]
        self.use(pid, snap["_region"], snapshots=1, gigabytes=snap["size"])

    def drop_snapshot(self, snap: dict[str, Any]) -> None:
        ids = self.snaps_of.get(snap["volume_id"], [])
        if snap["id"] in ids:
            ids.remove(snap["id"])
        pid = snap["os-extended-snapshot-attributes:project_id"]
        self.use(pid, snap["_region"], snapshots=-1, gigabytes=-snap["size"])

    def use(self, project_id: str, region: str, **amounts: int) -> None:
        usage = self.quota_use.setdefault((project_id, region), {})
        for key, amount in amounts.items():
            usage[key] = usage.get(key, 0) + amount

    def room(self, project_id: str, region: str, service: str, **wanted: int) -> bool:
        """Whether the project's quota allows `wanted` more (no quota object: unlimited)."""
        quota = self.est.get("quotas", f"{region}/{service}/{project_id}")
        if quota is None:
            return True
        usage = self.quota_use.get((project_id, region), {})
        for key, amount in wanted.items():
            limit = quota["limits"].get(key, -1)
            if limit != -1 and usage.get(key, 0) + amount > limit:
                return False
        return True

    def pick(self, pool: list[str], kind: str, ok=lambda obj: True, tries: int = 25) -> dict[str, Any] | None:
        """A random live object from a pool that satisfies `ok` (None when none is found quickly)."""
        for _ in range(tries if pool else 0):
            obj = self.est.get(kind, pool[self.rng.randrange(len(pool))])
            if obj is not None and ok(obj):
                return obj
        return None

    def host_fits(self, host: dict[str, Any], vcpus: int, ram: int, disk: int) -> bool:
        if host["state"] != "up" or host["status"] != "enabled":
            return False
        use = self.host_use.get(host["hypervisor_hostname"], [0, 0, 0])
        return (
            use[0] + vcpus <= host["vcpus"]
            and use[1] + ram <= host["memory_mb"]
            and use[2] + disk <= host["local_gb"]
        )
