"""Drift evaluation of a run, and the events it leaves: drift events and their acknowledgements.

`evaluate_run` compares each `updated` history row of a run with the previous stored row of the same object,
field by field for every enabled rule of its type, and turns each `deleted` row of a type with rules into
a deletion event. A change from no value (null, "" or an empty list) to a value is a first assignment, not
drift.
Events are appended to the store as the `drift_events` kind under a deterministic id (rule, object, run):
evaluating a run again writes only what is missing, and readers keep one row per id, so two evaluations of the
same run (even at the same moment, from two processes) never show an event twice.

Acknowledgements (and re-openings) are appended as `drift_acks`, one row per event per action, with the actor
and a note; the newest action of an event decides whether it is open. Nothing is ever rewritten.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from pf9lib import identity
from pf9lib.analytics.drift_expect import CONTEXT, classify, deleted_parents, plan_objects
from pf9lib.analytics.drift_rules import (
    DELETED_FIELD,
    Rule,
    effective_rules,
    fires,
    load_ignore,
)
from pf9lib.errors import Pf9Error
from pf9lib.identity import Identity
from pf9lib.resources import type_columns
from pf9lib.store import as_store
from pf9lib.store.events import append_events
from pf9lib.store.reader import VISIBLE_STATUSES, Store
from pf9lib.store.schema import EVENT_SCHEMAS

EVENTS_KIND = "drift_events"  # declared in store/schema.py; change is updated | deleted
ACKS_KIND = "drift_acks"  # action is ack | reopen
STATE_VIEW = "drift_event_state"
_BASE = ("cloud", "region", "id", "name", "project_id", "project_name", "domain_id", "domain_name", "change")


def event_id(rule_id: str, cloud: str, region: str, object_id: str, run_id: str) -> str:
    """Deterministic: the same rule on the same object in the same run is the same event."""
    key = "\x1f".join((rule_id, cloud, region, object_id, run_id))
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def state_view(store: Store) -> str:
    """Name of the table of every drift event (once each) with its acknowledgement state, kept current."""
    events, acks = store.events(EVENTS_KIND), store.events(ACKS_KIND)
    build = f"""
        WITH ev AS (
            SELECT * FROM "{events}"
            QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY evaluated_at) = 1
        ), latest AS (
            SELECT event_id, action, actor, acked_at, note FROM "{acks}"
            QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY acked_at DESC, ack_id DESC) = 1
        )
        SELECT ev.*, ev.expected_reason IS NOT NULL AS expected,
               coalesce(latest.action = 'ack', false) AS acknowledged,
               CASE WHEN latest.action = 'ack' THEN latest.actor END AS acked_by,
               CASE WHEN latest.action = 'ack' THEN latest.acked_at END AS acked_at,
               CASE WHEN latest.action = 'ack' THEN latest.note END AS ack_note
        FROM ev LEFT JOIN latest USING (event_id)
    """
    # Both kinds are append-only: the store rebuilds the table when either gained rows.
    return store.cached(STATE_VIEW, build, (events, acks))


# -- evaluation -----------------------------------------------------------------------------------------
def evaluate_run(store_or_data_dir: Store | Path | str, run_id: str) -> pd.DataFrame:
    """Drift events of one run under the rules in force now; appends those not stored yet.

    Returns every event the run yields (stored before or now), newest schema columns; `attrs["written"]` is
    how many were appended by this call. Pf9Error when the run is unknown or not complete, or when the rules
    or the ignore file are invalid (nothing is written then).
    """
    store, opened = _store_seeing(store_or_data_dir, run_id)
    try:
        found_run = store.rows("SELECT cloud, status, started_at FROM runs WHERE run_id = ?", [run_id])
        run = found_run[0] if found_run else None
        if run is None or run[1] not in VISIBLE_STATUSES:
            state = "unknown" if run is None else f"{run[1]}"
            raise Pf9Error(f"run {run_id!r} is {state}: pick a finished run from `pf9wb runs`")
        rules = [r for r in effective_rules(store) if r.enabled]
        ignore = load_ignore(store.data_dir)
        now = datetime.now(UTC)  # evaluated_at: when we looked; observed_at is the run's start
        found: list[dict[str, Any]] = []
        by_type: dict[str, list[Rule]] = defaultdict(list)
        for rule in rules:
            by_type[rule.type].append(rule)
        # The run's own per-type counts say which types have anything to compare: skip the others' history.
        moved = {
            r[0]
            for r in store.rows(
                "SELECT type FROM run_types WHERE run_id = ? GROUP BY type HAVING sum(updated + deleted) > 0",
                [run_id],
            )
        }
        for kind, type_rules in by_type.items():
            if kind in moved:
                found += _type_events(store, kind, type_rules, run_id, run[2], now)
        found = [e for e in found if not ignore.ignores(e["type"], e["object_id"], e["name"], e["field"])]
        classify(found, deleted_parents(store, run_id), plan_objects(store), ignore)
        for e in found:
            e.pop("_ctx", None)
        view = store.events(EVENTS_KIND)
        stored = {r[0] for r in store.rows(f'SELECT event_id FROM "{view}" WHERE run_id = ?', [run_id])}
        new = [e for e in found if e["event_id"] not in stored]
        append_events(store.data_dir, EVENTS_KIND, new)
        columns = [f.name for f in pa.Table.from_pylist([], schema=_schema()).schema]
        df = pd.DataFrame(found, columns=columns)
        df.attrs["written"] = len(new)
        return df
    finally:
        if opened:
            store.close()


def _store_seeing(store_or_data_dir: Store | Path | str, run_id: str) -> tuple[Store, bool]:
    """A store whose views include the run: the one given when it already sees the run, else a new one.

    A Store's views are globs read at query time, so a store opened earlier sees a later run's files, except
    for a type that had no file at all when it was opened; such a type's first files hold only created rows,
    which never make drift, so reusing the store is safe once its `runs` view shows the run.
    """
    if isinstance(store_or_data_dir, Store):
        if store_or_data_dir.rows("SELECT 1 FROM runs WHERE run_id = ?", [run_id]):
            return store_or_data_dir, False
        return Store(store_or_data_dir.data_dir), True
    return Store(store_or_data_dir), True


def _schema() -> pa.Schema:
    return EVENT_SCHEMAS[EVENTS_KIND][0]


def _type_events(
    store: Store, kind: str, rules: list[Rule], run_id: str, started_at: datetime, now: datetime
) -> list[dict[str, Any]]:
    columns = {name for name, _ in type_columns(kind)}
    field_rules = [r for r in rules if not r.is_deletion]
    deletion = next((r for r in rules if r.is_deletion), None)
    context = [c for c in CONTEXT.get(kind, ()) if c in columns]
    fields = sorted({r.field for r in field_rules} | ({"status"} & columns) | set(context))
    fields = [f for f in fields if f not in _BASE]
    watched = sorted({r.field for r in field_rules} | set(fields))
    cur_cols = ", ".join(f'"{c}"' for c in (*_BASE, *fields))
    prev_cols = ", ".join(f'h."{c}"' for c in watched)
    old_cols = ", ".join(f'p."{c}" AS "old:{c}"' for c in watched)
    # Only the objects this run changed are looked up in the older history: cost follows change, not size.
    rows = store.records(
        f"""
        WITH cur AS (
            SELECT {cur_cols} FROM "{kind}_history" WHERE run_id = $run AND change IN ('updated', 'deleted')
        ), prev AS (
            SELECT h.cloud, h.region, h.id, {prev_cols} FROM "{kind}_history" h
            SEMI JOIN cur c ON h.cloud = c.cloud AND h.region = c.region AND h.id = c.id
            WHERE h.observed_at < $at OR (h.observed_at = $at AND h.run_id < $run)
            QUALIFY row_number() OVER (PARTITION BY h.cloud, h.region, h.id
                                       ORDER BY h.observed_at DESC, h.run_id DESC) = 1
        )
        SELECT cur.*, {old_cols} FROM cur LEFT JOIN prev p USING (cloud, region, id)
        """,
        {"run": run_id, "at": started_at},
    )
    out = []
    for row in rows:
        base = {
            "type": kind,
            "cloud": row["cloud"],
            "region": row["region"],
            "object_id": row["id"],
            "name": row["name"],
            "project_id": row["project_id"],
            "project_name": row["project_name"],
            "domain_id": row["domain_id"],
            "domain_name": row["domain_name"],
            "change": row["change"],
            "run_id": run_id,
            "observed_at": started_at,
            "evaluated_at": now,
        }
        if row["change"] == "deleted":
            if deletion is not None:
                old = _text(row.get("status")) if "status" in columns else None
                # A tombstone carries the object's last state: its context is what it was.
                out.append({**_event(deletion, base, old, None), "_ctx": {c: row.get(c) for c in context}})
            continue
        ctx = {c: row.get(f"old:{c}") for c in context}
        for rule in field_rules:
            old, new = row[f"old:{rule.field}"], row[rule.field]
            if fires(rule.trigger, old, new):  # never a first assignment, nor a value that did not move
                out.append({**_event(rule, base, _text(old), _text(new)), "_ctx": ctx})
    return out


def _event(rule: Rule, base: dict[str, Any], old: str | None, new: str | None) -> dict[str, Any]:
    return {
        **base,
        "event_id": event_id(rule.id, base["cloud"], base["region"], base["object_id"], base["run_id"]),
        "rule_id": rule.id,
        "severity": rule.severity,
        "field": DELETED_FIELD if rule.is_deletion else rule.field,
        "old_value": old,
        "new_value": new,
        "meaning": rule.meaning,
    }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


# -- acknowledgement ------------------------------------------------------------------------------------
def resolve_event_ids(store: Store, ids: list[str]) -> list[str]:
    """Full ids for ids or unique prefixes (≥ 6 characters); Pf9Error naming those matching none/many."""
    view = state_view(store)
    known = [r[0] for r in store.rows(f'SELECT event_id FROM "{view}"')]
    known_set = set(known)
    out, problems = [], []
    for given in ids:
        if given in known_set:
            out.append(given)
            continue
        hits = [k for k in known if len(given) >= 6 and k.startswith(given)]
        if len(hits) == 1:
            out.append(hits[0])
        else:
            problems.append(f"{given} ({'ambiguous' if hits else 'unknown'})")
    if problems:
        raise Pf9Error(
            f"no single drift event for {', '.join(problems)}: list them with `pf9wb drift events`"
        )
    return list(dict.fromkeys(out))


def with_children(store: Store, ids: list[str]) -> list[str]:
    """The events and, for an incident's parent event, every event of its incident (acknowledged together)."""
    view = state_view(store)
    children = [
        r[0]
        for r in store.rows(
            f"""SELECT event_id FROM "{view}"
                WHERE incident_id IN (SELECT unnest(?::VARCHAR[])) AND event_id <> incident_id""",
            [ids],
        )
    ]
    return list(dict.fromkeys(ids + children))


def acknowledge(
    store_or_data_dir: Store | Path | str,
    event_ids: list[str],
    note: str = "",
    actor: Identity | str | None = None,
    action: str = "ack",
) -> int:
    """Acknowledge (or `action="reopen"`) events, one appended record each with actor, time and note.

    `actor` is who acknowledges (default: the person behind the command, pf9lib.identity.acting); they must
    be an operator or admin of the roles file, else PermissionDenied (audited, nothing written). Pf9Error
    (nothing written) for an unknown id. Returns how many records were appended."""
    if action not in ("ack", "reopen"):
        raise Pf9Error(f"unknown acknowledgement action {action!r}: use ack or reopen")
    store = as_store(store_or_data_dir)
    if not event_ids:
        raise Pf9Error("no drift event id given: list them with `pf9wb drift events`")
    who = str(identity.acting(store.data_dir, actor))
    ids = with_children(store, resolve_event_ids(store, list(event_ids)))
    identity.require(store.data_dir, who, "operator", f"drift.{action}", f"{len(ids)} event(s)")
    now = datetime.now(UTC)  # acked_at: when the person acted, not the data's time
    rows = [
        {
            "ack_id": uuid.uuid4().hex,
            "event_id": i,
            "action": action,
            "acked_at": now,
            "actor": who,
            "note": note,
        }
        for i in ids
    ]
    append_events(store.data_dir, ACKS_KIND, rows)
    return len(rows)


def acknowledge_as_viewer(
    store_or_data_dir: Store | Path | str,
    event_ids: list[str],
    viewer: str | None,
    note: str = "",
) -> int:
    """A dashboard viewer's acknowledgement: the permission check, then `acknowledge` as that viewer.

    Dashboards call this with nothing but the viewer's identity: any widget callback can be fired by whoever
    sees the page, so the rule lives here, where the write happens: an operator or admin of the roles file
    (pf9lib.identity) may acknowledge. PermissionDenied (one line, audited, nothing written) otherwise;
    Pf9Error when nothing is selected or an id is unknown."""
    data_dir = store_or_data_dir.data_dir if isinstance(store_or_data_dir, Store) else Path(store_or_data_dir)
    identity.require(data_dir, viewer, "operator", "drift.ack", f"{len(event_ids)} event(s)")
    if not event_ids:
        raise Pf9Error("no drift event selected: select one or more events first")
    return acknowledge(store_or_data_dir, list(event_ids), note=note, actor=viewer)


def acknowledgements(store: Store, event_id_: str | None = None) -> pd.DataFrame:
    """Every acknowledgement record (of one event, or all), oldest first."""
    view = store.events(ACKS_KIND)
    if event_id_ is None:
        return store.sql(f'SELECT * FROM "{view}" ORDER BY acked_at, ack_id')
    return store.sql(f'SELECT * FROM "{view}" WHERE event_id = ? ORDER BY acked_at, ack_id', [event_id_])
