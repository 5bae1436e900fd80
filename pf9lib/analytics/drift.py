"""Drift analytics: what changed against the rules, how much is still open, and who acknowledged what.

Every function takes a Store (or a data directory) and returns DataFrames (or a dict of them), so the CLI, the
scheduled report, dashboards and tests call the same code. Evaluation and storage of events live in
drift_events, the rules in drift_rules; this module reads them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pf9lib.analytics.change_log import change_log
from pf9lib.analytics.drift_events import (
    acknowledge,
    acknowledge_as_viewer,
    acknowledgements,
    as_store,
    evaluate_run,
    state_view,
)
from pf9lib.analytics.drift_rules import SEVERITIES, SEVERITY_RANK, effective_rules
from pf9lib.errors import Pf9Error
from pf9lib.identity import Identity
from pf9lib.store.reader import Store

__all__ = [
    "acknowledge",
    "acknowledge_as_viewer",
    "acknowledge_matching",
    "baseline",
    "daily_trend",
    "evaluate_run",
    "event_detail",
    "events",
    "export_events",
    "incidents",
    "open_by_rule",
    "open_by_severity",
    "open_by_type",
    "rules",
    "summary",
    "totals",
]

SORTABLE = (
    "observed_at",
    "severity",
    "type",
    "rule_id",
    "name",
    "project_name",
    "domain_name",
    "field",
    "acked_at",
)
EVENT_COLUMNS = (
    "event_id, observed_at, severity, rule_id, type, object_id, name, field, old_value, new_value, change, "
    "meaning, project_id, project_name, domain_id, domain_name, cloud, region, run_id, acknowledged, "
    "acked_by, acked_at, ack_note, expected, expected_reason, incident_id"
)
# Open: not acknowledged and not expected (docs/domain.md §3, expected changes keep their events aside).
OPEN = "NOT acknowledged AND NOT expected"
_SEVERITY_ORDER = "CASE severity WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END"


def _now(store: Store, now: datetime | None) -> datetime:
    return (now or store.now).astimezone(UTC)


def totals(store: Store | Path | str) -> pd.DataFrame:
    """One row: events, open, acknowledged, open per severity."""
    store = as_store(store)
    return _totals(store, state_view(store))


def _totals(store: Store, view: str) -> pd.DataFrame:
    return store.sql(f"""
        SELECT count(*)::BIGINT AS events,
               count(*) FILTER (WHERE {OPEN})::BIGINT AS open,
               count(*) FILTER (WHERE acknowledged)::BIGINT AS acknowledged,
               count(*) FILTER (WHERE expected AND NOT acknowledged)::BIGINT AS expected,
               count(*) FILTER (WHERE {OPEN} AND severity = 'critical')::BIGINT AS open_critical,
               count(*) FILTER (WHERE {OPEN} AND severity = 'warning')::BIGINT AS open_warning,
               count(*) FILTER (WHERE {OPEN} AND severity = 'info')::BIGINT AS open_info,
               count(DISTINCT coalesce(incident_id, event_id)) FILTER (WHERE {OPEN})::BIGINT AS open_incidents
        FROM {view}
    """)


def open_by_severity(store: Store | Path | str) -> pd.DataFrame:
    """Open events per severity, every severity listed (critical first), zero when none."""
    store = as_store(store)
    return _open_by_severity(store, state_view(store))


def _open_by_severity(store: Store, view: str) -> pd.DataFrame:
    got = store.sql(f"SELECT severity, count(*)::BIGINT AS open FROM {view} WHERE {OPEN} GROUP BY 1")
    counts = dict(zip(got["severity"], got["open"], strict=True))
    return pd.DataFrame({"severity": list(SEVERITIES), "open": [int(counts.get(s, 0)) for s in SEVERITIES]})


def open_by_type(store: Store | Path | str) -> pd.DataFrame:
    """Open events per resource type and severity, most open first."""
    store = as_store(store)
    return _open_by_type(store, state_view(store))


def _open_by_type(store: Store, view: str) -> pd.DataFrame:
    return store.sql(f"""
        SELECT type,
               count(*) FILTER (WHERE severity = 'critical')::BIGINT AS critical,
               count(*) FILTER (WHERE severity = 'warning')::BIGINT AS warning,
               count(*) FILTER (WHERE severity = 'info')::BIGINT AS info,
               count(*)::BIGINT AS open
        FROM {view} WHERE {OPEN} GROUP BY type ORDER BY open DESC, type
    """)


def daily_trend(store: Store | Path | str, days: int = 7, now: datetime | None = None) -> pd.DataFrame:
    """New drift events (expected changes aside) per UTC day for the last `days` days (today included), per
    severity; zero-filled."""
    store = as_store(store)
    return _daily_trend(store, state_view(store), days, now)


def _daily_trend(store: Store, view: str, days: int, now: datetime | None) -> pd.DataFrame:
    end = _now(store, now).date()
    start = end - timedelta(days=days - 1)
    got = store.sql(
        f"""SELECT CAST(observed_at AS DATE) AS day, severity, count(*)::BIGINT AS n FROM {view}
            WHERE NOT expected AND CAST(observed_at AS DATE) BETWEEN ? AND ? GROUP BY 1, 2""",
        [start, end],
    )
    got["day"] = pd.to_datetime(got["day"]).dt.date  # DuckDB DATE arrives as datetime64: compare as dates
    out = pd.DataFrame({"day": [start + timedelta(days=i) for i in range(days)]})
    for severity in SEVERITIES:
        part = got[got["severity"] == severity].set_index("day")["n"]
        out[severity] = [int(part.get(d, 0)) for d in out["day"]]
    out["total"] = out[list(SEVERITIES)].sum(axis=1).astype("int64")
    return out


def summary(store: Store | Path | str, days: int = 7, now: datetime | None = None) -> dict[str, pd.DataFrame]:
    """totals, open_by_severity, open_by_type and a `days`-day daily trend, in one call."""
    store = as_store(store)
    view = state_view(store)
    return {
        "totals": _totals(store, view),
        "open_by_severity": _open_by_severity(store, view),
        "open_by_type": _open_by_type(store, view),
        "trend": _daily_trend(store, view, days, now),
    }


def _listify(value: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _filters(
    store: Store,
    type: str | list[str] | None = None,
    severity: str | list[str] | None = None,
    min_severity: str | None = None,
    project: str | None = None,
    domain: str | None = None,
    acknowledged: bool | None = None,
    search: str | None = None,
    days: float | None = None,
    run_id: str | None = None,
    rule_id: str | list[str] | None = None,
    now: datetime | None = None,
    expected: bool | None = False,
    incident_id: str | None = None,
) -> tuple[str, list[Any]]:
    where, params = ["TRUE"], []
    if expected is not None:  # by default the expected changes stay aside (expected=None: all of them)
        where.append("expected = ?")
        params.append(bool(expected))
    if incident_id is not None:
        where.append("incident_id = ?")
        params.append(incident_id)
    for column, value in (("type", type), ("severity", severity), ("rule_id", rule_id)):
        values = _listify(value)
        if values is not None:
            where.append(f"{column} IN (SELECT unnest(?::VARCHAR[]))")
            params.append(values)
    if min_severity is not None:
        if min_severity not in SEVERITY_RANK:
            raise Pf9Error(f"minimum severity {min_severity!r} is not one of {', '.join(SEVERITIES)}")
        where.append(f"{_SEVERITY_ORDER} >= ?")
        params.append(SEVERITY_RANK[min_severity])
    for prefix, value in (("project", project), ("domain", domain)):
        if value:  # a project or domain is named by id or by name
            where.append(f"({prefix}_id = ? OR {prefix}_name = ?)")
            params += [value, value]
    if acknowledged is not None:
        where.append("acknowledged = ?")
        params.append(bool(acknowledged))
    if search:
        where.append(
            "concat_ws(' ', event_id, rule_id, type, object_id, name, field, old_value, new_value, meaning, "
            "project_name, domain_name, ack_note, expected_reason) ILIKE ?"
        )
        params.append(f"%{search}%")
    if days is not None:
        where.append("observed_at >= ?")
        params.append(_now(store, now) - timedelta(days=days))
    if run_id is not None:
        where.append("run_id = ?")
        params.append(run_id)
    return " AND ".join(where), params


def events(
    store: Store | Path | str,
    *,
    sort: str = "observed_at",
    descending: bool = True,
    limit: int | None = 100,
    offset: int = 0,
    **filters: Any,
) -> pd.DataFrame:
    """Events matching the filters (type, severity, min_severity, project, domain, acknowledged, search, days,
    run_id, rule_id, now), sorted and paged; `attrs["total"]` is the count before paging."""
    if sort not in SORTABLE:
        raise Pf9Error(f"cannot sort drift events by {sort!r}: use one of {', '.join(SORTABLE)}")
    store = as_store(store)
    view = state_view(store)
    where, params = _filters(store, **filters)
    key = _SEVERITY_ORDER if sort == "severity" else sort
    direction = "DESC" if descending else "ASC"
    page = "" if limit is None else f"LIMIT {int(limit)} OFFSET {int(offset)}"
    df = store.sql(
        f"""SELECT {EVENT_COLUMNS}, count(*) OVER () AS _total FROM {view} WHERE {where}
            ORDER BY {key} {direction} NULLS LAST, observed_at DESC, event_id {page}""",
        params,
    )
    total = int(df["_total"].iloc[0]) if not df.empty else _count(store, view, where, params)
    df = df.drop(columns="_total")
    df.attrs["total"] = total
    return df


def _count(store: Store, view: str, where: str, params: list[Any]) -> int:
    return int(store.scalar(f"SELECT count(*) FROM {view} WHERE {where}", params))


def event_detail(store: Store | Path | str, event_id: str) -> dict[str, Any]:
    """One event (`event`, a dict), every acknowledgement record of it (`acks`) and the object's changes
    (`history`: time, run, change, changed fields). Pf9Error when the id is unknown."""
    store = as_store(store)
    view = state_view(store)
    row = store.sql(f"SELECT {EVENT_COLUMNS} FROM {view} WHERE event_id = ?", [event_id])
    if row.empty:
        raise Pf9Error(f"no drift event {event_id!r}: list them with `pf9wb drift events`")
    event = row.iloc[0].to_dict()
    history = store.sql(
        f"""SELECT time, run_id, kind AS change, changed_fields, name FROM {change_log(store)}
            WHERE type = ? AND cloud = ? AND region = ? AND id = ? ORDER BY time, run_id""",
        [event["type"], event["cloud"], event["region"], event["object_id"]],
    )
    return {"event": event, "acks": acknowledgements(store, event_id), "history": history}


def rules(store: Store | Path | str) -> pd.DataFrame:
    """The effective rule set with the open and total event counts of each rule."""
    store = as_store(store)
    view = state_view(store)
    rows = [r.__dict__ for r in effective_rules(store)]
    df = pd.DataFrame(rows).rename(columns={"id": "rule_id"})
    counts = store.sql(
        f"""SELECT rule_id, count(*) FILTER (WHERE {OPEN})::BIGINT AS open_events,
                   count(*) FILTER (WHERE expected)::BIGINT AS expected_events,
                   count(*)::BIGINT AS events FROM {view} GROUP BY rule_id"""
    )
    df = df.merge(counts, on="rule_id", how="left")
    counted = ["open_events", "expected_events", "events"]
    df[counted] = df[counted].fillna(0).astype("int64")
    order = [
        "rule_id",
        "type",
        "field",
        "severity",
        "default_severity",
        "enabled",
        "open_events",
        "expected_events",
        "events",
        "meaning",
        "trigger",
        "source",
        "changed_by",
        "changed_at",
    ]
    return df[order]


def export_events(store: Store | Path | str, path: Path | str, **filters: Any) -> Path:
    """Write every event matching the filters (no paging) as CSV, or as xlsx when the path ends so."""
    path = Path(path)
    df = events(store, limit=None, **filters)
    path.parent.mkdir(parents=True, exist_ok=True)
    for column in ("observed_at", "acked_at"):  # Excel has no time zones: write UTC wall time
        df[column] = pd.to_datetime(df[column], utc=True).dt.tz_localize(None)
    if path.suffix.lower() == ".xlsx":
        _write_xlsx(df, path)
    else:
        df.to_csv(path, index=False)
    return path


def _write_xlsx(df: pd.DataFrame, path: Path) -> None:
    from openpyxl.styles import Font

    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        df.to_excel(writer, sheet_name="DriftEvents", index=False)
        sheet = writer.sheets["DriftEvents"]
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = sheet.dimensions
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for i, column in enumerate(df.columns, start=1):
            width = max([len(str(column)), *(len(str(v)) for v in df[column].head(200))])
            sheet.column_dimensions[sheet.cell(1, i).column_letter].width = min(60, width + 2)


def acknowledge_matching(
    store: Store | Path | str, note: str = "", actor: Identity | str | None = None, **filters: Any
) -> int:
    """Bulk acknowledgement: every open event matching the filters (see `events`); returns how many."""
    store = as_store(store)
    open_ids = events(store, limit=None, **{**filters, "acknowledged": False})["event_id"].tolist()
    if not open_ids:
        return 0
    return acknowledge(store, open_ids, note=note, actor=actor)


def incidents(
    store: Store | Path | str,
    *,
    limit: int | None = 100,
    **filters: Any,
) -> pd.DataFrame:
    """One row per incident, newest first: a parent's event (a deletion, or a change standing alone) with
    how many events follow from it (`children`, by type). Filters as `events`, applied to the parents;
    by default open incidents whose parent is not an expected change."""
    store = as_store(store)
    view = state_view(store)
    filters.setdefault("acknowledged", False)
    where, params = _filters(store, **filters)
    page = "" if limit is None else f"LIMIT {int(limit)}"
    df = store.sql(
        f"""WITH kids AS (
                SELECT incident_id AS parent_id, count(*)::BIGINT AS children,
                       string_agg(DISTINCT type, ', ' ORDER BY type) AS child_types,
                       count(*) FILTER (WHERE {OPEN})::BIGINT AS open_children
                FROM {view} WHERE incident_id IS NOT NULL AND event_id <> incident_id GROUP BY incident_id
            )
            SELECT {EVENT_COLUMNS}, coalesce(k.children, 0) AS children, k.child_types,
                   coalesce(k.open_children, 0) AS open_children, count(*) OVER () AS _total
            FROM {view} e LEFT JOIN kids k ON k.parent_id = e.event_id
            WHERE (e.incident_id IS NULL OR e.incident_id = e.event_id) AND {where}
            ORDER BY {_SEVERITY_ORDER} DESC, observed_at DESC, event_id {page}""",
        params,
    )
    df.attrs["total"] = int(df["_total"].iloc[0]) if not df.empty else 0
    return df.drop(columns="_total")


def open_by_rule(store: Store | Path | str) -> pd.DataFrame:
    """Open events and incidents per rule and severity, most first (what a manager looks at first)."""
    store = as_store(store)
    view = state_view(store)
    return store.sql(
        f"""SELECT rule_id, severity, count(*)::BIGINT AS open,
                   count(DISTINCT coalesce(incident_id, event_id))::BIGINT AS incidents
            FROM {view} WHERE {OPEN} GROUP BY rule_id, severity
            ORDER BY {_SEVERITY_ORDER} DESC, open DESC, rule_id"""
    )


def baseline(
    store: Store | Path | str,
    before: datetime | str | None = None,
    actor: Identity | str | None = None,
    apply: bool = False,
) -> dict[str, Any]:
    """Accept the current state: every open event observed up to `before` (default: now) is acknowledged
    with the note "baseline" when `apply`; without it, only counted. Applying needs an admin (`actor`, default
    the person behind the command). Returns {"events", "acknowledged", "until"}."""
    from pf9lib import identity
    from pf9lib.actions.audit import record

    store = as_store(store)
    until = store.resolve_time(before) if before is not None else store.now
    view = state_view(store)
    ids = [
        r[0] for r in store.rows(f"SELECT event_id FROM {view} WHERE {OPEN} AND observed_at <= ?", [until])
    ]
    done = 0
    if apply and ids:
        who = str(identity.acting(store.data_dir, actor))
        identity.require(store.data_dir, who, "admin", "drift.baseline", f"{len(ids)} event(s)")
        done = acknowledge(store, ids, note="baseline", actor=who)
        record(
            store.data_dir,
            who,
            "drift.baseline",
            f"events up to {until.isoformat()}",
            result="succeeded",
            note=f"{len(ids)} open event(s) accepted as the baseline",
        )
    return {"events": len(ids), "acknowledged": done, "until": until}
