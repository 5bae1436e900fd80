"""Host and VM metrics in the store: raw series, hourly/daily roll-ups, retention, and the latest state.

Under <data>/store/metrics/:
  series/<hosts|vms>/date=<d>/<YYYYMMDDTHH>-<batch>.parquet   rows of one hour from one batch
  targets/date=<d>/<YYYYMMDDTHH>-<batch>.parquet              per-target status (up, error, duration, …)
  cycles/date=<d>/<batch>.parquet                             one record per cycle or import
  latest/<batch>.<vms|alerts|hosts>.parquet                   newest wins (the hosts file is written last)
  rollups/<hourly|daily>/<hosts|vms>/date=<d>/<period>~<digest>.parquet

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
from pf9lib.store.layout import Layout, write_parquet_atomic
from pf9lib.store.schema import TS, duckdb_type

_TYPES = {"ts": TS, "str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}


def _fields(spec: str) -> list[tuple[str, pa.DataType]]:
    """`name:type name:type …` → schema fields (types: ts, str, int, float, bool)."""
    return [(name, _TYPES[kind]) for name, kind in (item.split(":") for item in spec.split())]


HOST_MEASURES = [
    "cpu_pct",
    "mem_total_bytes",
    "mem_used_bytes",
    "mem_pct",
    "fs_total_bytes",
    "fs_used_bytes",
    "fs_pct",
    "net_rx_bps",
    "net_tx_bps",
    "load1",
    "load5",
    "load15",
]
VM_MEASURES = [
    "cpu_pct",
    "mem_bytes",
    "mem_max_bytes",
    "mem_used_bytes",
    "mem_pct",
    "disk_read_bps",
    "disk_write_bps",
    "net_rx_bps",
    "net_tx_bps",
    "block_capacity_bytes",
    "block_allocation_bytes",
]
# `clock` is the host's own time at the scrape (node_time_seconds): rates use it when both ends have it.
HOST_COUNTERS = ["cpu_idle_s", "cpu_total_s", "net_rx_bytes", "net_tx_bytes", "boot_time", "clock"]
VM_COUNTERS = ["cpu_time_s", "disk_read_bytes", "disk_write_bytes", "net_rx_bytes", "net_tx_bytes", "clock"]


def _measures(names: list[str]) -> str:
    return " ".join(f"{n}:float" for n in names)


HOST_SCHEMA = pa.schema(
    _fields("ts:ts batch_id:str host:str hypervisor_hostname:str address:str cpu_count:int")
    + _fields(_measures(HOST_MEASURES) + " note:str " + _measures(HOST_COUNTERS))
)
VM_SCHEMA = pa.schema(
    _fields(
        "ts:ts batch_id:str vm_key:str host:str hypervisor_hostname:str domain:str instance_uuid:str "
        "instance_name:str project_name:str project_id:str flavor:str vcpus:float state_code:float"
    )
    + _fields(_measures(VM_MEASURES) + " note:str " + _measures(VM_COUNTERS))
)
_LATEST_EXTRA = _fields("stale:bool stale_reason:str checked_at:ts")
LATEST_HOST_SCHEMA = pa.schema(list(HOST_SCHEMA) + _LATEST_EXTRA)
LATEST_VM_SCHEMA = pa.schema(list(VM_SCHEMA) + _LATEST_EXTRA)
TARGET_SCHEMA = pa.schema(
    _fields(
        "ts:ts batch_id:str kind:str host:str address:str url:str up:bool error:str duration_s:float "
        "samples:int bytes:int"
    )
)
CYCLE_SCHEMA = pa.schema(
    _fields(
        "batch_id:str source:str started_at:ts ended_at:ts targets:int up:int down:int hosts:int vms:int "
        "samples:int fetch_s:float error:str"
    )
)
ALERT_STATE_SCHEMA = pa.schema(
    _fields(
        "alert_id:str rule:str severity:str entity_kind:str entity:str entity_name:str host:str metric:str "
        "op:str threshold:float value:float streak:int firing:bool first_seen:ts fired_at:ts last_seen:ts "
        "sample_ts:ts"
    )
)
SERIES = {"hosts": (HOST_SCHEMA, "host", HOST_MEASURES), "vms": (VM_SCHEMA, "vm_key", VM_MEASURES)}
# Attributes a roll-up row carries (their newest value in the period) beside its key.
_ATTRS = {
    "hosts": ["hypervisor_hostname", "address"],
    "vms": ["host", "instance_uuid", "instance_name", "project_name", "project_id", "flavor", "vcpus"],
}
_LATEST_PARTS = (("hosts", LATEST_HOST_SCHEMA), ("vms", LATEST_VM_SCHEMA), ("alerts", ALERT_STATE_SCHEMA))
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


def write_hourly_batches(root: Path, tbl: pa.Table, batch_id: str) -> list[Path]:
    """Split rows by the hour of `ts` and write one file per hour (roll-ups find their inputs by name)."""
    if tbl.num_rows == 0:
        return []
    hours = pc.strftime(tbl["ts"], format="%Y%m%dT%H")  # the column is UTC
    paths = []
    for hour in sorted(set(hours.to_pylist())):
        part = tbl.filter(pc.equal(hours, hour))
        day = f"{hour[:4]}-{hour[4:6]}-{hour[6:8]}"
        paths.append(write_parquet_atomic(part, root / f"date={day}" / f"{hour}-{batch_id}.parquet"))
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
    write_hourly_batches(lay.series_dir("hosts"), hosts, batch_id)
    write_hourly_batches(lay.series_dir("vms"), vms, batch_id)
    write_hourly_batches(lay.root / "targets", targets, batch_id)
    if latest is not None:
        latest_hosts, latest_vms, alert_state = latest
        write_parquet_atomic(latest_vms, lay.latest_dir / f"{batch_id}.vms.parquet")
        write_parquet_atomic(alert_state, lay.latest_dir / f"{batch_id}.alerts.parquet")
        # The hosts file is the commit mark of a latest state: readers look for it first.
        write_parquet_atomic(latest_hosts, lay.latest_dir / f"{batch_id}.hosts.parquet")
    started = cycle["started_at"].astimezone(UTC).strftime("%Y-%m-%d")
    write_parquet_atomic(
        table([cycle], CYCLE_SCHEMA), lay.root / "cycles" / f"date={started}" / f"{batch_id}.parquet"
    )


def latest_batch(data_dir: Path | str) -> str | None:
    """The batch id of the newest complete latest state (its hosts file exists), None when there is none."""
    files = sorted(MetricsLayout(data_dir).latest_dir.glob("*.hosts.parquet"))
    return files[-1].name.removesuffix(".hosts.parquet") if files else None


def read_latest(data_dir: Path | str) -> tuple[str | None, pa.Table, pa.Table, pa.Table]:
    """(batch id, hosts, vms, alert state) of the newest complete latest state; empty tables when none."""
    batch = latest_batch(data_dir)
    if batch is None:
        return None, *(schema.empty_table() for _, schema in _LATEST_PARTS)
    parts = []
    for suffix, schema in _LATEST_PARTS:
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
            hourly_dir = lay.rollup_dir("hourly", kind)
            for hour, inputs in sorted(by_hour.items()):
                if hour < current_hour and _rollup(con, kind, "hour", inputs, hourly_dir, hour):
                    stats["hourly"] += 1
            by_day = _group(hourly_dir.glob("date=*/*.parquet"), lambda n: n[:8])
            for day, inputs in sorted(by_day.items()):
                if day < today and _rollup(con, kind, "day", inputs, lay.rollup_dir("daily", kind), day):
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


def _rollup(con, kind: str, unit: str, inputs: list[Path], out_dir: Path, period: str) -> bool:
    """Summarise one period into `<period>~<digest>.parquet` unless that exact roll-up exists."""
    day = f"{period[:4]}-{period[4:6]}-{period[6:8]}"
    target = out_dir / f"date={day}" / f"{period}~{_digest(inputs)}.parquet"
    if target.exists():
        return False
    files = "[" + ", ".join(_quote(str(p)) for p in sorted(inputs)) + "]"
    query = _hourly_sql(kind, files) if unit == "hour" else _daily_sql(kind, files)
    tbl = con.sql(query).to_arrow_table()
    write_parquet_atomic(tbl.cast(rollup_schema(kind)), target)
    for stale in target.parent.glob(f"{period}~*.parquet"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return True


def rollup_schema(kind: str) -> pa.Schema:
    schema, key, measures = SERIES[kind]
    fields = [("period", TS), (key, pa.string())] + [(a, schema.field(a).type) for a in _ATTRS[kind]]
    fields += [("samples", pa.int64())]
    for m in measures:
        fields += _fields(f"{m}_avg:float {m}_max:float {m}_n:int")
    return pa.schema(fields)


def _hourly_sql(kind: str, files: str) -> str:
    _, key, measures = SERIES[kind]
    attrs = ", ".join(f"arg_max({a}, ts) AS {a}" for a in _ATTRS[kind])
    aggs = ", ".join(f"avg({m}) AS {m}_avg, max({m}) AS {m}_max, count({m}) AS {m}_n" for m in measures)
    return f"""
        SELECT date_trunc('hour', ts) AS period, {key}, {attrs}, count(*) AS samples, {aggs}
        FROM read_parquet({files}, union_by_name = true) GROUP BY ALL ORDER BY {key}
    """


def _daily_sql(kind: str, files: str) -> str:
    _, key, measures = SERIES[kind]
    attrs = ", ".join(f"arg_max({a}, period) AS {a}" for a in _ATTRS[kind])
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
    return f"(SELECT {cols} WHERE false)"


def _source(directory: Path, pattern: str, schema: pa.Schema, filename: bool = False) -> str:
    if not directory.exists() or not any(directory.glob(pattern)):
        return _empty(schema) if not filename else f"(SELECT *, '' AS filename FROM {_empty(schema)})"
    extra = ", filename = true" if filename else ""
    glob = _quote(str(directory / pattern))
    return f"read_parquet({glob}, union_by_name = true, hive_partitioning = false{extra})"


def attach_views(con: duckdb.DuckDBPyConnection, data_dir: Path | str) -> list[str]:
    """Create (or refresh) the metric views in a DuckDB connection; returns their names.

    metric_hosts / metric_vms (raw series), metric_targets, metric_cycles, metric_<hosts|vms>_<hourly|daily>,
    metric_latest_hosts / metric_latest_vms (with stale, stale_reason, checked_at), metric_alert_state.
    """
    lay = MetricsLayout(data_dir)
    views = {
        "metric_hosts": _source(lay.series_dir("hosts"), "date=*/*.parquet", HOST_SCHEMA),
        "metric_vms": _source(lay.series_dir("vms"), "date=*/*.parquet", VM_SCHEMA),
        "metric_targets": _source(lay.root / "targets", "date=*/*.parquet", TARGET_SCHEMA),
        "metric_cycles": _source(lay.root / "cycles", "date=*/*.parquet", CYCLE_SCHEMA),
    }
    for resolution in ("hourly", "daily"):
        for kind, (_, key, _) in SERIES.items():
            src = _source(lay.rollup_dir(resolution, kind), "date=*/*.parquet", rollup_schema(kind), True)
            # A replaced roll-up can sit beside its successor for a moment: keep the newest file's row.
            views[f"metric_{kind}_{resolution}"] = (
                f"(SELECT * EXCLUDE (filename) FROM {src} "
                f"QUALIFY row_number() OVER (PARTITION BY period, {key} ORDER BY filename DESC) = 1)"
            )
    batch = latest_batch(data_dir)
    for suffix, schema in _LATEST_PARTS:
        path = lay.latest_dir / f"{batch}.{suffix}.parquet"
        name = "metric_alert_state" if suffix == "alerts" else f"metric_latest_{suffix}"
        views[name] = f"read_parquet({_quote(str(path))}, union_by_name = true)" if batch else _empty(schema)
    for name, source in views.items():
        con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM {source}')
    return list(views)
