"""Cross-type enrichment of docs/domain.md §1 that a single raw object cannot give: a server's OS and ports, a
security group's attached VMs, networks and a human rule summary.

Each enricher takes the raw objects of one type and the same run's lookups and returns extra columns.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

S, INT, LS = pa.string(), pa.int64(), pa.list_(pa.string())

# The columns each enricher adds; the resource catalogue declares them with the type (pf9lib.resources).
SERVER_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("os_distro", S),
    ("os_version", S),
    ("os_source", S),
    ("port_ids", LS),
)
SECURITY_GROUP_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("attached_vm_count", INT),
    ("attached_vm_names", LS),
    ("network_ids", LS),
    ("rule_summary", S),
)

_OS_PATTERNS = [
    (re.compile(r"ubuntu[-_ ]?(\d\d\.\d\d)?", re.I), "ubuntu"),
    (re.compile(r"(?:rhel|red ?hat)[-_ ]?(\d+(?:\.\d+)?)?", re.I), "rhel"),
    (re.compile(r"windows[-_ ]?(?:server[-_ ]?)?(\d{4})?", re.I), "windows"),
    (re.compile(r"centos[-_ ]?(\d+)?", re.I), "centos"),
    (re.compile(r"debian[-_ ]?(\d+)?", re.I), "debian"),
    (re.compile(r"rocky[-_ ]?(\d+)?", re.I), "rocky"),
]
_PORT_NAMES = {
    22: "SSH",
    80: "HTTP",
    443: "HTTPS",
    3389: "RDP",
    3306: "MySQL",
    5432: "PostgreSQL",
    53: "DNS",
    6443: "Kubernetes API",
    8080: "HTTP-alt",
}


def _from_name(*names: str | None) -> tuple[str | None, str | None]:
    for name in names:
        for pattern, distro in _OS_PATTERNS:
            match = pattern.search(name or "")
            if match:
                return distro, match.group(1)
    return None, None


def server_os(raw: dict[str, Any], images: dict[str, dict[str, Any]]) -> tuple[str | None, str | None, str]:
    """OS distro and version: server metadata, then the image's properties, then name patterns."""
    meta = raw.get("metadata") or {}
    if meta.get("os_distro"):
        return meta["os_distro"], meta.get("os_version"), "server metadata"
    image_ref = raw.get("image")
    image = images.get(image_ref.get("id")) if isinstance(image_ref, dict) else None
    if image and image.get("os_distro"):
        version = image.get("os_version")
        return image["os_distro"], None if version is None else str(version), "image properties"
    distro, version = _from_name(image.get("name") if image else None, raw.get("name"))
    return distro, version, "name pattern" if distro else "unknown"


def rule_text(rule: dict[str, Any]) -> str:
    """'Allow TCP/22 (SSH) ingress from 0.0.0.0/0'."""
    protocol = (rule.get("protocol") or "any").upper()
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if low is None:
        ports = ""
    elif high in (None, low):
        ports = f"/{low}" + (f" ({_PORT_NAMES[low]})" if low in _PORT_NAMES else "")
    else:
        ports = f"/{low}-{high}"
    direction = rule.get("direction", "ingress")
    peer = rule.get("remote_ip_prefix") or (
        f"group {rule['remote_group_id'][:8]}"
        if rule.get("remote_group_id")
        else ("any" if direction == "ingress" else "anywhere")
    )
    word = "from" if direction == "ingress" else "to"
    return f"Allow {protocol}{ports} {direction} {word} {peer} ({rule.get('ethertype', 'IPv4')})"


def enrich_servers(raws: list[dict[str, Any]], lookups) -> dict[str, list[Any]]:
    oses = [server_os(raw, lookups.images) for raw in raws]
    ports_by_device = lookups.ports_by_device()
    return {
        "os_distro": [o[0] for o in oses],
        "os_version": [o[1] for o in oses],
        "os_source": [o[2] for o in oses],
        "port_ids": [[p["id"] for p in ports_by_device.get(raw.get("id"), [])] for raw in raws],
    }


def enrich_security_groups(raws: list[dict[str, Any]], lookups) -> dict[str, list[Any]]:
    vms: dict[str, set[str]] = {}
    networks: dict[str, set[str]] = {}
    for port in lookups.ports.values():
        for group_id in port.get("security_groups") or []:
            networks.setdefault(group_id, set()).add(port.get("network_id"))
            if str(port.get("device_owner", "")).startswith("compute:") and port.get("device_id"):
                vms.setdefault(group_id, set()).add(port["device_id"])
    names = {sid: (lookups.servers.get(sid) or {}).get("name") or sid for ids in vms.values() for sid in ids}
    return {
        "attached_vm_count": [len(vms.get(raw["id"], ())) for raw in raws],
        "attached_vm_names": [sorted(names[s] for s in vms.get(raw["id"], ())) for raw in raws],
        "network_ids": [sorted(n for n in networks.get(raw["id"], ()) if n) for raw in raws],
        "rule_summary": [
            "; ".join(rule_text(r) for r in raw.get("security_group_rules") or []) for raw in raws
        ],
    }
