"""Compaction and pruning keep the logical content (within the window) and cut the file count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pandas as pd
import pytest

from pf9lib.errors import Pf9Error
from pf9lib.normalize.rows import Lookups, normalize
from pf9lib.store.housekeeping import compact, prune
from pf9lib.store.layout import maintenance_lock
from pf9lib.store.reader import open_store
from pf9lib.store.writer import RunWriter

T0 = datetime(2026, 9, 1, tzinfo=UTC)
LOOKUPS = Lookups.from_raw([{"id": "p1", "name": "prod", "domain_id": "d1"}], [{"id": "d1", "name": "acme"}])


def server(i: int, status: str) -> dict:
    return {"id": f"s{i}", "name": f"vm{i}", "tenant_id": "p1", "status": status, "image": ""}


def history(data_dir, days: int = 24) -> list[str]:
    """Day d: servers s0..s4; s(d % 5) flips status; s5 exists only on days 0-9; every 7th day a run fails."""
    run_ids = []
    for day in range(days):
        servers = [server(i, "SHUTOFF" if (day + i) % 5 == 0 else "ACTIVE") for i in range(5)]
        if day < 10:
            servers.append(server(5, "ACTIVE"))
        writer = RunWriter(data_dir, "c1", ["R1"], ["servers"], started_at=T0 + timedelta(days=day))
        writer.write_type("servers", "R1", servers, True, partial(normalize, "servers", lookups=LOOKUPS))
        writer.finish("failed", "simulated") if day % 7 == 6 else writer.finish()
        run_ids.append(writer.run_id)
    return run_ids


def snapshot(store, run_ids: list[str]) -> dict:
    """Everything a user can ask: each run's state, the changes, the deletions, the run list."""
    states = {
        r: store.as_of(r).sql("SELECT id, status FROM servers ORDER BY id").values.tolist() for r in run_ids
    }
    changes = store.sql("SELECT run_id, id, kind, changed_fields FROM changes ORDER BY run_id, id")
    changes["changed_fields"] = [None if v is None or v is pd.NA else list(v) for v in changes.changed_fields]
    return {
        "states": states,
        "changes": changes.values.tolist(),
        "deletions": store.sql("SELECT run_id, id FROM deletions ORDER BY 1").values.tolist(),
        "runs": store.sql("SELECT run_id, status FROM runs ORDER BY 1").values.tolist(),
    }


def test_compaction_keeps_the_logical_content_and_cuts_files(tmp_path):
    run_ids = history(tmp_path)
    before = snapshot(open_store(tmp_path), run_ids)
    result = compact(tmp_path)
    assert result.files_after < result.files_before / 5
    assert snapshot(open_store(tmp_path), run_ids) == before
    assert compact(tmp_path).files_after == result.files_after  # idempotent


def test_prune_keeps_the_window_and_the_state_at_its_start(tmp_path):
    run_ids = history(tmp_path)
    now = T0 + timedelta(days=23, hours=1)
    window = [r for r, day in zip(run_ids, range(24), strict=True) if day >= 12]
    before = snapshot(open_store(tmp_path), window)
    result = prune(tmp_path, keep_days=11, now=now)
    after = open_store(tmp_path)
    got = snapshot(after, window)
    assert got["states"] == before["states"]
    in_window = [c for c in before["changes"] if c[0] in set(window)]
    assert [c for c in got["changes"] if c[0] in set(window)] == in_window
    assert result.rows_after < result.rows_before
    # s5 was deleted on day 10, before the window: neither its rows nor its tombstone are kept.
    assert after.sql("SELECT count(*) AS n FROM servers_history WHERE id = 's5'")["n"][0] == 0
    # Runs in the window are all still recorded, failed ones included.
    assert {r for r, _ in got["runs"]} >= set(window)


def test_compaction_waits_for_no_collect_and_refuses_while_one_writes(tmp_path):
    history(tmp_path, days=2)
    with maintenance_lock(tmp_path, exclusive=False), pytest.raises(Pf9Error, match="busy"):
        compact(tmp_path, wait=False)


def test_housekeeping_without_a_store_is_one_clear_error(tmp_path):
    with pytest.raises(Pf9Error, match="pf9wb collect"):
        compact(tmp_path / "nothing")
    with pytest.raises(Pf9Error, match="at least 1"):
        prune(tmp_path, keep_days=0)
