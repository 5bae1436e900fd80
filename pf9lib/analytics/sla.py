"""Snapshot SLA and coverage: the one definition of docs/domain.md §5, over the store.

- `status`: per enrolled (volume, policy): compliant when the newest available automatic snapshot of that
  policy is younger than the policy's SLA window (interval + grace: 48 h for a daily policy); otherwise
  quota_blocked (a run was blocked by the project's quota for it in the 48 h before now), never (no automatic
  snapshot of that policy exists) or late.
- `compliance`: compliant / enrolled, in %, by tenant, domain or policy.
- `coverage`: volumes under no policy, and volumes with no snapshot of any kind.
- `rpo`: per volume, the largest gap between consecutive snapshots over a window (and to now): the recovery
  point objective the volume actually achieved.
- `trend`: daily compliance % over the history (each day judged as of its end).

"now" is `store.now` (as_of moves it); every function filters by cloud and region and carries both columns.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from pf9lib.policies import load_policies, named_policy
from pf9lib.store import as_store
from pf9lib.store.reader import Store

STATUSES = ("compliant", "late", "never", "quota_blocked")
BLOCK_LOOKBACK = timedelta(hours=48)


def _windows(store: Store, names: list[str]) -> pd.DataFrame:
    catalogue = load_policies(store.data_dir)
    rows = []
    for name in sorted(set(names)):
        pol = catalogue.get(name) or named_policy(name)
        rows.append({"policy": name, "window_h": pol.sla_hours if pol else None, "known": pol is not None})
    return pd.DataFrame(rows, columns=["policy", "window_h", "known"])


def _lifetimes(store: Store) -> str:
    """Every snapshot ever seen: volume, policy, when it was made and when it was gone (a table the store
    keeps until a run becomes visible)."""
    return store.cached(
        "_sla_snapshot_lives",
        """SELECT cloud, region, id, any_value(volume_id) AS volume_id, any_value(policy) AS policy,
                  bool_or(is_automatic) AS automatic, bool_or(status = 'available') AS available,
                  min(created_at) AS created_at,
                  min(observed_at) FILTER (WHERE op = 'delete') AS gone_at
           FROM snapshots_history GROUP BY cloud, region, id""",
        ("run_ends",),
    )


def _filters(cloud, region, alias: str = "v") -> tuple[str, list]:
    """A cloud or region filter: a name, or a list of names."""
    where, params = [], []
    for column, value in (("cloud", cloud), ("region", region)):
        if isinstance(value, (list, tuple, set)):
            where.append(f"{alias}.{column} IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(value))
        elif value:
            where.append(f"{alias}.{column} = ?")
            params.append(value)
    return (" AND ".join(where) or "TRUE"), params


def status(
    store: Store | Path | str,
    cloud: str | None = None,
    region: str | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """One row per enrolled (volume, policy): its status, the newest automatic snapshot and its age."""
    store = as_store(store)
    now = now or store.now
    where, params = _filters(cloud, region)
    volumes, snapshots = store.current("volumes"), store.current("snapshots")
    enrolled = store.sql(
        f"""SELECT v.cloud, v.region, v.id AS volume_id, v.name AS volume_name, v.project_id, v.project_name,
                   v.domain_name, v.size_gb, unnest(v.snapshot_policy_list) AS policy
            FROM "{volumes}" v WHERE coalesce(v.auto_snapshot, false) AND {where}""",
        params,
    )
    windows = _windows(store, list(enrolled["policy"]))
    newest = store.sql(
        f"""SELECT cloud, region, volume_id, policy, max(created_at) AS newest_at, count(*) AS automatic
            FROM "{snapshots}" WHERE is_automatic AND status = 'available' AND policy IS NOT NULL
            GROUP BY ALL"""
    )
    # A snapshot run audits each (volume, policy) it handled as target "<volume id>:<policy>".
    blocked = store.sql(
        """SELECT DISTINCT target FROM audit
           WHERE result = 'blocked' AND starts_with(action, 'snapshots.') AND "at" > ? AND "at" <= ?""",
        [now - BLOCK_LOOKBACK, now],
    )
    df = enrolled.merge(windows, on="policy", how="left").merge(
        newest, on=["cloud", "region", "volume_id", "policy"], how="left"
    )
    df["automatic"] = df["automatic"].fillna(0).astype("int64")
    df["age_h"] = (pd.Timestamp(now) - df["newest_at"]).dt.total_seconds() / 3600
    is_blocked = (df["volume_id"] + ":" + df["policy"]).isin(set(blocked["target"]))
    df["status"] = "late"
    df.loc[df["newest_at"].isna(), "status"] = "never"
    df.loc[is_blocked & (df["status"] != "compliant"), "status"] = "quota_blocked"
    df.loc[df["newest_at"].notna() & (df["age_h"] <= df["window_h"]), "status"] = "compliant"
    df.loc[~df["known"].fillna(False).astype(bool), "status"] = "late"  # an unknown policy is never met
    columns = [
        "cloud",
        "region",
        "project_id",
        "project_name",
        "domain_name",
        "volume_id",
        "volume_name",
        "size_gb",
        "policy",
        "window_h",
        "newest_at",
        "age_h",
        "automatic",
        "status",
    ]
    return (
        df[columns]
        .sort_values(["cloud", "region", "project_name", "volume_name", "policy"])
        .reset_index(drop=True)
    )


def compliance(
    store: Store | Path | str,
    by: str = "tenant",
    cloud: str | None = None,
    region: str | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Compliance % (compliant / enrolled) per tenant, domain or policy, worst first, with each status."""
    keys = {"tenant": ["project_id", "project_name"], "domain": ["domain_name"], "policy": ["policy"]}
    if by not in keys:
        from pf9lib.errors import Pf9Error

        raise Pf9Error(f"compliance by {by!r}: choose tenant, domain or policy")
    df = status(store, cloud, region, now)
    group = ["cloud", "region", *keys[by]]
    if df.empty:
        return pd.DataFrame(columns=[*group, "enrolled", *STATUSES, "compliance_pct"])
    counts = pd.crosstab([df[c] for c in group], df["status"]).reindex(columns=list(STATUSES), fill_value=0)
    out = counts.reset_index()
    out["enrolled"] = out[list(STATUSES)].sum(axis=1)
    out["compliance_pct"] = (out["compliant"] / out["enrolled"] * 100).round(1)
    out.columns.name = None
    return (
        out[[*group, "enrolled", *STATUSES, "compliance_pct"]]
        .sort_values(["compliance_pct", *group])
        .reset_index(drop=True)
    )


def coverage(store: Store | Path | str, cloud: str | None = None, region: str | None = None) -> pd.DataFrame:
    """Every volume with its protection: under a policy or not, and how many snapshots of any kind it has;
    `gap` names what is missing (no policy, no snapshot) — empty when covered."""
    store = as_store(store)
    where, params = _filters(cloud, region)
    volumes, snapshots = store.current("volumes"), store.current("snapshots")
    df = store.sql(
        f"""WITH counted AS (
                SELECT cloud, region, volume_id, count(*) AS n FROM "{snapshots}" GROUP BY ALL
            )
            SELECT v.cloud, v.region, v.project_id, v.project_name, v.domain_name, v.id AS volume_id,
                   v.name AS volume_name, v.size_gb, v.status,
                   coalesce(v.auto_snapshot, false)
                       AND len(coalesce(v.snapshot_policy_list, [])) > 0 AS enrolled,
                   coalesce(c.n, 0) AS snapshots
            FROM "{volumes}" v LEFT JOIN counted c
              ON c.volume_id = v.id AND c.cloud = v.cloud AND c.region = v.region
            WHERE {where}
            ORDER BY v.cloud, v.region, v.project_name, v.name""",
        params,
    )
    df["gap"] = ""
    df.loc[~df["enrolled"], "gap"] = "no policy"
    df.loc[df["snapshots"] == 0, "gap"] = df["gap"].where(df["gap"] == "", df["gap"] + ", ") + "no snapshot"
    return df


def rpo(
    store: Store | Path | str,
    days: float = 30,
    cloud: str | None = None,
    region: str | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Per volume, the largest gap (hours) between consecutive snapshots in the last `days`, counting the gap
    from the window's start to the first and from the last to now; snapshots deleted since count too."""
    store = as_store(store)
    now = now or store.now
    start = now - timedelta(days=days)
    where, params = _filters(cloud, region)
    lives, volumes = _lifetimes(store), store.current("volumes")
    return store.sql(
        f"""WITH made AS (
                SELECT cloud, region, volume_id, created_at AS t FROM "{lives}"
                WHERE created_at > ? AND created_at <= ?
            ), points AS (
                SELECT v.cloud, v.region, v.id AS volume_id, m.t FROM "{volumes}" v
                LEFT JOIN made m ON m.volume_id = v.id AND m.cloud = v.cloud AND m.region = v.region
                WHERE {where}
            ), edges AS (
                SELECT cloud, region, volume_id, t FROM points WHERE t IS NOT NULL
                UNION ALL SELECT DISTINCT cloud, region, volume_id, ?::TIMESTAMPTZ FROM points
                UNION ALL SELECT DISTINCT cloud, region, volume_id, ?::TIMESTAMPTZ FROM points
            ), gaps AS (
                SELECT cloud, region, volume_id, t,
                       date_diff('second', lag(t) OVER (PARTITION BY cloud, region, volume_id ORDER BY t), t)
                           AS gap_s
                FROM edges
            )
            SELECT g.cloud, g.region, g.volume_id, v.name AS volume_name, v.project_name,
                   round(max(g.gap_s) / 3600.0, 1) AS worst_gap_h, count(*) - 2 AS snapshots_in_window
            FROM gaps g JOIN "{volumes}" v ON v.id = g.volume_id AND v.cloud = g.cloud AND v.region = g.region
            GROUP BY ALL ORDER BY worst_gap_h DESC, g.volume_id""",
        [start, now, *params, start, now],
    )


def trend(
    store: Store | Path | str,
    days: int = 30,
    cloud: str | None = None,
    region: str | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Daily compliance over the last `days`: each day is judged at its end (UTC) from the history — the
    volumes enrolled then, and the automatic snapshots that existed then (created, not yet deleted, and seen
    available at some run).
    Quota blocks are not replayed: a day's non-compliant (volume, policy) counts as late or never."""
    store = as_store(store)
    now = now or store.now
    end = pd.Timestamp(now).floor("D") + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    start = end - pd.Timedelta(days=days - 1)
    where, params = _filters(cloud, region, "ids")
    lives = _lifetimes(store)
    policies = store.sql("SELECT DISTINCT unnest(snapshot_policy_list) AS p FROM volumes_history")[
        "p"
    ].dropna()
    windows = _windows(store, list(policies)).dropna(subset=["window_h"])
    values = ", ".join("(?, ?)" for _ in range(len(windows))) or "(NULL, NULL)"
    window_params = [v for row in windows.itertuples() for v in (row.policy, float(row.window_h))]
    return store.sql(
        f"""WITH days AS (
                SELECT unnest(generate_series(?::TIMESTAMPTZ, ?::TIMESTAMPTZ, INTERVAL 1 DAY)) AS d
            ), ids AS (
                SELECT DISTINCT cloud, region, id FROM volumes_history
            ), grid AS (
                SELECT ids.cloud, ids.region, ids.id, days.d FROM ids CROSS JOIN days WHERE {where}
            ), state AS (
                SELECT g.d, h.cloud, h.region, h.id, h.op, h.auto_snapshot, h.snapshot_policy_list
                FROM grid g ASOF JOIN volumes_history h
                  ON h.cloud = g.cloud AND h.region = g.region AND h.id = g.id AND g.d >= h.observed_at
            ), enrolled AS (
                SELECT d, cloud, region, id AS volume_id, unnest(snapshot_policy_list) AS policy FROM state
                WHERE op = 'upsert' AND coalesce(auto_snapshot, false)
            ), life AS (
                SELECT * FROM "{lives}" WHERE automatic AND available
            ), newest AS (
                SELECT e.d, e.cloud, e.region, e.volume_id, e.policy, max(l.created_at) AS newest_at
                FROM enrolled e LEFT JOIN life l
                  ON l.volume_id = e.volume_id AND l.cloud = e.cloud AND l.region = e.region
                 AND l.policy = e.policy AND l.created_at <= e.d AND (l.gone_at IS NULL OR l.gone_at > e.d)
                GROUP BY ALL
            ), windows(policy, window_h) AS (VALUES {values}
            ), judged AS (
                SELECT n.*, date_diff('second', n.newest_at, n.d) <= w.window_h * 3600 AS ok
                FROM newest n JOIN windows w USING (policy)
            )
            SELECT CAST(d AS DATE) AS day, cloud, region, count(*) AS enrolled,
                   count(*) FILTER (WHERE ok) AS compliant,
                   round(100.0 * count(*) FILTER (WHERE ok) / count(*), 1) AS compliance_pct
            FROM judged GROUP BY ALL ORDER BY day, cloud, region""",
        [start.to_pydatetime(), end.to_pydatetime(), *params, *window_params],
    )


def tenant_compliance(
    store: Store | Path | str,
    *,
    cloud: str | None = None,
    region: str | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Per tenant (project in a region): enrolled (volume, policy) pairs and how many are compliant — the SLA
    part of tenant health (pf9lib.analytics.tenants)."""
    df = compliance(store, "tenant", cloud, region, now)
    return df[["cloud", "region", "project_id", "enrolled", "compliant"]].reset_index(drop=True)
