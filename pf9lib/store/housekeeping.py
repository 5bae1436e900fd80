"""Housekeeping: compaction (merge small files, same logical content) and pruning (drop history older than a
window while keeping the state at the window's start).

Both take the store's maintenance lock exclusively; a collect holds it shared for its whole run, so neither
runs while a collect writes. New files are written before old ones are removed, and readers de-duplicate
rows of a (run, region, id), so a reader never sees a row twice or loses one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from pf9lib.errors import Pf9Error
from pf9lib.store.layout import Layout, maintenance_lock, write_table
from pf9lib.store.reader import Store
from pf9lib.store.schema import RUN_TABLES, Table, duckdb_type, history_table


@dataclass
class HousekeepingResult:
    files_before: int
    files_after: int
    rows_before: int
    rows_after: int
    bytes_before: int
    bytes_after: int


def _finished_runs(store: Store) -> set[str]:
    return set(store.sql("SELECT run_id FROM run_ends")["run_id"])


def _visible_runs(store: Store) -> set[str]:
    return set(store.sql("SELECT run_id FROM visible_runs")["run_id"])


def _history_files(layout: Layout, kind: str) -> list[Path]:
    return sorted(layout.history_dir(kind).glob("cloud=*/month=*/*.parquet"))


def _read_sql(table: Table, hive: bool) -> str:
    """The declared columns of a list of files (parameter ?), NULL where an older file lacks one."""
    empty = ", ".join(f'CAST(NULL AS {duckdb_type(f.type)}) AS "{f.name}"' for f in table.schema)
    casts = ", ".join(f'CAST("{f.name}" AS {duckdb_type(f.type)}) AS "{f.name}"' for f in table.schema)
    opts = "hive_partitioning = false"
    if hive:
        types = ", ".join(f"'{p}': VARCHAR" for p in table.partitions)
        opts = f"hive_partitioning = true, hive_types = {{{types}}}"
        empty += ", NULL::VARCHAR AS cloud"
        casts += ", cloud"
    return (
        f"SELECT {casts} FROM ((SELECT * FROM read_parquet(?, union_by_name = true, {opts})) "
        f"UNION ALL BY NAME (SELECT {empty} WHERE false))"
    )


def _merge_history(
    layout: Layout,
    kind: str,
    columns,
    keep_runs: set[str],
    finished: set[str],
    keep_rows_sql: str | None = None,
) -> tuple[int, int, int, int]:
    """Rewrite a type's history as one file per (cloud, month); returns (files, rows) before and after.

    Files of runs still in progress are left alone; rows of failed (never visible) runs are dropped.
    """
    files = _history_files(layout, kind)
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    candidates = []
    for path in files:
        runs = {
            r[0] for r in con.execute("SELECT DISTINCT run_id FROM read_parquet(?)", [str(path)]).fetchall()
        }
        if runs <= finished:  # in-progress runs' files stay where they are
            candidates.append(path)
    if not candidates:
        return len(files), len(files), 0, 0
    paths = [str(p) for p in candidates]
    declared = history_table(kind, columns)
    schema = declared.schema
    names = ", ".join(f'"{f.name}"' for f in schema)
    con.execute(
        f"""CREATE TABLE rows AS SELECT * FROM ({_read_sql(declared, hive=True)})
            QUALIFY row_number() OVER (PARTITION BY run_id, region, id) = 1""",
        [paths],
    )
    rows_before = con.execute("SELECT count(*) FROM rows").fetchone()[0]
    con.execute("DELETE FROM rows WHERE run_id NOT IN (SELECT unnest(?::VARCHAR[]))", [sorted(keep_runs)])
    if keep_rows_sql:
        con.execute(keep_rows_sql)
    rows_after = con.execute("SELECT count(*) FROM rows").fetchone()[0]
    groups = con.execute(
        "SELECT DISTINCT cloud, strftime(observed_at, '%Y-%m') AS month FROM rows ORDER BY 1, 2"
    ).fetchall()
    for cloud, month in groups:
        table = con.sql(
            f"SELECT {names} FROM rows WHERE cloud = ? AND strftime(observed_at, '%Y-%m') = ? "
            "ORDER BY observed_at, run_id, region, id",
            params=[cloud, month],
        ).to_arrow_table()
        stem = f"compacted-{month}-{uuid.uuid4().hex[:10]}"
        write_table(layout, declared, table, stem, cloud=cloud, month=month)
    con.close()
    for path in candidates:  # the merged files are in place: the originals can go
        path.unlink()
        if not any(path.parent.iterdir()):
            path.parent.rmdir()
    return len(files), len(_history_files(layout, kind)), rows_before, rows_after


def _merge_small(layout: Layout, table: Table, keep_runs: set[str], **partitions: str) -> None:
    """Merge run records (starts, ends, per-type stats) into one file, keeping those of `keep_runs`."""
    directory = layout.table_dir(table).joinpath(*(f"{k}={v}" for k, v in partitions.items()))
    files = sorted(directory.glob("*.parquet"))
    if not files:
        return
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    rows = con.sql(
        f"SELECT DISTINCT * FROM ({_read_sql(table, hive=False)}) "
        "WHERE run_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY run_id",
        params=[[str(f) for f in files], sorted(keep_runs)],
    ).to_arrow_table()
    con.close()
    if rows.num_rows:
        write_table(layout, table, rows, f"compacted-{uuid.uuid4().hex[:10]}", **partitions)
    for path in files:
        path.unlink()


def _runs_in_history(layout: Layout, kinds) -> set[str]:
    used: set[str] = set()
    for kind in kinds:
        files = _history_files(layout, kind)
        if files:
            used |= {
                r[0]
                for r in duckdb.execute(
                    "SELECT DISTINCT run_id FROM read_parquet(?)", [[str(f) for f in files]]
                ).fetchall()
            }
    return used


def _sizes(layout: Layout) -> tuple[int, int]:
    files = [p for p in layout.root.rglob("*.parquet")]
    return len(files), sum(p.stat().st_size for p in files)


def compact(data_dir: Path | str, wait: bool = False) -> HousekeepingResult:
    """Merge each type's history into one file per cloud and month, and the run records into one file each."""
    return _housekeep(data_dir, None, wait)


def prune(
    data_dir: Path | str, keep_days: int, now: datetime | None = None, wait: bool = False
) -> HousekeepingResult:
    """Drop history older than `keep_days`, keeping for each object its last state before the window, so the
    state as of any run inside the window (and every change inside it) is unchanged."""
    if keep_days < 1:
        raise Pf9Error(f"--keep-days must be at least 1 (got {keep_days})")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    return _housekeep(data_dir, cutoff, wait)


def _housekeep(data_dir: Path | str, cutoff: datetime | None, wait: bool) -> HousekeepingResult:
    layout = Layout(data_dir)
    if not layout.root.exists():
        raise Pf9Error(f"no store in {data_dir}: run `pf9wb collect` first, or pass --data-dir")
    with maintenance_lock(data_dir, exclusive=True, wait=wait):
        files_before, bytes_before = _sizes(layout)
        store = Store(data_dir)
        finished, visible = _finished_runs(store), _visible_runs(store)
        all_runs = set(store.sql("SELECT run_id FROM run_starts")["run_id"])
        keep_sql = None
        if cutoff is not None:
            iso = cutoff.astimezone(UTC).isoformat()
            # Before the window keep only each object's latest row, and only if it is not a deletion.
            keep_sql = f"""DELETE FROM rows WHERE observed_at < TIMESTAMPTZ '{iso}'
                AND (run_id, region, id) NOT IN (
                SELECT (run_id, region, id) FROM (
                    SELECT run_id, region, id, op FROM rows WHERE observed_at < TIMESTAMPTZ '{iso}'
                    QUALIFY row_number() OVER (PARTITION BY cloud, region, id
                                               ORDER BY observed_at DESC, run_id DESC) = 1
                ) WHERE op = 'upsert')"""
        rows_before = rows_after = 0
        for kind, columns in store.type_columns.items():
            # Rows of failed runs were never visible: compaction drops them.
            _, _, before, after = _merge_history(layout, kind, columns, visible, finished, keep_sql)
            rows_before += before
            rows_after += after
        # Every run stays recorded (failed ones too); pruning drops records older than the window that no
        # kept row refers to.
        keep_runs = all_runs
        if cutoff is not None:
            old = set(store.sql("SELECT run_id FROM run_starts WHERE started_at < ?", [cutoff])["run_id"])
            keep_runs = (all_runs - old) | _runs_in_history(layout, store.type_columns)
        store.close()
        starts, ends, stats = RUN_TABLES
        _merge_small(layout, starts, keep_runs)
        _merge_small(layout, ends, keep_runs)
        for cloud_dir in sorted(layout.table_dir(stats).glob("cloud=*")):
            _merge_small(layout, stats, keep_runs, cloud=cloud_dir.name.removeprefix("cloud="))
        files_after, bytes_after = _sizes(layout)
    return HousekeepingResult(files_before, files_after, rows_before, rows_after, bytes_before, bytes_after)
