"""Change-history analytics over the store's `changes` and `<type>_history` views.

A change is a row of `changes`: an object created, updated (a non-volatile field moved) or deleted in a run.
Volatile-only rows (usage counters, `updated_at`) are never counted. Windows end at `now` (default:
`store.now`, the time the store describes), so reports carry the date of their data, never a hard-coded one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pf9lib.analytics.change_log import change_log
from pf9lib.errors import Pf9Error
from pf9lib.resources import RESOURCES, resource, type_columns
from pf9lib.store import as_store
from pf9lib.store.reader import Store

KINDS = ("created", "updated", "deleted")
FREQS = ("hour", "day", "week", "month")
_IDENTITY = ("name", "project_id", "project_name", "domain_id", "domain_name")


_store = as_store


def _now(store: Store, now: datetime | None) -> datetime:
    return (now or store.now).astimezone(UTC)


def _in(column: str, values: str | list[str] | None, where: list[str], params: list[Any]) -> None:
    if values is not None:
        where.append(f"{column} IN (SELECT unnest(?::VARCHAR[]))")
        params.append([values] if isinstance(values, str) else list(values))


def _window(store: Store, days: float | None, now: datetime | None) -> tuple[datetime | None, datetime]:
    end = _now(store, now)
    return (None if days is None else end - timedelta(days=days)), end


def recent_changes(
    store: Store | Path | str,
    hours: float = 24,
    *,
    types: str | list[str] | None = None,
    kinds: str | list[str] | None = None,
    project: str | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Changes seen in the last `hours` before `now`, newest first (optionally some types/kinds/project)."""
    store = _store(store)
    log = change_log(store)
    end = _now(store, now)
    where, params = ["time > ?", "time <= ?"], [end - timedelta(hours=hours), end]
    _in("type", types, where, params)
    _in("kind", kinds, where, params)
    if project:
        where.append("(project_id = ? OR project_name = ?)")
        params += [project, project]
    page = "" if limit is None else f"LIMIT {int(limit)}"
    return store.sql(
        f"""SELECT time, type, id, name, kind, changed_fields, project_name, domain_name, cloud, region,
                   run_id, project_id, domain_id
            FROM {log} WHERE {" AND ".join(where)} ORDER BY time DESC, type, id {page}""",
        params,
    )


def most_changed(
    store: Store | Path | str,
    days: float | None = None,
    *,
    types: str | list[str] | None = None,
    limit: int = 20,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Resources with the most updates (real changes, each run that moved a non-volatile field counts once),
    with the number of field changes, whether they were created/deleted in the window, first and last
    change."""
    store = _store(store)
    log = change_log(store)
    start, end = _window(store, days, now)
    where, params = ["time <= ?"], [end]
    if start is not None:
        where.append("time > ?")
        params.append(start)
    _in("type", types, where, params)
    return store.sql(
        f"""SELECT type, id, arg_max(name, time) AS name, arg_max(project_name, time) AS project_name,
                   count(*) FILTER (WHERE kind = 'updated')::BIGINT AS changes,
                   coalesce(sum(n_fields) FILTER (WHERE kind = 'updated'), 0)::BIGINT AS fields_changed,
                   bool_or(kind = 'created') AS created, bool_or(kind = 'deleted') AS deleted,
                   min(time) AS first_change, max(time) AS last_change, cloud, region
            FROM {log} WHERE {" AND ".join(where)}
            GROUP BY type, cloud, region, id HAVING changes > 0
            ORDER BY changes DESC, fields_changed DESC, type, id LIMIT {int(limit)}""",
        params,
    )


def changes_by_timeframe(
    store: Store | Path | str,
    freq: str = "day",
    days: float = 30,
    *,
    types: str | list[str] | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Created / updated / deleted per time bucket (hour, day, week, month; UTC) and type, oldest first;
    only buckets with changes are listed."""
    if freq not in FREQS:
        raise Pf9Error(f"unknown time frame {freq!r}: use one of {', '.join(FREQS)}")
    store = _store(store)
    log = change_log(store)
    start, end = _window(store, days, now)
    where, params = ["time > ?", "time <= ?"], [start, end]
    _in("type", types, where, params)
    return store.sql(
        f"""SELECT date_trunc('{freq}', time) AS bucket, type,
                   count(*) FILTER (WHERE kind = 'created')::BIGINT AS created,
                   count(*) FILTER (WHERE kind = 'updated')::BIGINT AS updated,
                   count(*) FILTER (WHERE kind = 'deleted')::BIGINT AS deleted,
                   count(*)::BIGINT AS total
            FROM {log} WHERE {" AND ".join(where)} GROUP BY 1, 2 ORDER BY 1, 2""",
        params,
    )


def _check_type(kind: str) -> None:
    if kind not in RESOURCES:
        raise Pf9Error(f"unknown resource type {kind!r}: use one of {', '.join(RESOURCES)}")


def resource_history(
    store: Store | Path | str, kind: str, obj_id: str, *, include_volatile: bool = False
) -> pd.DataFrame:
    """Every stored state of one resource, oldest first, its deletion included: the change kind, the changed
    fields and, per row, `details` ("field: old → new; …" from the raw JSON against the previous row)."""
    _check_type(kind)
    store = _store(store)
    rows = store.sql(
        f"""SELECT observed_at AS time, run_id, cloud, region, change, changed_fields, name, project_name,
                   domain_name, raw
            FROM "{kind}_history" WHERE id = ? ORDER BY observed_at, run_id""",
        [obj_id],
    )
    details, previous = [], {}
    for row in rows.itertuples(index=False):
        raw = json.loads(row.raw) if row.raw else {}
        key = (row.cloud, row.region)
        if row.change == "updated" or row.change == "volatile":
            diff = raw_key_diff(previous.get(key, {}), raw)
            details.append("; ".join(f"{d['key']}: {d['before']!r} → {d['after']!r}" for d in diff))
        else:
            details.append(row.change)
        previous[key] = raw
    rows["details"] = details
    if not include_volatile:
        rows = rows[rows["change"] != "volatile"].reset_index(drop=True)
    return rows


def _at(store: Store, at: str | datetime | None) -> datetime | None:
    return None if at is None else store.resolve_time(at)


def _states(store: Store, kind: str, obj_id: str) -> pd.DataFrame:
    _check_type(kind)
    df = store.sql(f'SELECT * FROM "{kind}_history" WHERE id = ? ORDER BY observed_at, run_id', [obj_id])
    if df.empty:
        raise Pf9Error(f"no {kind} with id {obj_id!r} in the history: check the id with `pf9wb drift events`")
    return df


def _pick(states: pd.DataFrame, at: datetime | None, before_index: int | None = None) -> int:
    if before_index is not None:
        return max(before_index - 1, 0)
    if at is None:
        return len(states) - 1
    eligible = [i for i, t in enumerate(states["observed_at"]) if t <= at]
    if not eligible:
        raise Pf9Error(f"the resource did not exist yet at {at.isoformat()}: pick a later run or time")
    return eligible[-1]


def _two_states(
    store: Store | Path | str,
    kind: str,
    obj_id: str,
    before: str | datetime | None,
    after: str | datetime | None,
) -> tuple[pd.Series, pd.Series]:
    store = _store(store)
    states = _states(store, kind, obj_id)
    j = _pick(states, _at(store, after))
    i = _pick(states, _at(store, before)) if before is not None else _pick(states, None, before_index=j)
    return states.iloc[i], states.iloc[j]


def compare_states(
    store: Store | Path | str,
    kind: str,
    obj_id: str,
    before: str | datetime | None = None,
    after: str | datetime | None = None,
) -> pd.DataFrame:
    """Field-by-field comparison of two states of a resource (each a run id or a time; `after` defaults to
    the newest state, `before` to the state before it): field, before, after, changed, volatile (a field that
    moves without being a change). `op` says whether the resource existed (upsert) or was deleted (delete)."""
    old, new = _two_states(store, kind, obj_id, before, after)
    fields = ["op", "observed_at", "run_id", *_IDENTITY, *(name for name, _ in type_columns(kind))]
    # updated_at is read from Nova's volatile `updated`; the others carry their raw key's name.
    volatile = resource(kind).volatile | {"updated_at", "observed_at", "run_id"}
    rows = []
    for field in fields:
        a, b = _plain(old.get(field)), _plain(new.get(field))
        rows.append(
            {"field": field, "before": a, "after": b, "changed": a != b, "volatile": field in volatile}
        )
    return pd.DataFrame(rows)


def raw_diff(
    store: Store | Path | str,
    kind: str,
    obj_id: str,
    before: str | datetime | None = None,
    after: str | datetime | None = None,
) -> pd.DataFrame:
    """Key-level diff of the raw API JSON of two states (see compare_states): key path, change
    (added | removed | changed), before, after."""
    old, new = _two_states(store, kind, obj_id, before, after)
    diff = raw_key_diff(json.loads(old["raw"] or "{}"), json.loads(new["raw"] or "{}"))
    return pd.DataFrame(diff, columns=["key", "change", "before", "after"])


def raw_key_diff(old: Any, new: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Every leaf that differs between two JSON values: dict keys joined with '.', list items as [i]."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old:
                out.append({"key": path, "change": "added", "before": None, "after": new[key]})
            elif key not in new:
                out.append({"key": path, "change": "removed", "before": old[key], "after": None})
            else:
                out += raw_key_diff(old[key], new[key], path)
        return out
    if isinstance(old, list) and isinstance(new, list) and old != new:
        out = []
        for i in range(max(len(old), len(new))):
            path = f"{prefix}[{i}]"
            if i >= len(old):
                out.append({"key": path, "change": "added", "before": None, "after": new[i]})
            elif i >= len(new):
                out.append({"key": path, "change": "removed", "before": old[i], "after": None})
            else:
                out += raw_key_diff(old[i], new[i], path)
        return out
    if old != new:
        return [{"key": prefix, "change": "changed", "before": old, "after": new}]
    return []


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    if hasattr(value, "tolist"):  # numpy arrays (list columns) and scalars
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _daily(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    got = store.sql(
        f"""SELECT CAST(time AS DATE) AS day, type, kind, count(*)::BIGINT AS n FROM {change_log(store)}
           WHERE time > ? AND time <= ? GROUP BY 1, 2, 3""",
        [start, end],
    )
    got["day"] = pd.to_datetime(got["day"]).dt.date  # DuckDB DATE arrives as datetime64: compare as dates
    return got


def _days(end: datetime, days: int) -> list:
    last = end.date()
    return [last - timedelta(days=days - 1 - i) for i in range(days)]


def change_patterns(store: Store | Path | str, days: int = 30, now: datetime | None = None) -> pd.DataFrame:
    """Changes per UTC day (rows, the last `days` days including today, zero-filled) × type (columns), and
    a `total` column; types without changes in the window are left out."""
    store = _store(store)
    end = _now(store, now)
    axis = _days(end, days)
    got = _daily(store, datetime.combine(axis[0], datetime.min.time(), UTC) - timedelta(microseconds=1), end)
    wide = got.pivot_table(index="day", columns="type", values="n", aggfunc="sum", fill_value=0)
    wide = wide.reindex(axis, fill_value=0).astype("int64")
    wide.columns.name = None
    wide = wide[sorted(wide.columns)]
    wide["total"] = wide.sum(axis=1).astype("int64")
    return wide.rename_axis("day").reset_index()


def change_velocity(store: Store | Path | str, days: int = 30, now: datetime | None = None) -> pd.DataFrame:
    """Per UTC day: changes (and per kind), changes per hour, and the trailing 7-day average to that day."""
    store = _store(store)
    end = _now(store, now)
    axis = _days(end, days + 6)  # six more days so the first day's 7-day average is complete
    got = _daily(store, datetime.combine(axis[0], datetime.min.time(), UTC) - timedelta(microseconds=1), end)
    out = pd.DataFrame({"day": axis})
    for kind in KINDS:
        part = got[got["kind"] == kind].groupby("day")["n"].sum()
        out[kind] = [int(part.get(d, 0)) for d in axis]
    out["changes"] = out[list(KINDS)].sum(axis=1).astype("int64")
    out["per_hour"] = out["changes"] / 24.0
    out["avg_7d"] = out["changes"].rolling(7).mean()
    out = out.iloc[6:].reset_index(drop=True)
    return out[["day", "changes", *KINDS, "per_hour", "avg_7d"]]


def compliance_report(
    store: Store | Path | str,
    days: int = 7,
    *,
    high_activity_min: int = 3,
    last: int = 50,
    now: datetime | None = None,
) -> dict[str, Any]:
    """What changed in the last `days` days: `changes_per_type` (created/updated/deleted/total), resources
    with at least `high_activity_min` changes (`high_activity`), the newest `last` changes (`last_changes`),
    plus `generated_at` (the moment this was computed), `window_start` and `window_end`."""
    store = _store(store)
    log = change_log(store)
    generated = datetime.now(UTC)  # when the report was made; the window itself ends at store.now
    start, end = _window(store, days, now)
    per_type = store.sql(
        f"""SELECT type, count(*) FILTER (WHERE kind = 'created')::BIGINT AS created,
                  count(*) FILTER (WHERE kind = 'updated')::BIGINT AS updated,
                  count(*) FILTER (WHERE kind = 'deleted')::BIGINT AS deleted, count(*)::BIGINT AS total
           FROM {log} WHERE time > ? AND time <= ? GROUP BY type ORDER BY total DESC, type""",
        [start, end],
    )
    busy = store.sql(
        f"""SELECT type, id, arg_max(name, time) AS name, arg_max(project_name, time) AS project_name,
                  count(*)::BIGINT AS changes, max(time) AS last_change
           FROM {log} WHERE time > ? AND time <= ? GROUP BY type, cloud, region, id HAVING count(*) >= ?
           ORDER BY changes DESC, type, id""",
        [start, end, high_activity_min],
    )
    newest = store.sql(
        f"""SELECT time, type, id, name, kind, changed_fields, project_name, domain_name, run_id
            FROM {log} WHERE time <= ? ORDER BY time DESC, type, id LIMIT {int(last)}""",
        [end],
    )
    return {
        "generated_at": generated,
        "window_start": start,
        "window_end": end,
        "changes_per_type": per_type,
        "high_activity": busy,
        "last_changes": newest,
    }
