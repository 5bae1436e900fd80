"""Nova types: limit + marker paging with `*_links`, except the small unpaged lists."""

from __future__ import annotations

from typing import Any

from pf9lib.normalize.enrich import SERVER_COLUMNS, enrich_servers
from pf9lib.resources import Column, Resource
from pf9lib.resources.extract import TIMESTAMPS, as_int, count, g
from pf9lib.store.schema import INT, LS, TS, B, S


def _server_ips(raw: dict[str, Any]) -> list[str]:
    return [a.get("addr") for addrs in (raw.get("addresses") or {}).values() for a in addrs if a.get("addr")]


def _image_id(raw: dict[str, Any]) -> str | None:
    image = raw.get("image")
    return image.get("id") if isinstance(image, dict) else None


def _keypairs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [k.get("keypair", k) for k in objects]  # keypairs come wrapped: {"keypair": {...}}


def _zones(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # "internal" holds the control-plane services, not a placement choice for VMs.
    return [z for z in objects if z.get("zoneName") != "internal"]


HYPERVISOR_USAGE = frozenset(
    {
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
)

SERVERS = Resource(
    "servers",
    "compute",
    "/servers/detail",
    "servers",
    (
        Column("status", S, g("status")),
        Column("vm_state", S, g("OS-EXT-STS:vm_state")),
        Column("power_state", INT, g("OS-EXT-STS:power_state")),
        Column("task_state", S, g("OS-EXT-STS:task_state")),
        Column("host", S, g("OS-EXT-SRV-ATTR:host")),
        Column("hypervisor_hostname", S, g("OS-EXT-SRV-ATTR:hypervisor_hostname")),
        Column("host_id", S, g("hostId")),
        Column("user_id", S, g("user_id")),
        Column("flavor_name", S, g("flavor", "original_name")),
        Column("vcpus", INT, g("flavor", "vcpus")),
        Column("ram_mb", INT, g("flavor", "ram")),
        Column("disk_gb", INT, g("flavor", "disk")),
        Column("image_id", S, _image_id),
        Column("boot_from_volume", B, lambda r: not _image_id(r)),
        Column("availability_zone", S, g("OS-EXT-AZ:availability_zone")),
        Column("key_name", S, g("key_name")),
        Column("networks", LS, lambda r: sorted(r.get("addresses") or {})),
        Column("ip_addresses", LS, _server_ips),
        Column(
            "volume_ids",
            LS,
            lambda r: [v.get("id") for v in r.get("os-extended-volumes:volumes_attached") or []],
        ),
        Column(
            "security_groups", LS, lambda r: sorted({s.get("name") for s in r.get("security_groups") or []})
        ),
        Column("created_at", TS, g("created")),
        Column("updated_at", TS, g("updated")),
        Column("launched_at", TS, g("OS-SRV-USG:launched_at")),
    ),
    params={"all_tenants": "1"},
    microversion="2.96",
    owner=lambda raw, lookups: (raw.get("tenant_id") or None, None),
    needs=("images", "ports"),
    enrich=enrich_servers,
    enriched=SERVER_COLUMNS,
)

RESOURCES = (
    SERVERS,
    Resource(
        "hypervisors",
        "compute",
        "/os-hypervisors/detail",
        "hypervisors",
        (
            Column("state", S, g("state")),
            Column("status", S, g("status")),
            Column("host_ip", S, g("host_ip")),
            Column("hypervisor_type", S, g("hypervisor_type")),
            Column("vcpus", INT, g("vcpus")),
            Column("vcpus_used", INT, g("vcpus_used")),
            Column("memory_mb", INT, g("memory_mb")),
            Column("memory_mb_used", INT, g("memory_mb_used")),
            Column("local_gb", INT, g("local_gb")),
            Column("local_gb_used", INT, g("local_gb_used")),
            Column("running_vms", INT, g("running_vms")),
        ),
        microversion="2.87",  # 2.88 dropped the capacity fields operators need
        name_of=lambda raw: raw.get("hypervisor_hostname"),
        volatile=TIMESTAMPS | HYPERVISOR_USAGE,
    ),
    Resource(
        "flavors",
        "compute",
        "/flavors/detail",
        "flavors",
        (
            Column("vcpus", INT, g("vcpus")),
            Column("ram_mb", INT, g("ram")),
            Column("disk_gb", INT, g("disk")),
            Column("ephemeral_gb", INT, g("OS-FLV-EXT-DATA:ephemeral")),
            Column("swap_mb", INT, lambda r: as_int(r.get("swap")) or 0),
            Column("is_public", B, g("os-flavor-access:is_public")),
        ),
        params={"is_public": "None"},
        microversion="2.96",
    ),
    Resource(
        "keypairs",
        "compute",
        "/os-keypairs",
        "keypairs",
        (
            Column("user_id", S, g("user_id")),
            Column("key_type", S, g("type")),
            Column("fingerprint", S, g("fingerprint")),
        ),
        scope="per_user",
        params={"user_id": "{user_id}"},
        microversion="2.96",
        id_of=lambda raw: f"{raw.get('user_id')}/{raw.get('name')}",
        clean=_keypairs,
    ),
    Resource(
        "server_groups",
        "compute",
        "/os-server-groups",
        "server_groups",
        (
            Column("policy", S, lambda r: r.get("policy") or next(iter(r.get("policies") or []), None)),
            Column("members", LS, g("members", default=[])),
            Column("member_count", INT, count("members")),
        ),
        params={"all_projects": "true"},
        microversion="2.96",
    ),
    Resource(
        "aggregates",
        "compute",
        "/os-aggregates",
        "aggregates",
        (
            Column("availability_zone", S, g("availability_zone")),
            Column("hosts", LS, g("hosts", default=[])),
            Column("host_count", INT, count("hosts")),
        ),
        "none",
        microversion="2.96",
    ),
    Resource(
        "availability_zones",
        "compute",
        "/os-availability-zone/detail",
        "availabilityZoneInfo",
        (
            Column("available", B, g("zoneState", "available")),
            Column("host_count", INT, lambda r: len(r.get("hosts") or {})),
        ),
        "none",
        id_of=lambda raw: str(raw.get("zoneName")),
        name_of=lambda raw: raw.get("zoneName"),
        volatile=TIMESTAMPS | {"hosts"},
        clean=_zones,
    ),
)

# Quotas are per project and per service; each service's call returns one object, not a list. The collector
# turns each answer into {project_id, service, limits, usage}.
QUOTAS = Resource(
    "quotas",
    "*",
    "",
    "",
    (Column("service", S, g("service")),),
    "none",
    "per_project",
    owner=lambda raw, lookups: (raw.get("project_id") or None, None),
    id_of=lambda raw: f"{raw.get('service')}/{raw.get('project_id')}",
    name_of=lambda raw: f"{raw.get('service')} quota",
    volatile=TIMESTAMPS | {"usage"},
    calls={
        "compute": ("/os-quota-sets/{project_id}/detail", "quota_set"),
        "block-storage": ("/os-quota-sets/{project_id}?usage=true", "quota_set"),
        "network": ("/v2.0/quotas/{project_id}/details", "quota"),
    },
)
