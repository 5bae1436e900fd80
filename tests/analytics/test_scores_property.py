"""Tenant health, risk and utilisation on random estates (hypothesis): each equals the docs/domain.md §5
formula computed here from the generated objects, and never leaves 0..100."""

from __future__ import annotations

import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pf9lib.analytics import tenants
from pf9lib.store.events import append_events
from pf9lib.store.reader import open_store
from tests.analytics.estates import REGION, T0, server, snapshot, volume, write_run

SERVER_STATUSES = ["ACTIVE", "SHUTOFF", "ERROR", "PAUSED", "BUILD"]
VOLUME_STATUSES = ["in-use", "available", "error", "error_deleting", "creating"]
SNAPSHOT_STATUSES = ["available", "error", "error_deleting", "creating"]

volumes_st = st.lists(
    st.tuples(
        st.sampled_from(VOLUME_STATUSES),
        st.lists(st.tuples(st.sampled_from(SNAPSHOT_STATUSES), st.integers(0, 30)), max_size=3),
    ),
    max_size=8,
)
tenant_st = st.fixed_dictionaries(
    {
        "servers": st.lists(st.sampled_from(SERVER_STATUSES), max_size=12),
        "volumes": volumes_st,
        "drift": st.lists(
            st.tuples(st.sampled_from(["critical", "warning", "info"]), st.booleans()), max_size=12
        ),
    }
)


def _build(data_dir: Path, estate: dict[str, dict]) -> None:
    servers, volumes, snapshots = [], [], []
    for project, parts in estate.items():
        for status in parts["servers"]:
            servers.append(server(len(servers), project, status))
        for vstatus, snaps in parts["volumes"]:
            vol = volume(len(volumes), project, vstatus)
            volumes.append(vol)
            for sstatus, age in snaps:
                snapshots.append(
                    snapshot(len(snapshots), vol["id"], project, sstatus, created=T0 - timedelta(days=age))
                )
    run_id = write_run(data_dir, 0, {"servers": servers, "volumes": volumes, "snapshots": snapshots})
    events, acks = [], []
    for project, parts in estate.items():
        for severity, acked in parts["drift"]:
            event_id = uuid.uuid4().hex
            events.append(
                {
                    "event_id": event_id,
                    "rule_id": "servers.status",
                    "severity": severity,
                    "type": "servers",
                    "cloud": "c1",
                    "region": REGION,
                    "object_id": "s0",
                    "project_id": project,
                    "run_id": run_id,
                    "observed_at": T0,
                    "evaluated_at": T0,
                    "field": "status",
                    "change": "updated",
                }
            )
            if acked:
                acks.append(
                    {
                        "ack_id": uuid.uuid4().hex,
                        "event_id": event_id,
                        "action": "ack",
                        "acked_at": T0,
                        "actor": "test",
                        "note": "expected",
                    }
                )
    append_events(data_dir, "drift_events", events)
    append_events(data_dir, "drift_acks", acks)


def _expected_health(parts: dict) -> float:
    servers, vols = parts["servers"], parts["volumes"]
    snaps = [s for _, ss in vols for s in ss]
    open_drift = [sev for sev, acked in parts["drift"] if not acked]
    lost = (
        min(20, 10 * servers.count("ERROR"))
        + min(10, 2 * servers.count("SHUTOFF"))
        + min(15, 5 * sum(v.startswith("error") for v, _ in vols))
        + min(10, 5 * sum(s.startswith("error") for s, _ in snaps))
        + min(15, 5 * open_drift.count("critical"))
        + min(10, 2 * open_drift.count("warning"))
    )
    return 100.0 - lost


def _expected_risk(parts: dict) -> float:
    vols = parts["volumes"]
    if not vols:
        return 0.0
    unprotected = sum(1 for _, snaps in vols if not snaps)
    stale = sum(1 for _, snaps in vols if snaps and min(age for _, age in snaps) > 7)
    return min(100.0, (unprotected + 0.5 * stale) / len(vols) * 100)


def _expected_utilisation(parts: dict) -> float:
    servers, vols = parts["servers"], parts["volumes"]
    vm_part = servers.count("ACTIVE") / len(servers) * 100 if servers else 0.0
    vol_part = sum(v == "in-use" for v, _ in vols) / len(vols) * 100 if vols else 0.0
    return 0.6 * vm_part + 0.4 * vol_part


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estate=st.fixed_dictionaries({"p1": tenant_st, "p2": tenant_st}))
def test_scores_match_the_formulas_and_stay_within_0_and_100(estate):
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        _build(data_dir, estate)
        store = open_store(data_dir)
        health = tenants.tenant_health(store).set_index("project_id")
        risk = tenants.tenant_risk(store).set_index("project_id")
        util = tenants.utilisation(store, long=False).set_index("project_id")
        for project, parts in estate.items():
            assert health.at[project, "health"] == pytest.approx(_expected_health(parts))
            assert health.at[project, "points_lost"] == pytest.approx(100 - _expected_health(parts))
            assert risk.at[project, "risk"] == pytest.approx(_expected_risk(parts))
            assert util.at[project, "utilisation"] == pytest.approx(_expected_utilisation(parts))
        for column, frame in (("health", health), ("risk", risk), ("utilisation", util)):
            assert frame[column].between(0, 100).all()
        assert set(health["sla_status"]) == {tenants.NOTHING_ENROLLED}  # these estates enrol no volume
        assert (health["sla_lost"] == 0).all()
        expected_status = [
            "healthy" if h >= 80 else "warning" if h >= 50 else "critical" for h in health["health"]
        ]
        assert health["status"].tolist() == expected_status
        store.close()
