"""Per-tenant counts every tenant analytic reads, kept by the store as one table (rebuilt when a run became
visible): one freshness check per question instead of one per view, and no regrouping of the estate.

A tenant is (cloud, region, project) as pf9lib.analytics.scope defines it. "Error" volumes and snapshots are
any error* status (error, error_deleting, error_extending, error_restoring …). Users are the distinct users
with a role assignment on the project (group members not expanded); networks are those the project owns.
"""

from __future__ import annotations

from pf9lib.analytics.scope import tenants_sql
from pf9lib.store.reader import Store

FACTS = "pf9_tenant_facts"
PROTECTION = "pf9_volume_protection"
COUNTS = (
    "vms",
    "active_vms",
    "error_vms",
    "shutoff_vms",
    "vcpus",
    "ram_mb",
    "volumes",
    "in_use_volumes",
    "error_volumes",
    "volume_gb",
    "error_snapshots",
    "networks",
    "users",
)

# Built from the current-state views themselves: it runs only when the table is rebuilt.
_FACTS = """
    WITH t AS ({tenants}),
    vm AS (SELECT cloud, region, project_id, count(*) AS vms,
                  count(*) FILTER (WHERE status = 'ACTIVE') AS active_vms,
                  count(*) FILTER (WHERE status = 'ERROR') AS error_vms,
                  count(*) FILTER (WHERE status = 'SHUTOFF') AS shutoff_vms,
                  sum(vcpus) AS vcpus, sum(ram_mb) AS ram_mb
           FROM servers GROUP BY ALL),
    vol AS (SELECT cloud, region, project_id, count(*) AS volumes,
                   count(*) FILTER (WHERE status = 'in-use') AS in_use_volumes,
                   count(*) FILTER (WHERE status LIKE 'error%') AS error_volumes, sum(size_gb) AS volume_gb
            FROM volumes GROUP BY ALL),
    snap AS (SELECT cloud, region, project_id,
                    count(*) FILTER (WHERE status LIKE 'error%') AS error_snapshots
             FROM snapshots GROUP BY ALL),
    net AS (SELECT cloud, region, project_id, count(*) AS networks FROM networks GROUP BY ALL),
    usr AS (SELECT cloud, scope_id AS project_id, count(DISTINCT user_id) AS users FROM role_assignments
            WHERE scope_type = 'project' AND user_id IS NOT NULL GROUP BY ALL)
    SELECT t.*, {counts}
    FROM t LEFT JOIN vm USING (cloud, region, project_id) LEFT JOIN vol USING (cloud, region, project_id)
    LEFT JOIN snap USING (cloud, region, project_id) LEFT JOIN net USING (cloud, region, project_id)
    LEFT JOIN usr USING (cloud, project_id)
"""

# Per current volume: its tenant and the creation time of its newest snapshot (of any status; NULL: none).
_PROTECTION = """
    WITH newest AS (SELECT cloud, region, volume_id, max(created_at) AS newest_snapshot FROM snapshots
                    GROUP BY ALL)
    SELECT v.cloud, v.region, v.project_id, v.id AS volume_id, n.newest_snapshot
    FROM volumes v LEFT JOIN newest n ON n.cloud = v.cloud AND n.region = v.region AND n.volume_id = v.id
"""


def tenant_facts(store: Store) -> str:
    """The kept table of per-tenant counts (COUNTS, zero where a tenant has none)."""
    tenants, _ = tenants_sql()
    counts = ", ".join(f"coalesce({c}, 0)::BIGINT AS {c}" for c in COUNTS)
    return store.cached(FACTS, _FACTS.format(tenants=tenants, counts=counts), ("run_ends",))


def volume_protection(store: Store) -> str:
    """The kept table of every current volume's newest snapshot time."""
    return store.cached(PROTECTION, _PROTECTION, ("run_ends",))
