"""Capacity: allocation against each hypervisor's and aggregate's capacity with overcommit ratios and measured
use, forecasts of the days until quotas and capacity thresholds are reached, and (pf9lib.analytics.
rightsizing, re-exported) the right-sizing and waste candidates.

Allocation is what the servers' flavors claim on the hypervisor Nova placed them on (every status: a SHUTOFF
VM keeps its claim); capacity is the hypervisor's own vCPUs, RAM and local disk. Measured use is the newest
host metrics and the daily roll-ups of the last `days` days. Metrics carry no cloud: they are matched to a
hypervisor by its name.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pf9lib.analytics.forecast import Model, forecast_many, linear_trend, method_of
from pf9lib.analytics.monitoring import latest_hosts
from pf9lib.analytics.rightsizing import (
    idle_vms,
    oversized_vms,
    stale_snapshots,
    unattached_volumes,
    unused_floating_ips,
    waste_candidates,
)
from pf9lib.analytics.scope import Filter, complete_days, now_of, query, values, where
from pf9lib.analytics.tenant_trends import usage_trend
from pf9lib.store import as_store
from pf9lib.store.reader import Store

__all__ = [
    "DEFAULT_RATIOS",
    "aggregate_allocation",
    "capacity_forecast",
    "hypervisor_allocation",
    "idle_vms",
    "oversized_vms",
    "quota_forecast",
    "stale_snapshots",
    "unattached_volumes",
    "unused_floating_ips",
    "waste_candidates",
]

# Nova's initial allocation ratios (cpu 4.0, ram 1.0, disk 1.0): what "full" means for the forecast.
DEFAULT_RATIOS = {"vcpus": 4.0, "ram_mb": 1.0, "disk_gb": 1.0}
_CAPACITY = {"vcpus": "vcpus_capacity", "ram_mb": "ram_mb_capacity", "disk_gb": "disk_gb_capacity"}

_HYPERVISORS = """
    WITH alloc AS (
        SELECT cloud, region, hypervisor_hostname, count(*) AS vms,
               count(*) FILTER (WHERE status = 'ACTIVE') AS active_vms, sum(vcpus) AS vcpus,
               sum(ram_mb) AS ram_mb, sum(disk_gb) AS disk_gb
        FROM servers WHERE hypervisor_hostname IS NOT NULL GROUP BY ALL
    ), used AS (
        SELECT hypervisor_hostname, avg(cpu_pct_avg) AS cpu_pct_avg, max(cpu_pct_max) AS cpu_pct_peak,
               avg(mem_pct_avg) AS mem_pct_avg, max(mem_pct_max) AS mem_pct_peak
        FROM metric_hosts_daily WHERE period >= ? AND period < ? GROUP BY ALL
    )
    SELECT h.cloud, h.region, h.id AS hypervisor_id, h.name AS hypervisor,
           coalesce(json_extract_string(h.raw, '$.service.host'), h.name) AS service_host, h.state, h.status,
           coalesce(a.vms, 0)::BIGINT AS vms, coalesce(a.active_vms, 0)::BIGINT AS active_vms,
           coalesce(a.vcpus, 0)::BIGINT AS vcpus_allocated, h.vcpus AS vcpus_capacity,
           coalesce(a.ram_mb, 0)::BIGINT AS ram_mb_allocated, h.memory_mb AS ram_mb_capacity,
           coalesce(a.disk_gb, 0)::BIGINT AS disk_gb_allocated, h.local_gb AS disk_gb_capacity,
           h.vcpus_used, h.memory_mb_used, h.local_gb_used, h.running_vms,
           u.cpu_pct_avg, u.cpu_pct_peak, u.mem_pct_avg, u.mem_pct_peak
    FROM hypervisors h
    LEFT JOIN alloc a ON a.cloud = h.cloud AND a.region = h.region AND a.hypervisor_hostname = h.name
    LEFT JOIN used u ON u.hypervisor_hostname = h.name
    WHERE {where}
    ORDER BY h.cloud, h.region, h.name
"""


def _ratios(df: pd.DataFrame) -> pd.DataFrame:
    for resource, capacity in _CAPACITY.items():
        cap = df[capacity].astype(float)
        df[f"{resource}_ratio"] = df[f"{resource}_allocated"] / cap.where(cap > 0)
    return df


def hypervisor_allocation(
    store: Store | Path | str,
    days: int = 7,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Per hypervisor: VMs, allocated vCPUs / RAM MB / disk GB (the flavors of the servers placed on it)
    against its capacity, overcommit ratios (`<resource>_ratio` = allocated / capacity; NaN without a
    capacity), Nova's own usage counters, the newest measured CPU / memory / root-fs % (`cpu_pct`, `mem_pct`,
    `fs_pct`, `metrics_stale`) and the average and peak of the daily roll-ups over the last `days` days."""
    store = as_store(store)
    start, end = complete_days(store, days, now)
    clause, params = where("h", cloud=cloud, region=region)
    df = query(store, _HYPERVISORS.format(where=clause), [start, end, *params])
    latest = latest_hosts(store)
    if latest.empty:
        df[["cpu_pct", "mem_pct", "fs_pct"]] = np.nan
        df["metrics_stale"] = pd.NA
    else:
        latest = latest[["hypervisor_hostname", "cpu_pct", "mem_pct", "fs_pct", "stale"]]
        latest = latest.dropna(subset=["hypervisor_hostname"]).drop_duplicates("hypervisor_hostname")
        df = df.merge(
            latest.rename(columns={"hypervisor_hostname": "hypervisor", "stale": "metrics_stale"}),
            on="hypervisor",
            how="left",
        )
    return _ratios(df)


def aggregate_allocation(
    store: Store | Path | str,
    days: int = 7,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Per host aggregate (its `hosts` list, matched to hypervisors by service host or hypervisor name):
    hosts, VMs, allocated vs capacity vCPUs / RAM / disk with overcommit ratios, and the mean of its hosts'
    measured CPU % and memory % (newest and over `days` days). A host in two aggregates counts in both."""
    store = as_store(store)
    hv = hypervisor_allocation(store, days, cloud=cloud, region=region, now=now)
    clause, params = where(cloud=cloud, region=region)
    aggs = query(
        store,
        f"""SELECT cloud, region, id AS aggregate_id, name AS aggregate, availability_zone,
                   unnest(coalesce(hosts, [])) AS host
            FROM aggregates WHERE {clause}""",
        params,
    )
    keys = ["cloud", "region", "aggregate_id", "aggregate", "availability_zone"]
    if aggs.empty:
        return pd.DataFrame(columns=keys + ["hosts"])
    by_service = hv.assign(host=hv["service_host"])
    by_name = hv.assign(host=hv["hypervisor"])
    members = pd.concat([by_service, by_name]).drop_duplicates(["cloud", "region", "hypervisor_id", "host"])
    joined = aggs.merge(members, on=["cloud", "region", "host"], how="left")
    joined = joined.drop_duplicates(keys + ["host"])
    sums = [f"{r}_{k}" for r in _CAPACITY for k in ("allocated", "capacity")] + ["vms", "active_vms"]
    means = ["cpu_pct", "mem_pct", "cpu_pct_avg", "cpu_pct_peak", "mem_pct_avg", "mem_pct_peak"]
    out = joined.groupby(keys, dropna=False).agg(
        hosts=("host", "count"),
        hosts_known=("hypervisor_id", "count"),
        **{c: (c, "sum") for c in sums},
        **{c: (c, "mean") for c in means},
    )
    return _ratios(out.reset_index())


# --------------------------------------------------------------------------------------------- forecasts

# Every stored quota row parsed once into (resource, limit, used): kept by the store, rebuilt when a run
# became visible. Tombstones stay (op) so a deleted project's quotas end where it did.
_QUOTA_ROWS = """
    SELECT h.cloud, h.region, h.id, h.project_id, h.project_name, h.service, h.op, h.observed_at,
           r.key AS resource, TRY_CAST(r.value AS DOUBLE) AS "limit",
           coalesce(TRY_CAST(h.raw::JSON -> 'usage' -> r.key ->> 'in_use' AS DOUBLE), 0)
           + coalesce(TRY_CAST(h.raw::JSON -> 'usage' -> r.key ->> 'reserved' AS DOUBLE), 0) AS used
    FROM quotas_history h, json_each(h.raw::JSON -> 'limits') r
"""
# Each limited quota resource's stored states that matter for the window: the newest one before it and
# those inside it, as (day index, used, deleted) points; a state seen on day i holds from the end of day i
# until the next point. Points are few (a row exists only when something moved), so the daily series is
# filled in numpy instead of joining every series with every day.
_QUOTA_POINTS = """
    WITH f AS (SELECT * FROM "{rows}" WHERE {where} AND observed_at < $end),
    k AS (  -- only resources limited now: most are unlimited (-1) and have nothing to reach
        SELECT cloud, region, id, resource, arg_max("limit", observed_at) AS "limit",
               arg_max(project_id, observed_at) AS project_id,
               coalesce(arg_max(project_name, observed_at), '') AS project_name,
               arg_max(service, observed_at) AS service
        FROM f GROUP BY ALL
        HAVING arg_max("limit", observed_at) > 0 AND arg_max(op, observed_at) = 'upsert'  -- a live project's
    ), p AS (
        SELECT f.cloud, f.region, f.id, f.resource, f.observed_at, f.used, f.op = 'delete' AS gone,
               greatest(date_diff('day', $start, CAST(f.observed_at AS DATE)), 0) AS idx
        FROM f SEMI JOIN k USING (cloud, region, id, resource)
        QUALIFY CAST(f.observed_at AS DATE) >= $start
             OR row_number() OVER (PARTITION BY f.cloud, f.region, f.id, f.resource
                                   ORDER BY f.observed_at DESC) = 1
    )
    SELECT k.cloud, k.region, k.project_id, k.project_name, k.service, k.resource, k."limit",
           list(p.idx ORDER BY p.observed_at) AS idx, list(p.used ORDER BY p.observed_at) AS used,
           list(p.gone ORDER BY p.observed_at) AS gone
    FROM k JOIN p USING (cloud, region, id, resource) GROUP BY ALL
    ORDER BY k.cloud, k.region, k.project_id, k.service, k.resource
"""


def _daily_values(points: pd.DataFrame, days: int) -> list[np.ndarray]:
    """Each series' value at the end of each day (NaN before it existed or once deleted), from its points."""
    out = []
    for idx, used, gone in zip(points["idx"], points["used"], points["gone"], strict=True):
        values = np.full(days, np.nan)
        for i, u, g in zip(idx, used, gone, strict=True):
            values[int(i) :] = np.nan if g else u
        out.append(values)
    return out


_FORECAST_COLUMNS = [
    "current",
    "threshold",
    "days",
    "days_earliest",
    "days_latest",
    "mean",
    "lower",
    "upper",
    "note",
]


def _dollar(clause: str) -> str:
    """scope.where's `?` placeholders as $p0, $p1 … (this statement uses named parameters)."""
    parts = clause.split("?")
    return "".join(part + (f"$p{i}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))


def _forecast_rows(series: pd.DataFrame, keys: list[str], horizon: int, model: Model) -> pd.DataFrame:
    """One forecast row per series: `series` has the keys, `values` (daily, oldest first) and `threshold`."""
    got = forecast_many(list(series["values"]), series["threshold"].to_numpy(), horizon, model)
    out = pd.concat([series[keys].reset_index(drop=True), got], axis=1)
    out["horizon_days"] = horizon
    out["method"] = method_of(model)
    return out


def quota_forecast(
    store: Store | Path | str,
    days: int = 90,
    horizon: int = 90,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    service: Filter = None,
    resource: Filter = None,
    threshold_pct: float = 100.0,
    model: Model = linear_trend,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Days until each limited quota (limit > 0) reaches `threshold_pct` % of its limit, forecast from its
    daily used (in_use + reserved, as reported) over the last `days` days: `days` by the mean forecast,
    `days_earliest` / `days_latest` where the model's upper / lower band reaches it (NaN: not within
    `horizon` days), `mean` / `lower` / `upper` at the horizon, `method` (the model, default the OLS linear
    trend with its 95 % prediction interval) and `note` (reached, flat, too little history, forecast).
    Series already at the threshold say 0; soonest first."""
    store = as_store(store)
    clause, params = where(cloud=cloud, region=region, project=project)
    names = values(service)
    if names is not None:
        clause += " AND service IN (SELECT unnest(?::VARCHAR[]))"
        params.append(names)
    end = now_of(store, now)
    start = end - timedelta(days=days - 1)
    wanted = values(resource)
    if wanted is not None:
        clause += " AND resource IN (SELECT unnest(?::VARCHAR[]))"
        params.append(wanted)
    day1 = datetime.combine(end.date(), datetime.min.time(), end.tzinfo)
    rows = store.cached("pf9_quota_rows", _QUOTA_ROWS, ("run_ends",))
    series = store.sql(
        _QUOTA_POINTS.format(rows=rows, where=_dollar(clause)),
        {
            **{f"p{i}": v for i, v in enumerate(params)},
            "start": start.date(),
            "end": day1 + timedelta(days=1),
        },
    )
    keys = ["cloud", "region", "project_id", "project_name", "service", "resource"]
    if series.empty:
        return pd.DataFrame(columns=keys + ["limit"] + _FORECAST_COLUMNS + ["horizon_days", "method"])
    # A series that began inside the window, or ended, keeps only its days with a value.
    series["values"] = [v[~np.isnan(v)] for v in _daily_values(series, (day1.date() - start.date()).days + 1)]
    series["threshold"] = series["limit"] * threshold_pct / 100.0  # unlimited (-1) and 0 are left out above
    out = _forecast_rows(series, keys, horizon, model)
    out.insert(len(keys), "limit", series["limit"].to_numpy())
    return out.sort_values(["days", "days_earliest", *keys], na_position="last").reset_index(drop=True)


def capacity_forecast(
    store: Store | Path | str,
    days: int = 90,
    horizon: int = 90,
    *,
    cloud: Filter = None,
    region: Filter = None,
    ratios: dict[str, float] | None = None,
    model: Model = linear_trend,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Days until each region's allocation of vCPUs, RAM MB and root disk GB (the daily sum of its servers'
    flavors over the last `days` days, from the history) reaches its hypervisors' capacity × allocation
    ratio (`ratios`, default Nova's initial ratios: vCPU 4.0, RAM 1.0, disk 1.0); the same columns as
    quota_forecast, with `capacity` and `ratio`."""
    store = as_store(store)
    ratios = {**DEFAULT_RATIOS, **(ratios or {})}
    now = now_of(store, now)  # once: store.now is a query
    trend = usage_trend(store, days, cloud=cloud, region=region, now=now)
    keys = ["cloud", "region", "resource"]
    if trend.empty:
        return pd.DataFrame(
            columns=keys + ["capacity", "ratio"] + _FORECAST_COLUMNS + ["horizon_days", "method"]
        )
    per_day = trend.groupby(["cloud", "region", "day"], as_index=False)[list(_CAPACITY)].sum()
    daily = per_day.melt(id_vars=["cloud", "region", "day"], var_name="resource", value_name="allocated")
    series = (
        daily.sort_values("day")
        .groupby(keys)["allocated"]
        .agg(lambda v: v.astype(float).tolist())
        .rename("values")
        .reset_index()
    )
    hv = hypervisor_allocation(store, cloud=cloud, region=region, now=now)
    capacity = hv.groupby(["cloud", "region"])[list(_CAPACITY.values())].sum()
    capacity.columns = list(_CAPACITY)
    capacity = capacity.stack().reset_index()
    capacity.columns = keys + ["capacity"]
    series = series.merge(capacity, on=keys, how="inner")
    series["ratio"] = series["resource"].map(ratios)
    series["threshold"] = series["capacity"] * series["ratio"]
    out = _forecast_rows(series, keys, horizon, model)
    out.insert(3, "capacity", series["capacity"].to_numpy())
    out.insert(4, "ratio", series["ratio"].to_numpy())
    return out.sort_values(["days", *keys], na_position="last").reset_index(drop=True)
