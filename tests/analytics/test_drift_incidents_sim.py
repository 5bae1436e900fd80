"""Drift a manager can act on (docs/domain.md §3), on the simulated cloud's process: a server deleted with its
ports, volumes and floating IP is one incident and nothing critical; retention pruning of an automatic
snapshot raises nothing while deleting a manual one warns; acknowledging an incident acknowledges its
children; the grouped views and the CLI agree."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from pf9lib import pipeline
from pf9lib.analytics import drift
from pf9lib.analytics.drift_events import state_view
from pf9lib.config import load_settings
from pf9lib.store.reader import open_store
from tests.actions.restore_world import BFV_VM, server_named
from tests.helpers.roles import give_role
from tests.helpers.sim import start_sim

pytestmark = pytest.mark.integration


def _events(data_dir, run_id: str):
    """Every event of a run with its state (acknowledged, expected, incident)."""
    store = open_store(data_dir)
    return store.sql(
        f"SELECT * FROM {state_view(store)} WHERE run_id = ? ORDER BY type, object_id, rule_id", [run_id]
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Run 1: the estate plus an automatic and a manual snapshot of an unattached volume. Run 2: BFV_VM
    deleted and both snapshots deleted."""
    root = tmp_path_factory.mktemp("drift-incidents")
    sim = start_sim(root)
    try:
        sim.client.options(nightly_snapshots=False)
        data_dir = root / "data"
        settings = load_settings(cloud=sim.cloud_name, data_dir=str(data_dir), env=sim.env())
        conn = sim.connect()
        vm = server_named(sim, BFV_VM)
        # It has two ports (two networks) and a floating IP in the `tiny` estate.
        ports = conn.network.get(f"/ports?device_id={vm['id']}").json()["ports"]
        fips = conn.network.get("/floatingips").json()["floatingips"]
        fip = next(f for f in fips if f["port_id"] in {p["id"] for p in ports})
        volumes = conn.block_storage.get("/volumes/detail?all_tenants=1").json()["volumes"]
        attached = {a["server_id"] for v in volumes for a in v["attachments"]}
        other = next(
            v
            for v in sorted(volumes, key=lambda v: v["id"])
            if not v["attachments"] and v["status"] == "available"
        )
        snaps = {}
        for name, meta in (
            ("auto-daily_2-keep", {"created_by": "pf9wb", "policy": "daily_2"}),
            ("before-upgrade", {}),
        ):
            body = {"snapshot": {"volume_id": other["id"], "name": name, "metadata": meta}}
            snaps[name] = conn.block_storage.post("/snapshots", json=body).json()["snapshot"]["id"]
        first = pipeline.collect(settings, data_dir)
        vm_volumes = [v["id"] for v in volumes if any(a["server_id"] == vm["id"] for a in v["attachments"])]
        conn.compute.delete(f"/servers/{vm['id']}")
        for snap_id in snaps.values():
            conn.block_storage.delete(f"/snapshots/{snap_id}")
        second = pipeline.collect(settings, data_dir)
        yield {
            "sim": sim,
            "data_dir": data_dir,
            "vm": vm,
            "ports": {p["id"] for p in ports},
            "fip": fip["id"],
            "vm_volumes": set(vm_volumes),
            "snapshots": snaps,
            "runs": (first.run_id, second.run_id),
            "unrelated_attached": attached - {vm["id"]},
        }
    finally:
        sim.process.stop()


def test_a_deleted_server_is_one_incident_with_its_consequences_and_nothing_critical(world):
    events = _events(world["data_dir"], world["runs"][1])
    vm_id = world["vm"]["id"]
    root = events[(events["type"] == "servers") & (events["object_id"] == vm_id)]
    assert root["change"].tolist() == ["deleted"]
    incident = root["event_id"].iloc[0]
    assert root["incident_id"].iloc[0] == incident
    family = events[events["incident_id"] == incident]
    children = family[family["event_id"] != incident]
    assert len(world["ports"]) == 2
    by_type = children.groupby("type")["object_id"].apply(set).to_dict()
    assert by_type["ports"] == world["ports"]
    assert by_type["volumes"] == world["vm_volumes"] and len(world["vm_volumes"]) == 2
    assert by_type["floating_ips"] == {world["fip"]}
    assert children["expected_reason"].notna().all(), children[["type", "rule_id", "expected_reason"]]
    assert not (family["severity"] == "critical").any()
    # Nothing about this server is left outside its incident.
    related = events[events["object_id"].isin(world["ports"] | world["vm_volumes"] | {world["fip"], vm_id})]
    assert set(related["event_id"]) == set(family["event_id"])
    listed = drift.incidents(world["data_dir"], limit=None).set_index("event_id")
    assert listed.loc[incident, "children"] == len(children)
    assert listed.loc[incident, "open_children"] == 0  # the consequences are expected, not open


def test_retention_pruning_raises_nothing_and_a_manual_deletion_warns(world):
    events = _events(world["data_dir"], world["runs"][1])
    snaps = events[events["type"] == "snapshots"].set_index("object_id")
    auto, manual = world["snapshots"]["auto-daily_2-keep"], world["snapshots"]["before-upgrade"]
    assert snaps.loc[auto, "expected_reason"].startswith("pruned by retention (policy daily_2")
    assert manual in snaps.index and pd.isna(snaps.loc[manual, "expected_reason"])
    assert snaps.loc[manual, "severity"] == "warning" and snaps.loc[manual, "change"] == "deleted"
    open_ids = set(drift.events(world["data_dir"], limit=None)["event_id"])
    assert snaps.loc[manual, "event_id"] in open_ids and snaps.loc[auto, "event_id"] not in open_ids
    expected = drift.events(world["data_dir"], expected=True, limit=None)
    assert snaps.loc[auto, "event_id"] in set(expected["event_id"])


def test_open_by_rule_counts_the_open_events(world):
    per_rule = drift.open_by_rule(world["data_dir"])
    open_events = drift.events(world["data_dir"], limit=None)
    assert per_rule["open"].sum() == len(open_events)
    want = open_events.groupby(["rule_id", "severity"]).size().to_dict()
    assert {(r.rule_id, r.severity): r.open for r in per_rule.itertuples()} == want
    cli = [
        sys.executable,
        "-m",
        "pf9lib.cli",
        "drift",
        "events",
        "--grouped",
        "--data-dir",
        str(world["data_dir"]),
    ]
    done = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert world["vm"]["name"] in done.stdout


def test_acknowledging_an_incident_acknowledges_its_children(world, tmp_path):
    import shutil

    data = shutil.copytree(world["data_dir"], tmp_path / "data")
    give_role(data, "olga", "operator")
    events = _events(data, world["runs"][1])
    root = events[(events["type"] == "servers") & (events["object_id"] == world["vm"]["id"])]
    incident = root["event_id"].iloc[0]
    family = set(events[events["incident_id"] == incident]["event_id"])
    assert drift.acknowledge(data, [incident], note="decommissioned", actor="olga") == len(family)
    after = _events(data, world["runs"][1]).set_index("event_id")
    assert after.loc[sorted(family), "acknowledged"].all()
    assert set(after[after["acknowledged"]].index) == family
