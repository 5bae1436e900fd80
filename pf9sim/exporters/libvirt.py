"""The simulated libvirt exporter page of a hypervisor: one libvirt domain per ACTIVE server placed on it.

Default style "debian": Debian's prometheus-libvirt-exporter 0.2 (kumina) run with --libvirt.export-nova-
metadata, checked against the real binary over libvirt's test driver: every per-domain series carries domain
(instance-0000xxxx), uuid (the server id), name (the server name), flavor and project_name; block series add
source_file and target_device, interface series source_bridge and target_device. Style "tinkoff": the newer
Tinkoff/AlexZzz exporter, whose libvirt_domain_info_meta series carries instance_name, flavor, user_name,
user_uuid, project_name, project_uuid, root_type and root_uuid, and whose other series are labelled by
domain (and target_device) only.
"""

from __future__ import annotations

from typing import Any

from pf9sim.exporters.base import (
    DAY,
    MIB,
    Sample,
    find_hypervisor,
    frac,
    launched,
    now_ts,
    render,
    running_servers,
    vm_load,
    wave,
)
from pf9sim.state import Estate

DEBIAN_HELP = {
    "block_stats_read_bytes_total": "Number of bytes read from a block device, in bytes.",
    "block_stats_read_requests_total": "Number of read requests from a block device.",
    "block_stats_write_bytes_total": "Number of bytes written from a block device, in bytes.",
    "block_stats_write_requests_total": "Number of write requests from a block device.",
    "info_cpu_time_seconds_total": "Amount of CPU time used by the domain, in seconds.",
    "info_maximum_memory_bytes": "Maximum allowed memory of the domain, in bytes.",
    "info_memory_usage_bytes": "Memory usage of the domain, in bytes.",
    "info_virtual_cpus": "Number of virtual CPUs for the domain.",
    "interface_stats_receive_bytes_total": "Number of bytes received on a network interface, in bytes.",
    "interface_stats_receive_drops_total": "Number of packet receive drops on a network interface.",
    "interface_stats_receive_errors_total": "Number of packet receive errors on a network interface.",
    "interface_stats_receive_packets_total": "Number of packets received on a network interface.",
    "interface_stats_transmit_bytes_total": "Number of bytes transmitted on a network interface, in bytes.",
    "interface_stats_transmit_drops_total": "Number of packet transmit drops on a network interface.",
    "interface_stats_transmit_errors_total": "Number of packet transmit errors on a network interface.",
    "interface_stats_transmit_packets_total": "Number of packets transmitted on a network interface.",
    "state_code": "State of the domain.",
}
TINKOFF_HELP = {
    "block_stats_read_time_seconds_total": "Total time spent on reads from a block device, in seconds.",
    "block_stats_write_bytes_total": "Number of bytes written to a block device, in bytes.",
    "block_stats_write_requests_total": "Number of write requests to a block device.",
    "block_stats_write_time_seconds_total": "Total time spent on writes on a block device, in seconds",
    "block_stats_flush_requests_total": "Total flush requests from a block device.",
    "block_stats_flush_time_seconds_total": "Total time in seconds spent on cache flushing to a block device",
    "block_stats_allocation": "Offset of the highest written sector on a block device.",
    "block_stats_capacity_bytes": "Logical size in bytes of the block device\tbacking image.",
    "block_stats_physicalsize_bytes": "Physical size in bytes of the container of the backing image.",
    "block_meta": "Block device metadata info. Device name, source file, serial.",
    "info_meta": "Domain metadata",
    "info_vstate": "Virtual domain state. 0: no state, 1: the domain is running, 2: the domain is blocked on "
    "resource, 3: the domain is paused by user, 4: the domain is being shut down, 5: the domain is shut "
    "off,6: the domain is crashed, 7: the domain is suspended by guest power management",
    "interface_meta": "Interfaces metadata. Source bridge, target device, interface uuid",
}
COUNTER_SUFFIXES = ("_total",)


class _Families:
    """Collects samples per metric family (name without the libvirt_domain_ prefix)."""

    def __init__(self, help_texts: dict[str, str]) -> None:
        self.help = help_texts
        self.samples: dict[str, list[Sample]] = {}

    def add(self, name: str, labels: dict[str, str], value: float) -> None:
        self.samples.setdefault(name, []).append((labels, value))

    def families(self) -> list[tuple[str, str, str, list[Sample]]]:
        out = []
        for name, samples in self.samples.items():
            kind = "counter" if name.endswith(COUNTER_SUFFIXES) else "gauge"
            out.append((f"libvirt_domain_{name}", kind, self.help[name], samples))
        return out


def libvirt_exporter_page(estate: Estate, hypervisor_hostname: str, style: str = "debian") -> str:
    """The /metrics page of the host's libvirt exporter; KeyError for an unknown hypervisor."""
    if style not in ("debian", "tinkoff"):
        raise ValueError(f"unknown exporter style {style!r}: use 'debian' or 'tinkoff'")
    est = estate
    hyp = find_hypervisor(est, hypervisor_hostname)
    servers = running_servers(est, hyp)
    now = now_ts(est)
    disks = _disks(est, hyp, servers)
    nics = _nics(est, hyp, servers)
    fams = _Families(DEBIAN_HELP if style == "debian" else {**DEBIAN_HELP, **TINKOFF_HELP})
    for server in servers:
        start = min(now, launched(server))
        level, swing, phase = vm_load(est, server)
        vcpus = server["flavor"]["vcpus"]
        ram = server["flavor"]["ram"] * MIB
        ident = _identity(est, server, style)
        cpu_time = vcpus * wave(start, now, level, swing, DAY, phase)
        fams.add("info_cpu_time_seconds_total", ident, round(cpu_time, 9))
        fams.add("info_maximum_memory_bytes", ident, float(ram))
        fams.add("info_memory_usage_bytes", ident, float(ram))
        fams.add("info_virtual_cpus", ident, float(vcpus))
        fams.add("state_code" if style == "debian" else "info_vstate", ident, 1.0)
        if style == "tinkoff":
            fams.add("info_meta", _meta(est, server), 1.0)
        for device, source, size_gb in disks.get(server["id"], []):
            _block(est, fams, style, server, ident, device, source, size_gb, start, now)
        for port_id, bridge, tap in nics.get(server["id"], []):
            _interface(est, fams, style, server, ident, port_id, bridge, tap, start, now)
    families = fams.families()
    families.append(
        ("libvirt_up", "gauge", "Whether scraping libvirt's metrics was successful.", [({}, 1.0)])
    )
    if style == "debian":
        families.append(
            ("libvirt_domains_number", "gauge", "Number of domains.", [({}, float(len(servers)))])
        )
    return render(families)


def _identity(est: Estate, server: dict[str, Any], style: str) -> dict[str, str]:
    domain = server["OS-EXT-SRV-ATTR:instance_name"]
    if style == "tinkoff":
        return {"domain": domain}
    project = est.get("projects", server["tenant_id"])
    return {
        "domain": domain,
        "uuid": server["id"],
        "name": server["name"],
        "flavor": server["flavor"]["original_name"],
        "project_name": project["name"] if project else "",
    }


def _meta(est: Estate, server: dict[str, Any]) -> dict[str, str]:
    project = est.get("projects", server["tenant_id"])
    user = est.get("users", server["user_id"])
    root_type, root_uuid = ("image", server["image"]["id"]) if server["image"] else ("volume", "")
    if root_type == "volume":
        root_uuid = next(
            (
                v["id"]
                for v in est.all("volumes", server["_region"])
                for a in v["attachments"]
                if a["server_id"] == server["id"] and a["device"] == "/dev/vda"
            ),
            "",
        )
    return {
        "domain": server["OS-EXT-SRV-ATTR:instance_name"],
        "uuid": server["id"],
        "instance_name": server["name"],
        "flavor": server["flavor"]["original_name"],
        "user_name": user["name"] if user else "",
        "user_uuid": server["user_id"],
        "project_name": project["name"] if project else "",
        "project_uuid": server["tenant_id"],
        "root_type": root_type,
        "root_uuid": root_uuid,
    }


def _disks(est: Estate, hyp: dict[str, Any], servers: list[dict[str, Any]]) -> dict[str, list[tuple]]:
    """Per server: (target device, source file, size GB). Local disks are files under the instances directory;
    Cinder volumes are network (rbd) or block (iSCSI) disks, which have no source file."""
    out: dict[str, list[tuple]] = {}
    ids = {s["id"] for s in servers}
    for server in servers:
        if server["image"]:
            path = f"/var/lib/nova/instances/{server['id']}/disk"
            out.setdefault(server["id"], []).append(("vda", path, server["flavor"]["disk"]))
    for volume in est.all("volumes", hyp["_region"]):
        for att in volume["attachments"]:
            if att["server_id"] in ids:
                device = (att.get("device") or "/dev/vdb").rsplit("/", 1)[-1]
                out.setdefault(att["server_id"], []).append((device, "", volume["size"]))
    for disks in out.values():
        disks.sort()
    return out


def _nics(est: Estate, hyp: dict[str, Any], servers: list[dict[str, Any]]) -> dict[str, list[tuple]]:
    """Per server: (port id, source bridge, tap device) for each of its ports, as OVS/OVN plugs them."""
    ids = {s["id"] for s in servers}
    out: dict[str, list[tuple]] = {}
    for port in est.all("ports", hyp["_region"]):
        if port["device_id"] in ids and port["device_owner"].startswith("compute:"):
            out.setdefault(port["device_id"], []).append((port["id"], "br-int", f"tap{port['id'][:11]}"))
    return out


def _block(est, fams, style, server, ident, device, source, size_gb, start, now) -> None:
    key = (est.seed, server["id"], device)
    read_rate = 2e4 + 2e6 * frac(*key, "read")
    write_rate = 1e4 + 1e6 * frac(*key, "write")
    phase = 6.283 * frac(*key, "phase")
    read = wave(start, now, read_rate, read_rate * 0.5, DAY, phase)
    write = wave(start, now, write_rate, write_rate * 0.5, DAY, phase)
    request = 16384 + 49152 * frac(*key, "request")
    labels = {**ident, "target_device": device}
    if style == "debian":
        labels["source_file"] = source
    fams.add("block_stats_read_bytes_total", labels, float(int(read)))
    fams.add("block_stats_read_requests_total", labels, float(int(read / request)))
    fams.add("block_stats_write_bytes_total", labels, float(int(write)))
    fams.add("block_stats_write_requests_total", labels, float(int(write / request)))
    if style == "tinkoff":
        capacity = size_gb * 1024**3
        allocation = capacity * (0.2 + 0.7 * frac(*key, "allocation"))
        fams.add(
            "block_meta",
            {
                "domain": ident["domain"],
                "target_device": device,
                "source_file": source,
                "serial": "" if source else server["id"][:20],
                "bus": "virtio",
                "disk_type": "file" if source else "network",
                "driver_type": "qcow2" if source else "raw",
                "cache": "none",
                "discard": "",
            },
            1.0,
        )
        fams.add("block_stats_read_time_seconds_total", labels, round(read / request * 0.0004, 6))
        fams.add("block_stats_write_time_seconds_total", labels, round(write / request * 0.0009, 6))
        fams.add("block_stats_flush_requests_total", labels, float(int(write / request / 20)))
        fams.add("block_stats_flush_time_seconds_total", labels, round(write / request / 20 * 0.002, 6))
        fams.add("block_stats_allocation", labels, float(int(allocation)))
        fams.add("block_stats_capacity_bytes", labels, float(capacity))
        fams.add("block_stats_physicalsize_bytes", labels, float(int(allocation if source else capacity)))


def _interface(est, fams, style, server, ident, port_id, bridge, tap, start, now) -> None:
    key = (est.seed, server["id"], port_id)
    level, _, phase = vm_load(est, server)
    rx = wave(start, now, 5e4 + 4e5 * level * frac(*key, "rx"), 2e4, DAY, phase)
    tx = wave(start, now, 3e4 + 6e5 * level * frac(*key, "tx"), 1e4, DAY, phase)
    packet = 600 + 600 * frac(*key, "packet")
    labels = {**ident, "target_device": tap}
    if style == "debian":
        labels["source_bridge"] = bridge
    else:
        fams.add(
            "interface_meta",
            {
                "domain": ident["domain"],
                "source_bridge": bridge,
                "target_device": tap,
                "virtual_interface": port_id,
            },
            1.0,
        )
    fams.add("interface_stats_receive_bytes_total", labels, float(int(rx)))
    fams.add("interface_stats_receive_packets_total", labels, float(int(rx / packet)))
    fams.add("interface_stats_receive_errors_total", labels, 0.0)
    fams.add("interface_stats_receive_drops_total", labels, float(int(rx / packet * 2e-6)))
    fams.add("interface_stats_transmit_bytes_total", labels, float(int(tx)))
    fams.add("interface_stats_transmit_packets_total", labels, float(int(tx / packet)))
    fams.add("interface_stats_transmit_errors_total", labels, 0.0)
    fams.add("interface_stats_transmit_drops_total", labels, 0.0)
