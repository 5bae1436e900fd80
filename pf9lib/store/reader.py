"""Read side of the store: an in-memory DuckDB whose views sit over the Parquet files, and one clock.

No process holds a DuckDB file open, so any number of readers run beside a writer. Only runs whose end record
says success or partial are visible; a killed run's files are ignored until it is marked failed. After
`open_store(dir)` every view of every declared table exists (store/schema.py); `store.now` is the time the
views describe, and `as_of` moves it, for inventory, events and metrics alike.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pf9lib.errors import Pf9Error
from pf9lib.procutil import pid_alive
from pf9lib.store.layout import Layout, files_by_fingerprint
from pf9lib.store.schema import (
    EVENT_KINDS,
    METRIC_TABLES,
    RUN_TABLES,
    Table,
    duckdb_type,
    event_table,
    history_table,
)

VISIBLE_STATUSES = ("success", "partial")


class QueryError(Pf9Error):
    """SQL over the store failed (an unknown view or column, a syntax error): the message is DuckDB's."""


_REAL_PARTITIONS = ("cloud",)  # partition values that are columns; date/month only place files


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def _empty_select(table: Table) -> str:
    cols = [f'CAST(NULL AS {duckdb_type(f.type)}) AS "{f.name}"' for f in table.schema]
    cols += [f"CAST(NULL AS VARCHAR) AS {p}" for p in table.partitions if p in _REAL_PARTITIONS]
    return f"SELECT {', '.join(cols)} WHERE false"


def parse_time(value: str | datetime) -> datetime | None:
    """An aware UTC datetime from a datetime or an ISO text (naive means UTC); None when it is neither."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    try:
        when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


class Store:
    """The store of one data directory: every view (`views()`), SQL over them, and `now`."""

    def __init__(self, data_dir: Path | str, as_of: datetime | None = None) -> None:
        from pf9lib.resources import RESOURCES
        from pf9lib.store.upgrade import upgrade_if_needed

        upgrade_if_needed(data_dir)
        self.layout = Layout(data_dir)
        self.data_dir = self.layout.data_dir
        self.as_of_time = parse_time(as_of) if as_of is not None else None
        self.type_columns = {kind: res.store_columns for kind, res in RESOURCES.items()}
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        self._lock = threading.RLock()
        self._empty: dict[str, Table] = {}  # raw views bound while their table had no file yet
        self._latest_batch: str | None = None
        self._materialised: dict[str, Any] = {}
        self._now: tuple[Any, datetime | None] = (None, None)
        self._views: list[str] = []
        # The views that are one table's files as they are (their signature is a directory look).
        self._tables: dict[str, Table] = {t.name: t for t in (*RUN_TABLES, *METRIC_TABLES)}
        self._tables.update({kind: event_table(kind) for kind in EVENT_KINDS})
        self._create_views()

    # -- sources ------------------------------------------------------------------------------------
    def _source(self, table: Table) -> str:
        """A SELECT of the table's declared columns over its files, one footer bound per schema.

        Files of the current schema are read through a glob (later files are seen without re-binding);
        files of an older schema (a column was added since) are listed and read by name, with NULL for the
        columns they lack, until compaction rewrites them.
        """
        directory = self.layout.table_dir(table)
        groups = files_by_fingerprint(directory)
        if not groups:
            self._empty[table.name] = table
            return _empty_select(table)
        self._empty.pop(table.name, None)
        hive = [p for p in table.partitions if p in _REAL_PARTITIONS]
        opts = ", hive_partitioning = false"
        if hive:
            types = ", ".join(f"'{p}': VARCHAR" for p in table.partitions)
            opts = f", hive_partitioning = true, hive_types = {{{types}}}"
        parts = []
        current = groups.pop(table.fingerprint, None)
        if current:
            glob = _quote(
                str(directory / table.pattern.replace("*.parquet", f"*~{table.fingerprint}.parquet"))
            )
            parts.append(f"SELECT * FROM read_parquet({glob}{opts})")
        older = sorted(f for files in groups.values() for f in files)
        if older:
            listed = "[" + ", ".join(_quote(f) for f in older) + "]"
            parts.append(f"SELECT * FROM read_parquet({listed}, union_by_name = true{opts})")
        parts.append(_empty_select(table))  # declares every column with its type, even if no file has it
        names = [f'"{f.name}"' for f in table.schema] + [p for p in hive]
        casts = [f'CAST("{f.name}" AS {duckdb_type(f.type)}) AS "{f.name}"' for f in table.schema] + hive
        union = " UNION ALL BY NAME ".join(f"({p})" for p in parts)
        if len(parts) == 2 and current:  # the common case: every file has the current schema
            return f"SELECT {', '.join(names)} FROM ({parts[0]})"
        return f"SELECT {', '.join(casts)} FROM ({union})"

    def _cut(self, column: str | None) -> str:
        if self.as_of_time is None or column is None:
            return "TRUE"
        return f'"{column}" <= {self._as_of_sql()}'

    def _as_of_sql(self) -> str:
        return f"TIMESTAMPTZ '{self.as_of_time.isoformat()}'" if self.as_of_time else "NULL"

    def _view(self, name: str, sql: str) -> None:
        self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')
        if not name.startswith("_") and name not in self._views:
            self._views.append(name)

    def _raw(self, table: Table) -> str:
        """The raw view of a table, bound to files only once every view is declared (see _create_views)."""
        self._view(f"_raw_{table.name}", _empty_select(table))
        self._pending.append(table)
        return f'"_raw_{table.name}"'

    # -- views --------------------------------------------------------------------------------------
    def _create_views(self) -> None:
        # Views are declared over empty stand-ins of the raw views, then each raw view is pointed at its
        # files: DuckDB binds a view's whole tree at creation, so this binds each table's files once instead
        # of once per view above it (changes and deletions sit over every type's history).
        self._pending: list[Table] = []
        self._run_views()
        self._history_views()
        for kind in EVENT_KINDS:
            table = event_table(kind)
            self._view(kind, f"SELECT * FROM {self._raw(table)} WHERE {self._cut(table.time_column)}")
        self._metric_views()
        for table in self._pending:
            self._view(f"_raw_{table.name}", self._source(table))
        self._pending = []

    def _run_views(self) -> None:
        starts, ends, stats = (self._raw(t) for t in RUN_TABLES)
        self._view("run_starts", f"SELECT * FROM {starts}")
        self._view("run_ends", f"SELECT * FROM {ends}")
        cutoff = "TRUE" if self.as_of_time is None else f"s.started_at <= {self._as_of_sql()}"
        self._view(
            "runs",
            f"""SELECT s.run_id, s.cloud, s.regions, s.types, s.started_at, e.ended_at,
                   coalesce(e.status, 'running') AS status, e.error,
                   date_diff('millisecond', s.started_at, e.ended_at) / 1000.0 AS duration_s, s.pid, s.host
            FROM run_starts s LEFT JOIN (
                SELECT * FROM run_ends QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY ended_at) = 1
            ) e USING (run_id)
            WHERE {cutoff}""",
        )
        self._view("run_types", f"SELECT * FROM {stats} WHERE run_id IN (SELECT run_id FROM runs)")
        self._view("visible_runs", f"SELECT run_id, started_at FROM runs WHERE status IN {VISIBLE_STATUSES}")

    def _history_views(self) -> None:
        change_parts, deletion_parts = [], []
        for kind, columns in self.type_columns.items():
            raw = self._raw(history_table(kind, columns))
            # Compaction briefly leaves a merged file beside its inputs: keep one row per (run, region, id).
            self._view(
                f"{kind}_history",
                f"""SELECT h.* FROM {raw} h WHERE h.run_id IN (SELECT run_id FROM visible_runs)
                QUALIFY row_number() OVER (PARTITION BY h.run_id, h.region, h.id) = 1""",
            )
            self._view(
                kind,
                f"""SELECT * EXCLUDE (op, change, changed_fields, content_hash, full_hash, columns_fp) FROM (
                    SELECT * FROM "{kind}_history"
                    QUALIFY row_number() OVER (PARTITION BY cloud, region, id
                                               ORDER BY observed_at DESC, run_id DESC) = 1
                ) WHERE op = 'upsert'""",
            )
            common = (
                f"SELECT run_id, observed_at AS time, cloud, region, '{kind}' AS type, id, name, project_id, "
                f'project_name, domain_id, domain_name, change AS kind, changed_fields FROM "{kind}_history"'
            )
            change_parts.append(f"{common} WHERE change IN ('created', 'updated', 'deleted')")
            deletion_parts.append(f"{common} WHERE op = 'delete'")
        self._view("changes", " UNION ALL ".join(change_parts))
        self._view("deletions", " UNION ALL ".join(deletion_parts))

    def _metric_views(self) -> None:
        from pf9lib.store.metrics_store import latest_batch, latest_sources

        for table in METRIC_TABLES:
            raw = self._raw(table)
            if table.name.endswith(("_hourly", "_daily")):
                key = "host" if "_hosts_" in table.name else "vm_key"
                # A replaced roll-up can sit beside its successor for a moment: keep the newest file's row.
                raw = f"""(SELECT * EXCLUDE (written_at) FROM {raw}
                    QUALIFY row_number() OVER (PARTITION BY period, {key} ORDER BY written_at DESC) = 1)"""
            self._view(table.name, f"SELECT * FROM {raw} WHERE {self._cut(table.time_column)}")
        self._latest_batch = latest_batch(self.data_dir)
        for name, sql in latest_sources(self.data_dir, self._latest_batch, self.as_of_time).items():
            self._view(name, sql)

    def _refresh(self) -> None:
        """Re-bind the views whose files appeared since they were bound (a first event of its kind, a first
        run, a new latest metrics state). Cheap when nothing changed: a few directory looks."""
        with self._lock:
            appeared = [t for t in self._empty.values() if files_by_fingerprint(self.layout.table_dir(t))]
            if appeared:
                for table in appeared:
                    self._view(f"_raw_{table.name}", self._source(table))
            if self.as_of_time is None:
                from pf9lib.store.metrics_store import latest_batch, latest_sources

                batch = latest_batch(self.data_dir)
                if batch != self._latest_batch:
                    self._latest_batch = batch
                    for name, sql in latest_sources(self.data_dir, batch, None).items():
                        self._view(name, sql)

    # -- queries ------------------------------------------------------------------------------------
    def sql(self, query: str, params: list | dict | None = None) -> pd.DataFrame:
        """Run SQL over the views and return a DataFrame (parameters by position `?` or name `$x`)."""
        self._refresh()
        with self._lock:
            try:
                return self.con.execute(query, params or []).df()
            except duckdb.CatalogException as exc:
                raise QueryError(f"{_first_line(exc)} (store.views() lists the views)") from exc
            except duckdb.Error as exc:
                raise QueryError(_first_line(exc)) from exc

    def scalar(self, query: str, params: list | dict | None = None) -> Any:
        """The first column of the first row (None when there is no row)."""
        self._refresh()
        with self._lock:
            row = self.con.execute(query, params or []).fetchone()
        return None if row is None else row[0]

    def rows(self, query: str, params: list | dict | None = None) -> list[tuple]:
        """All rows as tuples (for library code that needs no DataFrame)."""
        self._refresh()
        with self._lock:
            return self.con.execute(query, params or []).fetchall()

    def records(self, query: str, params: list | dict | None = None) -> list[dict[str, Any]]:
        """All rows as dicts of Python values (lists stay lists, NULL stays None: no pandas coercion)."""
        self._refresh()
        with self._lock:
            cursor = self.con.execute(query, params or [])
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def table(self, name: str) -> pd.DataFrame:
        return self.sql(f'SELECT * FROM "{name}"')

    def views(self) -> list[str]:
        """Every public view: inventory types and their _history, runs, changes, events, metrics."""
        return list(self._views)

    def events(self, kind: str) -> str:
        """The view name of an event kind, for SQL; a one-line error for a kind the store does not know."""
        if kind not in EVENT_KINDS:
            raise Pf9Error(f"unknown event kind {kind!r}: the store has {', '.join(EVENT_KINDS)}")
        return kind

    def signature(self, views: tuple[str, ...]) -> tuple:
        """What a derived result depends on, cheaply: for a view over one table's files, the number of its
        files and the newest one's time (files are immutable and appear whole, so any addition — or a
        compaction — moves it); for another view, its row count."""
        out = []
        for view in views:
            table = self._tables.get(view)
            if table is None:
                out.append(self.con.execute(f'SELECT count(*) FROM "{view}"').fetchone()[0])
                continue
            count, newest = 0, 0
            for files in files_by_fingerprint(self.layout.table_dir(table)).values():
                count += len(files)
                newest = max([newest, *(os.stat(f).st_mtime_ns for f in files)])
            out.append((count, newest))
        return tuple(out)

    def cached(self, name: str, build_sql: str, depends_on: tuple[str, ...]) -> str:
        """A temporary table of `build_sql`'s rows, rebuilt when a view in `depends_on` gained rows (see
        `signature`). Analytics ask a dozen questions of the same derived table; this builds it once."""
        self._refresh()
        with self._lock:
            signature = self.signature(depends_on)
            if self._materialised.get(name) != signature:
                self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {build_sql}')
                self._materialised[name] = signature
        return name

    def current(self, kind: str) -> str:
        """A resource type's current state as a table the store keeps, rebuilt when a run became visible:
        for analytics that ask it several questions (the view recomputes the state from the history)."""
        if kind not in self.type_columns:
            raise Pf9Error(f"unknown resource type {kind!r}: use one of {', '.join(self.type_columns)}")
        return self.cached(f"_current_{kind}", f'SELECT * FROM "{kind}"', ("run_ends",))

    def runs(self) -> pd.DataFrame:
        """Runs, newest first; a run with no end record whose process is gone shows as interrupted."""
        df = self.sql("SELECT * FROM runs ORDER BY started_at DESC")
        if not df.empty:
            here = socket.gethostname()
            dead = (df["status"] == "running") & df.apply(
                lambda r: r["host"] == here and not pid_alive(int(r["pid"])), axis=1
            )
            df.loc[dead, "status"] = "failed"
            df.loc[dead, "error"] = "interrupted: the collecting process ended without finishing the run"
        return df

    def latest_run(self, visible_only: bool = True) -> dict | None:
        where = f"WHERE status IN {VISIBLE_STATUSES}" if visible_only else ""
        df = self.sql(f"SELECT * FROM runs {where} ORDER BY started_at DESC, run_id DESC LIMIT 1")
        return None if df.empty else df.iloc[0].to_dict()

    # -- the clock ----------------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        """The time the views describe: the `as_of` time, else the start of the newest visible run, else (an
        empty store) the wall clock. Every analytic's default "now"."""
        if self.as_of_time is not None:
            return self.as_of_time
        signature = self.signature(("run_starts", "run_ends"))
        if self._now[0] != signature:  # a run became visible (or started) since: ask the views again
            latest = self.scalar("SELECT max(started_at) FROM visible_runs")
            self._now = (signature, pd.Timestamp(latest).to_pydatetime() if latest is not None else None)
        return self._now[1] if self._now[1] is not None else datetime.now(UTC)

    @property
    def has_runs(self) -> bool:
        return bool(self.scalar("SELECT count(*) FROM visible_runs"))

    def resolve_time(self, run_or_time: str | datetime) -> datetime:
        """The one parser of "a run id or an ISO time" (also `latest`): the time it names."""
        if isinstance(run_or_time, datetime):
            return parse_time(run_or_time)
        text = str(run_or_time).strip()
        if text in ("latest", "latest-run", "now"):
            return self.now
        started = self.scalar("SELECT started_at FROM runs WHERE run_id = ?", [text])
        if started is not None:
            return pd.Timestamp(started).to_pydatetime()
        when = parse_time(text)
        if when is None:
            raise Pf9Error(
                f"no run {text!r} in {self.data_dir}: pick one from `pf9wb runs` or give an ISO time "
                "(2026-10-01T00:00:00Z)"
            )
        return when

    def as_of(self, run_or_time: str | datetime) -> Store:
        """The same views as they were at a run (its id) or a time: inventory, events and metrics."""
        return Store(self.data_dir, as_of=self.resolve_time(run_or_time))

    def close(self) -> None:
        self.con.close()

    def __repr__(self) -> str:
        when = self.as_of_time.isoformat() if self.as_of_time else "latest"
        return f"<Store {self.data_dir} as_of={when} views={len(self._views)}>"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def open_store(data_dir: Path | str = "data") -> Store:
    """Open the store of a data directory (empty views if it has no store yet)."""
    return Store(data_dir)
