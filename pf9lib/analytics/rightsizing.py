"""Right-sizing and waste candidates: idle VMs, oversized flavors, unattached volumes, snapshots kept longer
than any policy keeps them, floating IPs with no port. Each candidate says why (`reason`) and what acting on
it would free: `vcpus`, `ram_mb`, `gb`, `ips`.

VM figures come from the daily metric roll-ups (metric_vms_daily, matched to servers by instance UUID).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from pf9lib.analytics.scope import Filter, complete_days, now_of, query, where
from pf9lib.store import as_store
from pf9lib.store.reader import Store

CANDIDATE_COLUMNS = [
    "candidate",
    "cloud",
    "region",
    "project_id",
    "project_name",
    "type",
    "id",
    "name",
    "reason",
    "vcpus",
    "ram_mb",
    "gb",
    "ips",
]


def _frame(df: pd.DataFrame, candidate: str, kind: str) -> pd.DataFrame:
    df = df.copy()
    df["candidate"], df["type"] = candidate, kind
    for column in ("vcpus", "ram_mb", "gb", "ips"):
        df[column] = df[column].fillna(0).astype("int64") if column in df else 0
    extra = [c for c in df.columns if c not in CANDIDATE_COLUMNS]
    return df[CANDIDATE_COLUMNS + extra].reset_index(drop=True)


# Per current server: its daily roll-ups in the window (days with a CPU value), their highest daily average
# CPU and the peaks of CPU and memory.
_VM_DAYS = """
    SELECT s.cloud, s.region, s.project_id, s.project_name, s.id, s.name, s.status, s.flavor_name,
           s.vcpus, s.ram_mb, s.disk_gb, count(m.cpu_pct_avg) AS days_measured,
           max(m.cpu_pct_avg) AS cpu_daily_avg_max, max(m.cpu_pct_max) AS cpu_peak,
           max(m.mem_pct_max) AS mem_peak
    FROM servers s JOIN metric_vms_daily m ON m.instance_uuid = s.id
    WHERE {where} AND m.period >= ? AND m.period < ?
    GROUP BY ALL
"""


def idle_vms(
    store: Store | Path | str,
    days: int = 7,
    cpu_pct: float = 5.0,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """VMs whose daily average CPU stayed below `cpu_pct` % on each of the last `days` days (every one of
    those days measured); shelving or deleting one frees its vCPUs and RAM."""
    store = as_store(store)
    start, end = complete_days(store, days, now)
    clause, params = where("s", cloud=cloud, region=region, project=project)
    df = query(
        store,
        f"SELECT * FROM ({_VM_DAYS.format(where=clause)}) WHERE days_measured >= ? AND cpu_daily_avg_max < ?",
        [*params, start, end, days, cpu_pct],
    )
    df["reason"] = [
        f"daily average CPU below {cpu_pct:g}% on each of the last {days} days (highest {x:.1f}%)"
        for x in df["cpu_daily_avg_max"]
    ]
    return _frame(df, "idle_vm", "servers")


# The smallest flavor of the region that still fits the VM's peaks at the target utilisation and its disk.
_SMALLER_FLAVOR = """
    SELECT c.cloud, c.region, c.id, f.name AS suggested_flavor, f.vcpus AS suggested_vcpus,
           f.ram_mb AS suggested_ram_mb
    FROM candidates c JOIN flavors f ON f.cloud = c.cloud AND f.region = c.region
    WHERE f.vcpus >= c.need_vcpus AND f.ram_mb >= c.need_ram_mb AND f.disk_gb >= coalesce(c.disk_gb, 0)
      AND f.vcpus <= c.vcpus AND f.ram_mb <= c.ram_mb AND (f.vcpus < c.vcpus OR f.ram_mb < c.ram_mb)
    QUALIFY row_number() OVER (PARTITION BY c.cloud, c.region, c.id ORDER BY f.vcpus, f.ram_mb, f.name) = 1
"""


def oversized_vms(
    store: Store | Path | str,
    days: int = 30,
    target_pct: float = 70.0,
    min_days: int = 7,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """VMs whose flavor is larger than their peaks need: with at least `min_days` measured days in the last
    `days`, the vCPUs and RAM that would hold the peak CPU % and memory % at `target_pct` % are computed, and
    the smallest flavor of the region that fits them (and the root disk) and is smaller than the current
    one is suggested; frees the difference. Without memory figures only the vCPUs are judged (the RAM it
    has counts as needed). VMs with no smaller fitting flavor are not listed."""
    store = as_store(store)
    start, end = complete_days(store, days, now)
    clause, params = where("s", cloud=cloud, region=region, project=project)
    vms = query(
        store,
        f"SELECT * FROM ({_VM_DAYS.format(where=clause)}) WHERE days_measured >= ? AND cpu_peak IS NOT NULL",
        [*params, start, end, min_days],
    )
    if vms.empty:
        return _frame(vms.assign(reason=pd.Series(dtype=str)), "oversized_vm", "servers")
    vms["need_vcpus"] = (vms["vcpus"] * vms["cpu_peak"] / target_pct).apply(lambda v: max(1, -(-v // 1)))
    # Without a memory figure the RAM it has is taken as needed: only the vCPUs are judged.
    vms["need_ram_mb"] = (vms["ram_mb"] * vms["mem_peak"] / target_pct).round().fillna(vms["ram_mb"])
    fits = _smaller_flavors(store, vms)
    df = vms.merge(fits, on=["cloud", "region", "id"], how="inner")
    df["vcpus_now"], df["ram_mb_now"] = df["vcpus"], df["ram_mb"]
    df["vcpus"] = df["vcpus_now"] - df["suggested_vcpus"]
    df["ram_mb"] = df["ram_mb_now"] - df["suggested_ram_mb"]
    df["reason"] = [
        f"peak CPU {c:.0f}% of {v} vCPUs, peak memory {'?' if pd.isna(m) else f'{m:.0f}%'} of {r} MB over "
        f"{n} days: {f} fits at {target_pct:g}%"
        for c, v, m, r, n, f in zip(
            df["cpu_peak"],
            df["vcpus_now"],
            df["mem_peak"],
            df["ram_mb_now"],
            df["days_measured"],
            df["suggested_flavor"],
            strict=True,
        )
    ]
    return _frame(df, "oversized_vm", "servers")


def _smaller_flavors(store: Store, vms: pd.DataFrame) -> pd.DataFrame:
    """The suggested flavor per VM: the candidates go in as a parameter list of structs (no temp table)."""
    rows = vms[["cloud", "region", "id", "vcpus", "ram_mb", "disk_gb", "need_vcpus", "need_ram_mb"]]
    records = [
        {
            k: (None if pd.isna(v) else (int(v) if k not in ("cloud", "region", "id") else v))
            for k, v in r.items()
        }
        for r in rows.to_dict("records")
    ]
    sql = _SMALLER_FLAVOR.replace(
        "FROM candidates c",
        "FROM (SELECT unnest(?::STRUCT(cloud VARCHAR, region VARCHAR, id VARCHAR, vcpus BIGINT, "
        "ram_mb BIGINT, disk_gb BIGINT, need_vcpus BIGINT, need_ram_mb BIGINT)[], recursive := true)) c",
    )
    return query(store, sql, [records])


# Per volume of the history: when it was last seen attached, and the first run that saw it detached after
# that (kept by the store: the history only grows, and this reads all of it).
_ATTACHMENTS = """
    WITH h AS (SELECT cloud, region, id, observed_at, attached_server_id FROM volumes_history),
    l AS (
        SELECT cloud, region, id,
               max(observed_at) FILTER (WHERE attached_server_id IS NOT NULL) AS last_attached_at
        FROM h GROUP BY ALL
    )
    SELECT l.cloud, l.region, l.id, l.last_attached_at,
           min(h.observed_at) FILTER (WHERE l.last_attached_at IS NULL OR h.observed_at > l.last_attached_at)
               AS first_seen_detached
    FROM l JOIN h USING (cloud, region, id) GROUP BY ALL
"""
_UNATTACHED = """
    SELECT c.cloud, c.region, c.project_id, c.project_name, c.id, c.name, c.size_gb AS gb, c.volume_type,
           c.created_at, a.last_attached_at,
           CASE WHEN a.last_attached_at IS NULL THEN coalesce(c.created_at, a.first_seen_detached)
                ELSE a.first_seen_detached END AS unattached_since
    FROM volumes c JOIN "{attachments}" a USING (cloud, region, id)
    WHERE {where} AND c.status = 'available' AND len(coalesce(c.attached_server_ids, [])) = 0
"""


def unattached_volumes(
    store: Store | Path | str,
    min_days: float = 7,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Volumes `available` with no attachment for at least `min_days` days (since creation when never seen
    attached, else since the first run that saw them detached); deleting one frees its GB."""
    store = as_store(store)
    end = now_of(store, now)
    clause, params = where("c", cloud=cloud, region=region, project=project)
    attachments = store.cached("pf9_volume_attachments", _ATTACHMENTS, ("run_ends",))
    df = query(
        store,
        f"SELECT * FROM ({_UNATTACHED.format(where=clause, attachments=attachments)}) "
        "WHERE unattached_since <= ? ORDER BY gb DESC, id",
        [*params, end - timedelta(days=min_days)],
    )
    df["unattached_days"] = [(end - pd.Timestamp(t)).total_seconds() / 86400 for t in df["unattached_since"]]
    df["reason"] = [
        f"available and unattached for {d:.0f} days" + ("" if pd.isna(a) else " (was attached before)")
        for d, a in zip(df["unattached_days"], df["last_attached_at"], strict=True)
    ]
    return _frame(df, "unattached_volume", "volumes")


# A policy "daily_N" keeps N; otherwise the volume's retention_<policy> count. An automatic snapshot ranked
# beyond its policy's count among its volume's snapshots of that policy is one the pruner should have removed.
_SNAPSHOTS = """
    WITH s AS (
        SELECT s.cloud, s.region, s.project_id, s.project_name, s.id, s.name, s.status, s.size_gb AS gb,
               s.volume_id, s.policy, s.is_automatic, s.created_at, v.id IS NULL AS volume_gone,
               coalesce(v.snapshot_retention[s.policy],
                        TRY_CAST(regexp_extract(s.policy, '^daily_([0-9]+)$', 1) AS BIGINT)) AS keeps
        FROM snapshots s
        LEFT JOIN volumes v ON v.cloud = s.cloud AND v.region = s.region AND v.id = s.volume_id
        WHERE {where}
    )
    SELECT *, CASE WHEN is_automatic AND policy IS NOT NULL THEN row_number() OVER (
                  PARTITION BY cloud, region, volume_id, is_automatic AND policy IS NOT NULL, policy
                  ORDER BY created_at DESC, id) END AS newest_rank
    FROM s
"""


def stale_snapshots(
    store: Store | Path | str,
    max_age_days: float = 90,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Snapshots kept longer than any policy keeps them: an automatic snapshot beyond its policy's
    retention (the volume's retention_<policy>, or N of daily_N) among its volume's snapshots of that
    policy; any other snapshot (manual, or no retention known) older than `max_age_days`; and snapshots
    whose volume is gone. Deleting one frees its GB."""
    store = as_store(store)
    end = now_of(store, now)
    clause, params = where("s", cloud=cloud, region=region, project=project)
    df = query(store, _SNAPSHOTS.format(where=clause), params)
    age = (end - pd.to_datetime(df["created_at"], utc=True)).dt.total_seconds() / 86400
    judged = df["newest_rank"].notna() & df["keeps"].notna()
    beyond = judged & (df["newest_rank"] > df["keeps"])
    old = ~judged & (age > max_age_days)
    gone = df["volume_gone"].astype(bool)
    df = df.assign(age_days=age, _beyond=beyond)[gone | beyond | old]  # reasons only for the candidates
    df["reason"] = [
        "its volume no longer exists"
        if g
        else f"policy {p} keeps {int(k)}: this is number {int(r)} from the newest"
        if b
        else f"{a:.0f} days old, over the {max_age_days:g}-day maximum"
        for g, b, p, k, r, a in zip(
            df["volume_gone"],
            df["_beyond"],
            df["policy"],
            df["keeps"],
            df["newest_rank"],
            df["age_days"],
            strict=True,
        )
    ]
    df = df.drop(columns="_beyond").sort_values(["gb", "age_days"], ascending=False)
    return _frame(df, "stale_snapshot", "snapshots")


def unused_floating_ips(
    store: Store | Path | str,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Floating IPs allocated to a project but bound to no port; releasing one frees an address."""
    store = as_store(store)
    end = now_of(store, now)
    clause, params = where(cloud=cloud, region=region, project=project)
    df = query(
        store,
        f"""SELECT cloud, region, project_id, project_name, id, name, status, floating_network_id, created_at,
                   1 AS ips
            FROM floating_ips WHERE {clause} AND port_id IS NULL ORDER BY cloud, region, name""",
        params,
    )
    df["reason"] = [
        "allocated, no port"
        + ("" if pd.isna(t) else f" ({(end - pd.Timestamp(t)).days} days since allocation)")
        for t in df["created_at"]
    ]
    return _frame(df, "unused_floating_ip", "floating_ips")


def waste_candidates(
    store: Store | Path | str,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Every candidate above with its default thresholds, in one frame (CANDIDATE_COLUMNS only), largest
    savings first."""
    store = as_store(store)
    scope = {"cloud": cloud, "region": region, "project": project, "now": now_of(store, now)}
    parts = [
        f(store, **scope)[CANDIDATE_COLUMNS]
        for f in (idle_vms, oversized_vms, unattached_volumes, stale_snapshots, unused_floating_ips)
    ]
    df = pd.concat([p for p in parts if not p.empty] or [parts[0]], ignore_index=True)
    return df.sort_values(["vcpus", "ram_mb", "gb", "ips"], ascending=False).reset_index(drop=True)
