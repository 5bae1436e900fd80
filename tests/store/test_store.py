"""The history store on real Parquet files: changes, as_of, partial runs, crashes, concurrent readers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from pf9lib.normalize.rows import Lookups, normalize
from pf9lib.store.reader import open_store
from pf9lib.store.writer import RunWriter

T0 = datetime(2026, 11, 1, tzinfo=UTC)
LOOKUPS = Lookups.from_raw([{"id": "p1", "name": "prod", "domain_id": "d1"}], [{"id": "d1", "name": "acme"}])


def server(i: int, status: str = "ACTIVE", updated: str = "2026-10-01T00:00:00Z") -> dict:
    return {
        "id": f"s{i}",
        "name": f"vm{i}",
        "tenant_id": "p1",
        "status": status,
        "image": "",
        "flavor": {"vcpus": 2, "ram": 2048, "disk": 20, "original_name": "m1.small"},
        "created": "2026-10-01T00:00:00Z",
        "updated": updated,
    }


def run(data_dir, day: int, servers: list[dict], complete: bool = True) -> RunWriter:
    writer = RunWriter(data_dir, "c1", ["R1"], ["servers"], started_at=T0 + timedelta(days=day))
    writer.write_type("servers", "R1", servers, complete, partial(normalize, "servers", lookups=LOOKUPS))
    writer.finish()
    return writer


def test_revert_is_two_changes_and_as_of_returns_each_state(tmp_path):
    runs = [
        run(tmp_path, 0, [server(1)]),
        run(tmp_path, 1, [server(1, "SHUTOFF")]),
        run(tmp_path, 2, [server(1)]),
    ]
    store = open_store(tmp_path)
    changes = store.sql("SELECT kind, changed_fields FROM changes WHERE id = 's1' ORDER BY time")
    assert changes["kind"].tolist() == ["created", "updated", "updated"]
    assert [list(f) for f in changes["changed_fields"][1:]] == [["status"], ["status"]]
    states = [store.as_of(w.run_id).sql("SELECT status FROM servers")["status"].tolist() for w in runs]
    assert states == [["ACTIVE"], ["SHUTOFF"], ["ACTIVE"]]


def test_enrichment_and_typed_columns(tmp_path):
    run(tmp_path, 0, [server(1)])
    row = open_store(tmp_path).sql("SELECT * FROM servers").iloc[0]
    assert (row.project_name, row.domain_id, row.domain_name, row.vcpus, row.flavor_name) == (
        "prod",
        "d1",
        "acme",
        2,
        "m1.small",
    )
    assert row.created_at == datetime(2026, 10, 1, tzinfo=UTC)


def test_volatile_field_alone_is_kept_but_not_a_change(tmp_path):
    run(tmp_path, 0, [server(1)])
    run(tmp_path, 1, [server(1, updated="2026-10-02T00:00:00Z")])
    store = open_store(tmp_path)
    assert store.sql("SELECT count(*) AS n FROM changes")["n"][0] == 1  # only the creation
    assert store.sql("SELECT raw FROM servers")["raw"][0].count("2026-10-02") == 1


def test_deletion_only_from_a_complete_listing(tmp_path):
    run(tmp_path, 0, [server(1), server(2)])
    run(tmp_path, 1, [server(1)], complete=False)  # s2 missing from a cut-short listing
    store = open_store(tmp_path)
    assert store.sql("SELECT count(*) AS n FROM deletions")["n"][0] == 0
    assert sorted(store.sql("SELECT id FROM servers")["id"]) == ["s1", "s2"]
    run(tmp_path, 2, [server(1)])
    store = open_store(tmp_path)
    deleted = store.sql("SELECT id, name, project_name FROM deletions")
    assert deleted.values.tolist() == [["s2", "vm2", "prod"]]
    assert store.sql("SELECT id FROM servers")["id"].tolist() == ["s1"]


def test_run_status_partial_and_counts(tmp_path):
    run(tmp_path, 0, [server(1)], complete=False)
    store = open_store(tmp_path)
    assert store.runs()["status"].tolist() == ["partial"]
    stats = store.sql("SELECT type, region, complete, count, created FROM run_types")
    assert stats.values.tolist() == [["servers", "R1", False, 1, 1]]


CRASHING_WRITER = textwrap.dedent("""
    import os, sys, time
    from datetime import UTC, datetime
    from pf9lib.normalize.rows import Lookups, normalize
    from pf9lib.store.writer import RunWriter
    raws = [{"id": f"x{i}", "name": f"vm{i}", "tenant_id": "p1", "status": "ACTIVE"} for i in range(50)]
    w = RunWriter(sys.argv[1], "c1", ["R1"], ["servers"], started_at=datetime(2026, 11, 5, tzinfo=UTC))
    w.write_type("servers", "R1", raws, True, lambda objs: normalize("servers", objs, Lookups()))
    print("written", flush=True)
    time.sleep(60)  # killed here, before finish()
""")


def test_kill_9_during_a_run_keeps_the_store_consistent(tmp_path):
    run(tmp_path, 0, [server(1)])
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "written"
    proc.kill()
    proc.wait()
    store = open_store(tmp_path)
    runs = store.runs()
    assert sorted(runs["status"]) == ["failed", "success"]
    assert "interrupted" in runs.loc[runs["status"] == "failed", "error"].iloc[0]
    assert store.sql("SELECT id FROM servers")["id"].tolist() == [
        "s1"
    ]  # the killed run's rows stay invisible
    run(tmp_path, 6, [server(1), server(3)])  # the next run proceeds and sees only real history
    store = open_store(tmp_path)
    assert sorted(store.sql("SELECT id FROM servers")["id"]) == ["s1", "s3"]
    assert store.sql("SELECT count(*) AS n FROM run_ends WHERE status = 'failed'")["n"][0] == 1


READER = textwrap.dedent("""
    import sys, time
    from pf9lib.store.reader import open_store
    seen, deadline = set(), time.monotonic() + float(sys.argv[2])
    while time.monotonic() < deadline:
        store = open_store(sys.argv[1])
        seen.add(int(store.sql("SELECT count(*) AS n FROM servers")["n"][0]))
        store.close()
    print(sorted(seen))
""")


def test_readers_see_old_or_new_run_never_an_error(tmp_path):
    run(tmp_path, 0, [server(i) for i in range(100)])
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(tmp_path), "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    for day in range(1, 4):
        run(tmp_path, day, [server(i) for i in range(100 + day * 50)])
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    seen = set(eval(out))  # noqa: S307 - our own subprocess's printed list of ints
    assert seen <= {100, 150, 200, 250} and 250 in seen | {250}


@pytest.mark.parametrize("bad", ["nope", "2026-13-45"])
def test_as_of_unknown_run_is_one_clear_error(tmp_path, bad):
    from pf9lib.errors import Pf9Error

    run(tmp_path, 0, [server(1)])
    with pytest.raises(Pf9Error, match="pf9wb runs"):
        open_store(tmp_path).as_of(bad)
