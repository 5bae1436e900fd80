"""The fourteen landing analytics (docs/domain.md §6), one function each, every one filtered by cloud and
region and carrying both columns. They call the analytics that answer each question (summary, monitoring,
history, tenants, capacity) rather than restating them; windows end at `store.now` unless `now=` is given.

Metrics carry no cloud: host and VM figures are placed by the hypervisor or server they match, so an
inventory collected twice under two names shows the same machines' figures in both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pf9lib.analytics import history, monitoring, tenants
from pf9lib.analytics.change_compliance import change_compliance
from pf9lib.analytics.drift_events import state_view
from pf9lib.analytics.landing_trends import capacity_trends, trendlines
from pf9lib.analytics.quotas import quota_usage
from pf9lib.analytics.scope import CLOUD_REGIONS, Filter, now_of, query, values, where
from pf9lib.analytics.summary import CARDS
from pf9lib.store import as_store
from pf9lib.store.reader import Store

__all__ = [
    "capacity_pressure",
    "capacity_trends",
    "change_compliance",
    "compliance_drift",
    "coverage_risks",
    "health_summary",
    "recent_changes",
    "risk_heatmap",
    "sla_compliance",
    "tenant_risk",
    "tenant_summary",
    "top_hosts",
    "trendlines",
    "vm_hotspots",
]
_BIG = 1_000_000  # "all rows" for the wrapped functions; the filter and the limit apply here


def _keep(df: pd.DataFrame, cloud: Filter, region: Filter) -> pd.DataFrame:
    for column, value in (("cloud", cloud), ("region", region)):
        given = values(value)
        if given is not None:
            df = df[df[column].isin(given)]
    return df.reset_index(drop=True)


# summary.health_summary's definitions, per (cloud, region): tenants are the cloud's Keystone projects.
_HEALTH = """
    WITH cr AS ({cloud_regions}),
    t AS (SELECT cloud, count(*) AS tenants FROM projects GROUP BY ALL),
    vm AS (SELECT cloud, region, count(*) AS vms, count(*) FILTER (WHERE status = 'ACTIVE') AS running_vms
           FROM servers GROUP BY ALL),
    vol AS (SELECT cloud, region, count(*) AS volumes,
                   count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.volume_id = v.id
                        AND s.cloud = v.cloud AND s.region = v.region)) AS volumes_without_snapshots
            FROM volumes v GROUP BY ALL),
    net AS (SELECT cloud, region, count(*) AS networks FROM networks GROUP BY ALL),
    hv AS (SELECT cloud, region, count(*) AS hosts FROM hypervisors GROUP BY ALL),
    snap AS (SELECT cloud, region, count(*) AS snapshots,
                    count(*) FILTER (WHERE created_at > ? AND created_at <= ?) AS snapshots_24h
             FROM snapshots GROUP BY ALL),
    m AS (SELECT h.cloud, h.region, avg(m.cpu_pct) AS avg_host_cpu_pct, avg(m.mem_pct) AS avg_host_mem_pct
          FROM metric_latest_hosts m JOIN hypervisors h ON h.name = m.hypervisor_hostname GROUP BY ALL)
    SELECT cr.cloud, cr.region, coalesce(tenants, 0) AS tenants, coalesce(vms, 0) AS vms,
           coalesce(running_vms, 0) AS running_vms, coalesce(volumes, 0) AS volumes,
           coalesce(networks, 0) AS networks, coalesce(hosts, 0) AS hosts,
           coalesce(snapshots, 0) AS snapshots, coalesce(snapshots_24h, 0) AS snapshots_24h,
           coalesce(volumes_without_snapshots, 0) AS volumes_without_snapshots, avg_host_cpu_pct,
           avg_host_mem_pct
    FROM cr LEFT JOIN t USING (cloud) LEFT JOIN vm USING (cloud, region) LEFT JOIN vol USING (cloud, region)
    LEFT JOIN net USING (cloud, region) LEFT JOIN hv USING (cloud, region)
    LEFT JOIN snap USING (cloud, region) LEFT JOIN m USING (cloud, region)
    WHERE {where} ORDER BY cr.cloud, cr.region
"""


def health_summary(
    store: Store | Path | str, *, cloud: Filter = None, region: Filter = None, now: datetime | None = None
) -> pd.DataFrame:
    """1. The health summary cards of pf9lib.analytics.summary (same definitions and labels), per cloud and
    region, long format: cloud, region, key, label, value (counts as int, host averages as float %)."""
    store = as_store(store)
    end = now_of(store, now)
    clause, params = where("cr", cloud=cloud, region=region)
    wide = query(
        store,
        _HEALTH.format(cloud_regions=CLOUD_REGIONS, where=clause),
        [end - timedelta(hours=24), end, *params],
    )
    labels = dict(CARDS)
    long = wide.melt(id_vars=["cloud", "region"], value_vars=list(labels), var_name="key")
    long["label"] = long["key"].map(labels)
    long["value"] = pd.Series(
        [
            None if pd.isna(v) else (float(v) if k.endswith("_pct") else int(v))
            for k, v in zip(long["key"], long["value"], strict=True)
        ],
        dtype=object,
    )
    order = {k: i for i, k in enumerate(labels)}
    long = long.sort_values(["cloud", "region", "key"], key=lambda s: s.map(order) if s.name == "key" else s)
    return long[["cloud", "region", "key", "label", "value"]].reset_index(drop=True)


def sla_compliance(
    store: Store | Path | str,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
    sla: tenants.SlaSource | None = None,
) -> pd.DataFrame:
    """2. Snapshot SLA compliance per cloud and region: enrolled (volume, policy) pairs, compliant, % and
    `sla_status`; "no policy data" (and no %) until pf9lib.analytics.sla exists. `enrolled_volumes` counts
    the volumes with auto_snapshot on either way."""
    store = as_store(store)
    clause, params = where("cr", cloud=cloud, region=region)
    df = query(
        store,
        f"""SELECT cr.cloud, cr.region, coalesce(n, 0)::BIGINT AS enrolled_volumes
            FROM ({CLOUD_REGIONS}) cr LEFT JOIN (
                SELECT cloud, region, count(*) FILTER (WHERE auto_snapshot) AS n FROM volumes GROUP BY ALL
            ) v USING (cloud, region)
            WHERE {clause} ORDER BY cr.cloud, cr.region""",
        params,
    )
    source = sla or tenants._sla_source()
    if source is None:
        df["enrolled"] = df["compliant"] = pd.array([pd.NA] * len(df), dtype="Int64")
        df["compliance_pct"], df["sla_status"] = np.nan, tenants.NO_POLICY_DATA
        return df
    got = source(store, cloud=cloud, region=region, now=now_of(store, now))
    got = got.groupby(["cloud", "region"], as_index=False)[["enrolled", "compliant"]].sum()
    df = df.merge(got, on=["cloud", "region"], how="left").fillna({"enrolled": 0, "compliant": 0})
    df["compliance_pct"] = df["compliant"] / df["enrolled"].where(df["enrolled"] > 0) * 100.0
    df["sla_status"] = [
        tenants.NOTHING_ENROLLED if pd.isna(p) else f"{p:.0f}% compliant" for p in df["compliance_pct"]
    ]
    return df


def _hypervisor_places(store: Store) -> pd.DataFrame:
    return query(store, "SELECT DISTINCT name AS hypervisor_hostname, cloud, region FROM hypervisors")


def top_hosts(
    store: Store | Path | str,
    by: str = "cpu_pct",
    limit: int = 10,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """3. monitoring.top_hosts (latest CPU %, memory % or fs %, `critical` above 85 %) placed in their cloud
    and region by hypervisor name, filtered, highest first."""
    store = as_store(store)
    df = monitoring.top_hosts(store, by, limit=_BIG).merge(
        _hypervisor_places(store), on="hypervisor_hostname", how="left"
    )
    return _keep(df, cloud, region).head(limit)


def recent_changes(
    store: Store | Path | str,
    hours: float = 24,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """4. history.recent_changes of the last `hours`: new VMs (`what` = "new VM") and deleted resources of
    any type ("deleted <type>"), newest first."""
    store = as_store(store)
    now = now_of(store, now)  # once: store.now is a query
    new = history.recent_changes(store, hours, types="servers", kinds="created", now=now)
    gone = history.recent_changes(store, hours, kinds="deleted", now=now)
    df = pd.concat(
        [new.assign(what="new VM"), gone.assign(what="deleted " + gone["type"])], ignore_index=True
    )
    return _keep(df.sort_values(["time", "type", "id"], ascending=[False, True, True]), cloud, region)


def coverage_risks(
    store: Store | Path | str,
    limit: int = 10,
    stale_days: float = tenants.STALE_DAYS,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """5. `volumes`: every volume with no snapshot (`risk` unprotected) or whose newest snapshot is older
    than `stale_days` (stale), largest first; `tenants`: the `limit` tenants covered worst (tenant_risk)."""
    store = as_store(store)
    end = now_of(store, now)
    clause, params = where("v", cloud=cloud, region=region)
    volumes = query(
        store,
        f"""WITH newest AS (SELECT cloud, region, volume_id, max(created_at) AS newest_snapshot
                            FROM snapshots GROUP BY ALL)
            SELECT v.cloud, v.region, v.project_id, v.project_name, v.id, v.name, v.size_gb, v.status,
                   v.auto_snapshot, n.newest_snapshot,
                   CASE WHEN n.newest_snapshot IS NULL THEN 'unprotected' ELSE 'stale' END AS risk
            FROM volumes v LEFT JOIN newest n ON n.cloud = v.cloud AND n.region = v.region
                 AND n.volume_id = v.id
            WHERE {clause} AND (n.newest_snapshot IS NULL OR n.newest_snapshot < ?)
            ORDER BY risk DESC, v.size_gb DESC, v.id""",
        [*params, end - timedelta(days=stale_days)],
    )
    worst = tenants.tenant_risk(store, cloud=cloud, region=region, now=end, stale_days=stale_days)
    return {"volumes": volumes, "tenants": worst[worst["volumes"] > 0].head(limit).reset_index(drop=True)}


def capacity_pressure(
    store: Store | Path | str,
    limit: int = 10,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """6. The tenants in the top `limit` by VMs or by volume GB (tenant_counts), with both ranks and the
    highest used % of any of their limited quotas."""
    store = as_store(store)
    df = tenants.tenant_counts(store, cloud=cloud, region=region)
    df = df[(df["vms"] > 0) | (df["volume_gb"] > 0)].copy()
    df["rank_by_vms"] = df["vms"].rank(method="min", ascending=False).astype("int64")
    df["rank_by_volume_gb"] = df["volume_gb"].rank(method="min", ascending=False).astype("int64")
    quota = quota_usage(store, cloud=cloud, region=region)
    peak = quota.groupby(["cloud", "region", "project_id"])["used_pct"].max().rename("max_quota_used_pct")
    df = df.merge(peak.reset_index(), on=["cloud", "region", "project_id"], how="left")
    df = df[(df["rank_by_vms"] <= limit) | (df["rank_by_volume_gb"] <= limit)]
    return df.sort_values(["rank_by_vms", "rank_by_volume_gb"]).reset_index(drop=True)


def vm_hotspots(
    store: Store | Path | str,
    limit: int = 10,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """7. VMs by CPU %, memory % and allocated block storage (`by` says which, `value` the figure), the top
    `limit` of each, ranked as monitoring.vm_hotspots ranks them over one read of monitoring.latest_vms,
    placed in their cloud by the server they match."""
    store = as_store(store)
    places = query(store, "SELECT id AS server_id, cloud, region FROM servers")
    latest = monitoring.latest_vms(store).drop(columns=["region"], errors="ignore")
    latest = _keep(latest.merge(places, on="server_id", how="inner"), cloud, region)
    parts = []
    for by in ("cpu_pct", "mem_pct", "block_allocation_bytes"):
        top = latest[latest[by].notna()].sort_values([by, "vm_key"], ascending=[False, True]).head(limit)
        parts.append(top.assign(by=by, value=top[by]))
    return pd.concat(parts, ignore_index=True)


def tenant_risk(
    store: Store | Path | str,
    limit: int = 10,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """8. The `limit` riskiest tenants (tenants.tenant_risk, docs/domain.md §5)."""
    return tenants.tenant_risk(store, cloud=cloud, region=region, now=now).head(limit)


def compliance_drift(
    store: Store | Path | str,
    days: float = 7,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """9. Drift per tenant over the last `days` days: events seen, open and acknowledged, open critical and
    warning, the newest event; most open critical first."""
    store = as_store(store)
    end = now_of(store, now)
    clause, params = where(cloud=cloud, region=region)
    return query(
        store,
        f"""SELECT cloud, region, project_id, arg_max(project_name, observed_at) AS project_name,
                   count(*) AS events, count(*) FILTER (WHERE NOT acknowledged) AS open,
                   count(*) FILTER (WHERE acknowledged) AS acknowledged,
                   count(*) FILTER (WHERE NOT acknowledged AND severity = 'critical') AS open_critical,
                   count(*) FILTER (WHERE NOT acknowledged AND severity = 'warning') AS open_warning,
                   max(observed_at) AS last_event
            FROM "{state_view(store)}" WHERE {clause} AND observed_at > ? AND observed_at <= ?
            GROUP BY ALL ORDER BY open_critical DESC, open DESC, cloud, region, project_name""",
        [*params, end - timedelta(days=days), end],
    )


RISK_METRICS = ("risk", "unprotected_pct", "stale_pct", "health_points_lost", "max_quota_used_pct")


def risk_heatmap(
    store: Store | Path | str,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """13. The tenant risk heatmap, long format tenant × metric (all 0–100): risk, unprotected_pct,
    stale_pct, health_points_lost (100 − health) and max_quota_used_pct (the fullest limited quota);
    tenants.utilisation_matrix turns it into a matrix."""
    store = as_store(store)
    key = ["cloud", "region", "project_id"]
    now = now_of(store, now)  # once: store.now is a query
    risk = tenants.tenant_risk(store, cloud=cloud, region=region, now=now)
    health = tenants.tenant_health(store, cloud=cloud, region=region, now=now)[key + ["points_lost"]]
    quota = quota_usage(store, cloud=cloud, region=region)
    peak = quota.groupby(key)["used_pct"].max().rename("max_quota_used_pct").reset_index()
    wide = risk.merge(health, on=key, how="left").merge(peak, on=key, how="left")
    wide = wide.rename(columns={"points_lost": "health_points_lost"})
    ids = ["cloud", "region", "project_id", "project_name", "domain_id", "domain_name"]
    long = wide.melt(id_vars=ids, value_vars=list(RISK_METRICS), var_name="metric")
    return long.sort_values(ids[:4]).reset_index(drop=True)


def tenant_summary(
    store: Store | Path | str,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
    sla: tenants.SlaSource | None = None,
) -> pd.DataFrame:
    """14. The tenant summary (tenants.tenant_summary): VMs, volumes, networks, users, SLA status, health,
    risk."""
    return tenants.tenant_summary(store, cloud=cloud, region=region, now=now, sla=sla)
