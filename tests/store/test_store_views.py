"""The store owns every view and one clock: views exist from the start, `now` and `as_of` move inventory,
events and metrics together, runs have one clock, and the files are laid out for any engine."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta
from functools import partial

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pf9lib import resources
from pf9lib.errors import Pf9Error
from pf9lib.normalize.rows import normalize
from pf9lib.resources import Column
from pf9lib.store.events import append_events
from pf9lib.store.reader import open_store
from pf9lib.store.schema import EVENT_KINDS, METRIC_TABLES, all_tables
from pf9lib.store.writer import RunWriter
from tests.store.test_store import LOOKUPS, T0, run, server


def test_a_fresh_store_has_every_view_and_a_wall_clock_now(tmp_path):
    store = open_store(tmp_path)
    views = set(store.views())
    expected = {"runs", "run_types", "changes", "deletions", *EVENT_KINDS, *(t.name for t in METRIC_TABLES)}
    expected |= {"metric_latest_hosts", "metric_latest_vms", "metric_alert_state"}
    expected |= set(resources.RESOURCES) | {f"{k}_history" for k in resources.RESOURCES}
    assert expected <= views
    for view in views:
        assert store.scalar(f'SELECT count(*) FROM "{view}"') == 0, view
    before = datetime.now(UTC)
    assert before - timedelta(seconds=5) <= store.now <= datetime.now(UTC)
    assert repr(store) == f"<Store {store.data_dir} as_of=latest views={len(views)}>"


def test_now_is_the_newest_run_and_as_of_moves_runs_events_and_metrics(tmp_path):
    first = run(tmp_path, 0, [server(1)])
    second = run(tmp_path, 2, [server(1, "SHUTOFF")])
    for day, actor in ((0, "early"), (2, "late")):
        append_events(
            tmp_path, "audit", [{"audit_id": actor, "actor": actor, "at": T0 + timedelta(days=day)}]
        )
    store = open_store(tmp_path)
    assert store.now == T0 + timedelta(days=2) == second.started_at
    past = store.as_of(first.run_id)
    assert past.now == T0
    assert past.scalar("SELECT status FROM servers") == "ACTIVE"
    assert past.sql("SELECT actor FROM audit")["actor"].tolist() == ["early"]
    assert sorted(store.sql("SELECT actor FROM audit")["actor"]) == ["early", "late"]
    assert store.as_of("2026-11-02T00:00:00Z").now == T0 + timedelta(days=1)
    assert store.as_of("latest").now == store.now
    with pytest.raises(Pf9Error, match="no run 'nope'.*pf9wb runs"):
        store.as_of("nope")


def test_a_run_dated_on_another_clock_lasts_the_seconds_it_took(tmp_path):
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    writer = RunWriter(tmp_path, "c1", ["R1"], ["servers"], started_at=long_ago)
    writer.write_type("servers", "R1", [server(1)], True, partial(normalize, "servers", lookups=LOOKUPS))
    writer.finish()
    row = open_store(tmp_path).runs().iloc[0]
    assert row["started_at"] == long_ago
    assert 0 <= row["duration_s"] < 60


def test_scalar_rows_records_and_errors_are_one_line(tmp_path):
    run(tmp_path, 0, [server(1), server(2)])
    store = open_store(tmp_path)
    assert store.scalar("SELECT count(*) FROM servers WHERE status = ?", ["ACTIVE"]) == 2
    assert store.records("SELECT id, networks FROM servers ORDER BY id")[0] == {"id": "s1", "networks": []}
    with pytest.raises(Pf9Error, match="store.views"):
        store.sql("SELECT * FROM no_such_view")


def test_files_are_laid_out_for_other_engines(tmp_path):
    writer = run(tmp_path, 0, [server(1)])
    append_events(tmp_path, "audit", [{"audit_id": "a", "at": T0}])
    root = tmp_path / "store"
    fps = {t.name: t.fingerprint for t in all_tables()}
    assert (root / "runs/start" / f"{writer.run_id}~{fps['run_starts']}.parquet").exists()
    assert (root / "runs/end" / f"{writer.run_id}~{fps['run_ends']}.parquet").exists()
    history = list((root / "history/servers").rglob("*.parquet"))
    assert [p.relative_to(root / "history/servers").parts[:2] for p in history] == [
        ("cloud=c1", "month=2026-11")
    ]
    events = list((root / "events/audit").rglob("*.parquet"))
    assert events[0].parent.name.startswith("date=") and events[0].name.endswith(f"~{fps['audit']}.parquet")
    doc = json.loads((root / "SCHEMA.json").read_text())
    servers = doc["tables"]["servers_history"]
    assert servers["partitions"] == {"cloud": "STRING", "month": "STRING"}
    assert "`observed_at` TIMESTAMP" in servers["ddl"] and servers["ddl"].endswith("`month` STRING")
    # Only types other engines read: microsecond UTC timestamps, no unsigned, no UUID, no nanoseconds.
    for path in root.rglob("*.parquet"):
        for field in pq.read_schema(path):
            if pa.types.is_timestamp(field.type):
                assert (field.type.unit, field.type.tz) == ("us", "UTC"), (path, field)
            assert not pa.types.is_unsigned_integer(field.type), (path, field)


def test_a_cloud_named_like_a_number_stays_text(tmp_path):
    writer = RunWriter(tmp_path, "123", ["R1"], ["servers"], started_at=T0)
    writer.write_type("servers", "R1", [server(1)], True, partial(normalize, "servers", lookups=LOOKUPS))
    writer.finish()
    store = open_store(tmp_path)
    assert store.records("SELECT cloud FROM servers") == [{"cloud": "123"}]
    assert store.records("SELECT cloud FROM run_types") == [{"cloud": "123"}]


def test_a_column_added_to_the_catalogue_reaches_every_current_row_without_a_change(tmp_path, monkeypatch):
    run(tmp_path, 0, [server(1), server(2)])
    base = resources.RESOURCES["servers"]
    grown = dataclasses.replace(base, columns=(*base.columns, Column("locked", pa.bool_(), lambda r: True)))
    monkeypatch.setitem(resources.RESOURCES, "servers", grown)
    second = run(tmp_path, 1, [server(1), server(2)])
    store = open_store(tmp_path)
    assert store.sql("SELECT id, locked FROM servers ORDER BY id").values.tolist() == [
        ["s1", True],
        ["s2", True],
    ]
    assert store.scalar("SELECT count(*) FROM changes WHERE run_id = ?", [second.run_id]) == 0
    kinds = store.sql("SELECT change FROM servers_history WHERE run_id = ?", [second.run_id])["change"]
    assert kinds.tolist() == ["volatile", "volatile"]


def _downgrade(root) -> None:
    """Put a store's files where layout 1 kept them (the layout before fingerprints and split run records)."""
    for path in list(root.rglob("*.parquet")):
        stem = path.name.removesuffix(".parquet").rpartition("~")[0]
        rel = path.relative_to(root).parts
        if rel[0] == "runs":
            target = root / "runs" / f"{stem}.{rel[1]}.parquet"
        elif rel[0] == "history":
            day = path.parent.name.removeprefix("month=") + "-01"
            target = path.parent.parent / f"date={day}" / f"{stem}.parquet"
        elif rel[0] == "events":
            target = path.parent.parent / path.parent.name.removeprefix("date=") / f"{stem}.parquet"
        else:
            target = path.with_name(f"{stem}.parquet")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    (root / "LAYOUT").unlink()
    for directory in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(directory.iterdir()):
            directory.rmdir()


def test_a_store_of_the_previous_layout_is_upgraded_on_open_with_the_same_content(tmp_path):
    runs = [run(tmp_path, 0, [server(1), server(2)]), run(tmp_path, 1, [server(1, "SHUTOFF")])]
    append_events(tmp_path, "audit", [{"audit_id": "a", "actor": "x", "at": T0}])
    queries = [
        "SELECT id, status, op FROM servers_history ORDER BY observed_at, id",
        "SELECT run_id, status FROM runs ORDER BY started_at",
        "SELECT type, id, kind FROM changes ORDER BY time, id",
        "SELECT audit_id, actor FROM audit",
    ]
    before = [open_store(tmp_path).sql(q).values.tolist() for q in queries]
    _downgrade(tmp_path / "store")
    assert (tmp_path / "store/runs" / f"{runs[0].run_id}.start.parquet").exists()
    store = open_store(tmp_path)
    assert [store.sql(q).values.tolist() for q in queries] == before
    assert (tmp_path / "store/LAYOUT").read_text().strip() == "2"
    assert not list((tmp_path / "store/runs").glob("*.parquet"))
