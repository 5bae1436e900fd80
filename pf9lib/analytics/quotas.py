"""Live quota against usage per project for Nova, Cinder and Neutron, from the `quotas` view.

A quota row is one (project, service) in a region; its raw JSON holds `limits` {resource: limit} and the
volatile `usage` {resource: {in_use, reserved}} (pf9lib.collect.inventory._quota_object). A limit of -1 is
unlimited: no used % and no headroom, `unlimited` true.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from pf9lib.analytics.scope import Filter, values, where, with_current
from pf9lib.store import as_store
from pf9lib.store.reader import Store

SERVICES = ("compute", "block-storage", "network")

# One row per (current quota, resource of its limits), parsed once per open store and run (the store keeps
# it). `->` with a plain key reads that key (names such as "gigabytes_nvme-ultra" are not JSON paths).
_PARSED = """
    WITH q AS (
        SELECT cloud, region, project_id, project_name, domain_name, service, observed_at,
               raw::JSON -> 'limits' AS limits, raw::JSON -> 'usage' AS usage
        FROM quotas
    ), r AS (
        SELECT q.*, unnest(json_keys(limits)) AS resource FROM q
    )
    SELECT cloud, region, project_id, project_name, domain_name, service, resource, observed_at,
           TRY_CAST(limits ->> resource AS DOUBLE) AS "limit",
           TRY_CAST(usage -> resource ->> 'in_use' AS DOUBLE) AS in_use,
           coalesce(TRY_CAST(usage -> resource ->> 'reserved' AS DOUBLE), 0) AS reserved
    FROM r
"""
# Used counts what is reserved too: both count against a limit.
_QUOTA_USAGE = """
    SELECT cloud, region, project_id, project_name, domain_name, service, resource, "limit", in_use,
           reserved, in_use + reserved AS used, "limit" < 0 AS unlimited,
           CASE WHEN "limit" < 0 THEN NULL WHEN "limit" = 0 THEN (CASE WHEN in_use + reserved > 0
                THEN NULL ELSE 100.0 END) ELSE (in_use + reserved) / "limit" * 100 END AS used_pct,
           CASE WHEN "limit" < 0 THEN NULL ELSE "limit" - in_use - reserved END AS headroom,
           observed_at
    FROM "{parsed}" WHERE {where} AND "limit" IS NOT NULL
    ORDER BY cloud, region, project_name, project_id, service, resource
"""


def parsed_quotas(store: Store) -> str:
    """The kept table of every current quota resource: limit, in_use, reserved (see _PARSED)."""
    return store.cached("pf9_quota_usage", with_current(store, _PARSED), ("run_ends",))


def quota_usage(
    store: Store | Path | str,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    service: Filter = None,
    resource: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Per project, service (compute, block-storage, network) and resource: limit, in_use, reserved, used
    (in_use + reserved), used_pct (used / limit × 100; 100 for a zero limit with nothing used, NULL for a
    zero limit exceeded or an unlimited one), headroom (limit − used; negative when over), unlimited (-1),
    and `observed_at` (when this usage was first seen: it has not moved since). Usage is as the services
    reported it (volatile fields: the newest row of each quota holds the newest usage)."""
    store = as_store(store)
    clause, params = where(cloud=cloud, region=region, project=project)
    for column, given in (("service", values(service)), ("resource", values(resource))):
        if given is not None:
            clause += f" AND {column} IN (SELECT unnest(?::VARCHAR[]))"
            params.append(given)
    df = store.sql(_QUOTA_USAGE.format(parsed=parsed_quotas(store), where=clause), params)
    for column in ("limit", "in_use", "reserved", "used", "headroom"):
        df[column] = df[column].astype("Float64")
    return df
