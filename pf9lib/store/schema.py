"""Every table the store writes, declared once: its columns (only types Spark and other engines read well),
where its files live, its partitions, and the column `as_of` cuts it on.

Writers keep to these types; readers build their views from them; `schema_document()` is the same catalogue
as JSON (written into the store as SCHEMA.json) so another engine reads the files with declared types
instead of guessed ones (docs/architecture.md, "Reading the store elsewhere").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
S, B, INT, F = pa.string(), pa.bool_(), pa.int64(), pa.float64()
LS = pa.list_(pa.string())
_TYPES = {"ts": TS, "str": S, "int": INT, "float": F, "bool": B}


def fields(spec: str) -> list[tuple[str, pa.DataType]]:
    """`name:type name:type …` → schema fields (types: ts, str, int, float, bool)."""
    return [(name, _TYPES[kind]) for name, kind in (item.split(":") for item in spec.split())]


@dataclass(frozen=True)
class Table:
    """One table of the store: a directory of immutable Parquet files sharing a declared schema.

    Files are named `<stem>~<fingerprint>.parquet`; the fingerprint names the schema they were written with,
    so a reader binds one footer per schema instead of every file's (docs/architecture.md, "Storage").
    """

    name: str  # the raw view's name
    path: str  # directory under the store root
    schema: pa.Schema
    partitions: tuple[str, ...] = ()  # hive partition directories, outermost first (all VARCHAR)
    time_column: str | None = None  # what `as_of` cuts on (None: not cut)

    @property
    def fingerprint(self) -> str:
        return schema_fingerprint(self.schema)

    @property
    def pattern(self) -> str:
        """Glob of the files relative to the table's directory (partition directories, then the file)."""
        return "/".join([f"{p}=*" for p in self.partitions] + ["*.parquet"])


def schema_fingerprint(schema: pa.Schema) -> str:
    text = "\n".join(f"{f.name}:{f.type}" for f in schema)
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


# --------------------------------------------------------------------------------------------- inventory

# Columns every history row has, before the type's own columns.
HISTORY_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("run_id", S),
    ("observed_at", TS),  # the run's start: the time the state was seen
    ("region", S),
    ("id", S),
    ("op", S),  # upsert | delete
    ("change", S),  # created | updated | deleted | volatile (only volatile fields moved, or a new column)
    ("changed_fields", LS),
    ("content_hash", S),  # over the non-volatile fields of the raw object
    ("full_hash", S),  # over the whole raw object
    ("columns_fp", S),  # the type's typed-column set the row was normalized with (see resources)
    ("name", S),
    ("project_id", S),
    ("project_name", S),
    ("domain_id", S),
    ("domain_name", S),
]
TRAILING_COLUMNS: list[tuple[str, pa.DataType]] = [("raw", S)]
BASE_NAMES = {name for name, _ in HISTORY_COLUMNS + TRAILING_COLUMNS}
HISTORY_PARTITIONS = ("cloud", "month")  # month=YYYY-MM: a compacted month keeps the same partition


def history_schema(type_columns: list[tuple[str, pa.DataType]]) -> pa.Schema:
    own = [(n, t) for n, t in type_columns if n not in BASE_NAMES]
    return pa.schema(HISTORY_COLUMNS + own + TRAILING_COLUMNS)


def history_table(kind: str, type_columns: list[tuple[str, pa.DataType]]) -> Table:
    return Table(f"{kind}_history", f"history/{kind}", history_schema(type_columns), HISTORY_PARTITIONS)


# --------------------------------------------------------------------------------------------- runs

RUN_START_SCHEMA = pa.schema(
    fields("run_id:str cloud:str")
    + [("regions", LS), ("types", LS)]
    + fields("started_at:ts pid:int host:str tool_version:str")
)
RUN_END_SCHEMA = pa.schema(
    fields("run_id:str status:str ended_at:ts error:str")  # status: success | partial | failed
)
RUN_TYPES_SCHEMA = pa.schema(
    fields(
        "run_id:str type:str region:str complete:bool count:int created:int updated:int deleted:int "
        "volatile:int duration_s:float error:str"
    )
)
RUN_TABLES = (
    Table("run_starts", "runs/start", RUN_START_SCHEMA, time_column="started_at"),
    Table("run_ends", "runs/end", RUN_END_SCHEMA),
    Table("run_type_stats", "run_types", RUN_TYPES_SCHEMA, ("cloud",)),
)

# --------------------------------------------------------------------------------------------- events
# Small appended facts, one immutable file per append. Kinds only grow columns, added at the end.

EVENT_SCHEMAS: dict[str, tuple[pa.Schema, str]] = {
    "drift_events": (
        pa.schema(
            fields(
                "event_id:str rule_id:str severity:str type:str cloud:str region:str object_id:str name:str "
                "project_id:str project_name:str domain_id:str domain_name:str field:str old_value:str "
                "new_value:str change:str meaning:str run_id:str observed_at:ts evaluated_at:ts "
                "expected_reason:str incident_id:str"
            )
        ),
        "observed_at",  # when the change was seen: the run's start
    ),
    "drift_acks": (
        pa.schema(fields("ack_id:str event_id:str action:str acked_at:ts actor:str note:str")),
        "acked_at",
    ),
    "drift_rule_changes": (
        pa.schema(
            fields("change_id:str changed_at:ts actor:str rule_id:str action:str severity:str note:str")
        ),
        "changed_at",
    ),
    "metric_alerts": (
        pa.schema(
            fields(
                "event_id:str episode_id:str alert_id:str state:str rule:str severity:str entity_kind:str "
                "entity:str entity_name:str host:str metric:str op:str threshold:float value:float "
                "first_seen:ts fired_at:ts last_seen:ts resolved_at:ts reason:str batch_id:str at:ts"
            )
        ),
        "at",
    ),
    "schedule_runs": (
        pa.schema(
            fields(
                "run_id:str job:str notebook:str started_at:ts ended_at:ts status:str failing_cell:int "
                "error:str output_dir:str"
            )
        ),
        "started_at",
    ),
    # The action spine (pf9lib.actions): a plan, then one event per step transition, and the audit trail.
    "action_plans": (
        pa.schema(
            fields(
                "plan_id:str kind:str target:str actor:str cloud:str created_at:ts summary:str "
                "preconditions_json:str steps_json:str inputs_json:str"
            )
        ),
        "created_at",
    ),
    "action_steps": (
        pa.schema(
            fields(
                "event_id:str plan_id:str attempt_id:str step:int name:str state:str at:ts detail:str "
                "created_json:str pid:int host:str"
            )
        ),
        "at",
    ),
    "audit": (
        pa.schema(
            fields(
                "audit_id:str at:ts actor:str role:str action:str target:str plan_id:str result:str note:str"
            )
        ),
        "at",
    ),
}
EVENT_KINDS = tuple(EVENT_SCHEMAS)


def event_table(kind: str) -> Table:
    schema, time_column = EVENT_SCHEMAS[kind]
    return Table(kind, f"events/{kind}", schema, ("date",), time_column)


# --------------------------------------------------------------------------------------------- metrics

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
    fields("ts:ts batch_id:str host:str hypervisor_hostname:str address:str cpu_count:int")
    + fields(_measures(HOST_MEASURES) + " note:str " + _measures(HOST_COUNTERS))
)
VM_SCHEMA = pa.schema(
    fields(
        "ts:ts batch_id:str vm_key:str host:str hypervisor_hostname:str domain:str instance_uuid:str "
        "instance_name:str project_name:str project_id:str flavor:str vcpus:float state_code:float"
    )
    + fields(_measures(VM_MEASURES) + " note:str " + _measures(VM_COUNTERS))
)
_LATEST_EXTRA = fields("stale:bool stale_reason:str checked_at:ts")
LATEST_HOST_SCHEMA = pa.schema(list(HOST_SCHEMA) + _LATEST_EXTRA)
LATEST_VM_SCHEMA = pa.schema(list(VM_SCHEMA) + _LATEST_EXTRA)
TARGET_SCHEMA = pa.schema(
    fields(
        "ts:ts batch_id:str kind:str host:str address:str url:str up:bool error:str duration_s:float "
        "samples:int bytes:int"
    )
)
CYCLE_SCHEMA = pa.schema(
    fields(
        "batch_id:str source:str started_at:ts ended_at:ts targets:int up:int down:int hosts:int vms:int "
        "samples:int fetch_s:float error:str"
    )
)
ALERT_STATE_SCHEMA = pa.schema(
    fields(
        "alert_id:str rule:str severity:str entity_kind:str entity:str entity_name:str host:str metric:str "
        "op:str threshold:float value:float streak:int firing:bool first_seen:ts fired_at:ts last_seen:ts "
        "sample_ts:ts"
    )
)
SERIES = {"hosts": (HOST_SCHEMA, "host", HOST_MEASURES), "vms": (VM_SCHEMA, "vm_key", VM_MEASURES)}
# Attributes a roll-up row carries (their newest value in the period) beside its key.
ROLLUP_ATTRS = {
    "hosts": ["hypervisor_hostname", "address"],
    "vms": ["host", "instance_uuid", "instance_name", "project_name", "project_id", "flavor", "vcpus"],
}
LATEST_PARTS = (("hosts", LATEST_HOST_SCHEMA), ("vms", LATEST_VM_SCHEMA), ("alerts", ALERT_STATE_SCHEMA))


@cache
def rollup_schema(kind: str) -> pa.Schema:
    schema, key, measures = SERIES[kind]
    cols = [("period", TS), (key, S)] + [(a, schema.field(a).type) for a in ROLLUP_ATTRS[kind]]
    cols += [("samples", INT)]
    for m in measures:
        cols += fields(f"{m}_avg:float {m}_max:float {m}_n:int")
    return pa.schema(cols + [("written_at", TS)])  # a replaced roll-up loses to the newer one


METRIC_TABLES = (
    Table("metric_hosts", "metrics/series/hosts", HOST_SCHEMA, ("date",), "ts"),
    Table("metric_vms", "metrics/series/vms", VM_SCHEMA, ("date",), "ts"),
    Table("metric_targets", "metrics/targets", TARGET_SCHEMA, ("date",), "ts"),
    Table("metric_cycles", "metrics/cycles", CYCLE_SCHEMA, ("date",), "started_at"),
    *(
        Table(
            f"metric_{kind}_{res}", f"metrics/rollups/{res}/{kind}", rollup_schema(kind), ("date",), "period"
        )
        for res in ("hourly", "daily")
        for kind in SERIES
    ),
)


# --------------------------------------------------------------------------------------------- types


def duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type of an arrow column type (empty views, casts of missing columns)."""
    if pa.types.is_string(arrow_type):
        return "VARCHAR"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_int32(arrow_type):
        return "INTEGER"
    if pa.types.is_integer(arrow_type):
        return "BIGINT"
    if pa.types.is_floating(arrow_type):
        return "DOUBLE"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ"
    if pa.types.is_date(arrow_type):
        return "DATE"
    if pa.types.is_list(arrow_type):
        return f"{duckdb_type(arrow_type.value_type)}[]"
    if pa.types.is_map(arrow_type):
        return f"MAP({duckdb_type(arrow_type.key_type)}, {duckdb_type(arrow_type.item_type)})"
    raise TypeError(f"no DuckDB type for {arrow_type}")


def spark_type(arrow_type: pa.DataType) -> str:
    """The Spark SQL type of an arrow column type, for SCHEMA.json."""
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP"
    if pa.types.is_list(arrow_type):
        return f"ARRAY<{spark_type(arrow_type.value_type)}>"
    if pa.types.is_map(arrow_type):
        return f"MAP<{spark_type(arrow_type.key_type)}, {spark_type(arrow_type.item_type)}>"
    return {"VARCHAR": "STRING", "INTEGER": "INT"}.get(duckdb_type(arrow_type), duckdb_type(arrow_type))


def all_tables() -> list[Table]:
    """Every table of the store: inventory history per resource type, runs, events, metrics."""
    from pf9lib.resources import RESOURCES

    return (
        [history_table(kind, res.store_columns) for kind, res in RESOURCES.items()]
        + list(RUN_TABLES)
        + [event_table(kind) for kind in EVENT_KINDS]
        + list(METRIC_TABLES)
    )


def schema_document() -> dict:
    """The catalogue as data: per table its path, partitions (strings) and columns with Spark types."""
    return {
        "format": "pf9wb-store/2",
        "note": "partition values are strings; timestamps are UTC microseconds; read with these types",
        "tables": {
            t.name: {
                "path": t.path,
                "files": t.pattern,
                "partitions": {p: "STRING" for p in t.partitions},
                "columns": [{"name": f.name, "type": spark_type(f.type)} for f in t.schema],
                "ddl": ", ".join(f"`{f.name}` {spark_type(f.type)}" for f in t.schema)
                + "".join(f", `{p}` STRING" for p in t.partitions),
                "fingerprint": t.fingerprint,
            }
            for t in all_tables()
        },
    }
