"""How closely the simulated cloud answers like a real one: the same calls on both, bodies reduced to shapes.

A body's *shape* is, per listing, every key path an object carries (recursively; list elements merged as
`[]`, the keys of data maps such as `metadata` or `addresses` merged as `*`) with the JSON types seen there,
plus the values of enumerated fields (`status`, `OS-EXT-STS:*`, `device_owner`, `direction` …). Real bodies
are committed under tests/realos/fixtures/ (recorded by the realos tier), so the comparison runs without it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
REAL_BODIES = FIXTURES / "real"


@dataclass(frozen=True)
class Call:
    """One GET the workbench (or collect_samples.py) makes, relative to the service's catalog endpoint."""

    name: str  # fixture file stem
    service: str  # catalog service type
    path: str  # may hold {project_id}: a non-admin project with resources
    version: str | None = None  # microversion, e.g. "2.100"

    @property
    def family(self) -> str:
        """The call without its microversion: where enums and documented exceptions are keyed."""
        return re.sub(r"_\d+\.\d+$", "", self.name)


def _nova(name: str, path: str, *versions: str | None) -> list[Call]:
    return [Call(f"{name}_{v}" if v else name, "compute", path, v) for v in versions]


# The workbench's own listings (pf9lib/resources, at its microversions) and the other calls collect_samples.py
# records, at the microversions both make them.
CALLS: tuple[Call, ...] = (
    Call("keystone_domains", "identity", "/domains"),
    Call("keystone_projects", "identity", "/projects"),
    Call("keystone_users", "identity", "/users"),
    Call("keystone_groups", "identity", "/groups"),
    Call("keystone_roles", "identity", "/roles"),
    Call("keystone_role_assignments", "identity", "/role_assignments?include_names=true"),
    Call("keystone_services", "identity", "/services"),
    Call("keystone_endpoints", "identity", "/endpoints"),
    *_nova("nova_servers_detail_all", "/servers/detail?all_tenants=1", "2.1", "2.79", "2.96", "2.100"),
    *_nova("nova_flavors_detail", "/flavors/detail?is_public=None", "2.96"),
    *_nova("nova_hypervisors_detail", "/os-hypervisors/detail", "2.79", "2.87", "2.88"),
    *_nova("nova_hypervisors_statistics", "/os-hypervisors/statistics", "2.79"),
    *_nova("nova_keypairs", "/os-keypairs", "2.96"),
    *_nova("nova_server_groups", "/os-server-groups?all_projects=true", "2.96"),
    *_nova("nova_aggregates", "/os-aggregates", "2.96"),
    *_nova("nova_availability_zones_detail", "/os-availability-zone/detail", None),
    *_nova("nova_os_services", "/os-services", "2.79"),
    *_nova("nova_quota_sets_detail", "/os-quota-sets/{project_id}/detail", "2.96"),
    *_nova("nova_limits", "/limits?tenant_id={project_id}", "2.79"),
    *_nova("nova_simple_tenant_usage", "/os-simple-tenant-usage?detailed=1", "2.79"),
    Call("cinder_volumes_detail_all", "block-storage", "/volumes/detail?all_tenants=1", "3.70"),
    Call("cinder_snapshots_detail_all", "block-storage", "/snapshots/detail?all_tenants=1", "3.70"),
    Call("cinder_types", "block-storage", "/types?is_public=None"),
    Call("cinder_pools_detail", "block-storage", "/scheduler-stats/get_pools?detail=true", "3.64"),
    Call("cinder_services", "block-storage", "/os-services", "3.64"),
    Call("cinder_quota_sets_usage", "block-storage", "/os-quota-sets/{project_id}?usage=true"),
    Call("cinder_attachments_all", "block-storage", "/attachments/detail?all_tenants=1", "3.64"),
    Call("neutron_networks", "network", "/v2.0/networks"),
    Call("neutron_subnets", "network", "/v2.0/subnets"),
    Call("neutron_ports", "network", "/v2.0/ports"),
    Call("neutron_routers", "network", "/v2.0/routers"),
    Call("neutron_floatingips", "network", "/v2.0/floatingips"),
    Call("neutron_security_groups", "network", "/v2.0/security-groups"),
    Call("neutron_security_group_rules", "network", "/v2.0/security-group-rules"),
    Call("neutron_quota_details", "network", "/v2.0/quotas/{project_id}/details"),
    Call("glance_images", "image", "/v2/images?limit=1000"),
)
SERVICE_OF_PREFIX = {"keystone": "keystone", "nova": "nova", "cinder": "cinder", "neutron": "neutron"}


def service_name(call_name: str) -> str:
    return call_name.split("_", 1)[0]


# Maps whose keys are data (names, ids, user properties), not schema: their keys merge into `*`.
DATA_MAPS = frozenset(
    {
        "addresses",
        "metadata",
        "extra_specs",
        "volume_image_metadata",
        "properties",
        "hosts",  # availability zone → host → service
    }
)
_DATA_MAP_LEVELS = {"hosts": 2}  # `hosts` is a map of maps: host name, then service binary


# -------------------------------------------------------------------------------------------- shapes
@dataclass
class Shape:
    """What one listing's objects look like: key path → JSON types; enum key → values; per-object key sets."""

    types: dict[str, set[str]]
    enums: dict[str, set[str]]
    objects: list[frozenset[str]]
    statuses: list[str | None]  # each object's `status` (None when it has none)

    @property
    def keys(self) -> set[str]:
        return set(self.types)

    def always(self, status: str | None = None) -> set[str]:
        """Keys every object of the listing (with that `status`, when given) carries."""
        objs = [o for o, s in zip(self.objects, self.statuses, strict=True) if status in (None, s)]
        return set.intersection(*map(set, objs)) if objs else set()

    def ever(self, status: str) -> set[str]:
        """Keys some object with that `status` carries."""
        return set().union(*(o for o, s in zip(self.objects, self.statuses, strict=True) if s == status))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "list", dict: "object"}[type(value)]


def _walk(value: Any, path: str, out: dict[str, set[str]], data_levels: int = 0) -> None:
    """Record every key path below `value`; `data_levels` > 0: this dict's keys are data (merged as `*`)."""
    if isinstance(value, dict):
        for key, child in value.items():
            name = "*" if data_levels else key
            child_path = f"{path}.{name}" if path else name
            out.setdefault(child_path, set()).add(_json_type(child))
            if data_levels:
                levels = data_levels - 1
            else:
                levels = _DATA_MAP_LEVELS.get(key, 1) if key in DATA_MAPS else 0
            _walk(child, child_path, out, levels)
    elif isinstance(value, list):
        for child in value:
            _walk(child, f"{path}[]", out, 0)


def listing_of(body: Any) -> tuple[str, list[Any]]:
    """The objects a body is about: the list under its main key, or the one object (quota_set, limits)."""
    if not isinstance(body, dict):
        return "", [body]
    lists = [k for k, v in body.items() if isinstance(v, list) and not k.endswith("_links")]
    main = next((k for k in lists if k not in ("links",)), None)
    if main is not None:
        return main, body[main]
    objs = [k for k, v in body.items() if isinstance(v, dict) and k != "links"]
    return (objs[0], [body[objs[0]]]) if len(objs) == 1 else ("", [body])


# Enumerated fields: (listing key, key path) → the values the API reference allows. Both the real stack and
# the simulated cloud must stay within them; a value outside is either a simulator bug or a gap in this table
# (then the real stack shows it and the table grows).
_SERVER_STATUS = {
    "ACTIVE", "BUILD", "DELETED", "ERROR", "HARD_REBOOT", "MIGRATING", "PASSWORD", "PAUSED", "REBOOT",
    "REBUILD", "RESCUE", "RESIZE", "REVERT_RESIZE", "SHELVED", "SHELVED_OFFLOADED", "SHUTOFF", "SOFT_DELETED",
    "SUSPENDED", "UNKNOWN", "VERIFY_RESIZE",
}  # fmt: skip
_VM_STATES = {
    "active", "building", "paused", "suspended", "stopped", "rescued", "resized", "soft-delete", "deleted",
    "error", "shelved", "shelved_offloaded",
}  # fmt: skip
_TASK_STATES = {
    None, "scheduling", "block_device_mapping", "networking", "spawning", "image_snapshot",
    "image_snapshot_pending", "image_pending_upload", "image_uploading", "image_backup", "updating_password",
    "resize_prep", "resize_migrating", "resize_migrated", "resize_finish", "resize_reverting",
    "resize_confirming", "rebooting", "reboot_pending", "reboot_started", "rebooting_hard",
    "reboot_pending_hard", "reboot_started_hard", "pausing", "unpausing", "suspending", "resuming",
    "powering-off", "powering-on", "rescuing", "unrescuing", "rebuilding", "rebuild_block_device_mapping",
    "rebuild_spawning", "migrating", "deleting", "soft-deleting", "restoring", "shelving",
    "shelving_image_pending_upload", "shelving_image_uploading", "shelving_offloading", "unshelving",
}  # fmt: skip
_VOLUME_STATUS = {
    "creating", "available", "reserved", "attaching", "detaching", "in-use", "maintenance", "deleting",
    "awaiting-transfer", "error", "error_deleting", "backing-up", "restoring-backup", "error_backing-up",
    "error_restoring", "error_extending", "downloading", "uploading", "retyping", "extending",
}  # fmt: skip
_SNAPSHOT_STATUS = {"creating", "available", "backing-up", "deleting", "error", "deleted", "unmanaging",
                    "restoring", "error_deleting"}  # fmt: skip
_DEVICE_OWNER = re.compile(
    r"^$|^compute:[\w.-]+$|^network:(router_interface|router_gateway|router_interface_distributed|"
    r"router_centralized_snat|floatingip|dhcp|ha_router_replicated_interface|distributed|"
    r"floatingip_agent_gateway|local_ip|portforwarding)$|^baremetal:none$"
)
ENUMS: dict[tuple[str, str], set[Any] | re.Pattern[str]] = {
    ("servers", "status"): _SERVER_STATUS,
    ("servers", "OS-EXT-STS:vm_state"): _VM_STATES,
    ("servers", "OS-EXT-STS:task_state"): _TASK_STATES,
    ("servers", "OS-EXT-STS:power_state"): {0, 1, 3, 4, 6, 7},
    ("servers", "OS-DCF:diskConfig"): {"AUTO", "MANUAL"},
    ("servers", "addresses.*[].OS-EXT-IPS:type"): {"fixed", "floating"},
    ("servers", "host_status"): {"UP", "DOWN", "MAINTENANCE", "UNKNOWN", ""},
    ("hypervisors", "state"): {"up", "down"},
    ("hypervisors", "status"): {"enabled", "disabled"},
    ("services", "state"): {"up", "down"},
    ("services", "status"): {"enabled", "disabled"},
    ("volumes", "status"): _VOLUME_STATUS,
    ("volumes", "attach_status"): {
        "attached",
        "detached",
        "attaching",
        "detaching",
        "reserved",
        "error_attaching",
        "error_detaching",
        "deleted",
    },  # fmt: skip
    ("volumes", "replication_status"): {
        None,
        "disabled",
        "enabled",
        "error",
        "not-capable",
        "failed-over",
        "failing-over",
    },  # fmt: skip
    ("volumes", "migration_status"): {None, "migrating", "error", "success", "completing", "starting"},
    ("snapshots", "status"): _SNAPSHOT_STATUS,
    ("attachments", "status"): {
        "attached",
        "attaching",
        "detached",
        "reserved",
        "error_attaching",
        "error_detaching",
        "deleted",
    },  # fmt: skip
    ("attachments", "attach_mode"): {"rw", "ro", "null", None},
    ("networks", "status"): {"ACTIVE", "DOWN", "BUILD", "ERROR"},
    ("subnets", "ipv6_address_mode"): {None, "slaac", "dhcpv6-stateful", "dhcpv6-stateless"},
    ("ports", "status"): {"ACTIVE", "DOWN", "BUILD", "ERROR", "N/A"},
    ("ports", "device_owner"): _DEVICE_OWNER,
    ("ports", "binding:vif_type"): {
        "ovs",
        "unbound",
        "binding_failed",
        "bridge",
        "other",
        "vhostuser",
        "hw_veb",
        "hostdev_physical",
        "distributed",
        "tap",
        "macvtap",
    },  # fmt: skip
    ("ports", "binding:vnic_type"): {
        "normal",
        "direct",
        "macvtap",
        "baremetal",
        "direct-physical",
        "virtio-forwarder",
        "smart-nic",
        "remote-managed",
        "vdpa",
    },  # fmt: skip
    ("routers", "status"): {"ACTIVE", "DOWN", "BUILD", "ERROR"},
    ("floatingips", "status"): {"ACTIVE", "DOWN", "ERROR"},
    ("security_group_rules", "direction"): {"ingress", "egress"},
    ("security_group_rules", "ethertype"): {"IPv4", "IPv6"},
    ("security_group_rules", "protocol"): {None, "tcp", "udp", "icmp", "ipv6-icmp", "icmpv6", "any"},
    ("security_groups", "security_group_rules[].direction"): {"ingress", "egress"},
    ("security_groups", "security_group_rules[].ethertype"): {"IPv4", "IPv6"},
    ("images", "status"): {
        "queued",
        "saving",
        "uploading",
        "importing",
        "active",
        "deactivated",
        "killed",
        "deleted",
        "pending_delete",
    },  # fmt: skip
    ("images", "visibility"): {"public", "private", "shared", "community"},
    ("images", "disk_format"): {
        None,
        "ami",
        "ari",
        "aki",
        "vhd",
        "vhdx",
        "vmdk",
        "raw",
        "qcow2",
        "vdi",
        "iso",
        "ploop",
    },  # fmt: skip
    ("images", "container_format"): {None, "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"},
}


def shape_of(body: Any) -> Shape:
    key, objects = listing_of(body)
    types: dict[str, set[str]] = {}
    per_object: list[frozenset[str]] = []
    statuses: list[str | None] = []
    enums: dict[str, set[str]] = {}
    for obj in objects:
        statuses.append(obj.get("status") if isinstance(obj, dict) else None)
        one: dict[str, set[str]] = {}
        _walk(obj, "", one)
        per_object.append(frozenset(one))
        for path, kinds in one.items():
            types.setdefault(path, set()).update(kinds)
        for (listing, path), _allowed in ENUMS.items():
            if listing == key:
                for value in _values_at(obj, path):
                    enums.setdefault(path, set()).add(json.dumps(value))
    return Shape(types, enums, per_object, statuses)


def _values_at(obj: Any, path: str) -> Iterable[Any]:
    """Every value at a key path such as `addresses.*[].OS-EXT-IPS:type` (absent keys give nothing)."""
    current = [obj]
    for part in re.split(r"\.(?![^\[]*\])", path):
        name, lists = part.rstrip("[]"), part.count("[]")
        nxt: list[Any] = []
        for item in current:
            if not isinstance(item, dict):
                continue
            children = list(item.values()) if name == "*" else [item[name]] if name in item else []
            for child in children:
                for _ in range(lists):
                    child = child if isinstance(child, list) else []
                nxt.extend(child if lists else [child])
        current = nxt
    return current


def enum_violations(listing: str, shape: Shape) -> list[str]:
    """Enum values a shape shows that the API reference does not allow."""
    out = []
    for (key, path), allowed in ENUMS.items():
        if key != listing:
            continue
        for text in sorted(shape.enums.get(path, ())):
            value = json.loads(text)
            ok = (
                bool(allowed.match(value)) if isinstance(allowed, re.Pattern) and isinstance(value, str)
                else not isinstance(allowed, re.Pattern) and value in allowed
            )  # fmt: skip
            if not ok:
                out.append(f"{listing}.{path} = {value!r}")
    return out


# -------------------------------------------------------------------------------------------- fixtures
def load_real(name: str) -> Any:
    return json.loads((REAL_BODIES / f"{name}.json").read_text())


def trim(body: Any, max_objects: int = 12, max_string: int = 120) -> Any:
    """A small body with the same shape: objects chosen greedily until every key path, type and enum value of
    the listing is covered, and every top-level key some object lacks (per status too) is lacking in one of
    them; long strings are cut."""
    key, objects = listing_of(body)
    if key and isinstance(body.get(key), list) and len(objects) > 1:
        full = shape_of({key: objects})
        top = {k for k in full.keys if "." not in k and "[" not in k}
        chosen: list[Any] = []
        seen: set[tuple] = set()
        for obj in objects:
            one = shape_of({key: [obj]})
            status = one.statuses[0]
            features = {("type", p, t) for p, ts in one.types.items() for t in ts}
            features |= {("enum", p, v) for p, vs in one.enums.items() for v in vs}
            features |= {("absent", k, s) for k in top - one.keys for s in (None, status)}
            if features - seen and len(chosen) < max_objects:
                chosen.append(obj)
                seen |= features
        body = {**body, key: chosen}
    return _cut_strings(body, max_string)


def _cut_strings(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    if isinstance(value, dict):
        return {k: _cut_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_strings(v, limit) for v in value]
    return value


# -------------------------------------------------------------------------------------------- recording
def record(get: Callable[[Call], tuple[int, Any]], calls: Iterable[Call] = CALLS) -> dict[str, Any]:
    """Bodies of `calls` through `get(call) -> (status, body)`; a failed call is recorded with its status."""
    bodies: dict[str, Any] = {}
    for call in calls:
        status, body = get(call)
        bodies[call.name] = body if status == 200 else {"_status": status, "_body": body}
    return bodies


def session_getter(
    session: Any, project_id: str, region: str | None = None
) -> Callable[[Call], tuple[int, Any]]:
    """`get` for `record` through a keystoneauth session: the catalog says where each service lives."""

    def get(call: Call) -> tuple[int, Any]:
        headers = {}
        if call.version:
            kind = "compute" if call.service == "compute" else "volume"
            headers["OpenStack-API-Version"] = f"{kind} {call.version}"
        resp = session.get(
            call.path.format(project_id=project_id),
            endpoint_filter={"service_type": call.service, "interface": "public", "region_name": region},
            headers=headers,
            raise_exc=False,
        )
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, resp.text[:500]

    return get


# -------------------------------------------------------------------------------------------- comparing
@dataclass
class Comparison:
    call: Call
    real: Shape
    sim: Shape
    missing: set[str]  # real keys the simulated cloud never shows
    extra: set[str]  # simulated keys the real stack never shows
    not_always: set[str]  # keys every real object (of a status) carries but some simulated one lacks
    not_for_status: set[str]  # keys the real stack never shows at a status where the simulated cloud does
    type_mismatches: dict[str, tuple[set[str], set[str]]]  # key → (real types, simulated types)
    enum_violations: list[str]


def compare(call: Call, real_body: Any, sim_body: Any) -> Comparison:
    listing = listing_of(real_body)[0]
    real, sim = shape_of(real_body), shape_of(sim_body)
    common = real.keys & sim.keys
    mismatches = {}
    for key in sorted(common):
        real_types, sim_types = real.types[key] - {"null"}, sim.types[key] - {"null"}
        # Only values both sides show can disagree: a key null in every real object says nothing about type.
        if real_types and sim_types and not sim_types <= real_types:
            mismatches[key] = (real.types[key], sim.types[key])
    # Presence is compared for top-level keys only: below the top it follows the data (a null port_details, a
    # server without ports), not the API.
    top = {k for k in real.keys & sim.keys if "." not in k and "[" not in k}
    not_always = {k for k in real.always() & top if any(k not in obj for obj in sim.objects)}
    not_for_status = set()
    for status in {s for s in real.statuses if s is not None} & set(sim.statuses):
        not_always |= {f"{k} ({status})" for k in real.always(status) & top - sim.always(status)}
        not_for_status |= {f"{k} ({status})" for k in (sim.ever(status) - real.ever(status)) & top}
    violations = enum_violations(listing, real) + enum_violations(listing, sim)
    return Comparison(
        call,
        real,
        sim,
        real.keys - sim.keys,
        sim.keys - real.keys,
        not_always,
        not_for_status,
        mismatches,
        violations,
    )


def coverage(comparisons: Iterable[Comparison]) -> dict[str, tuple[int, int]]:
    """Per service: (real keys the simulated cloud also shows, real keys), over every call."""
    out: dict[str, tuple[int, int]] = {}
    for c in comparisons:
        have, total = out.get(service_name(c.call.name), (0, 0))
        out[service_name(c.call.name)] = (have + len(c.real.keys - c.missing), total + len(c.real.keys))
    return out


def coverage_table(cov: dict[str, tuple[int, int]]) -> str:
    rows = [f"{'service':<10}{'covered':>9}{'real keys':>11}{'%':>8}"]
    for service, (have, total) in sorted(cov.items()):
        rows.append(f"{service:<10}{have:>9}{total:>11}{100 * have / max(total, 1):>8.1f}")
    have, total = sum(h for h, _ in cov.values()), sum(t for _, t in cov.values())
    rows.append(f"{'all':<10}{have:>9}{total:>11}{100 * have / max(total, 1):>8.1f}")
    return "\n".join(rows)


# -------------------------------------------------------------------------------------------- both clouds
def record_real(stack: Any) -> dict[str, Any]:
    """The realos stack's bodies for CALLS, as admin; `{project_id}` is project demo."""
    conn = stack.connect("realos-admin")
    demo = conn.identity.find_project("demo", domain_id="default")
    return record(session_getter(conn.session, demo.id, stack.admin_rc.get("OS_REGION_NAME")))


def record_sim(sim: Any) -> dict[str, Any]:
    """A simulated cloud's bodies for CALLS, as admin in its first region; `{project_id}` is the non-admin
    project with the most servers (like demo on the real stack, it has servers, volumes and networks)."""
    conn = sim.connect()
    projects = {p.id: p.name for p in conn.identity.projects()}
    owners = [
        s.project_id for s in conn.compute.servers(all_projects=True) if projects.get(s.project_id) != "admin"
    ]
    project_id = max(set(owners), key=owners.count)
    return record(session_getter(conn.session, project_id, sim.regions[0]))


def write_real(bodies: dict[str, Any]) -> None:
    """Commit-ready fixtures: each body trimmed to the objects that carry its shape."""
    REAL_BODIES.mkdir(parents=True, exist_ok=True)
    for name, body in bodies.items():
        text = json.dumps(trim(body), indent=1, sort_keys=True, ensure_ascii=False)
        (REAL_BODIES / f"{name}.json").write_text(text + "\n")


def compare_all(real: dict[str, Any], sim: dict[str, Any], calls: Iterable[Call] = CALLS) -> list[Comparison]:
    return [compare(call, real[call.name], sim[call.name]) for call in calls]


def main() -> None:
    """Print the key coverage of a fresh tiny simulated cloud against the committed real fixtures."""
    import tempfile

    from tests.helpers.sim import start_sim

    with tempfile.TemporaryDirectory() as tmp:
        sim = start_sim(Path(tmp))
        try:
            bodies = record_sim(sim)
        finally:
            sim.process.stop()
    print(coverage_table(coverage(compare_all({c.name: load_real(c.name) for c in CALLS}, bodies))))


if __name__ == "__main__":
    main()
