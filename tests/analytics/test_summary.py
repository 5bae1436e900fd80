"""Health summary cards and the overview's small questions, checked against pandas over the raw views and the
simulated cloud's own counts, on the shared small history (tests/helpers/workbench_history.py)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from pf9lib.analytics import summary
from pf9lib.identity import dashboard_identity
from pf9lib.store.reader import open_store
from tests.helpers.workbench_history import shared_history

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    return shared_history(tmp_path_factory)


def test_health_summary_against_independent_counts(history):
    store = open_store(history.data_dir)
    cards = dict(
        zip(summary.health_summary(store)["key"], summary.health_summary(store)["value"], strict=True)
    )
    runs = store.runs()
    as_of = summary.as_of(store)
    assert as_of == runs[runs["run_id"] == history.run_ids[-1]]["started_at"].iloc[0]
    counts = history.counts
    assert cards["vms"] == counts["servers"] and cards["volumes"] == counts["volumes"]
    assert cards["tenants"] == counts["projects"] and cards["hosts"] == counts["hypervisors"]
    assert cards["networks"] == counts["networks"] and cards["snapshots"] == counts["snapshots"]
    servers = store.sql("SELECT status FROM servers")
    assert cards["running_vms"] == int((servers["status"] == "ACTIVE").sum())
    snaps = store.sql("SELECT volume_id, region, created_at FROM snapshots")
    in_window = (snaps["created_at"] > pd.Timestamp(as_of) - timedelta(hours=24)) & (
        snaps["created_at"] <= pd.Timestamp(as_of)
    )
    assert cards["snapshots_24h"] == int(in_window.sum()) > 0
    volumes = store.sql("SELECT id, region FROM volumes")
    covered = set(zip(snaps["volume_id"], snaps["region"], strict=True))
    unprotected = sum((v, r) not in covered for v, r in zip(volumes["id"], volumes["region"], strict=True))
    assert cards["volumes_without_snapshots"] == unprotected
    from pf9lib.analytics.monitoring import latest_hosts

    latest = latest_hosts(store)
    assert cards["avg_host_cpu_pct"] == pytest.approx(latest["cpu_pct"].mean())
    assert cards["avg_host_mem_pct"] == pytest.approx(latest["mem_pct"].mean())
    assert len(latest) == counts["hypervisors"]


def test_daily_changes_sum_to_the_change_log(history):
    store = open_store(history.data_dir)
    daily = summary.daily_changes(store, days=30)
    changes = store.sql("SELECT kind, count(*) AS n FROM changes GROUP BY kind")
    assert daily.groupby("kind")["n"].sum().sort_index().to_dict() == dict(
        sorted(zip(changes["kind"], changes["n"], strict=True))
    )
    assert len(daily["day"].unique()) == len(history.run_ids)  # one simulated day per run
    # Per day and kind, the same as counting the change log's rows (what the run statistics stand for).
    log = store.sql("SELECT time, kind FROM changes")
    log["day"] = log["time"].dt.floor("D")
    expected = log.groupby(["day", "kind"]).size().rename("n").reset_index()
    got = daily.assign(day=pd.to_datetime(daily["day"], utc=True))
    assert got[["day", "kind", "n"]].values.tolist() == expected.values.tolist()
    # A window ending before the last run leaves that run out.
    runs = store.sql("SELECT started_at FROM runs ORDER BY started_at")["started_at"]
    earlier = summary.daily_changes(store, days=30, now=runs.iloc[-2])
    assert len(earlier["day"].unique()) == len(history.run_ids) - 1


def test_card_formatting_and_viewer_identity():
    assert summary.format_card_value("vms", 1234) == "1,234"
    assert summary.format_card_value("avg_host_cpu_pct", 40.417) == "40.4"
    assert summary.format_card_value("avg_host_cpu_pct", None) == "–"
    assert str(dashboard_identity({"HTTP_X_FORWARDED_USER": "bob", "PF9WB_USER": "svc"})) == "bob"
    assert str(dashboard_identity({"PF9WB_USER": "svc"})) == "svc"
    assert dashboard_identity({"PF9WB_USER": " "}) is None
