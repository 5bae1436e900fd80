"""Column types of everything the store writes: only types Spark and other engines read well."""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

# Columns every history row has, before the type's own columns.
HISTORY_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("run_id", pa.string()),
    ("observed_at", TS),  # the run's start: the time the state was seen
    ("region", pa.string()),
    ("id", pa.string()),
    ("op", pa.string()),  # upsert | delete
    ("change", pa.string()),  # created | updated | deleted | volatile (only volatile fields moved)
    ("changed_fields", pa.list_(pa.string())),
    ("content_hash", pa.string()),  # over the non-volatile fields of the raw object
    ("full_hash", pa.string()),  # over the whole raw object
    ("name", pa.string()),
    ("project_id", pa.string()),
    ("project_name", pa.string()),
    ("domain_id", pa.string()),
    ("domain_name", pa.string()),
]
TRAILING_COLUMNS: list[tuple[str, pa.DataType]] = [("raw", pa.string())]
BASE_NAMES = {name for name, _ in HISTORY_COLUMNS + TRAILING_COLUMNS}

RUN_START_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("cloud", pa.string()),
        ("regions", pa.list_(pa.string())),
        ("types", pa.list_(pa.string())),
        ("started_at", TS),
        ("pid", pa.int64()),
        ("host", pa.string()),
        ("tool_version", pa.string()),
    ]
)
RUN_END_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("status", pa.string()),  # success | partial | failed
        ("ended_at", TS),
        ("error", pa.string()),
    ]
)
RUN_TYPES_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("type", pa.string()),
        ("region", pa.string()),
        ("complete", pa.bool_()),
        ("count", pa.int64()),
        ("created", pa.int64()),
        ("updated", pa.int64()),
        ("deleted", pa.int64()),
        ("volatile", pa.int64()),
        ("duration_s", pa.float64()),
        ("error", pa.string()),
    ]
)


def history_schema(type_columns: list[tuple[str, pa.DataType]]) -> pa.Schema:
    own = [(n, t) for n, t in type_columns if n not in BASE_NAMES]
    return pa.schema(HISTORY_COLUMNS + own + TRAILING_COLUMNS)


def duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type of an arrow column type, for empty views of types never written."""
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
    raise TypeError(f"no DuckDB type for {arrow_type}")
