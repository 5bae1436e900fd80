"""Appended events: every declared kind has a view from the start, concurrent writers never lose a record,
unknown kinds and bad rows are refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from pf9lib.errors import Pf9Error
from pf9lib.store.events import append_events
from pf9lib.store.reader import open_store
from pf9lib.store.schema import EVENT_KINDS

WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from pf9lib.store.events import append_events
    for i in range(20):
        append_events(sys.argv[1], "audit", [{"audit_id": f"{sys.argv[2]}-{i}", "actor": sys.argv[2],
                                              "at": datetime.now(UTC), "note": str(i)}])
""")


def test_two_processes_appending_at_once_keep_every_record(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), who]) for who in ("alice", "bob")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    store = open_store(tmp_path)
    got = store.sql("SELECT actor, count(*), count(DISTINCT audit_id) FROM audit GROUP BY 1 ORDER BY 1")
    assert got.values.tolist() == [["alice", 20, 20], ["bob", 20, 20]]


def test_every_declared_kind_is_a_view_of_a_fresh_store_and_fills_once_written(tmp_path):
    store = open_store(tmp_path)
    for kind in EVENT_KINDS:
        assert store.scalar(f'SELECT count(*) FROM "{kind}"') == 0, kind
    # The view was bound while no file existed: the same open store sees the first append.
    append_events(tmp_path, "audit", [{"audit_id": "a1", "actor": "alice", "at": datetime.now(UTC)}])
    assert store.sql("SELECT audit_id, actor FROM audit").values.tolist() == [["a1", "alice"]]


def test_an_unknown_kind_is_one_line_naming_the_known_ones(tmp_path):
    with pytest.raises(Pf9Error, match="unknown event kind 'nope'.*drift_events"):
        append_events(tmp_path, "nope", [{"x": 1}])
    with pytest.raises(Pf9Error, match="unknown event kind 'nope'"):
        open_store(tmp_path).events("nope")


def test_a_row_of_the_wrong_type_writes_nothing(tmp_path):
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        append_events(tmp_path, "schedule_runs", [{"run_id": "x", "failing_cell": "not a number"}])
    assert not list(tmp_path.rglob("*.parquet"))
