"""What the tenant, landing and capacity analytics share: the cloud/region/project filters, "now", the set
of tenants a store knows (docs/domain.md §5), and the current state read through tables the store keeps.

A tenant is a project of one cloud seen in one region: Keystone is global, so a project's row says
region "global", while its VMs, volumes and quotas live in regions. The tenant analytics therefore answer per
(cloud, region, project): every project of a cloud in every region the cloud's newest run listed, plus any
project id a regional object names that Keystone did not list (an orphan is still counted, never dropped).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pf9lib.store.reader import VISIBLE_STATUSES, Store

if TYPE_CHECKING:
    import pandas as pd

Filter = str | list[str] | tuple[str, ...] | None


def now_of(store: Store, now: datetime | None) -> datetime:
    """The end of every window: the `now` given, else the time the store describes."""
    return (now or store.now).astimezone(UTC)


def complete_days(store: Store, days: float, now: datetime | None) -> tuple[datetime, datetime]:
    """The last `days` whole UTC days before the day of now, as [start, end) — what daily roll-ups cover
    (a day's roll-up is stamped with the day's midnight and exists once the day is over)."""
    end = now_of(store, now)
    midnight = datetime.combine(end.date(), datetime.min.time(), UTC)
    return midnight - timedelta(days=days), midnight


def values(value: Filter) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def where(
    alias: str = "",
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    params: list[Any] | None = None,
) -> tuple[str, list[Any]]:
    """A WHERE clause (never empty) and its parameters for the usual filters on `alias`'s columns.

    A project is named by id or by name; several values of a filter mean any of them."""
    col = f"{alias}." if alias else ""
    clauses, params = ["TRUE"], list(params or [])
    for column, value in (("cloud", cloud), ("region", region)):
        given = values(value)
        if given is not None:
            clauses.append(f"{col}{column} IN (SELECT unnest(?::VARCHAR[]))")
            params.append(given)
    given = values(project)
    if given is not None:
        clauses.append(
            f"({col}project_id IN (SELECT unnest(?::VARCHAR[])) OR {col}project_name IN "
            "(SELECT unnest(?::VARCHAR[])))"
        )
        params += [given, given]
    return " AND ".join(clauses), params


# The regions of each cloud are the regions its newest visible run listed.
CLOUD_REGIONS = f"""
    SELECT cloud, unnest(regions) AS region FROM runs WHERE status IN {VISIBLE_STATUSES}
    QUALIFY row_number() OVER (PARTITION BY cloud ORDER BY started_at DESC, run_id DESC) = 1
"""


def tenants_sql(cloud: Filter = None, region: Filter = None, project: Filter = None) -> tuple[str, list]:
    """SQL (and its parameters) of the tenants: cloud, region, project_id, project_name, domain_id,
    domain_name — Keystone's projects in each of the cloud's regions, plus orphans named by servers,
    volumes and snapshots."""
    clause, params = where("t", cloud=cloud, region=region, project=project)
    sql = f"""
        SELECT * FROM (
            SELECT cloud, region, project_id, arg_max(project_name, rank) AS project_name,
                   arg_max(domain_id, rank) AS domain_id, arg_max(domain_name, rank) AS domain_name
            FROM (
                SELECT p.cloud, cr.region, p.id AS project_id, p.name AS project_name, p.domain_id,
                       p.domain_name, 2 AS rank
                FROM projects p JOIN ({CLOUD_REGIONS}) cr USING (cloud)
                WHERE NOT coalesce(p.is_domain, false)
                UNION ALL SELECT cloud, region, project_id, project_name, domain_id, domain_name, 1
                FROM servers WHERE project_id IS NOT NULL
                UNION ALL SELECT cloud, region, project_id, project_name, domain_id, domain_name, 1
                FROM volumes WHERE project_id IS NOT NULL
                UNION ALL SELECT cloud, region, project_id, project_name, domain_id, domain_name, 1
                FROM snapshots WHERE project_id IS NOT NULL
            ) GROUP BY cloud, region, project_id
        ) t WHERE {clause}
    """
    return sql, params


TENANT_KEY = ["cloud", "region", "project_id"]
TENANT_COLUMNS = ["cloud", "region", "project_id", "project_name", "domain_id", "domain_name"]


# The current-state views pick each object's newest row out of its whole history on every read: seconds once
# a store holds a year of runs. These analytics read them through tables the store keeps instead (built once
# per open store, rebuilt when a run became visible). Raw JSON is dropped except where an analytic reads it.
CURRENT_TYPES = (
    "servers",
    "volumes",
    "snapshots",
    "projects",
    "networks",
    "hypervisors",
    "role_assignments",
    "flavors",
    "aggregates",
    "floating_ips",
    "quotas",
)
_KEEPS_RAW = ("hypervisors", "quotas", "servers")  # servers: monitoring joins libvirt domain names
_CURRENT_VIEW = re.compile(r"\b(FROM|JOIN)\s+(" + "|".join(CURRENT_TYPES) + r")\b(?![\w\"])")


def current(store: Store, kind: str) -> str:
    """The name of the table holding the current state of `kind` for this store."""
    columns = "*" if kind in _KEEPS_RAW else "* EXCLUDE (raw)"
    return store.cached(f"pf9_current_{kind}", f'SELECT {columns} FROM "{kind}"', ("run_ends",))


def with_current(store: Store, sql: str) -> str:
    """`sql` with every `FROM <type>` / `JOIN <type>` of a current-state view read from its kept table."""
    # Each kept table is checked once per statement: a check counts the store's run ends (a few ms each).
    names = {
        kind: current(store, kind) for kind in dict.fromkeys(m.group(2) for m in _CURRENT_VIEW.finditer(sql))
    }
    return _CURRENT_VIEW.sub(lambda m: f'{m.group(1)} "{names[m.group(2)]}"', sql)


def query(store: Store, sql: str, params: list | dict | None = None) -> pd.DataFrame:
    """store.sql over the kept current-state tables (see with_current)."""
    return store.sql(with_current(store, sql), params)
