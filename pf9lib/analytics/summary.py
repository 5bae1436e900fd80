"""The health summary of the landing page (docs/domain.md §6, first item) and the overview's small questions.

Counts are over the current state of the store (the views), as of the latest completed run; "in 24 h" windows
end at that run's start, the time the data describes (on a live cloud that is about now; on the simulated
cloud it is the simulated clock). Dashboards and notebooks present these frames; they compute nothing
themselves.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pf9lib.store import as_store
from pf9lib.store.reader import Store

# (key, label) in display order: the cards of the overview, the rows of reports.
CARDS: tuple[tuple[str, str], ...] = (
    ("tenants", "Tenants"),
    ("vms", "VMs"),
    ("running_vms", "Running VMs"),
    ("volumes", "Volumes"),
    ("networks", "Networks"),
    ("hosts", "Hosts"),
    ("snapshots", "Snapshots"),
    ("snapshots_24h", "Snapshots in 24 h"),
    ("volumes_without_snapshots", "Volumes without snapshots"),
    ("avg_host_cpu_pct", "Avg host CPU %"),
    ("avg_host_mem_pct", "Avg host memory %"),
)


_store = as_store


def as_of(store: Store | Path | str) -> datetime | None:
    """The time the current state describes (`store.now`), None while the store has no completed run."""
    store = _store(store)
    return store.now if store.has_runs else None


# One query for every count card: each current-state view (a window over its type's whole history) is read
# once, not once per card (0.5 s → 0.28 s on a month of a small estate; the overview asks on every visit).
_COUNTS_SQL = """
    WITH srv AS MATERIALIZED (SELECT status FROM servers),
         vol AS MATERIALIZED (SELECT id, cloud, region FROM volumes),
         snap AS MATERIALIZED (SELECT volume_id, cloud, region, created_at FROM snapshots)
    SELECT (SELECT count(*) FROM projects) AS tenants,
           (SELECT count(*) FROM srv) AS vms,
           (SELECT count(*) FROM srv WHERE status = 'ACTIVE') AS running_vms,
           (SELECT count(*) FROM vol) AS volumes,
           (SELECT count(*) FROM networks) AS networks,
           (SELECT count(*) FROM hypervisors) AS hosts,
           (SELECT count(*) FROM snap) AS snapshots,
           (SELECT count(*) FROM snap WHERE created_at > $1 AND created_at <= $2) AS snapshots_24h,
           (SELECT count(*) FROM vol v WHERE NOT EXISTS (
                SELECT 1 FROM snap s WHERE s.volume_id = v.id AND s.cloud = v.cloud AND s.region = v.region
           )) AS volumes_without_snapshots
"""


def health_summary(store: Store | Path | str, now: datetime | None = None) -> pd.DataFrame:
    """One row per card: key, label, value (int counts; host averages as float %, None without metrics).

    `now` ends the 24 h window (default: as_of(store)). Running VMs are servers with status ACTIVE; volumes
    without snapshots have no snapshot in the current state naming them as volume_id.
    """
    from pf9lib.analytics.monitoring import average_host_usage

    store = _store(store)
    end = now or as_of(store)
    if store.runs().empty:
        values: dict[str, Any] = {key: 0 for key, _ in CARDS}
        values["avg_host_cpu_pct"] = values["avg_host_mem_pct"] = None
    else:
        row = store.sql(_COUNTS_SQL, [end - timedelta(hours=24), end]).iloc[0]
        values = {key: int(row[key]) for key in row.index}
        usage = average_host_usage(store)
        values["avg_host_cpu_pct"], values["avg_host_mem_pct"] = usage["cpu_pct"], usage["mem_pct"]
    return pd.DataFrame(
        {
            "key": [k for k, _ in CARDS],
            "label": [label for _, label in CARDS],
            # object dtype: counts stay ints beside the float percentages
            "value": pd.Series([values[k] for k, _ in CARDS], dtype=object),
        }
    )


def format_card_value(key: str, value: Any) -> str:
    """How a card shows its value (the UI test compares against this): counts as integers, % to 1 decimal."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if key.endswith("_pct"):
        return f"{float(value):.1f}"
    return f"{int(value):,}"


def daily_changes(store: Store | Path | str, days: int = 30, now: datetime | None = None) -> pd.DataFrame:
    """Created / updated / deleted per UTC day over the last `days` days ending `now` (default as_of):
    long format (day, kind, n) for a timeline, zero rows left out.

    Counted from the visible runs' per-type statistics (run_types), which the writer records with the very
    history rows the `changes` view lists (a test holds them equal): the dashboards ask this on every visit,
    and scanning every history file for it cost ~1 s on a month of a small estate, this ~0.03 s."""
    store = _store(store)
    end = now or as_of(store)
    if end is None:
        return pd.DataFrame({"day": [], "kind": [], "n": []})
    per_day = store.sql(
        """SELECT date_trunc('day', r.started_at) AS day, sum(t.created)::BIGINT AS created,
                  sum(t.updated)::BIGINT AS updated, sum(t.deleted)::BIGINT AS deleted
           FROM run_types t JOIN runs r USING (run_id)
           WHERE r.status IN ('success', 'partial') AND r.started_at > ? AND r.started_at <= ?
           GROUP BY 1""",
        [end - timedelta(days=days), end],
    )
    long = per_day.melt(id_vars=["day"], value_vars=["created", "updated", "deleted"], var_name="kind")
    out = long[long["value"] > 0].rename(columns={"value": "n"})
    return out.sort_values(["day", "kind"]).reset_index(drop=True)
