"""Typed columns per resource type: name, arrow type, and how each is read from the raw API object.

The column list of a type only grows (readers use union_by_name): workbook headers and SQL stay stable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from pf9lib.normalize.enrich import ENRICHED_COLUMNS
from pf9lib.store.schema import TS

S, B, INT, F = pa.string(), pa.bool_(), pa.int64(), pa.float64()
LS = pa.list_(pa.string())

Extract = Callable[[dict[str, Any]], Any]


def g(*path: str, default: Any = None) -> Extract:
    """Read a nested key path from the raw object."""

    def get(raw: dict[str, Any]) -> Any:
        value: Any = raw
        for key in path:
            if not isinstance(value, dict):
                return default
            value = value.get(key)
            if value is None:
                return default
        return value

    return get


def meta(key: str) -> Extract:
    return lambda raw: (raw.get("metadata") or {}).get(key)


def truthy(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "yes", "1", "on")


def as_int(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def _server_ips(raw: dict[str, Any]) -> list[str]:
    return [a.get("addr") for addrs in (raw.get("addresses") or {}).values() for a in addrs if a.get("addr")]


def _attachments(raw: dict[str, Any]) -> list[str]:
    return [a.get("server_id") for a in raw.get("attachments") or [] if a.get("server_id")]


def _image_id(raw: dict[str, Any]) -> str | None:
    image = raw.get("image")
    return image.get("id") if isinstance(image, dict) else None


def _rules(direction: str) -> Extract:
    return lambda raw: sum(
        1 for r in raw.get("security_group_rules") or [] if r.get("direction") == direction
    )


# (column, type, extractor); the enrichment columns (name, project, domain) are filled by normalize.rows.
Columns = list[tuple[str, pa.DataType, Extract]]

TYPE_SPECS: dict[str, Columns] = {
    "domains": [("enabled", B, g("enabled")), ("description", S, g("description"))],
    "projects": [
        ("enabled", B, g("enabled")),
        ("description", S, g("description")),
        ("parent_id", S, g("parent_id")),
        ("is_domain", B, g("is_domain")),
    ],
    "users": [
        ("enabled", B, g("enabled")),
        ("email", S, g("email")),
        ("default_project_id", S, g("default_project_id")),
    ],
    "groups": [("description", S, g("description"))],
    "roles": [("description", S, g("description"))],
    "role_assignments": [
        ("role_id", S, g("role", "id")),
        ("role_name", S, g("role", "name")),
        ("user_id", S, g("user", "id")),
        ("user_name", S, g("user", "name")),
        ("group_id", S, g("group", "id")),
        ("group_name", S, g("group", "name")),
        ("scope_type", S, lambda r: next(iter(r.get("scope") or {}), None)),
        ("scope_id", S, lambda r: next(iter((r.get("scope") or {}).values()), {}).get("id")),
        ("scope_name", S, lambda r: next(iter((r.get("scope") or {}).values()), {}).get("name")),
        ("inherited", B, lambda r: "OS-INHERIT:inherited_to" in (r.get("scope") or {})),
    ],
    "servers": [
        ("status", S, g("status")),
        ("vm_state", S, g("OS-EXT-STS:vm_state")),
        ("power_state", INT, g("OS-EXT-STS:power_state")),
        ("task_state", S, g("OS-EXT-STS:task_state")),
        ("host", S, g("OS-EXT-SRV-ATTR:host")),
        ("hypervisor_hostname", S, g("OS-EXT-SRV-ATTR:hypervisor_hostname")),
        ("host_id", S, g("hostId")),
        ("user_id", S, g("user_id")),
        ("flavor_name", S, g("flavor", "original_name")),
        ("vcpus", INT, g("flavor", "vcpus")),
        ("ram_mb", INT, g("flavor", "ram")),
        ("disk_gb", INT, g("flavor", "disk")),
        ("image_id", S, _image_id),
        ("boot_from_volume", B, lambda r: not _image_id(r)),
        ("availability_zone", S, g("OS-EXT-AZ:availability_zone")),
        ("key_name", S, g("key_name")),
        ("networks", LS, lambda r: sorted(r.get("addresses") or {})),
        ("ip_addresses", LS, _server_ips),
        (
            "volume_ids",
            LS,
            lambda r: [v.get("id") for v in r.get("os-extended-volumes:volumes_attached") or []],
        ),
        ("security_groups", LS, lambda r: sorted({s.get("name") for s in r.get("security_groups") or []})),
        ("created_at", TS, g("created")),
        ("updated_at", TS, g("updated")),
        ("launched_at", TS, g("OS-SRV-USG:launched_at")),
    ],
    "hypervisors": [
        ("state", S, g("state")),
        ("status", S, g("status")),
        ("host_ip", S, g("host_ip")),
        ("hypervisor_type", S, g("hypervisor_type")),
        ("vcpus", INT, g("vcpus")),
        ("vcpus_used", INT, g("vcpus_used")),
        ("memory_mb", INT, g("memory_mb")),
        ("memory_mb_used", INT, g("memory_mb_used")),
        ("local_gb", INT, g("local_gb")),
        ("local_gb_used", INT, g("local_gb_used")),
        ("running_vms", INT, g("running_vms")),
    ],
    "flavors": [
        ("vcpus", INT, g("vcpus")),
        ("ram_mb", INT, g("ram")),
        ("disk_gb", INT, g("disk")),
        ("ephemeral_gb", INT, g("OS-FLV-EXT-DATA:ephemeral")),
        ("swap_mb", INT, lambda r: as_int(r.get("swap")) or 0),
        ("is_public", B, g("os-flavor-access:is_public")),
    ],
    "keypairs": [
        ("user_id", S, g("user_id")),
        ("key_type", S, g("type")),
        ("fingerprint", S, g("fingerprint")),
    ],
    "server_groups": [
        ("policy", S, lambda r: r.get("policy") or next(iter(r.get("policies") or []), None)),
        ("members", LS, g("members", default=[])),
        ("member_count", INT, lambda r: len(r.get("members") or [])),
    ],
    "aggregates": [
        ("availability_zone", S, g("availability_zone")),
        ("hosts", LS, g("hosts", default=[])),
        ("host_count", INT, lambda r: len(r.get("hosts") or [])),
    ],
    "availability_zones": [
        ("available", B, g("zoneState", "available")),
        ("host_count", INT, lambda r: len(r.get("hosts") or {})),
    ],
    "volumes": [
        ("status", S, g("status")),
        ("size_gb", INT, g("size")),
        ("volume_type", S, g("volume_type")),
        ("bootable", B, lambda r: truthy(r.get("bootable"))),
        ("encrypted", B, g("encrypted")),
        ("multiattach", B, g("multiattach")),
        ("availability_zone", S, g("availability_zone")),
        ("attached_server_id", S, lambda r: next(iter(_attachments(r)), None)),
        ("attached_server_ids", LS, _attachments),
        ("attached_device", S, lambda r: next((a.get("device") for a in r.get("attachments") or []), None)),
        ("snapshot_id", S, g("snapshot_id")),
        ("source_volid", S, g("source_volid")),
        ("user_id", S, g("user_id")),
        ("auto_snapshot", B, lambda r: truthy(meta("auto_snapshot")(r))),
        ("snapshot_policies", S, meta("snapshot_policies")),
        ("metadata_json", S, lambda r: _json(r.get("metadata") or {})),
        ("created_at", TS, g("created_at")),
        ("updated_at", TS, g("updated_at")),
    ],
    "snapshots": [
        ("status", S, g("status")),
        ("size_gb", INT, g("size")),
        ("volume_id", S, g("volume_id")),
        ("policy", S, meta("policy")),
        ("created_by", S, meta("created_by")),
        (
            "is_automatic",
            B,
            lambda r: bool(meta("policy")(r)) or str(r.get("name") or "").startswith("auto-"),
        ),
        ("metadata_json", S, lambda r: _json(r.get("metadata") or {})),
        ("created_at", TS, g("created_at")),
        ("updated_at", TS, g("updated_at")),
    ],
    "volume_types": [("description", S, g("description")), ("is_public", B, g("is_public"))],
    "images": [
        ("status", S, g("status")),
        ("visibility", S, g("visibility")),
        ("size_bytes", INT, g("size")),
        ("disk_format", S, g("disk_format")),
        ("os_distro", S, g("os_distro")),
        ("os_version", S, lambda r: None if r.get("os_version") is None else str(r.get("os_version"))),
        ("min_disk_gb", INT, g("min_disk")),
        ("protected", B, g("protected")),
        ("created_at", TS, g("created_at")),
        ("updated_at", TS, g("updated_at")),
    ],
    "networks": [
        ("status", S, g("status")),
        ("admin_state_up", B, g("admin_state_up")),
        ("shared", B, g("shared")),
        ("external", B, g("router:external")),
        ("mtu", INT, g("mtu")),
        ("network_type", S, g("provider:network_type")),
        ("subnet_ids", LS, g("subnets", default=[])),
        ("created_at", TS, g("created_at")),
        ("updated_at", TS, g("updated_at")),
    ],
    "subnets": [
        ("network_id", S, g("network_id")),
        ("cidr", S, g("cidr")),
        ("gateway_ip", S, g("gateway_ip")),
        ("enable_dhcp", B, g("enable_dhcp")),
        ("ip_version", INT, g("ip_version")),
        ("created_at", TS, g("created_at")),
        ("updated_at", TS, g("updated_at")),
    ],
    "ports": [
        ("status", S, g("status")),
        ("network_id", S, g("network_id")),
        ("device_id", S, g("device_id")),
        ("device_owner", S, g("device_owner")),
        ("mac_address", S, g("mac_address")),
        ("ip_addresses", LS, lambda r: [f.get("ip_address") for f in r.get("fixed_ips") or []]),
        ("subnet_ids", LS, lambda r: [f.get("subnet_id") for f in r.get("fixed_ips") or []]),
        ("security_group_ids", LS, g("security_groups", default=[])),
        ("binding_host", S, g("binding:host_id")),
        ("created_at", TS, g("created_at")),
        ("updated_at", TS, g("updated_at")),
    ],
    "routers": [
        ("status", S, g("status")),
        ("admin_state_up", B, g("admin_state_up")),
        ("external_network_id", S, g("external_gateway_info", "network_id")),
        ("created_at", TS, g("created_at")),
        ("updated_at", TS, g("updated_at")),
    ],
    "floating_ips": [
        ("status", S, g("status")),
        ("floating_ip_address", S, g("floating_ip_address")),
        ("fixed_ip_address", S, g("fixed_ip_address")),
        ("floating_network_id", S, g("floating_network_id")),
        ("port_id", S, g("port_id")),
        ("router_id", S, g("router_id")),
        ("created_at", TS, g("created_at")),
        ("updated_at", TS, g("updated_at")),
    ],
    "security_groups": [
        ("description", S, g("description")),
        ("rule_count", INT, lambda r: len(r.get("security_group_rules") or [])),
        ("ingress_rules", INT, _rules("ingress")),
        ("egress_rules", INT, _rules("egress")),
        ("created_at", TS, g("created_at")),
        ("updated_at", TS, g("updated_at")),
    ],
    "security_group_rules": [
        ("security_group_id", S, g("security_group_id")),
        ("direction", S, g("direction")),
        ("ethertype", S, g("ethertype")),
        ("protocol", S, g("protocol")),
        ("port_range_min", INT, g("port_range_min")),
        ("port_range_max", INT, g("port_range_max")),
        ("remote_ip_prefix", S, g("remote_ip_prefix")),
        ("remote_group_id", S, g("remote_group_id")),
        ("created_at", TS, g("created_at")),
    ],
    "quotas": [("service", S, g("service"))],
}


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# Fields kept in history but that do not by themselves make a change (DOMAIN.md §2).
_TIMESTAMPS = frozenset({"updated_at", "updated", "revision_number"})
VOLATILE_FIELDS: dict[str, frozenset[str]] = {kind: _TIMESTAMPS for kind in TYPE_SPECS}
VOLATILE_FIELDS["hypervisors"] = _TIMESTAMPS | {
    "vcpus_used",
    "memory_mb_used",
    "local_gb_used",
    "running_vms",
    "free_ram_mb",
    "free_disk_gb",
    "current_workload",
    "disk_available_least",
    "cpu_info",
    "uptime",
}
VOLATILE_FIELDS["quotas"] = _TIMESTAMPS | {"usage"}
VOLATILE_FIELDS["availability_zones"] = _TIMESTAMPS | {"hosts"}

# What the store needs: every type's columns and types (extractors stay here).
TYPE_COLUMNS: dict[str, list[tuple[str, pa.DataType]]] = {
    kind: [(name, typ) for name, typ, _ in spec] + ENRICHED_COLUMNS.get(kind, [])
    for kind, spec in TYPE_SPECS.items()
}
