"""Read side of the store: an in-memory DuckDB whose views sit over the Parquet files.

No process holds a DuckDB file open, so any number of readers run beside a writer. Only runs whose end record
says success or partial are visible; a killed run's files are ignored until it is marked failed.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from pf9lib.procutil import pid_alive
from pf9lib.store.layout import Layout
from pf9lib.store.schema import (
    RUN_END_SCHEMA,
    RUN_START_SCHEMA,
    RUN_TYPES_SCHEMA,
    duckdb_type,
    history_schema,
)

VISIBLE_STATUSES = ("success", "partial")


_PARTITION_TYPES = {"cloud": "VARCHAR", "date": "DATE"}


def _empty_select(schema, partitions: tuple[str, ...]) -> str:
    cols = [f'CAST(NULL AS {duckdb_type(f.type)}) AS "{f.name}"' for f in schema]
    cols += [f"CAST(NULL AS {_PARTITION_TYPES[p]}) AS {p}" for p in partitions]
    return f"(SELECT {', '.join(cols)} WHERE false)"


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


class Store:
    """The history store of one data directory; `con` has a view per type, its history, runs and changes."""

    def __init__(self, data_dir: Path | str, as_of: datetime | None = None) -> None:
        from pf9lib.normalize.spec import TYPE_COLUMNS

        self.layout = Layout(data_dir)
        self.data_dir = self.layout.data_dir
        self.as_of_time = as_of
        self.type_columns = TYPE_COLUMNS
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        self._create_views()

    # -- views ----------------------------------------------------------------------------------
    def _source(self, glob: str, schema, partitions: tuple[str, ...] = ()) -> str:
        directory = Path(glob.split("*", 1)[0])
        if not self.layout.has_files(directory):
            return _empty_select(schema, partitions)
        hive_opts = ""
        if partitions:
            types = ", ".join(f"'{p}': {_PARTITION_TYPES[p]}" for p in partitions)
            hive_opts = f", hive_partitioning = true, hive_types = {{{types}}}"
        return f"read_parquet({_quote(glob)}, union_by_name = true{hive_opts})"

    def _create_views(self) -> None:
        con, lay = self.con, self.layout
        starts = self._source(str(lay.runs_dir / "*.start.parquet"), RUN_START_SCHEMA)
        ends = self._source(str(lay.runs_dir / "*.end.parquet"), RUN_END_SCHEMA)
        types = self._source(lay.run_types_glob(), RUN_TYPES_SCHEMA, ("cloud",))
        cutoff = "TRUE" if self.as_of_time is None else f"s.started_at <= {self._as_of_sql()}"
        con.execute(f"CREATE OR REPLACE VIEW run_starts AS SELECT * FROM {starts}")
        con.execute(f"CREATE OR REPLACE VIEW run_ends AS SELECT * FROM {ends}")
        con.execute(f"""
            CREATE OR REPLACE VIEW runs AS
            SELECT s.run_id, s.cloud, s.regions, s.types, s.started_at, e.ended_at,
                   coalesce(e.status, 'running') AS status, e.error,
                   date_diff('millisecond', s.started_at, e.ended_at) / 1000.0 AS duration_s, s.pid, s.host
            FROM run_starts s LEFT JOIN run_ends e USING (run_id)
            WHERE {cutoff}
        """)
        con.execute(f"CREATE OR REPLACE VIEW run_types AS SELECT * FROM {types}")
        con.execute(f"""
            CREATE OR REPLACE VIEW visible_runs AS
            SELECT run_id, started_at FROM runs WHERE status IN {VISIBLE_STATUSES}
        """)
        change_parts, deletion_parts = [], []
        for kind, columns in self.type_columns.items():
            schema = history_schema(columns)
            source = self._source(lay.history_glob(kind), schema, ("cloud", "date"))
            # Compaction briefly leaves a merged file beside its inputs: keep one row per (run, region, id).
            con.execute(f"""
                CREATE OR REPLACE VIEW "{kind}_history" AS
                SELECT h.* EXCLUDE (date) FROM {source} h
                WHERE h.run_id IN (SELECT run_id FROM visible_runs)
                QUALIFY row_number() OVER (PARTITION BY h.run_id, h.region, h.id) = 1
            """)
            con.execute(f"""
                CREATE OR REPLACE VIEW "{kind}" AS
                SELECT * EXCLUDE (op, change, changed_fields, content_hash, full_hash) FROM (
                    SELECT * FROM "{kind}_history"
                    QUALIFY row_number() OVER (PARTITION BY cloud, region, id
                                               ORDER BY observed_at DESC, run_id DESC) = 1
                ) WHERE op = 'upsert'
            """)
            common = (
                f"SELECT run_id, observed_at AS time, cloud, region, '{kind}' AS type, id, name, project_id, "
                f'project_name, domain_id, domain_name, change AS kind, changed_fields FROM "{kind}_history"'
            )
            change_parts.append(f"{common} WHERE change IN ('created', 'updated', 'deleted')")
            deletion_parts.append(f"{common} WHERE op = 'delete'")
        con.execute("CREATE OR REPLACE VIEW changes AS " + " UNION ALL ".join(change_parts))
        con.execute("CREATE OR REPLACE VIEW deletions AS " + " UNION ALL ".join(deletion_parts))

    def _as_of_sql(self) -> str:
        if self.as_of_time is None:
            return "NULL"
        return f"TIMESTAMPTZ '{self.as_of_time.astimezone(UTC).isoformat()}'"

    def events(self, kind: str) -> str:
        """Create (or refresh) the view of an event kind and return its name, for use in SQL."""
        from pf9lib.store.events import EVENT_SCHEMAS

        if kind not in EVENT_SCHEMAS:
            raise KeyError(f"unknown event kind {kind!r}")
        source = self._source(self.layout.events_glob(kind), EVENT_SCHEMAS[kind])
        self.con.execute(f'CREATE OR REPLACE VIEW "{kind}" AS SELECT * FROM {source}')
        return kind

    # -- public API -----------------------------------------------------------------------------
    def sql(self, query: str, params: list | dict | None = None) -> pd.DataFrame:
        return self.con.execute(query, params or []).df()

    def table(self, name: str) -> pd.DataFrame:
        return self.sql(f'SELECT * FROM "{name}"')

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

    def as_of(self, run_or_time: str | datetime) -> Store:
        """The same views as they were at a run (its id) or a time."""
        if isinstance(run_or_time, datetime):
            when = run_or_time if run_or_time.tzinfo else run_or_time.replace(tzinfo=UTC)
        else:
            row = self.con.execute("SELECT started_at FROM runs WHERE run_id = ?", [run_or_time]).fetchone()
            if row is None:
                try:
                    when = datetime.fromisoformat(run_or_time)
                except ValueError:
                    from pf9lib.errors import Pf9Error

                    raise Pf9Error(
                        f"no run {run_or_time!r} in {self.data_dir}: pick one from `pf9wb runs` "
                        "or give an ISO time"
                    ) from None
                when = when if when.tzinfo else when.replace(tzinfo=UTC)
            else:
                when = row[0]
        return Store(self.data_dir, as_of=when)

    def latest_run(self, visible_only: bool = True) -> dict | None:
        where = f"WHERE status IN {VISIBLE_STATUSES}" if visible_only else ""
        df = self.sql(f"SELECT * FROM runs {where} ORDER BY started_at DESC, run_id DESC LIMIT 1")
        return None if df.empty else df.iloc[0].to_dict()

    def close(self) -> None:
        self.con.close()


def open_store(data_dir: Path | str = "data") -> Store:
    """Open the history store of a data directory (created empty if it does not exist yet)."""
    return Store(data_dir)
