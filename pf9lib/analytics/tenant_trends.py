"""Per-tenant daily trends: drift events by severity, snapshot creations, and VMs / volume GB held at the end
of each day, reconstructed from the history (docs/domain.md §2: the state at any time is reconstructable).

A day is a UTC day; the window is the last `days` days ending with the day of `now` (default `store.now`),
zero-filled for every tenant that appears in it. The state "at the end of day D" is the newest stored state
observed before D + 1 day; the newest day shows the state as of `now`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from pf9lib.analytics.drift_events import state_view
from pf9lib.analytics.scope import TENANT_KEY, Filter, now_of, where
from pf9lib.store import as_store
from pf9lib.store.reader import Store

USAGE_DELTAS = "pf9_tenant_usage_deltas"
BIRTHS = "pf9_births"
USAGE_MEASURES = ("vms", "vcpus", "ram_mb", "disk_gb", "volumes", "volume_gb")

# Each stored state of a server or volume holds from its run until the object's next state (or forever):
# it counts at the end of every day from the day it was observed to the day before the next state's day
# (a state replaced the same day never counts). Per tenant and day the sum of +x on the first day and -x the
# day after the last is kept, so any day's totals are a running sum over a small table instead of a
# reconstruction per day.
_USAGE_DELTAS = """
    WITH spans AS (
        SELECT cloud, region, project_id, project_name, op, observed_at, 1 AS vms,
               coalesce(vcpus, 0) AS vcpus, coalesce(ram_mb, 0) AS ram_mb, coalesce(disk_gb, 0) AS disk_gb,
               0 AS volumes, 0 AS volume_gb,
               lead(observed_at) OVER (PARTITION BY cloud, region, id ORDER BY observed_at, run_id) AS next_at
        FROM servers_history
        UNION ALL
        SELECT cloud, region, project_id, project_name, op, observed_at, 0, 0, 0, 0, 1, coalesce(size_gb, 0),
               lead(observed_at) OVER (PARTITION BY cloud, region, id ORDER BY observed_at, run_id)
        FROM volumes_history
    ), days AS (
        SELECT *, CAST(observed_at AS DATE) AS first_day,
               CAST(next_at - INTERVAL 1 DAY AS DATE) AS last_day
        FROM spans WHERE op = 'upsert'
    ), deltas AS (
        SELECT cloud, region, project_id, project_name, first_day AS day, observed_at, vms, vcpus, ram_mb,
               disk_gb, volumes, volume_gb
        FROM days WHERE last_day IS NULL OR last_day >= first_day
        UNION ALL
        SELECT cloud, region, project_id, project_name, last_day + 1, observed_at, -vms, -vcpus, -ram_mb,
               -disk_gb, -volumes, -volume_gb
        FROM days WHERE last_day >= first_day
    )
    SELECT cloud, region, project_id, day, arg_max(project_name, observed_at) AS project_name,
           sum(vms)::BIGINT AS vms, sum(vcpus)::BIGINT AS vcpus, sum(ram_mb)::BIGINT AS ram_mb,
           sum(disk_gb)::BIGINT AS disk_gb, sum(volumes)::BIGINT AS volumes,
           sum(volume_gb)::BIGINT AS volume_gb
    FROM deltas GROUP BY cloud, region, project_id, day
"""

_USAGE_TREND = """
    WITH d AS (SELECT * FROM "{deltas}" WHERE {where}),
    names AS (
        SELECT cloud, region, project_id, arg_max(project_name, day) AS project_name FROM d GROUP BY ALL
    ),
    base AS (
        SELECT cloud, region, project_id, {sums} FROM d WHERE day < $start GROUP BY ALL
    ), win AS (
        SELECT cloud, region, project_id, day, {sums} FROM d WHERE day BETWEEN $start AND $end GROUP BY ALL
    ), grid AS (
        SELECT cloud, region, project_id, CAST(unnest(generate_series($start, $end, INTERVAL 1 DAY)) AS DATE)
               AS day
        FROM (SELECT DISTINCT cloud, region, project_id FROM d WHERE day <= $end)
    ), running AS (
        SELECT g.cloud, g.region, g.project_id, g.day, {running}
        FROM grid g LEFT JOIN win w USING (cloud, region, project_id, day)
        LEFT JOIN base b USING (cloud, region, project_id)
    )
    SELECT r.day, r.cloud, r.region, r.project_id, n.project_name, {columns}
    FROM running r JOIN names n USING (cloud, region, project_id)
    QUALIFY max(vms + volumes) OVER (PARTITION BY r.cloud, r.region, r.project_id) > 0
    ORDER BY r.cloud, r.region, n.project_name, r.project_id, r.day
"""


def _window(store: Store, days: int, now: datetime | None) -> tuple:
    end = now_of(store, now).date()
    return end - timedelta(days=int(days) - 1), end


def usage_trend(
    store: Store | Path | str,
    days: int = 30,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Per tenant and UTC day: VMs, vCPUs, RAM MB, root disk GB (servers' flavors), volumes and volume GB
    held at the end of the day (as-of reconstruction from the history), the last `days` days; tenants
    holding nothing in the whole window are left out."""
    store = as_store(store)
    deltas = store.cached(USAGE_DELTAS, _USAGE_DELTAS, ("run_ends",))
    clause, params = where(cloud=cloud, region=region, project=project)
    start, end = _window(store, days, now)
    sql = _USAGE_TREND.format(
        deltas=deltas,
        where=_named(clause),  # named parameters below: one style per statement
        sums=", ".join(f"sum({m}) AS {m}" for m in USAGE_MEASURES),
        running=", ".join(
            f"coalesce(b.{m}, 0) + sum(coalesce(w.{m}, 0)) OVER "
            f"(PARTITION BY g.cloud, g.region, g.project_id ORDER BY g.day) AS {m}"
            for m in USAGE_MEASURES
        ),
        columns=", ".join(f"r.{m}::BIGINT AS {m}" for m in USAGE_MEASURES),
    )
    return store.sql(sql, {**_params(params), "start": start, "end": end})


def _named(clause: str) -> str:
    """scope.where's `?` placeholders as $p0_, $p1_ … in order, so they mix with named ones."""
    parts = clause.split("?")
    return "".join(part + (f"$p{i}_" if i < len(parts) - 1 else "") for i, part in enumerate(parts))


def _params(params: list) -> dict:
    return {f"p{i}_": value for i, value in enumerate(params)}


def _zero_fill(df: pd.DataFrame, start, end, value_columns: list[str]) -> pd.DataFrame:
    """Every day of [start, end] for every tenant present, zeros where nothing happened."""
    days = pd.date_range(start, end, freq="D").date
    if df.empty:
        return df.assign(day=pd.Series(dtype=object))[["day", *TENANT_KEY, "project_name", *value_columns]]
    df = df.assign(day=pd.to_datetime(df["day"]).dt.date)
    names = df.groupby(TENANT_KEY, dropna=False)["project_name"].last()
    index = pd.MultiIndex.from_tuples(
        [(*key, day) for key in names.index for day in days], names=[*TENANT_KEY, "day"]
    )
    out = df.groupby([*TENANT_KEY, "day"], dropna=False)[value_columns].sum().reindex(index, fill_value=0)
    out = out.astype("int64").reset_index().merge(names.reset_index(), on=TENANT_KEY, how="left")
    return out[["day", *TENANT_KEY, "project_name", *value_columns]]


def drift_trend(
    store: Store | Path | str,
    days: int = 30,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Drift events per tenant and UTC day (by the day the change was seen), per severity (critical,
    warning, info) and total, acknowledged or not; zero-filled for tenants with any event in the window."""
    store = as_store(store)
    clause, params = where(cloud=cloud, region=region, project=project)
    start, end = _window(store, days, now)
    df = store.sql(
        f"""SELECT CAST(observed_at AS DATE) AS day, cloud, region, project_id,
                   arg_max(project_name, observed_at) AS project_name,
                   count(*) FILTER (WHERE severity = 'critical') AS critical,
                   count(*) FILTER (WHERE severity = 'warning') AS warning,
                   count(*) FILTER (WHERE severity = 'info') AS info
            FROM "{state_view(store)}"
            WHERE {clause} AND CAST(observed_at AS DATE) BETWEEN ? AND ? GROUP BY ALL""",
        [*params, start, end],
    )
    out = _zero_fill(df, start, end, ["critical", "warning", "info"])
    out["total"] = (out["critical"] + out["warning"] + out["info"]).astype("int64")
    return out


# Each server, volume and snapshot once, as first seen: its project, creation time, size (GB: a volume's or
# snapshot's size, a server's root disk) and whether a policy made it (snapshots). Kept from the history, so
# objects since deleted still count on the day they were made.
_BIRTHS = """
    SELECT '{kind}' AS type, cloud, region, id, arg_min(project_id, observed_at) AS project_id,
           arg_min(project_name, observed_at) AS project_name, arg_min(created_at, observed_at) AS created_at,
           arg_min({gb}, observed_at) AS gb, arg_min({automatic}, observed_at) AS is_automatic
    FROM {kind}_history WHERE op = 'upsert' GROUP BY cloud, region, id
"""


def births(store: Store) -> str:
    """The table of every server, volume and snapshot the history ever saw, once each (kept current)."""
    parts = [
        _BIRTHS.format(kind="servers", gb="disk_gb", automatic="NULL::BOOLEAN"),
        _BIRTHS.format(kind="volumes", gb="size_gb", automatic="NULL::BOOLEAN"),
        _BIRTHS.format(kind="snapshots", gb="size_gb", automatic="is_automatic"),
    ]
    return store.cached(BIRTHS, " UNION ALL ".join(parts), ("run_ends",))


def snapshot_trend(
    store: Store | Path | str,
    days: int = 30,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Snapshots created per tenant and UTC day (by their created_at): created, automatic, manual and GB,
    counting snapshots deleted since (from the history); a snapshot made and deleted between two runs was
    never seen and is not counted. Zero-filled for tenants with any creation in the window."""
    store = as_store(store)
    clause, params = where(cloud=cloud, region=region, project=project)
    start, end = _window(store, days, now)
    df = store.sql(
        f"""SELECT CAST(created_at AS DATE) AS day, cloud, region, project_id,
                   arg_max(project_name, created_at) AS project_name, count(*) AS created,
                   count(*) FILTER (WHERE is_automatic) AS automatic,
                   count(*) FILTER (WHERE NOT coalesce(is_automatic, false)) AS manual,
                   coalesce(sum(gb), 0) AS created_gb
            FROM "{births(store)}"
            WHERE type = 'snapshots' AND {clause} AND CAST(created_at AS DATE) BETWEEN ? AND ?
            GROUP BY ALL""",
        [*params, start, end],
    )
    return _zero_fill(df, start, end, ["created", "automatic", "manual", "created_gb"])
