"""Appended events: concurrent writers never lose a record; unknown kinds and bad rows are refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest

from pf9lib.store.events import append_events, register_event_kind
from pf9lib.store.reader import open_store

SCHEMA = pa.schema([("who", pa.string()), ("n", pa.int64())])
WRITER = textwrap.dedent("""
    import sys
    import pyarrow as pa
    from pf9lib.store.events import append_events, register_event_kind
    register_event_kind("test_notes", pa.schema([("who", pa.string()), ("n", pa.int64())]))
    for i in range(20):
        append_events(sys.argv[1], "test_notes", [{"who": sys.argv[2], "n": i}])
""")


def test_two_processes_appending_at_once_keep_every_record(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), who]) for who in ("alice", "bob")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    register_event_kind("test_notes", SCHEMA)
    store = open_store(tmp_path)
    view = store.events("test_notes")
    got = store.sql(f'SELECT who, count(*) AS c, sum(n) AS s FROM "{view}" GROUP BY who ORDER BY who')
    assert got.values.tolist() == [["alice", 20, 190], ["bob", 20, 190]]


def test_empty_kind_is_an_empty_view_and_unknown_kind_an_error(tmp_path):
    register_event_kind("test_notes", SCHEMA)
    store = open_store(tmp_path)
    assert store.sql(f'SELECT count(*) AS c FROM "{store.events("test_notes")}"')["c"][0] == 0
    with pytest.raises(KeyError, match="register"):
        append_events(tmp_path, "nope", [{"x": 1}])


def test_a_row_of_the_wrong_type_writes_nothing(tmp_path):
    register_event_kind("test_notes", SCHEMA)
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        append_events(tmp_path, "test_notes", [{"who": "x", "n": "not a number"}])
    assert not list(tmp_path.rglob("*.parquet"))
