"""Collecting the simulated cloud into a real store: counts, enrichment, changes, partial runs, retries."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from pf9lib.collect.inventory import collect_cloud
from pf9lib.config import load_settings
from pf9lib.reports.rvtools import build_sheets, sheet_headers
from pf9lib.resources import RESOURCES
from pf9lib.store.reader import open_store

pytestmark = pytest.mark.integration
PROJECT_OWNED = (
    "servers",
    "volumes",
    "snapshots",
    "networks",
    "subnets",
    "ports",
    "routers",
    "security_groups",
    "security_group_rules",
    "server_groups",
    "quotas",
)


def settings_for(sim, data_dir):
    return load_settings(cloud=sim.cloud_name, data_dir=str(data_dir), env=sim.env())


def collect(sim, data_dir, **kwargs):
    return collect_cloud(settings_for(sim, data_dir), data_dir, **kwargs)


def test_counts_equal_the_cloud_and_rows_are_enriched(fresh_sim, tmp_path):
    result = collect(fresh_sim, tmp_path)
    assert result.status == "success"
    store = open_store(tmp_path)
    expected = fresh_sim.summary()["counts"]
    for kind, count in expected.items():
        assert store.sql(f'SELECT count(*) AS n FROM "{kind}"')["n"][0] == count, kind
    for kind in PROJECT_OWNED:
        missing = store.sql(
            f'SELECT count(*) AS n FROM "{kind}" WHERE project_name IS NULL OR domain_name IS NULL'
        )
        assert missing["n"][0] == 0, kind
    servers = store.sql("SELECT flavor_name, vcpus, hypervisor_hostname FROM servers WHERE status = 'ACTIVE'")
    assert len(servers) and servers.notna().all().all()


def test_changes_equal_what_the_cloud_reported(fresh_sim, tmp_path):
    collect(fresh_sim, tmp_path)
    reported = fresh_sim.advance(24)["changes"]
    assert reported, "a simulated day should change something"
    second = collect(fresh_sim, tmp_path)
    store = open_store(tmp_path)
    got = store.sql("SELECT type, id, kind, changed_fields FROM changes WHERE run_id = ?", [second.run_id])
    got_set = {(r.type, r.id, r.kind) for r in got.itertuples()}
    want = {(c["type"], _collector_id(c), c["kind"]) for c in reported if c["type"] != "hypervisors"}
    assert got_set == want
    fields = {(r.type, r.id): set(r.changed_fields) for r in got.itertuples() if r.kind == "updated"}
    for c in reported:
        if c["kind"] == "updated" and c["type"] in RESOURCES:
            expected = set(c["fields"]) - RESOURCES[c["type"]].volatile
            assert fields[(c["type"], _collector_id(c))] >= expected, c


def _collector_id(change: dict) -> str:
    return change["id"]


def test_mutate_and_revert_gives_two_changes_and_as_of_each_state(fresh_sim, tmp_path):
    collect(fresh_sim, tmp_path)
    port = open_store(tmp_path).sql("SELECT id, mac_address FROM ports LIMIT 1").iloc[0]
    runs = []
    for mac in ("fa:16:3e:00:00:01", port.mac_address):
        fresh_sim.mutate("ports", port.id, {"mac_address": mac})
        runs.append(collect(fresh_sim, tmp_path).run_id)
    store = open_store(tmp_path)
    changes = store.sql("SELECT changed_fields FROM changes WHERE id = ? AND kind = 'updated'", [port.id])
    assert [list(f) for f in changes["changed_fields"]] == [["mac_address"], ["mac_address"]]
    first_run = store.sql("SELECT run_id FROM runs ORDER BY started_at LIMIT 1")["run_id"][0]
    macs = [
        store.as_of(r).sql("SELECT mac_address FROM ports WHERE id = ?", [port.id])["mac_address"][0]
        for r in [first_run, *runs]
    ]
    assert macs == [port.mac_address, "fa:16:3e:00:00:01", port.mac_address]


def test_failed_listing_is_partial_and_deletes_nothing(fresh_sim, tmp_path):
    collect(fresh_sim, tmp_path)
    store = open_store(tmp_path)
    victim = store.sql("SELECT id FROM ports WHERE device_owner LIKE 'compute:%' LIMIT 1")["id"][0]
    fresh_sim.delete("ports", victim)
    fresh_sim.faults({"path": r"/v2\.0/ports", "status": 503})
    result = collect(fresh_sim, tmp_path)
    assert result.status == "partial" and result.exit_code == 3
    store = open_store(tmp_path)
    assert store.sql("SELECT count(*) AS n FROM deletions WHERE type = 'ports'")["n"][0] == 0
    ports = [s for s in result.stats if s.type == "ports"]
    assert ports and not ports[0].complete and "503" in ports[0].error
    fresh_sim.clear_faults()
    result = collect(fresh_sim, tmp_path)
    assert result.status == "success"
    deleted = open_store(tmp_path).sql("SELECT id FROM deletions WHERE type = 'ports'")["id"].tolist()
    assert deleted == [victim]


def test_retry_after_429_is_honoured_and_transient_503_retried(fresh_sim, tmp_path):
    fresh_sim.faults(
        {"path": "/servers/detail", "status": 429, "times": 1, "retry_after": 1},
        {"path": "/volumes/detail", "status": 503, "times": 2},
    )
    started = time.monotonic()
    result = collect(fresh_sim, tmp_path, types=["servers", "volumes"])
    assert result.status == "success"
    assert time.monotonic() - started >= 1.0
    hits = {r["path"]: r["hits"] for r in fresh_sim.client._call("GET", "/_sim/faults")["rules"]}
    assert hits == {"/servers/detail": 1, "/volumes/detail": 2}


def test_expired_token_mid_run_reauthenticates(fresh_sim, tmp_path):
    import openstack

    from pf9lib.collect.pager import iter_pages

    conn = openstack.connection.Connection(config=settings_for(fresh_sim, tmp_path).cloud_region())
    desc = RESOURCES["servers"]
    before = sum(len(p) for p in iter_pages(conn.compute, desc, page_size=5))
    fresh_sim.client.expire_tokens()
    after = sum(len(p) for p in iter_pages(conn.compute, desc, page_size=5))
    assert before == after == fresh_sim.summary()["counts"]["servers"]


def test_workbook_headers_stable_and_summary_shows_change(fresh_sim, tmp_path):
    collect(fresh_sim, tmp_path)
    first = build_sheets(open_store(tmp_path))
    fresh_sim.advance(48)
    collect(fresh_sim, tmp_path)
    second = build_sheets(open_store(tmp_path))
    assert list(first) == list(second)
    for name in first:
        assert list(first[name].columns) == list(second[name].columns), name
    assert list(second["Servers"].columns) == sheet_headers("servers")
    summary = second["Summary"].set_index("type")
    counts = fresh_sim.summary()["counts"]
    assert summary.loc["servers", "count"] == counts["servers"]
    assert (
        summary.loc["servers", "change"]
        == counts["servers"] - first["Summary"].set_index("type").loc["servers", "count"]
    )


def test_cli_collect_and_export(fresh_sim, tmp_path):
    env = fresh_sim.env()
    cli = [sys.executable, "-m", "pf9lib.cli"]
    done = subprocess.run(
        [*cli, "collect", "--data-dir", str(tmp_path), "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "success" in done.stdout and "servers" in done.stdout
    fresh_sim.faults({"path": "/os-hypervisors", "status": 500})
    done = subprocess.run(
        [*cli, "collect", "--data-dir", str(tmp_path), "--no-progress", "--types", "hypervisors,servers"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    done = subprocess.run(
        [*cli, "export", "rvtools", "--data-dir", str(tmp_path), "--out", str(tmp_path / "x")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    import openpyxl

    wb = openpyxl.load_workbook(next((tmp_path / "x").glob("*.xlsx")), read_only=True)
    assert {"Summary", "Servers", "ProjectQuotas", "MetaData"} <= set(wb.sheetnames)
    header = [c.value for c in next(wb["Servers"].iter_rows(max_row=1))]
    assert header == sheet_headers("servers")


def test_cross_type_enrichment_of_servers_and_security_groups(fresh_sim, tmp_path):
    collect(fresh_sim, tmp_path)
    store = open_store(tmp_path)
    # A server booted from an image carries that image's OS; its ports are the ports whose device it is.
    booted = store.sql(
        "SELECT s.id, s.os_distro, s.os_source, i.os_distro AS image_distro, s.port_ids FROM servers s "
        "JOIN images i ON i.id = s.image_id WHERE i.os_distro IS NOT NULL"
    )
    assert len(booted) and (booted["os_distro"] == booted["image_distro"]).all()
    assert set(booted["os_source"]) <= {"image properties", "server metadata"}
    ports = store.sql("SELECT device_id, id FROM ports")
    for row in booted.itertuples():
        assert sorted(row.port_ids) == sorted(ports.loc[ports.device_id == row.id, "id"])
    # A group's attached VMs are the servers with a compute port in that group, counted independently.
    groups = store.sql("SELECT id, attached_vm_count, rule_summary FROM security_groups")
    port_groups = store.sql(
        "SELECT DISTINCT unnest(security_group_ids) AS sg, device_id FROM ports "
        "WHERE device_owner LIKE 'compute:%'"
    )
    want = port_groups.groupby("sg")["device_id"].nunique().to_dict()
    assert {r.id: r.attached_vm_count for r in groups.itertuples() if r.attached_vm_count} == want
    ssh = store.sql(
        "SELECT security_group_id, remote_ip_prefix FROM security_group_rules WHERE protocol = 'tcp' "
        "AND port_range_min = 22 AND port_range_max = 22 AND direction = 'ingress' "
        "AND remote_ip_prefix IS NOT NULL"
    )
    assert len(ssh)
    summaries = groups.set_index("id")["rule_summary"]
    for rule in ssh.itertuples():
        assert (
            f"Allow TCP/22 (SSH) ingress from {rule.remote_ip_prefix} (IPv4)"
            in summaries[rule.security_group_id]
        )


def test_snapshot_policy_metadata_becomes_typed_columns(fresh_sim, tmp_path):
    """The catalogue's volume columns read the snapshot-policy contract (docs/domain.md) from metadata."""
    collect(fresh_sim, tmp_path)
    volume = open_store(tmp_path).sql("SELECT id FROM volumes ORDER BY id LIMIT 1")["id"][0]
    metadata = {
        "auto_snapshot": "yes",
        "snapshot_policies": "daily_5, monthly_1st,",
        "retention_daily_5": "5",
        "retention_monthly_1st": "2",
        "retention_broken": "many",
    }
    fresh_sim.mutate("volumes", volume, {"metadata": metadata})
    second = collect(fresh_sim, tmp_path, types=["domains", "projects", "volumes"])
    store = open_store(tmp_path)
    row = store.records(
        "SELECT auto_snapshot, snapshot_policy_list, snapshot_retention FROM volumes WHERE id = ?", [volume]
    )[0]
    assert row == {
        "auto_snapshot": True,
        "snapshot_policy_list": ["daily_5", "monthly_1st"],
        "snapshot_retention": {"daily_5": 5, "monthly_1st": 2},
    }
    assert (
        store.scalar("SELECT kind FROM changes WHERE run_id = ? AND id = ?", [second.run_id, volume])
        == "updated"
    )
