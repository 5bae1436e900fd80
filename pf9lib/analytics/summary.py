"""The landing page's health summary (DOMAIN.md §6, first item) and the small questions the overview asks.

Counts are over the current state of the store (the views), as of the latest completed run; "in 24 h" windows
end at that run's start, the time the data describes (on a live cloud that is about now; on the simulated
cloud it is the simulated clock). Dashboards and notebooks present these frames; they compute nothing
themselves.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pf9lib.store.reader import Store, open_store

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
VIEWER_HEADER_ENV = "HTTP_X_FORWARDED_USER"  # Voilà's http_header_envs name for an X-Forwarded-User header


def _store(store: Store | Path | str) -> Store:
    return store if isinstance(store, Store) else open_store(store)


def as_of(store: Store | Path | str) -> datetime | None:
    """Start of the latest completed run (success or partial): the time the current state describes."""
    store = _store(store)
    row = store.sql("SELECT max(started_at) AS t FROM runs WHERE status IN ('success', 'partial')").iloc[0]
    return None if pd.isna(row["t"]) else pd.Timestamp(row["t"]).to_pydatetime()


def _count(store: Store, sql: str, params: list[Any] | None = None) -> int:
    return int(store.sql(sql, params or []).iloc[0, 0])


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
        values = {
            "tenants": _count(store, "SELECT count(*) FROM projects"),
            "vms": _count(store, "SELECT count(*) FROM servers"),
            "running_vms": _count(store, "SELECT count(*) FROM servers WHERE status = 'ACTIVE'"),
            "volumes": _count(store, "SELECT count(*) FROM volumes"),
            "networks": _count(store, "SELECT count(*) FROM networks"),
            "hosts": _count(store, "SELECT count(*) FROM hypervisors"),
            "snapshots": _count(store, "SELECT count(*) FROM snapshots"),
            "snapshots_24h": _count(
                store,
                "SELECT count(*) FROM snapshots WHERE created_at > ? AND created_at <= ?",
                [end - timedelta(hours=24), end],
            ),
            "volumes_without_snapshots": _count(
                store,
                """SELECT count(*) FROM volumes v WHERE NOT EXISTS (
                       SELECT 1 FROM snapshots s
                       WHERE s.volume_id = v.id AND s.cloud = v.cloud AND s.region = v.region)""",
            ),
        }
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
    long format (day, kind, n) for a timeline, zero rows left out."""
    from pf9lib.analytics.history import changes_by_timeframe

    store = _store(store)
    end = now or as_of(store)
    if end is None:
        return pd.DataFrame({"day": [], "kind": [], "n": []})
    df = changes_by_timeframe(store, "day", days, now=end)
    long = df.melt(id_vars=["bucket", "type"], value_vars=["created", "updated", "deleted"], var_name="kind")
    out = long.groupby(["bucket", "kind"], as_index=False)["value"].sum()
    out = out[out["value"] > 0].rename(columns={"bucket": "day", "value": "n"})
    return out.sort_values(["day", "kind"]).reset_index(drop=True)


def viewer_identity(env: dict[str, str] | None = None) -> str | None:
    """Who is looking at a dashboard: the authenticating proxy's X-Forwarded-User (Voilà hands it over as
    HTTP_X_FORWARDED_USER), else PF9WB_USER; None when neither is set — actions then refuse."""
    env = os.environ if env is None else env
    for name in (VIEWER_HEADER_ENV, "PF9WB_USER"):
        value = (env.get(name) or "").strip()
        if value:
            return value
    return None


def may_acknowledge(who: str | None, env: dict[str, str] | None = None) -> tuple[bool, str]:
    """Whether `who` may acknowledge drift from a dashboard: an identity is required, and when
    PF9WB_ACK_USERS (comma list) is set, it must name them. Returns (allowed, reason).

    drift_events.acknowledge_as_viewer applies it where the acknowledgement is written."""
    env = os.environ if env is None else env
    if not who:
        return False, "no viewer identity (X-Forwarded-User or PF9WB_USER): acknowledgement refused"
    allowed = [u.strip() for u in (env.get("PF9WB_ACK_USERS") or "").split(",") if u.strip()]
    if allowed and who not in allowed:
        return False, f"{who} is not in PF9WB_ACK_USERS: acknowledgement refused"
    return True, ""
