"""Tenant scores (docs/domain.md §5): health with every point lost explained, risk, utilisation and its
heatmap, and the tenant summary. One row per tenant = (cloud, region, project) (see pf9lib.analytics.scope).

The snapshot SLA part of health comes from `pf9lib.analytics.sla` once that module exists: a function
`tenant_compliance(store, *, cloud, region, now) -> DataFrame[cloud, region, project_id, enrolled, compliant]`
is looked up there (or passed as `sla=`). Until then the SLA part says "no policy data" and costs nothing;
no number is made up for it.

Quota usage and the per-tenant trends live in pf9lib.analytics.quotas and tenant_trends (re-exported here).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pf9lib.analytics.drift_events import state_view
from pf9lib.analytics.quotas import quota_usage
from pf9lib.analytics.scope import TENANT_COLUMNS, TENANT_KEY, Filter, now_of, where
from pf9lib.analytics.tenant_facts import tenant_facts, volume_protection
from pf9lib.analytics.tenant_trends import drift_trend, snapshot_trend, usage_trend
from pf9lib.store import as_store
from pf9lib.store.reader import Store

__all__ = [
    "HEALTH_COMPONENTS",
    "NO_POLICY_DATA",
    "drift_trend",
    "health_breakdown",
    "quota_usage",
    "snapshot_trend",
    "tenant_counts",
    "tenant_health",
    "tenant_risk",
    "tenant_summary",
    "usage_trend",
    "utilisation",
    "utilisation_matrix",
]

# docs/domain.md §5, tenant health: (count column, points per item, most points the part can cost).
HEALTH_COMPONENTS: tuple[tuple[str, float, float], ...] = (
    ("error_vms", 10, 20),
    ("shutoff_vms", 2, 10),
    ("error_volumes", 5, 15),
    ("error_snapshots", 5, 10),
    ("open_critical_drift", 5, 15),
    ("open_warning_drift", 2, 10),
)
SLA_POINTS, SLA_CAP = 0.2, 20.0  # per % of enrolled (volume, policy) pairs not compliant
HEALTHY, WARNING = 80.0, 50.0
RISK_HIGH, RISK_MEDIUM, STALE_DAYS = 50.0, 20.0, 7
NO_POLICY_DATA = "no policy data"
NOTHING_ENROLLED = "nothing enrolled"

SlaSource = Callable[..., pd.DataFrame]


def _sla_source() -> SlaSource | None:
    """`pf9lib.analytics.sla.tenant_compliance` once that module exists; None until then."""
    try:
        module = importlib.import_module("pf9lib.analytics.sla")
    except ModuleNotFoundError as exc:
        if exc.name != "pf9lib.analytics.sla":
            raise  # the module exists but is broken: say so rather than hide it behind "no policy data"
        return None
    return getattr(module, "tenant_compliance", None)


# The health counts per tenant (pf9lib.analytics.tenant_facts) and its open (not acknowledged) drift.
_HEALTH_COUNTS = """
    WITH dr AS (SELECT cloud, region, project_id,
                       count(*) FILTER (WHERE severity = 'critical') AS open_critical_drift,
                       count(*) FILTER (WHERE severity = 'warning') AS open_warning_drift
                FROM "{drift}" WHERE NOT acknowledged GROUP BY ALL)
    SELECT t.cloud, t.region, t.project_id, t.project_name, t.domain_id, t.domain_name, t.error_vms,
           t.shutoff_vms, t.error_volumes, t.error_snapshots,
           coalesce(open_critical_drift, 0)::BIGINT AS open_critical_drift,
           coalesce(open_warning_drift, 0)::BIGINT AS open_warning_drift
    FROM "{facts}" t LEFT JOIN dr USING (cloud, region, project_id)
    WHERE {where}
    ORDER BY t.cloud, t.region, t.project_name, t.project_id
"""


def tenant_health(
    store: Store | Path | str,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
    sla: SlaSource | None = None,
) -> pd.DataFrame:
    """Tenant health 0–100 (docs/domain.md §5), one row per tenant, worst first.

    health = 100 − min(20, 10 × error VMs) − min(10, 2 × SHUTOFF VMs) − min(15, 5 × error* volumes)
    − min(10, 5 × error* snapshots) − min(20, 0.2 × (100 − SLA compliance %)) [0 when nothing is enrolled or
    there is no SLA data] − min(15, 5 × open critical drift) − min(10, 2 × open warning drift).
    For each part a count column and `<part>_lost` (the points it cost); `sla_status` is "no policy data"
    until pf9lib.analytics.sla exists (or `sla=` gives the compliance per tenant), "nothing enrolled", or
    "<pct>% compliant". `status`: healthy ≥ 80, warning ≥ 50, critical below. `points_lost` sums the parts.
    """
    store = as_store(store)
    clause, params = where("t", cloud=cloud, region=region, project=project)
    sql = _HEALTH_COUNTS.format(drift=state_view(store), facts=tenant_facts(store), where=clause)
    df = store.sql(sql, params)
    lost = pd.Series(0.0, index=df.index)
    for column, points, cap in HEALTH_COMPONENTS:
        df[f"{column}_lost"] = np.minimum(cap, points * df[column].astype(float))
        lost += df[f"{column}_lost"]
    df = _with_sla(store, df, sla, cloud=cloud, region=region, now=now)
    lost += df["sla_lost"]
    df["points_lost"] = lost
    df["health"] = (100.0 - lost).clip(0.0, 100.0)
    df["status"] = np.select(
        [df["health"] >= HEALTHY, df["health"] >= WARNING], ["healthy", "warning"], "critical"
    )
    order = TENANT_COLUMNS + ["health", "status", "points_lost"]
    for column, _, _ in HEALTH_COMPONENTS:
        order += [column, f"{column}_lost"]
    order += ["sla_enrolled", "sla_compliant", "sla_compliance_pct", "sla_lost", "sla_status"]
    df = df[order].sort_values(["health", "cloud", "region", "project_name"], na_position="last")
    return df.reset_index(drop=True)


def _with_sla(
    store: Store,
    df: pd.DataFrame,
    sla: SlaSource | None,
    *,
    cloud: Filter,
    region: Filter,
    now: datetime | None,
) -> pd.DataFrame:
    source = sla or _sla_source()
    if source is None:
        df["sla_enrolled"] = pd.array([pd.NA] * len(df), dtype="Int64")
        df["sla_compliant"] = pd.array([pd.NA] * len(df), dtype="Int64")
        df["sla_compliance_pct"] = np.nan
        df["sla_lost"] = 0.0
        df["sla_status"] = NO_POLICY_DATA
        return df
    # store.now is a query: asked only when an SLA source needs it
    got = source(store, cloud=cloud, region=region, now=now_of(store, now))
    got = got[TENANT_KEY + ["enrolled", "compliant"]]
    got = got.rename(columns={"enrolled": "sla_enrolled", "compliant": "sla_compliant"})
    df = df.merge(got, on=TENANT_KEY, how="left")
    enrolled = df["sla_enrolled"].fillna(0).astype("int64")
    compliant = df["sla_compliant"].fillna(0).astype("int64")
    df["sla_enrolled"], df["sla_compliant"] = enrolled, compliant
    pct = (compliant / enrolled.where(enrolled > 0) * 100.0).clip(0.0, 100.0)
    df["sla_compliance_pct"] = pct
    df["sla_lost"] = np.minimum(SLA_CAP, SLA_POINTS * (100.0 - pct)).fillna(0.0)
    df["sla_status"] = [NOTHING_ENROLLED if pd.isna(p) else f"{p:.0f}% compliant" for p in pct]
    return df


def health_breakdown(health: pd.DataFrame) -> pd.DataFrame:
    """tenant_health's parts in long format (tenant × component: count, points per item, cap, points lost),
    for a "why is this tenant at 62" table; the SLA part shows its status text."""
    rows = []
    parts = [*HEALTH_COMPONENTS, ("sla", SLA_POINTS, SLA_CAP)]
    for column, points, cap in parts:
        count = health["sla_compliance_pct"] if column == "sla" else health[column]
        part = health[TENANT_COLUMNS + ["health"]].copy()
        part["component"] = column
        part["count"] = count.astype(float)
        part["points_each"] = points
        part["cap"] = cap
        part["points_lost"] = health[f"{column}_lost"].astype(float)
        part["note"] = health["sla_status"] if column == "sla" else ""
        rows.append(part)
    return pd.concat(rows, ignore_index=True)


# Per tenant: volumes, those with no snapshot at all, those whose newest snapshot is older than the cut.
_RISK = """
    WITH v AS (SELECT cloud, region, project_id,
                      count(*) FILTER (WHERE newest_snapshot IS NULL) AS unprotected,
                      count(*) FILTER (WHERE newest_snapshot < ?) AS stale
               FROM "{protection}" GROUP BY ALL)
    SELECT t.cloud, t.region, t.project_id, t.project_name, t.domain_id, t.domain_name, t.volumes,
           coalesce(unprotected, 0)::BIGINT AS unprotected, coalesce(stale, 0)::BIGINT AS stale
    FROM "{facts}" t LEFT JOIN v USING (cloud, region, project_id)
    WHERE {where}
"""


def tenant_risk(
    store: Store | Path | str,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
    stale_days: float = STALE_DAYS,
) -> pd.DataFrame:
    """Tenant risk 0–100 (docs/domain.md §5), riskiest first: min(100, (volumes with no snapshot + 0.5 ×
    volumes whose newest snapshot is older than `stale_days` before now) / volumes × 100); 0 with no
    volumes. A snapshot of any status counts (as in the health summary's "volumes without snapshots").
    `level`: high ≥ 50, medium ≥ 20, else low; `unprotected_pct` and `stale_pct` are the shares behind it."""
    store = as_store(store)
    clause, params = where("t", cloud=cloud, region=region, project=project)
    cut = now_of(store, now) - timedelta(days=stale_days)
    sql = _RISK.format(protection=volume_protection(store), facts=tenant_facts(store), where=clause)
    df = store.sql(sql, [cut, *params])
    volumes = df["volumes"].where(df["volumes"] > 0)
    df["unprotected_pct"] = (df["unprotected"] / volumes * 100.0).fillna(0.0)
    df["stale_pct"] = (df["stale"] / volumes * 100.0).fillna(0.0)
    df["risk"] = ((df["unprotected"] + 0.5 * df["stale"]) / volumes * 100.0).fillna(0.0).clip(0.0, 100.0)
    df["level"] = np.select([df["risk"] >= RISK_HIGH, df["risk"] >= RISK_MEDIUM], ["high", "medium"], "low")
    order = TENANT_COLUMNS + [
        "risk",
        "level",
        "volumes",
        "unprotected",
        "stale",
        "unprotected_pct",
        "stale_pct",
    ]
    df = df[order].sort_values(
        ["risk", "cloud", "region", "project_name"], ascending=[False, True, True, True]
    )
    return df.reset_index(drop=True)


UTILISATION_METRICS = ("active_vms_pct", "in_use_volumes_pct", "utilisation")


def utilisation(
    store: Store | Path | str,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
    long: bool = True,
) -> pd.DataFrame:
    """The utilisation heatmap (docs/domain.md §5): utilisation = 0.6 × ACTIVE / all VMs × 100 + 0.4 ×
    in-use / all volumes × 100 (a part with no objects contributes 0). Long format (tenant × metric:
    active_vms_pct, in_use_volumes_pct, utilisation; `value`) by default, one row per tenant with the counts
    when `long=False`; `utilisation_matrix` turns the long form into tenant × metric."""
    store = as_store(store)
    df = _facts(store, "vms, active_vms, volumes, in_use_volumes", cloud, region, project)
    df["active_vms_pct"] = (df["active_vms"] / df["vms"].where(df["vms"] > 0) * 100.0).fillna(0.0)
    df["in_use_volumes_pct"] = (df["in_use_volumes"] / df["volumes"].where(df["volumes"] > 0) * 100.0).fillna(
        0.0
    )
    df["utilisation"] = 0.6 * df["active_vms_pct"] + 0.4 * df["in_use_volumes_pct"]
    df = df.sort_values(["cloud", "region", "project_name", "project_id"]).reset_index(drop=True)
    if not long:
        return df
    out = df.melt(id_vars=TENANT_COLUMNS, value_vars=list(UTILISATION_METRICS), var_name="metric")
    return out.reset_index(drop=True)


def utilisation_matrix(
    store_or_long: Store | Path | str | pd.DataFrame, *, label: str = "project_name", **filters
) -> pd.DataFrame:
    """A long tenant × metric frame (utilisation's, or any with `metric` and `value`) as a wide matrix:
    one row per tenant labelled `cloud/region/<label>`, one column per metric (for a heatmap figure)."""
    long = store_or_long if isinstance(store_or_long, pd.DataFrame) else utilisation(store_or_long, **filters)
    if long.empty:
        return pd.DataFrame()
    names = long[label].fillna(long["project_id"]) if label in long else long["project_id"]
    tenant = long["cloud"] + "/" + long["region"] + "/" + names.astype(str)
    wide = long.assign(tenant=tenant).pivot_table(
        index="tenant", columns="metric", values="value", sort=False
    )
    wide.columns.name = None
    return wide[[m for m in dict.fromkeys(long["metric"]) if m in wide.columns]]


def tenant_counts(
    store: Store | Path | str,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
) -> pd.DataFrame:
    """Per tenant: VMs (running = ACTIVE), vCPUs, RAM MB, volumes and GB, networks it owns in the region,
    users (distinct users with a role assignment on the project; group members not expanded)."""
    columns = "vms, active_vms AS running_vms, vcpus, ram_mb, volumes, volume_gb, networks, users"
    return _facts(as_store(store), columns, cloud, region, project)


def _facts(store: Store, columns: str, cloud: Filter, region: Filter, project: Filter) -> pd.DataFrame:
    """Tenant columns and `columns` of the kept per-tenant counts, filtered."""
    clause, params = where("t", cloud=cloud, region=region, project=project)
    return store.sql(
        f'SELECT {", ".join(TENANT_COLUMNS)}, {columns} FROM "{tenant_facts(store)}" t WHERE {clause} '
        "ORDER BY cloud, region, project_name, project_id",
        params,
    )


def tenant_summary(
    store: Store | Path | str,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    now: datetime | None = None,
    sla: SlaSource | None = None,
) -> pd.DataFrame:
    """Per tenant: the counts of tenant_counts (VMs, running VMs, vCPUs, RAM, volumes and GB, networks,
    users), SLA status, health with its status, risk with its level."""
    store = as_store(store)
    df = tenant_counts(store, cloud=cloud, region=region, project=project)
    scope = {"cloud": cloud, "region": region, "project": project, "now": now_of(store, now)}
    health = tenant_health(store, sla=sla, **scope)[TENANT_KEY + ["health", "status", "sla_status"]]
    risk = tenant_risk(store, **scope)[TENANT_KEY + ["risk", "level"]].rename(columns={"level": "risk_level"})
    df = df.merge(health, on=TENANT_KEY, how="left").merge(risk, on=TENANT_KEY, how="left")
    return df.sort_values(["cloud", "region", "project_name", "project_id"]).reset_index(drop=True)
