"""Host and VM series rows derived from raw exporter readings (docs/domain.md, "Metrics").

Derivation is pure: a reading, the previous row of the same host/VM (its raw counters and time, from the
store's latest state) → one series row. Rates need two scrapes: the first one says "no rate yet" rather than
guessing, and a counter that went backwards (reboot, restart of the VM) says "counter reset".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pf9lib.collect.metrics_parse import DomainReading, NodeReading
from pf9lib.collect.metrics_targets import LIBVIRT, NODE, Target

NO_RATE_YET = "no rate yet"
COUNTER_RESET = "counter reset"
NO_TIME_ELAPSED = "no time elapsed"


# --------------------------------------------------------------------------------------------- derivation


def _pct(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return part / whole * 100.0


def _seconds(ts: datetime, clock: float | None, prev: dict[str, Any]) -> float | None:
    """Seconds between two samples: by the host's own clock when both have it, else by scrape times.

    The host's clock (node_time_seconds) is read with the counters, so scrape latency does not skew rates, and
    an exporter whose time is not ours (the simulated cloud's clock) still gives true rates.
    """
    if clock is not None and prev.get("clock") is not None:
        return clock - prev["clock"]
    return None if prev.get("ts") is None else (ts - prev["ts"]).total_seconds()


def _rate(now: float | None, before: float | None, seconds: float | None) -> float | None:
    if now is None or before is None or not seconds or seconds <= 0 or now < before:
        return None
    return (now - before) / seconds


def host_row(
    reading: NodeReading, ts: datetime, prev: dict[str, Any] | None, ident: dict[str, Any]
) -> dict[str, Any]:
    """One host series row: CPU % = (1 − Δidle/Δtotal) × 100, memory and "/" used/total, NIC rates, load."""
    row: dict[str, Any] = {**ident, "ts": ts, "cpu_count": reading.cpu_count}
    row.update(
        cpu_idle_s=reading.cpu_idle_s,
        cpu_total_s=reading.cpu_total_s,
        net_rx_bytes=reading.net_rx_bytes,
        net_tx_bytes=reading.net_tx_bytes,
        boot_time=reading.boot_time,
        clock=reading.node_time,
        load1=reading.load1,
        load5=reading.load5,
        load15=reading.load15,
        mem_total_bytes=reading.mem_total_bytes,
        fs_total_bytes=reading.fs_size_bytes,
    )
    if reading.mem_total_bytes is not None and reading.mem_available_bytes is not None:
        row["mem_used_bytes"] = reading.mem_total_bytes - reading.mem_available_bytes
        row["mem_pct"] = _pct(row["mem_used_bytes"], reading.mem_total_bytes)
    if reading.fs_size_bytes is not None and reading.fs_avail_bytes is not None:
        row["fs_used_bytes"] = reading.fs_size_bytes - reading.fs_avail_bytes
        row["fs_pct"] = _pct(row["fs_used_bytes"], reading.fs_size_bytes)
    note = _host_rate_note(reading, prev)
    if note is None and prev is not None:
        d_total = reading.cpu_total_s - prev["cpu_total_s"]
        d_idle = reading.cpu_idle_s - prev["cpu_idle_s"]
        if d_total > 0:
            row["cpu_pct"] = min(100.0, max(0.0, (1.0 - d_idle / d_total) * 100.0))
        else:
            note = NO_TIME_ELAPSED
        seconds = _seconds(ts, reading.node_time, prev)
        row["net_rx_bps"] = _rate(reading.net_rx_bytes, prev.get("net_rx_bytes"), seconds)
        row["net_tx_bps"] = _rate(reading.net_tx_bytes, prev.get("net_tx_bytes"), seconds)
    row["note"] = note
    return row


def _host_rate_note(reading: NodeReading, prev: dict[str, Any] | None) -> str | None:
    if reading.cpu_total_s is None:
        return "no CPU counters on the page"
    if prev is None or prev.get("cpu_total_s") is None or prev.get("ts") is None:
        return NO_RATE_YET
    rebooted = (
        prev.get("boot_time") is not None
        and reading.boot_time is not None
        and abs(reading.boot_time - prev["boot_time"]) > 1.0
    )
    busy, prev_busy = reading.cpu_total_s - reading.cpu_idle_s, prev["cpu_total_s"] - prev["cpu_idle_s"]
    # Any of idle, busy (the other modes) or total going backwards means the counters restarted.
    if rebooted or reading.cpu_idle_s < prev["cpu_idle_s"] or busy < prev_busy - 1e-6:
        return COUNTER_RESET
    return None


def vm_key(host: str, reading: DomainReading) -> str:
    """A VM's identity across scrapes and hosts: the Nova instance UUID, else host/domain."""
    return reading.instance_uuid or f"{host}/{reading.domain}"


def vm_row(
    reading: DomainReading,
    ts: datetime,
    prev: dict[str, Any] | None,
    ident: dict[str, Any],
    clock: float | None = None,
) -> dict[str, Any]:
    """One VM series row: CPU % = Δcpu_time / (Δwall × vCPUs) × 100 capped at 100, memory, disk and NIC rates.

    `clock` is the host's own time from its node_exporter page of the same cycle, when that page was read.
    """
    row: dict[str, Any] = {
        **ident,
        "ts": ts,
        "vm_key": vm_key(ident["host"], reading),
        "domain": reading.domain,
        "instance_uuid": reading.instance_uuid,
        "instance_name": reading.instance_name,
        "project_name": reading.project_name,
        "project_id": reading.project_id,
        "flavor": reading.flavor,
        "vcpus": reading.vcpus,
        "state_code": reading.state_code,
        "mem_bytes": reading.mem_bytes,
        "mem_max_bytes": reading.mem_max_bytes,
        "block_capacity_bytes": reading.block_capacity_bytes,
        "block_allocation_bytes": reading.block_allocation_bytes,
        "cpu_time_s": reading.cpu_time_s,
        "disk_read_bytes": reading.disk_read_bytes,
        "disk_write_bytes": reading.disk_write_bytes,
        "net_rx_bytes": reading.net_rx_bytes,
        "net_tx_bytes": reading.net_tx_bytes,
        "clock": clock,
    }
    row["mem_used_bytes"], row["mem_pct"] = _vm_memory(reading)
    note = None
    if reading.cpu_time_s is None:
        note = "no CPU time on the page"
    elif prev is None or prev.get("cpu_time_s") is None or prev.get("ts") is None:
        note = NO_RATE_YET
    elif reading.cpu_time_s < prev["cpu_time_s"]:
        note = COUNTER_RESET
    else:
        seconds = _seconds(ts, clock, prev)
        if not seconds or seconds <= 0:
            note = NO_TIME_ELAPSED
        else:
            if reading.vcpus:
                busy = (reading.cpu_time_s - prev["cpu_time_s"]) / (seconds * reading.vcpus) * 100.0
                row["cpu_pct"] = min(100.0, busy)
            for rate, counter in (
                ("disk_read_bps", "disk_read_bytes"),
                ("disk_write_bps", "disk_write_bytes"),
                ("net_rx_bps", "net_rx_bytes"),
                ("net_tx_bps", "net_tx_bytes"),
            ):
                row[rate] = _rate(row[counter], prev.get(counter), seconds)
    row["note"] = note
    return row


def _vm_memory(reading: DomainReading) -> tuple[float | None, float | None]:
    """Memory the guest uses, from the balloon driver's stats when the exporter has them.

    Without guest statistics the only figure is the memory given to the domain (`memory_usage_bytes`, which
    equals the flavor's RAM for a Nova VM): that is allocation, not use, so no memory % is claimed from it.
    """
    total = reading.mem_available_bytes
    free = reading.mem_usable_bytes if reading.mem_usable_bytes is not None else reading.mem_unused_bytes
    if total and free is not None:
        used = max(0.0, total - free)
        return used, _pct(used, total)
    return None, None


def merge_latest(
    results: Iterable[Any],
    prev_hosts: list[dict[str, Any]],
    prev_vms: list[dict[str, Any]],
    batch_id: str,
) -> tuple[list[dict], list[dict], list[dict], list[dict], set[str]]:
    """(host series rows, VM series rows, latest hosts, latest VMs, hosts whose libvirt page was read).

    Fresh rows replace a host's or VM's previous ones; an unreachable target keeps its host's previous rows,
    marked stale with the error; a VM absent from a page that was read is gone.
    """
    hosts_by = {r["host"]: r for r in prev_hosts}
    vms_by = {r["vm_key"]: r for r in prev_vms}
    host_rows: list[dict] = []
    vm_rows: list[dict] = []
    fresh_hosts: dict[str, dict] = {}
    fresh_vms: dict[str, dict] = {}
    stale_hosts: dict[str, tuple[str, Target]] = {}
    stale_vm_hosts: dict[str, str] = {}
    checked: set[str] = set()
    # Node pages first: their clock (node_time_seconds) times the VM counters of the same host.
    ordered = sorted(results, key=lambda r: r.target.kind != NODE)
    clocks: dict[str, float] = {}
    for r in ordered:
        t = r.target
        ident = {"batch_id": batch_id, "host": t.host, "hypervisor_hostname": t.hypervisor_hostname}
        if not r.up:
            if t.kind == NODE:
                stale_hosts[t.host] = (r.error or "down", t)
            else:
                stale_vm_hosts[t.host] = r.error or "down"
            continue
        extra = {"stale": False, "stale_reason": None, "checked_at": r.ts}
        if t.kind == NODE and r.node is not None:
            row = host_row(r.node, r.ts, hosts_by.get(t.host), {**ident, "address": t.address})
            host_rows.append(row)
            fresh_hosts[t.host] = {**row, **extra}
            if r.node.node_time is not None:
                clocks[t.host] = r.node.node_time
        elif t.kind == LIBVIRT and r.domains is not None:
            checked.add(t.host)
            clock = r.clock if r.clock is not None else clocks.get(t.host)
            for d in r.domains:
                row = vm_row(d, r.ts, vms_by.get(vm_key(t.host, d)), ident, clock)
                vm_rows.append(row)
                fresh_vms[row["vm_key"]] = {**row, **extra}
    now = datetime.now(UTC)
    latest_hosts = dict(hosts_by)
    for host, (reason, t) in stale_hosts.items():
        # A host never reached still gets a row: no values, stale, and why.
        never = {"host": host, "hypervisor_hostname": t.hypervisor_hostname, "address": t.address, "ts": None}
        before = latest_hosts.get(host) or {**never, "batch_id": batch_id}
        latest_hosts[host] = {**before, "stale": True, "stale_reason": reason, "checked_at": now}
    latest_hosts.update(fresh_hosts)
    latest_vms = {k: v for k, v in vms_by.items() if v.get("host") not in checked}
    for key, row in latest_vms.items():
        if row.get("host") in stale_vm_hosts:
            reason = stale_vm_hosts[row["host"]]
            latest_vms[key] = {**row, "stale": True, "stale_reason": reason, "checked_at": now}
    latest_vms.update(fresh_vms)
    return host_rows, vm_rows, list(latest_hosts.values()), list(latest_vms.values()), checked
