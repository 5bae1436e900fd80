"""Small appended facts (an acknowledgement, a rule toggle, a restore step, a scheduled-job record).

Each append is its own immutable Parquet file, so any number of processes append at the same moment without
locks and nothing is ever rewritten; "current state" is a query over the events. A kind's schema is declared
once, by the module that owns that kind, with `register_event_kind`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pf9lib.store.layout import Layout, write_parquet_atomic

EVENT_SCHEMAS: dict[str, pa.Schema] = {}


def register_event_kind(kind: str, schema: pa.Schema) -> str:
    """Declare an event kind; its view in every store connection is named after it."""
    existing = EVENT_SCHEMAS.get(kind)
    if existing is not None and not existing.equals(schema):
        # Schemas only grow: a new column must be added at the end, old files lack it.
        missing = [f.name for f in existing if f.name not in schema.names]
        if missing:
            raise ValueError(f"event kind {kind!r} may only add columns; {missing} were dropped")
    EVENT_SCHEMAS[kind] = schema
    return kind


def append_events(data_dir: Path | str, kind: str, rows: list[dict[str, Any]]) -> Path | None:
    """Append rows of a registered kind as one new file; returns its path (None when there was nothing)."""
    if kind not in EVENT_SCHEMAS:
        raise KeyError(f"unknown event kind {kind!r}: register it with register_event_kind first")
    if not rows:
        return None
    table = pa.Table.from_pylist(rows, schema=EVENT_SCHEMAS[kind])
    now = datetime.now(UTC)
    path = (
        Layout(data_dir).events_dir(kind)
        / now.strftime("%Y-%m-%d")
        / (f"{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:12]}.parquet")
    )
    return write_parquet_atomic(table, path)
