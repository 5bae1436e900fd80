"""The audit trail: one record behind every action, acknowledgement, rule change, grant and refusal.

Records are appended as `audit` events (store/schema.py): who, with which role, did what to what, under which
plan, with which result and note. Nothing is ever rewritten. `audit()` reads them back, filtered.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pf9lib.store import as_store
from pf9lib.store.events import append_events
from pf9lib.store.reader import Store

RESULTS = ("planned", "succeeded", "failed", "refused", "denied", "rolled_back", "interrupted", "canceled")


def record(
    data_dir: Path | str,
    actor: str,
    action: str,
    target: str,
    plan_id: str | None = None,
    result: str = "succeeded",
    note: str = "",
    role: str | None = None,
    at: datetime | None = None,
) -> str:
    """Append one audit record; returns its id. `action` is dotted (`admin.flavor.create`, `drift.ack`)."""
    audit_id = uuid.uuid4().hex
    append_events(
        data_dir,
        "audit",
        [
            {
                "audit_id": audit_id,
                "at": (at or datetime.now(UTC)).astimezone(UTC),
                "actor": actor,
                "role": role,
                "action": action,
                "target": target,
                "plan_id": plan_id,
                "result": result,
                "note": note[:2000] if note else "",
            }
        ],
    )
    return audit_id


def record_many(data_dir: Path | str, rows: list[dict]) -> None:
    """Many audit records in one file (a run over many objects); each row as `record`'s arguments."""
    now = datetime.now(UTC)
    append_events(
        data_dir,
        "audit",
        [
            {
                "audit_id": uuid.uuid4().hex,
                "at": row.get("at") or now,
                "actor": row["actor"],
                "role": row.get("role"),
                "action": row["action"],
                "target": row["target"],
                "plan_id": row.get("plan_id"),
                "result": row.get("result", "succeeded"),
                "note": (row.get("note") or "")[:2000],
            }
            for row in rows
        ],
    )


def audit(
    store: Store | Path | str,
    since: datetime | str | None = None,
    actor: str | None = None,
    action: str | None = None,
    plan_id: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Audit records, newest first; `action` matches a prefix (`admin` covers `admin.flavor.create`)."""
    store = as_store(store)
    where, params = ["TRUE"], []
    if since is not None:
        where.append('"at" >= ?')
        params.append(store.resolve_time(since) if isinstance(since, str) else since)
    if actor:
        where.append("actor = ?")
        params.append(actor)
    if action:
        where.append("(action = ? OR starts_with(action, ?))")
        params += [action, action + "."]
    if plan_id:
        where.append("plan_id = ?")
        params.append(plan_id)
    page = f"LIMIT {int(limit)}" if limit else ""
    return store.sql(
        f"""SELECT "at", actor, role, action, target, plan_id, result, note, audit_id FROM audit
            WHERE {" AND ".join(where)} ORDER BY "at" DESC, audit_id {page}""",
        params,
    )
