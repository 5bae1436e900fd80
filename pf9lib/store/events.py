"""Small appended facts (an acknowledgement, a rule toggle, an alert transition, a job record, a plan step).

Each append is its own immutable Parquet file, so any number of processes append at the same moment without
locks and nothing is ever rewritten; "current state" is a query over the events. Every kind is declared in
store/schema.py (EVENT_SCHEMAS), so its view exists in every store before the first event is written.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pf9lib.errors import Pf9Error
from pf9lib.store.layout import Layout, write_table
from pf9lib.store.schema import EVENT_KINDS, EVENT_SCHEMAS, event_table


def append_events(data_dir: Path | str, kind: str, rows: list[dict[str, Any]]) -> Path | None:
    """Append rows of a declared kind as one new file; returns its path (None when there was nothing).

    The file's date partition is the day the rows were appended (wall clock): it only places the file.
    """
    if kind not in EVENT_SCHEMAS:
        raise Pf9Error(f"unknown event kind {kind!r}: the store declares {', '.join(EVENT_KINDS)}")
    if not rows:
        return None
    table = event_table(kind)
    now = datetime.now(UTC)
    data = pa.Table.from_pylist(rows, schema=table.schema)
    stem = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:12]}"
    return write_table(Layout(data_dir), table, data, stem, date=now.strftime("%Y-%m-%d"))
