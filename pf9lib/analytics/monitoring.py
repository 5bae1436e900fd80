"""Host and VM metrics: values derived from raw exporter readings (DOMAIN.md §7), and questions asked of them.

Derivation is pure: a reading, the previous row of the same host/VM (its raw counters and time, from the
store's latest state) → one series row. Rates need two scrapes: the first one says "no rate yet" rather than
guessing, and a counter that went backwards (reboot, restart of the VM) says "counter reset". The query
functions take a Store and return DataFrames; latest VMs are joined to inventory servers by instance UUID,
else by libvirt domain name or instance name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from pf9lib.analytics.monitoring_alerts import alerts, load_rules
from pf9lib.collect.metrics_parse import DomainReading, NodeReading

__all__ = [
    "alerts",
    "average_host_usage",
    "cycles",
    "host_row",
    "latest_hosts",
    "latest_vms",
    "load_rules",
    "series",
    "target_status",
    "top_hosts",
    "vm_hotspots",
    "vm_row",
]

NO_RATE_YET = "no rate yet"
COUNTER_RESET = "counter reset"
NO_TIME_ELAPSED = "no time elapsed"
CRITICAL_PCT = 85.0  # DOMAIN.md §6: a host above this CPU or memory % is critical in "top hosts"


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


# --------------------------------------------------------------------------------------------- questions


def latest_hosts(store) -> pd.DataFrame:
    """Latest values per host (stale ones marked, with the reason), joined to the hypervisor inventory."""
    return store.sql("""
        SELECT m.*, h.id AS hypervisor_id, h.region, h.state AS hypervisor_state,
               h.status AS hypervisor_status, h.vcpus AS inv_vcpus, h.memory_mb AS inv_memory_mb,
               h.running_vms AS inv_running_vms
        FROM metric_latest_hosts m
        LEFT JOIN hypervisors h ON h.name = m.hypervisor_hostname
              OR (m.hypervisor_hostname IS NULL AND h.host_ip = m.address)
        QUALIFY row_number() OVER (PARTITION BY m.host ORDER BY h.observed_at DESC NULLS LAST) = 1
        ORDER BY m.host
    """)


def latest_vms(store) -> pd.DataFrame:
    """Latest values per VM joined to inventory servers: by instance UUID, else by libvirt domain name on the
    same hypervisor, else by instance name (same hypervisor first).

    `joined_by` says how the server was found (uuid | domain | name | NULL when it is not in the inventory).
    """
    return store.sql("""
        WITH by_uuid AS (
            SELECT m.vm_key, s.id FROM metric_latest_vms m JOIN servers s ON s.id = m.instance_uuid
        ), by_domain AS (
            -- Without Nova metadata the exporter only names the libvirt domain (instance-0000xxxx).
            SELECT m.vm_key, s.id FROM metric_latest_vms m
            JOIN servers s ON json_extract_string(s.raw, '$."OS-EXT-SRV-ATTR:instance_name"') = m.domain
                          AND s.hypervisor_hostname IS NOT DISTINCT FROM m.hypervisor_hostname
            WHERE m.instance_uuid IS NULL
        ), by_name AS (
            SELECT m.vm_key, s.id FROM metric_latest_vms m
            JOIN servers s ON s.name = m.instance_name
            WHERE m.vm_key NOT IN (SELECT vm_key FROM by_uuid UNION ALL SELECT vm_key FROM by_domain)
            QUALIFY row_number() OVER (
                PARTITION BY m.vm_key
                ORDER BY (s.hypervisor_hostname IS NOT DISTINCT FROM m.hypervisor_hostname) DESC, s.id) = 1
        ), joined AS (
            SELECT vm_key, id, 'uuid' AS joined_by FROM by_uuid
            UNION ALL SELECT vm_key, id, 'domain' FROM by_domain
            UNION ALL SELECT vm_key, id, 'name' FROM by_name
        )
        SELECT m.*, j.joined_by, s.id AS server_id, s.name AS server_name, s.status AS server_status,
               s.project_id AS inv_project_id, s.project_name AS inv_project_name,
               s.domain_name AS inv_domain_name,
               s.flavor_name AS inv_flavor, s.vcpus AS inv_vcpus, s.ram_mb AS inv_ram_mb, s.region
        FROM metric_latest_vms m
        LEFT JOIN joined j USING (vm_key)
        LEFT JOIN servers s ON s.id = j.id
        ORDER BY m.host, m.instance_name, m.domain
    """)


def top_hosts(store, by: str = "cpu_pct", limit: int = 10) -> pd.DataFrame:
    """Hosts by latest CPU % or memory %, highest first, `critical` above 85 % (DOMAIN.md §6)."""
    if by not in ("cpu_pct", "mem_pct", "fs_pct"):
        raise ValueError("top_hosts ranks by cpu_pct, mem_pct or fs_pct")
    return store.sql(
        f"""SELECT host, hypervisor_hostname, cpu_pct, mem_pct, fs_pct, stale, ts,
                   {by} > ? AS critical
            FROM metric_latest_hosts WHERE {by} IS NOT NULL ORDER BY {by} DESC, host LIMIT ?""",
        [CRITICAL_PCT, limit],
    )


def vm_hotspots(store, by: str = "cpu_pct", limit: int = 10) -> pd.DataFrame:
    """VMs by latest CPU %, memory % or allocated block storage, highest first."""
    if by not in ("cpu_pct", "mem_pct", "block_allocation_bytes", "disk_write_bps", "net_rx_bps"):
        raise ValueError(f"vm_hotspots cannot rank by {by!r}")
    df = latest_vms(store)
    df = df[df[by].notna()].sort_values([by, "vm_key"], ascending=[False, True]).head(limit)
    return df.reset_index(drop=True)


def average_host_usage(store) -> dict[str, float | None]:
    """Average latest host CPU % and memory % over hosts with values (the health summary's figures)."""
    row = store.sql("SELECT avg(cpu_pct) AS cpu, avg(mem_pct) AS mem FROM metric_latest_hosts").iloc[0]
    return {"cpu_pct": _float(row["cpu"]), "mem_pct": _float(row["mem"])}


def _float(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


_RESOLUTIONS = {"raw": "", "hourly": "_hourly", "daily": "_daily"}


def series(
    store,
    kind: str = "hosts",
    key: str | None = None,
    since: datetime | None = None,
    resolution: str = "raw",
) -> pd.DataFrame:
    """A host's (`host`) or VM's (`vm_key`) series at raw, hourly or daily resolution, oldest first."""
    if kind not in ("hosts", "vms") or resolution not in _RESOLUTIONS:
        raise ValueError("series(kind=hosts|vms, resolution=raw|hourly|daily)")
    view = f"metric_{kind}{_RESOLUTIONS[resolution]}"
    time_col = "ts" if resolution == "raw" else "period"
    key_col = "host" if kind == "hosts" else "vm_key"
    where, params = ["TRUE"], []
    if key is not None:
        where.append(f"{key_col} = ?")
        params.append(key)
    if since is not None:
        where.append(f"{time_col} >= ?")
        params.append(since)
    return store.sql(
        f"SELECT * FROM {view} WHERE {' AND '.join(where)} ORDER BY {time_col}, {key_col}", params
    )


def target_status(store, batch_id: str | None = None) -> pd.DataFrame:
    """Per-target status (up, error, duration) of one cycle (default: the newest)."""
    if batch_id is None:
        newest = store.sql("SELECT max(batch_id) AS b FROM metric_targets").iloc[0]["b"]
        batch_id = None if pd.isna(newest) else newest
    return store.sql("SELECT * FROM metric_targets WHERE batch_id = ? ORDER BY kind, host", [batch_id or ""])


def cycles(store, limit: int = 20) -> pd.DataFrame:
    """Metric cycles and imports, newest first."""
    return store.sql("SELECT * FROM metric_cycles ORDER BY started_at DESC, batch_id DESC LIMIT ?", [limit])
