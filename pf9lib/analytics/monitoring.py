"""Host and VM metrics: the questions asked of the stored series (docs/domain.md, "Metrics").

The values themselves are derived when they are stored (pf9lib.normalize.metrics). These functions take a
Store and return DataFrames; latest VMs are joined to inventory servers by instance UUID, else by libvirt
domain name or instance name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from pf9lib.analytics.monitoring_alerts import alerts, load_rules

__all__ = [
    "alerts",
    "average_host_usage",
    "cycles",
    "latest_hosts",
    "latest_vms",
    "load_rules",
    "series",
    "target_status",
    "top_hosts",
    "vm_hotspots",
]

CRITICAL_PCT = 85.0  # docs/domain.md §6: a host above this CPU or memory % is critical in "top hosts"


# --------------------------------------------------------------------------------------------- questions


_LATEST_HOSTS = """
        SELECT m.*, h.id AS hypervisor_id, h.region, h.state AS hypervisor_state,
               h.status AS hypervisor_status, h.vcpus AS inv_vcpus, h.memory_mb AS inv_memory_mb,
               h.running_vms AS inv_running_vms
        FROM metric_latest_hosts m
        LEFT JOIN hypervisors h ON h.name = m.hypervisor_hostname
              OR (m.hypervisor_hostname IS NULL AND h.host_ip = m.address)
        QUALIFY row_number() OVER (PARTITION BY m.host ORDER BY h.observed_at DESC NULLS LAST) = 1
        ORDER BY m.host
"""


def latest_hosts(store) -> pd.DataFrame:
    """Latest values per host (stale ones marked, with the reason), joined to the hypervisor inventory
    (read from the store's kept current-state table)."""
    from pf9lib.analytics.scope import with_current

    return store.sql(with_current(store, _LATEST_HOSTS))


_LATEST_VMS = """
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
"""


def latest_vms(store) -> pd.DataFrame:
    """Latest values per VM joined to inventory servers: by instance UUID, else by libvirt domain name on the
    same hypervisor, else by instance name (same hypervisor first).

    `joined_by` says how the server was found (uuid | domain | name | NULL when it is not in the inventory).
    Servers are read from the store's kept current-state table (pf9lib.analytics.scope.with_current).
    """
    from pf9lib.analytics.scope import with_current

    return store.sql(with_current(store, _LATEST_VMS))


def top_hosts(store, by: str = "cpu_pct", limit: int = 10) -> pd.DataFrame:
    """Hosts by latest CPU % or memory %, highest first, `critical` above 85 % (docs/domain.md §6)."""
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
