"""Who holds which role where, from the collected Keystone role assignments (docs/domain.md §1).

Plain functions over the store: users (and groups) with their roles per project, domain and system scope —
system scope is named "all (system)", never left empty —, the holders of the admin role, and the grants and
revocations seen over time in the history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from pf9lib.store import as_store
from pf9lib.store.reader import Store

_SCOPE = "coalesce(scope_name, CASE WHEN scope_type = 'system' THEN 'all (system)' END, scope_id)"


def user_roles(store: Store | Path | str, cloud: str | None = None) -> pd.DataFrame:
    """One row per assignment: who (user or group), role, scope type and name, inherited, cloud."""
    store = as_store(store)
    where, params = ("WHERE cloud = ?", [cloud]) if cloud else ("", [])
    return store.sql(
        f"""SELECT cloud, coalesce(user_name, group_name) AS holder,
                   CASE WHEN user_id IS NOT NULL THEN 'user' ELSE 'group' END AS holder_type,
                   coalesce(user_id, group_id) AS holder_id, role_name AS role, scope_type,
                   {_SCOPE} AS scope, scope_id, domain_name, inherited
            FROM role_assignments {where}
            ORDER BY cloud, holder, role, scope_type, scope""",
        params,
    )


def admins(store: Store | Path | str, cloud: str | None = None, role: str = "admin") -> pd.DataFrame:
    """Holders of the admin role, with every scope they hold it on (one row per holder)."""
    df = user_roles(store, cloud)
    df = df[df["role"] == role]
    if df.empty:
        return pd.DataFrame(columns=["cloud", "holder", "holder_type", "scopes", "assignments"])
    return (
        df.assign(where=df["scope_type"] + ":" + df["scope"].astype(str))
        .groupby(["cloud", "holder", "holder_type"], as_index=False)
        .agg(scopes=("where", lambda s: ", ".join(sorted(s))), assignments=("where", "size"))
        .sort_values(["cloud", "holder"])
        .reset_index(drop=True)
    )


def assignment_changes(
    store: Store | Path | str, days: float | None = None, now: datetime | None = None
) -> pd.DataFrame:
    """Role grants (an assignment appearing) and revocations (disappearing) in the history, newest first."""
    store = as_store(store)
    end = now or store.now
    where, params = ["change IN ('created', 'deleted')", "observed_at <= ?"], [end]
    if days is not None:
        where.append("observed_at > ?")
        params.append(end - timedelta(days=days))
    return store.sql(
        f"""SELECT observed_at AS time, cloud,
                   CASE change WHEN 'created' THEN 'granted' ELSE 'revoked' END AS change,
                   coalesce(user_name, group_name) AS holder, role_name AS role, scope_type,
                   {_SCOPE} AS scope, run_id
            FROM role_assignments_history WHERE {" AND ".join(where)}
            ORDER BY observed_at DESC, holder, role""",
        params,
    )
