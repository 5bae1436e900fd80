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
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from pf9lib.resources import resource
from pf9lib.store.layout import Layout, maintenance_lock, write_schema_document, write_table
from pf9lib.store.reader import Store
from pf9lib.store.schema import RUN_END_SCHEMA, RUN_START_SCHEMA, RUN_TABLES, RUN_TYPES_SCHEMA, history_table

_STARTS, _ENDS, _TYPE_STATS = RUN_TABLES


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


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _canonical(obj: Any) -> bytes:
    # Sorted keys at every level: services render dicts in varying key order, which is not a change.
    # orjson sorts in C at ~3x the stdlib's unsorted speed; hashing every object is most of a quiet run.
    return orjson.dumps(obj, default=str, option=orjson.OPT_SORT_KEYS)


def hash_object(raw: dict[str, Any], volatile: frozenset[str]) -> tuple[str, str]:
    """(content hash without volatile fields, full hash) of a raw API object."""
    if volatile.isdisjoint(raw):
        digest = _digest(_canonical(raw))
        return digest, digest
    content = hashlib.blake2b(_canonical({k: v for k, v in raw.items() if k not in volatile}), digest_size=12)
    content_hash = content.hexdigest()
    content.update(_canonical({k: raw[k] for k in volatile if k in raw}))
    return content_hash, content.hexdigest()


def changed_fields(old: dict[str, Any], new: dict[str, Any], volatile: frozenset[str]) -> list[str]:
    keys = (set(old) | set(new)) - volatile
    return sorted(k for k in keys if old.get(k) != new.get(k))


def _as_columns(rows_or_columns: list[dict[str, Any]] | dict[str, list[Any]]) -> dict[str, list[Any]]:
    """`to_rows` may give rows (list of dicts) or columns (dict of lists); the writer works on columns."""
    if isinstance(rows_or_columns, dict):
        return dict(rows_or_columns)
    names = list(rows_or_columns[0]) if rows_or_columns else []
    return {name: [row.get(name) for row in rows_or_columns] for name in names}


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
        # One clock per run: the end is the start plus the elapsed time, so a run dated on a simulated clock
        # still lasts the seconds it took.
        self.started_at = (started_at or datetime.now(UTC)).astimezone(UTC)
        self._t0 = time.monotonic()
        self.run_id = new_run_id(self.started_at)
        self.regions, self.types = regions, types
        self.stats: list[TypeStats] = []
        self._lock = threading.Lock()
        self._finished = False
        # Shared for the whole run: compaction and pruning (exclusive) wait until no collect is writing.
        from pf9lib.store.upgrade import upgrade_if_needed

        upgrade_if_needed(data_dir)
        self._lock_cm = maintenance_lock(data_dir, exclusive=False)
        self._lock_cm.__enter__()
        write_schema_document(self.layout)
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
        write_table(self.layout, _STARTS, start, self.run_id)

    def _mark_interrupted_runs(self) -> None:
        """Runs left without an end by a killed process become failed, so they are final and explained."""
        runs = self._baseline.runs()
        for row in runs[runs["status"] == "failed"].itertuples():
            if row.ended_at is None or str(row.ended_at) == "NaT":
                # Its true end is unknown: it is closed at its start, with the reason.
                self._write_end(row.run_id, "failed", row.error, row.started_at.to_pydatetime())

    # -- per type -------------------------------------------------------------------------------
    def write_type(
        self,
        kind: str,
        region: str,
        raws: list[dict[str, Any]],
        complete: bool,
        to_rows: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | dict[str, list[Any]]],
        duration_s: float = 0.0,
        error: str | None = None,
    ) -> TypeStats:
        """Store the listing of one type in one region.

        `raws` are the API objects; `to_rows` turns a list of them into typed rows or columns (with "id")
        and is called only for the objects that changed, which keeps a run of few changes cheap.
        """
        res = resource(kind)
        volatile, object_id, columns_fp = res.volatile, res.id_of, res.columns_fp
        previous = self._previous_hashes(kind, region)
        stats = TypeStats(kind, region, complete, len(raws), duration_s=duration_s, error=error)
        changed: list[tuple[str, str, str, dict[str, Any]]] = []  # (change, content hash, full hash, raw)
        seen: set[str] = set()
        for raw in raws:
            obj_id = object_id(raw)
            seen.add(obj_id)
            content_hash, full_hash = hash_object(raw, volatile)
            before = previous.get(obj_id)
            if before is None:
                changed.append(("created", content_hash, full_hash, raw))
            elif before[0] != content_hash:
                changed.append(("updated", content_hash, full_hash, raw))
            elif before[1] != full_hash or before[2] != columns_fp:
                # Only volatile fields moved, or the catalogue's columns for the type changed since the row
                # was written: a new row (so every current row has every column), never a change.
                changed.append(("volatile", content_hash, full_hash, raw))
        gone = [obj_id for obj_id in previous if obj_id not in seen] if complete else []
        columns = _as_columns(to_rows([raw for *_, raw in changed]))
        updated = [i for i, c in zip(columns.get("id", []), changed, strict=True) if c[0] == "updated"]
        last_rows = self._last_rows(kind, region, updated + gone)
        kinds, fields_col = [], []
        for obj_id, (change, _, _, raw) in zip(columns.get("id", []), changed, strict=True):
            fields = None
            if change == "updated":
                fields = changed_fields(json.loads(last_rows[obj_id]["raw"]), raw, volatile)
                if not fields:  # nothing but a volatile field or nested key order moved
                    change = "volatile"
            setattr(stats, change, getattr(stats, change) + 1)
            kinds.append(change)
            fields_col.append(fields)
        stats.deleted = len(gone)
        if changed or gone:
            columns.update(
                op=["upsert"] * len(changed),
                change=kinds,
                changed_fields=fields_col,
                content_hash=[c[1] for c in changed],
                full_hash=[c[2] for c in changed],
                columns_fp=[columns_fp] * len(changed),
                raw=[_dumps(c[3]) for c in changed],
            )
            tombstones = []
            for obj_id in gone:
                tomb = dict(last_rows[obj_id])
                tomb.update(op="delete", change="deleted", changed_fields=None)
                tombstones.append(tomb)
            self._write_history(kind, region, columns, tombstones, res.store_columns)
        with self._lock:
            self.stats.append(stats)
        return stats

    def _previous_hashes(self, kind: str, region: str) -> dict[str, tuple[str, str, str]]:
        con = self._baseline.con.cursor()
        rows = con.execute(
            f"""SELECT id, content_hash, full_hash, columns_fp, op FROM "{kind}_history"
                WHERE cloud = ? AND region = ?
                QUALIFY row_number() OVER (PARTITION BY id ORDER BY observed_at DESC, run_id DESC) = 1""",
            [self.cloud, region],
        ).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows if r[4] == "upsert"}

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

    def _write_history(
        self,
        kind: str,
        region: str,
        columns: dict[str, list[Any]],
        tombstones: list[dict[str, Any]],
        type_columns,
    ) -> None:
        table_decl = history_table(kind, type_columns)
        schema = table_decl.schema
        n = len(columns.get("op", []))
        constant = {"run_id": self.run_id, "observed_at": self.started_at, "region": region}
        arrays = []
        for field in schema:
            if field.name in constant:
                values = [constant[field.name]] * n
            else:
                values = columns.get(field.name, [None] * n)
            arrays.append(pa.array(values, type=field.type))
        table = pa.Table.from_arrays(arrays, schema=schema)
        if tombstones:
            for tomb in tombstones:
                tomb.update(constant)
            table = pa.concat_tables([table, pa.Table.from_pylist(tombstones, schema=schema)])
        month = self.started_at.strftime("%Y-%m")
        write_table(self.layout, table_decl, table, f"{self.run_id}-{region}", cloud=self.cloud, month=month)

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
        write_table(self.layout, _TYPE_STATS, table, self.run_id, cloud=self.cloud)
        self._write_end(
            self.run_id, status, error, self.started_at + timedelta(seconds=time.monotonic() - self._t0)
        )
        self._finished = True
        self._baseline.close()
        self._lock_cm.__exit__(None, None, None)
        return status

    def _write_end(self, run_id: str, status: str, error: str | None, ended_at: datetime) -> None:
        end = pa.Table.from_pylist(
            [{"run_id": run_id, "status": status, "ended_at": ended_at, "error": error}],
            schema=RUN_END_SCHEMA,
        )
        write_table(self.layout, _ENDS, end, run_id)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None:
            self.finish("failed", f"{type(exc).__name__}: {exc}")
        else:
            self.finish()
