"""The node_exporter page of a simulated hypervisor (Debian's prometheus-node-exporter 1.5); see the package
docstring for how the values follow the estate."""

from __future__ import annotations

import math
from typing import Any

from pf9sim.exporters.base import (
    CPU_MODES,
    DAY,
    GIB,
    MIB,
    Sample,
    boot_time,
    find_hypervisor,
    frac,
    host_busy_seconds,
    host_load,
    launched,
    now_ts,
    render,
    running_servers,
    vm_load,
    wave,
)
from pf9sim.state import Estate


# -- node exporter -------------------------------------------------------------------------------
def node_exporter_page(estate: Estate, hypervisor_hostname: str) -> str:
    """The /metrics page of the host's node exporter; KeyError for an unknown hypervisor."""
    est = estate
    hyp = find_hypervisor(est, hypervisor_hostname)
    name, host = hyp["hypervisor_hostname"], hyp["service"]["host"]
    now, boot = now_ts(est), boot_time(est, hyp)
    servers = running_servers(est, hyp)
    ncpu = max(1, int(hyp["vcpus"]))
    elapsed = max(0.0, now - boot)
    busy = max(0.0, host_busy_seconds(est, hyp, boot, now))
    cpu: list[Sample] = []
    for c in range(ncpu):
        scale = 0.92 + 0.08 * frac(est.seed, name, "cpu", c)
        for mode, share in CPU_MODES:
            value = elapsed - busy * scale if mode == "idle" else busy * scale * share
            cpu.append(({"cpu": str(c), "mode": mode}, round(value, 2)))

    total = hyp["memory_mb"] * MIB * 0.985  # the kernel keeps some for itself
    vm_ram = sum(s["flavor"]["ram"] * MIB * (0.55 + 0.4 * frac(est.seed, s["id"], "ram")) for s in servers)
    overhead = (3 + 4 * frac(est.seed, name, "overhead")) * GIB
    cached = min(total * 0.08, (2 + 6 * frac(est.seed, name, "cache", int(now // 3600))) * GIB)
    buffers = (0.2 + 0.6 * frac(est.seed, name, "buffers", int(now // 3600))) * GIB
    available = max(total * 0.01, total - vm_ram - overhead)
    free = max(total * 0.005, available - cached - buffers)
    memory = {
        "MemTotal": total,
        "MemAvailable": available,
        "MemFree": free,
        "Buffers": buffers,
        "Cached": cached,
    }

    root_size = 480 * 1000**3
    root_used = root_size * (0.2 + 0.4 * frac(est.seed, name, "rootfs")) + (now - boot) * 2000
    inst_size = hyp["local_gb"] * 1000**3
    inst_used = sum(
        s["flavor"]["disk"] * 1000**3 * (0.3 + 0.5 * frac(est.seed, s["id"], "disk"))
        for s in servers
        if s.get("image")
    )
    filesystems = (
        ("/dev/sda2", "ext4", "/", root_size, min(root_size * 0.9, root_used)),
        ("/dev/sda1", "ext4", "/boot", 1014 * MIB, 290 * MIB),
        (
            "/dev/sdb1",
            "xfs",
            "/var/lib/nova/instances",
            inst_size,
            min(inst_size * 0.95, 8 * GIB + inst_used),
        ),
    )
    size_s, avail_s, free_s = [], [], []
    for device, fstype, mount, size, used in filesystems:
        labels = {"device": device, "fstype": fstype, "mountpoint": mount}
        reserved = size * 0.05 if fstype == "ext4" else 0
        size_s.append((labels, float(int(size))))
        free_s.append((labels, float(int(size - used))))
        avail_s.append((labels, float(int(max(0, size - used - reserved)))))

    level, daily, weekly, phase = host_load(est, hyp)
    rx, tx = [], []
    nic_rates = {
        "eno1": (1.5e6, 0.9e6),
        "eno2": (2e7 * level + 1e6, 1.4e7 * level + 1e6),
        "lo": (2.5e5, 2.5e5),
        "virbr0": (0.0, 0.0),
    }
    for dev, (r_rate, t_rate) in nic_rates.items():
        rx.append(({"device": dev}, float(int(wave(boot, now, r_rate, r_rate * 0.4, DAY, phase)))))
        tx.append(({"device": dev}, float(int(wave(boot, now, t_rate, t_rate * 0.4, DAY, phase)))))
    for server, port_id in _ports_of(est, servers):
        start = min(now, launched(server))
        v_level, _, v_phase = vm_load(est, server)
        dev = f"tap{port_id[:11]}"
        # Seen from the host, a tap's receive is the guest's transmit.
        rx.append(({"device": dev}, float(int(wave(start, now, 4e4 + 3e5 * v_level, 2e4, DAY, v_phase)))))
        tx.append(({"device": dev}, float(int(wave(start, now, 8e4 + 6e5 * v_level, 4e4, DAY, v_phase)))))

    def load_at(t: float) -> float:
        fraction = level + daily * math.sin(2 * math.pi * t / DAY + phase)
        return ncpu * fraction * (0.9 + 0.2 * frac(est.seed, name, "load", int(t // 60)))

    uname = {
        "domainname": "(none)",
        "machine": "x86_64",
        "nodename": host,
        "sysname": "Linux",
        "release": f"5.15.0-{100 + int(40 * frac(est.seed, name, 'kernel'))}-generic",
        "version": "#" + str(110 + int(40 * frac(est.seed, name, "kbuild"))) + "-Ubuntu SMP Fri Aug 9 2024",
    }
    families = [
        ("node_boot_time_seconds", "gauge", "Node boot time, in unixtime.", [({}, float(int(boot)))]),
        ("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.", cpu),
        (
            "node_filesystem_avail_bytes",
            "gauge",
            "Filesystem space available to non-root users in bytes.",
            avail_s,
        ),
        ("node_filesystem_free_bytes", "gauge", "Filesystem free space in bytes.", free_s),
        ("node_filesystem_size_bytes", "gauge", "Filesystem size in bytes.", size_s),
        ("node_load1", "gauge", "1m load average.", [({}, round(load_at(now), 2))]),
        ("node_load5", "gauge", "5m load average.", [({}, round(load_at(now - 150), 2))]),
        ("node_load15", "gauge", "15m load average.", [({}, round(load_at(now - 450), 2))]),
        ("node_network_receive_bytes_total", "counter", "Network device statistic receive_bytes.", rx),
        ("node_network_transmit_bytes_total", "counter", "Network device statistic transmit_bytes.", tx),
        ("node_time_seconds", "gauge", "System time in seconds since epoch (1970).", [({}, now)]),
        (
            "node_uname_info",
            "gauge",
            "Labeled system information as provided by the uname system call.",
            [(uname, 1.0)],
        ),
    ]
    for field, value in memory.items():
        families.append(
            (
                f"node_memory_{field}_bytes",
                "gauge",
                f"Memory information field {field}_bytes.",
                [({}, float(int(value)))],
            )
        )
    return render(families)


def _ports_of(est: Estate, servers: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    ids = {s["id"]: s for s in servers}
    out = []
    for port in est.all("ports", servers[0]["_region"] if servers else None):
        server = ids.get(port["device_id"])
        if server is not None and port["device_owner"].startswith("compute:"):
            out.append((server, port["id"]))
    return out
