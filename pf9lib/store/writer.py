"""Write side of the store: one run at a time, per type and region, only what changed since the last state.

History is a property of the store: the collector hands over the complete (or partial) listing of a type,
and the writer derives created / updated / deleted rows against the visible state. A deletion is inferred
only from a complete listing.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pf9lib.store.layout import Layout, write_parquet_atomic
from pf9lib.store.reader import Store
from pf9lib.store.schema import RUN_END_SCHEMA, RUN_START_SCHEMA, RUN_TYPES_SCHEMA, history_schema


@dataclass
class TypeStats:
    type: str
    region: str
    complete: bool
    count: int
    created: int = 0
    updated: int = 0
    deleted: int = 0
    volatile: int = 0
    duration_s: float = 0.0
    error: str | None = None


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def hash_object(raw: dict[str, Any], volatile: frozenset[str]) -> tuple[str, str]:
    """(content hash without volatile fields, full hash) of a raw API object."""
    content = {k: v for k, v in raw.items() if k not in volatile}
    content_json = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    if len(content) == len(raw):
        return _digest(content_json), _digest(content_json)
    rest = json.dumps({k: raw[k] for k in volatile if k in raw}, sort_keys=True, default=str)
    return _digest(content_json), _digest(content_json + rest)


def changed_fields(old: dict[str, Any], new: dict[str, Any], volatile: frozenset[str]) -> list[str]:
    keys = (set(old) | set(new)) - volatile
    return sorted(k for k in keys if old.get(k) != new.get(k))


class RunWriter:
    """One collection run. Use as a context manager; an exception marks the run failed."""

    def __init__(
        self,
        data_dir: Path | str,
        cloud: str,
        regions: list[str],
        types: list[str],
        started_at: datetime | None = None,
        tool_version: str = "",
    ) -> None:
        self.layout = Layout(data_dir)
        self.cloud = cloud
        self.started_at = (started_at or datetime.now(UTC)).astimezone(UTC)
        self.run_id = new_run_id(self.started_at)
        self.regions, self.types = regions, types
        self.stats: list[TypeStats] = []
        self._lock = threading.Lock()
        self._finished = False
        self._baseline = Store(data_dir)  # the visible state before this run
        self._mark_interrupted_runs()
        start = pa.Table.from_pylist(
            [
                {
                    "run_id": self.run_id,
                    "cloud": cloud,
                    "regions": regions,
                    "types": types,
                    "started_at": self.started_at,
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "tool_version": tool_version,
                }
            ],
            schema=RUN_START_SCHEMA,
        )
        write_parquet_atomic(start, self.layout.run_event_file(self.run_id, "start"))

    def _mark_interrupted_runs(self) -> None:
        """Runs left without an end by a killed process become failed, so they are final and explained."""
        runs = self._baseline.runs()
        for row in runs[runs["status"] == "failed"].itertuples():
            if row.ended_at is None or str(row.ended_at) == "NaT":
                self._write_end(row.run_id, "failed", row.error, datetime.now(UTC))

    # -- per type -------------------------------------------------------------------------------
    def write_type(
        self,
        kind: str,
        region: str,
        rows: list[dict[str, Any]],
        complete: bool,
        duration_s: float = 0.0,
        error: str | None = None,
    ) -> TypeStats:
        """Store the listing of one type in one region. `rows` are normalized rows holding "raw" as a dict."""
        from pf9lib.normalize.spec import TYPE_COLUMNS, VOLATILE_FIELDS

        volatile = VOLATILE_FIELDS.get(kind, frozenset())
        previous = self._previous_hashes(kind, region)
        out: list[dict[str, Any]] = []
        stats = TypeStats(kind, region, complete, len(rows), duration_s=duration_s, error=error)
        updated_ids: dict[str, dict[str, Any]] = {}
        seen: set[str] = set()
        for row in rows:
            raw = row["raw"]
            content_hash, full_hash = hash_object(raw, volatile)
            seen.add(row["id"])
            before = previous.get(row["id"])
            if before is None:
                change = "created"
                stats.created += 1
            elif before[0] != content_hash:
                change = "updated"
                stats.updated += 1
                updated_ids[row["id"]] = row
            elif before[1] != full_hash:
                change = "volatile"
                stats.volatile += 1
            else:
                continue
            out.append(
                {
                    **row,
                    "op": "upsert",
                    "change": change,
                    "changed_fields": None,
                    "content_hash": content_hash,
                    "full_hash": full_hash,
                    "raw": raw,
                }
            )
        gone = [obj_id for obj_id in previous if obj_id not in seen] if complete else []
        last_rows = self._last_rows(kind, region, list(updated_ids) + gone)
        for row in out:
            if row["change"] == "updated":
                old_raw = json.loads(last_rows[row["id"]]["raw"])
                row["changed_fields"] = changed_fields(old_raw, row["raw"], volatile)
        for obj_id in gone:
            tomb = dict(last_rows[obj_id])
            tomb.update(op="delete", change="deleted", changed_fields=None)
            out.append(tomb)
        stats.deleted = len(gone)
        if out:
            self._write_history(kind, region, out, TYPE_COLUMNS[kind])
        with self._lock:
            self.stats.append(stats)
        return stats

    def _previous_hashes(self, kind: str, region: str) -> dict[str, tuple[str, str]]:
        con = self._baseline.con.cursor()
        rows = con.execute(
            f"""SELECT id, content_hash, full_hash, op FROM "{kind}_history" WHERE cloud = ? AND region = ?
                QUALIFY row_number() OVER (PARTITION BY id ORDER BY observed_at DESC, run_id DESC) = 1""",
            [self.cloud, region],
        ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows if r[3] == "upsert"}

    def _last_rows(self, kind: str, region: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        con = self._baseline.con.cursor()
        cursor = con.execute(
            f"""SELECT * EXCLUDE (cloud) FROM "{kind}_history" WHERE cloud = ? AND region = ? AND id IN
                (SELECT unnest(?::VARCHAR[]))
                QUALIFY row_number() OVER (PARTITION BY id ORDER BY observed_at DESC, run_id DESC) = 1""",
            [self.cloud, region, ids],
        )
        names = [d[0] for d in cursor.description]
        return {row[names.index("id")]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}

    def _write_history(self, kind: str, region: str, rows: list[dict[str, Any]], columns) -> None:
        schema = history_schema(columns)
        for row in rows:
            row["run_id"] = self.run_id
            row["observed_at"] = self.started_at
            row["region"] = region
            if isinstance(row.get("raw"), dict):
                row["raw"] = json.dumps(row["raw"], separators=(",", ":"), default=str)
        table = pa.Table.from_pylist(rows, schema=schema)
        date = self.started_at.strftime("%Y-%m-%d")
        name = f"{self.run_id}-{region}"
        write_parquet_atomic(table, self.layout.history_file(kind, self.cloud, date, name))

    # -- the end --------------------------------------------------------------------------------
    def finish(self, status: str | None = None, error: str | None = None) -> str:
        """Record the per-type stats and the end event; the run becomes visible to readers only now."""
        if self._finished:
            return status or "success"
        if status is None:
            status = "success" if all(s.complete for s in self.stats) else "partial"
            if self.stats and all(not s.complete and s.count == 0 for s in self.stats):
                status = "failed"  # nothing at all was listed: a cloud that was unreachable
        table = pa.Table.from_pylist(
            [{**s.__dict__, "run_id": self.run_id} for s in self.stats], schema=RUN_TYPES_SCHEMA
        )
        write_parquet_atomic(table, self.layout.run_types_file(self.cloud, self.run_id))
        self._write_end(self.run_id, status, error, datetime.now(UTC))
        self._finished = True
        self._baseline.close()
        return status

    def _write_end(self, run_id: str, status: str, error: str | None, ended_at: datetime) -> None:
        end = pa.Table.from_pylist(
            [{"run_id": run_id, "status": status, "ended_at": ended_at, "error": error}],
            schema=RUN_END_SCHEMA,
        )
        write_parquet_atomic(end, self.layout.run_event_file(run_id, "end"))

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None:
            self.finish("failed", f"{type(exc).__name__}: {exc}")
        else:
            self.finish()
