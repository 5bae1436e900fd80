"""Host and VM metrics in the store: raw series, hourly/daily roll-ups, retention, and the latest state.

Under <data>/store/metrics/:
  series/<hosts|vms>/date=<d>/<YYYYMMDDTHH>-<batch>~<fp>.parquet   rows of one hour from one batch
  targets/date=<d>/<YYYYMMDDTHH>-<batch>~<fp>.parquet              per-target status (up, error, …)
  cycles/date=<d>/<batch>~<fp>.parquet                             one record per cycle or import
  latest/<batch>.<vms|alerts|hosts>.parquet                        newest wins (the hosts file is last)
  rollups/<hourly|daily>/<hosts|vms>/date=<d>/<period>.<digest>~<fp>.parquet

The tables are declared in store/schema.py (`<fp>` is their schema's fingerprint).

Like the rest of the store, every file is immutable, written under a temporary name then renamed. The latest
state carries the raw counters and their time, so the next cycle (in this process or after a restart)
computes rates from them. A roll-up's name carries a digest of the files it summarises: new raw data for a
period (a late import) yields a new roll-up; readers keep the newest per period and key until the old
one is gone.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pf9lib.errors import ConfigError
from pf9lib.store.layout import Layout, write_parquet_atomic, write_table
from pf9lib.store.schema import (
    ALERT_STATE_SCHEMA,
    CYCLE_SCHEMA,
    HOST_COUNTERS,
    HOST_MEASURES,
    HOST_SCHEMA,
    LATEST_HOST_SCHEMA,
    LATEST_PARTS,
    LATEST_VM_SCHEMA,
    METRIC_TABLES,
    ROLLUP_ATTRS,
    SERIES,
    TARGET_SCHEMA,
    TS,
    VM_COUNTERS,
    VM_MEASURES,
    VM_SCHEMA,
    duckdb_type,
    rollup_schema,
)

__all__ = [
    "ALERT_STATE_SCHEMA",
    "CYCLE_SCHEMA",
    "HOST_COUNTERS",
    "HOST_MEASURES",
    "HOST_SCHEMA",
    "LATEST_HOST_SCHEMA",
    "LATEST_VM_SCHEMA",
    "SERIES",
    "TARGET_SCHEMA",
    "VM_COUNTERS",
    "VM_MEASURES",
    "VM_SCHEMA",
    "Retention",
    "latest_batch",
    "latest_sources",
    "maintain",
    "read_latest",
    "rollup_schema",
    "write_batch",
]
TABLES = {t.name: t for t in METRIC_TABLES}
_SERIES_TABLE = {"hosts": TABLES["metric_hosts"], "vms": TABLES["metric_vms"]}

LATEST_KEEP = 5  # latest-state files kept (the newest wins; a few more for a reader that opened one)


@dataclass(frozen=True)
class Retention:
    """How long each resolution is kept, in days; raw is dropped only once its day is rolled up."""

    raw_days: int = 7
    hourly_days: int = 90
    daily_days: int = 730

    def __post_init__(self) -> None:
        # A coarser resolution outliving a finer one is what makes the finer one prunable.
        if not 1 <= self.raw_days <= self.hourly_days <= self.daily_days:
            raise ConfigError(
                f"metrics retention raw={self.raw_days}d hourly={self.hourly_days}d "
                f"daily={self.daily_days}d: keep 1 <= raw <= hourly <= daily days"
            )


def new_batch_id(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]


class MetricsLayout:
    def __init__(self, data_dir: Path | str) -> None:
        self.root = Layout(data_dir).root / "metrics"

    def series_dir(self, kind: str) -> Path:
        return self.root / "series" / kind

    def rollup_dir(self, resolution: str, kind: str) -> Path:
        return self.root / "rollups" / resolution / kind

    @property
    def latest_dir(self) -> Path:
        return self.root / "latest"


# --------------------------------------------------------------------------------------------- writing


def table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def write_hourly_batches(layout: Layout, name: str, tbl: pa.Table, batch_id: str) -> list[Path]:
    """Split rows by the hour of `ts` and write one file per hour (roll-ups find their inputs by name)."""
    if tbl.num_rows == 0:
        return []
    hours = pc.strftime(tbl["ts"], format="%Y%m%dT%H")  # the column is UTC
    paths = []
    for hour in sorted(set(hours.to_pylist())):
        part = tbl.filter(pc.equal(hours, hour))
        day = f"{hour[:4]}-{hour[4:6]}-{hour[6:8]}"
        paths.append(write_table(layout, TABLES[name], part, f"{hour}-{batch_id}", date=day))
    return paths


def write_batch(
    data_dir: Path | str,
    batch_id: str,
    hosts: pa.Table,
    vms: pa.Table,
    targets: pa.Table,
    cycle: dict[str, Any],
    latest: tuple[pa.Table, pa.Table, pa.Table] | None,
) -> None:
    """Write one cycle (or one import): series, target status, latest state (hosts last), then its record."""
    lay = MetricsLayout(data_dir)
    store = Layout(data_dir)
    write_hourly_batches(store, "metric_hosts", hosts, batch_id)
    write_hourly_batches(store, "metric_vms", vms, batch_id)
    write_hourly_batches(store, "metric_targets", targets, batch_id)
    if latest is not None:
        latest_hosts, latest_vms, alert_state = latest
        write_parquet_atomic(latest_vms, lay.latest_dir / f"{batch_id}.vms.parquet")
        write_parquet_atomic(alert_state, lay.latest_dir / f"{batch_id}.alerts.parquet")
        # The hosts file is the commit mark of a latest state: readers look for it first.
        write_parquet_atomic(latest_hosts, lay.latest_dir / f"{batch_id}.hosts.parquet")
    started = cycle["started_at"].astimezone(UTC).strftime("%Y-%m-%d")
    write_table(store, TABLES["metric_cycles"], table([cycle], CYCLE_SCHEMA), batch_id, date=started)


def latest_batch(data_dir: Path | str) -> str | None:
    """The batch id of the newest complete latest state (its hosts file exists), None when there is none."""
    files = sorted(MetricsLayout(data_dir).latest_dir.glob("*.hosts.parquet"))
    return files[-1].name.removesuffix(".hosts.parquet") if files else None


def read_latest(data_dir: Path | str) -> tuple[str | None, pa.Table, pa.Table, pa.Table]:
    """(batch id, hosts, vms, alert state) of the newest complete latest state; empty tables when none."""
    batch = latest_batch(data_dir)
    if batch is None:
        return None, *(schema.empty_table() for _, schema in LATEST_PARTS)
    parts = []
    for suffix, schema in LATEST_PARTS:
        path = MetricsLayout(data_dir).latest_dir / f"{batch}.{suffix}.parquet"
        parts.append(_conform(pq.read_table(path), schema) if path.exists() else schema.empty_table())
    return batch, parts[0], parts[1], parts[2]


def _conform(tbl: pa.Table, schema: pa.Schema) -> pa.Table:
    """Files written before a column existed lack it: add it as nulls (schemas only grow)."""
    cols = [tbl[f.name] if f.name in tbl.column_names else pa.nulls(tbl.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


# ---------------------------------------------------------------------------------- roll-ups and retention


def maintain(data_dir: Path | str, now: datetime, retention: Retention = Retention()) -> dict[str, int]:
    """Roll up complete hours and days, then drop what is past retention (idempotent, cheap when current)."""
    lay = MetricsLayout(data_dir)
    now = now.astimezone(UTC)
    stats = {"hourly": 0, "daily": 0, "pruned_dirs": 0}
    current_hour = now.strftime("%Y%m%dT%H")
    today = now.strftime("%Y%m%d")
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    try:
        for kind in SERIES:
            by_hour = _group(lay.series_dir(kind).glob("date=*/*.parquet"), lambda n: n[:11])
            store = Layout(data_dir)
            hourly_dir = lay.rollup_dir("hourly", kind)
            for hour, inputs in sorted(by_hour.items()):
                if hour < current_hour and _rollup(con, store, kind, "hourly", inputs, hour):
                    stats["hourly"] += 1
            by_day = _group(hourly_dir.glob("date=*/*.parquet"), lambda n: n[:8])
            for day, inputs in sorted(by_day.items()):
                if day < today and _rollup(con, store, kind, "daily", inputs, day):
                    stats["daily"] += 1
    finally:
        con.close()
    stats["pruned_dirs"] = _prune(lay, now.date(), retention)
    latest = sorted(lay.latest_dir.glob("*.hosts.parquet"))
    for old in latest[:-LATEST_KEEP]:
        batch = old.name.removesuffix(".hosts.parquet")
        for suffix in ("hosts", "vms", "alerts"):
            old.with_name(f"{batch}.{suffix}.parquet").unlink(missing_ok=True)
    return stats


def _group(paths: Iterable[Path], period_of) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for path in paths:
        out.setdefault(period_of(path.name), []).append(path)
    return out


def _digest(paths: list[Path]) -> str:
    names = "\n".join(sorted(p.name for p in paths))
    return hashlib.blake2b(names.encode(), digest_size=6).hexdigest()


def _rollup(con, store: Layout, kind: str, resolution: str, inputs: list[Path], period: str) -> bool:
    """Summarise one period into `<period>.<digest>~<fp>.parquet` unless that exact roll-up exists."""
    day = f"{period[:4]}-{period[4:6]}-{period[6:8]}"
    target = store.file(TABLES[f"metric_{kind}_{resolution}"], f"{period}.{_digest(inputs)}", date=day)
    if target.exists():
        return False
    files = "[" + ", ".join(_quote(str(p)) for p in sorted(inputs)) + "]"
    query = _hourly_sql(kind, files) if resolution == "hourly" else _daily_sql(kind, files)
    tbl = con.sql(query).to_arrow_table()
    tbl = tbl.append_column("written_at", pa.array([datetime.now(UTC)] * tbl.num_rows, type=TS))
    write_parquet_atomic(tbl.cast(rollup_schema(kind)), target)
    for stale in target.parent.glob(f"{period}.*.parquet"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return True


def _hourly_sql(kind: str, files: str) -> str:
    _, key, measures = SERIES[kind]
    attrs = ", ".join(f"arg_max({a}, ts) AS {a}" for a in ROLLUP_ATTRS[kind])
    aggs = ", ".join(f"avg({m}) AS {m}_avg, max({m}) AS {m}_max, count({m}) AS {m}_n" for m in measures)
    return f"""
        SELECT date_trunc('hour', ts) AS period, {key}, {attrs}, count(*) AS samples, {aggs}
        FROM read_parquet({files}, union_by_name = true) GROUP BY ALL ORDER BY {key}
    """


def _daily_sql(kind: str, files: str) -> str:
    _, key, measures = SERIES[kind]
    attrs = ", ".join(f"arg_max({a}, period) AS {a}" for a in ROLLUP_ATTRS[kind])
    aggs = ", ".join(
        f"sum({m}_avg * {m}_n) / nullif(sum({m}_n), 0) AS {m}_avg, max({m}_max) AS {m}_max, "
        f"sum({m}_n) AS {m}_n"
        for m in measures
    )
    return f"""
        SELECT date_trunc('day', period) AS period, {key}, {attrs}, sum(samples) AS samples, {aggs}
        FROM read_parquet({files}, union_by_name = true) GROUP BY ALL ORDER BY {key}
    """


def _prune(lay: MetricsLayout, today: date, retention: Retention) -> int:
    """Drop whole date partitions past retention; raw days only once their daily roll-up exists."""
    removed = 0
    raw_cut = today - timedelta(days=retention.raw_days)
    for kind in SERIES:
        # A raw day goes only once its daily roll-up (named <YYYYMMDD>~<digest>.parquet) exists.
        rolled = {p.name[:8] for p in lay.rollup_dir("daily", kind).glob("date=*/*.parquet")}
        for part in lay.series_dir(kind).glob("date=*"):
            day = part.name[5:]
            if _day(day) < raw_cut and day.replace("-", "") in rolled:
                shutil.rmtree(part, ignore_errors=True)
                removed += 1
    for base in (lay.root / "targets", lay.root / "cycles"):
        for part in base.glob("date=*"):
            if _day(part.name[5:]) < raw_cut:
                shutil.rmtree(part, ignore_errors=True)
                removed += 1
    for resolution, keep in (("hourly", retention.hourly_days), ("daily", retention.daily_days)):
        cut = today - timedelta(days=keep)
        for kind in SERIES:
            for part in lay.rollup_dir(resolution, kind).glob("date=*"):
                if _day(part.name[5:]) < cut:
                    shutil.rmtree(part, ignore_errors=True)
                    removed += 1
    return removed


def _day(text: str) -> date:
    return date.fromisoformat(text)


# --------------------------------------------------------------------------------------------- reading


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def _empty(schema: pa.Schema) -> str:
    cols = ", ".join(f'CAST(NULL AS {duckdb_type(f.type)}) AS "{f.name}"' for f in schema)
    return f"SELECT {cols} WHERE false"


def _conformed(path: Path, schema: pa.Schema) -> str:
    """The declared columns of one file; a file written before a column existed gives NULL for it."""
    names = ", ".join(f'CAST("{f.name}" AS {duckdb_type(f.type)}) AS "{f.name}"' for f in schema)
    return (
        f"SELECT {names} FROM ((SELECT * FROM read_parquet({_quote(str(path))})) "
        f"UNION ALL BY NAME ({_empty(schema)}))"
    )


def latest_sources(data_dir: Path | str, batch: str | None, as_of: datetime | None) -> dict[str, str]:
    """SQL of the views metric_latest_hosts, metric_latest_vms and metric_alert_state.

    Live: the newest complete latest state. As of a time: each host's and VM's newest sample up to then
    (from the metric_hosts / metric_vms views, already cut), and each alert's newest transition up to then.
    """
    names = {"hosts": "metric_latest_hosts", "vms": "metric_latest_vms", "alerts": "metric_alert_state"}
    if as_of is not None:
        return {
            names["hosts"]: "SELECT *, false AS stale, NULL::VARCHAR AS stale_reason, ts AS checked_at "
            "FROM metric_hosts QUALIFY row_number() OVER (PARTITION BY host ORDER BY ts DESC) = 1",
            names["vms"]: "SELECT *, false AS stale, NULL::VARCHAR AS stale_reason, ts AS checked_at "
            "FROM metric_vms QUALIFY row_number() OVER (PARTITION BY vm_key ORDER BY ts DESC) = 1",
            names[
                "alerts"
            ]: """SELECT alert_id, rule, severity, entity_kind, entity, entity_name, host, metric,
                op, threshold, value, NULL::BIGINT AS streak, state = 'firing' AS firing, first_seen,
                fired_at, last_seen, last_seen AS sample_ts
            FROM metric_alerts QUALIFY row_number() OVER (PARTITION BY alert_id ORDER BY "at" DESC) = 1""",
        }
    lay = MetricsLayout(data_dir)
    out = {}
    for suffix, schema in LATEST_PARTS:
        path = lay.latest_dir / f"{batch}.{suffix}.parquet"
        out[names[suffix]] = _conformed(path, schema) if batch and path.exists() else _empty(schema)
    return out
