"""Drift evaluation against the simulated cloud: every built-in rule fires once with the right severity and
values, disabled rules and ignored objects stay quiet, first assignments are not drift, deletions are, and
evaluating a run again (or from two processes at once) never duplicates an event."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from pf9lib.analytics.drift_events import state_view
from pf9lib.analytics.drift_rules import BUILTIN_RULES
from pf9lib.store.reader import open_store

from .drift_world import build_world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(sim_factory, tmp_path_factory):
    return build_world(sim_factory("tiny"), tmp_path_factory.mktemp("drift") / "data")


def test_each_builtin_rule_fires_exactly_once_with_severity_and_old_new(world):
    events = world.events_a
    assert len(world.expected) == len(BUILTIN_RULES) == 27
    got = {
        r.rule_id: {"id": r.object_id, "old": r.old_value, "new": _none(r.new_value), "severity": r.severity}
        for r in events.itertuples()
    }
    assert events["rule_id"].value_counts().max() == 1
    assert got == world.expected


def _none(value):
    return None if value != value else value  # a missing value reads as NaN in a DataFrame


def test_events_carry_project_domain_run_and_time(world):
    store = open_store(world.data_dir)
    run = store.sql("SELECT started_at FROM runs WHERE run_id = ?", [world.runs[1]])["started_at"][0]
    servers = store.sql("SELECT id, project_name, domain_name FROM servers").set_index("id")
    for row in world.events_a[world.events_a["type"] == "servers"].itertuples():
        assert (row.project_name, row.domain_name) == tuple(servers.loc[row.object_id])
        assert row.run_id == world.runs[1] and row.observed_at == run


def test_evaluating_again_writes_nothing_and_reads_once(world):
    again = _evaluate(world.data_dir, world.runs[1])
    # Under today's rules (round B disabled servers.flavor and ignores other ports' MACs) two fewer match;
    # the events already stored stay, and nothing is written twice.
    assert again.attrs["written"] == 0
    assert set(again["rule_id"]) == set(world.expected) - {"servers.flavor", "ports.mac_address"}
    store = open_store(world.data_dir)
    n = store.sql(f"SELECT count(*) AS n FROM {state_view(store)} WHERE run_id = ?", [world.runs[1]])["n"][0]
    assert n == 27


def _evaluate(data_dir, run_id):
    from pf9lib.analytics.drift_events import evaluate_run

    return evaluate_run(data_dir, run_id)


def test_two_processes_evaluating_the_same_run_show_each_event_once(world, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(world.data_dir, data)
    shutil.rmtree(data / "store" / "events" / "drift_events")  # forget every event: both must write them
    code = textwrap.dedent("""
        import sys, time
        from pf9lib.analytics.drift_events import evaluate_run
        start = float(sys.argv[3])
        time.sleep(max(0.0, start - time.time()))
        print(evaluate_run(sys.argv[1], sys.argv[2]).attrs["written"])
    """)
    import time

    at = str(time.time() + 2.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(data), world.runs[2], at], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    written = [int(p.communicate(timeout=120)[0].strip()) for p in procs]
    expected = len(world.events_b)
    assert all(w in (0, expected) for w in written) and sum(written) >= expected
    store = open_store(data)
    view = state_view(store)
    assert store.sql(f"SELECT count(*) AS n FROM {view}")["n"][0] == expected
    assert set(store.sql(f"SELECT event_id FROM {view}")["event_id"]) == set(world.events_b["event_id"])


def test_disabled_rule_yields_no_event(world):
    flavor = world.events_b[world.events_b["rule_id"] == "servers.flavor"]
    assert flavor.empty
    store = open_store(world.data_dir)
    changed = store.sql(
        "SELECT changed_fields FROM changes WHERE run_id = ? AND id = ?",
        [world.runs[2], world.round_b["flavor_server"]],
    )
    assert "flavor" in list(changed["changed_fields"][0])  # the change happened; the rule was off


def test_ignore_file_suppresses_its_match_and_bang_re_includes(world):
    macs = world.events_b[world.events_b["rule_id"] == "ports.mac_address"]
    assert macs["object_id"].tolist() == [world.round_b["watched_port"]]
    assert macs["new_value"].tolist() == ["fa:16:3e:00:00:bb"]


def test_regraded_rule_uses_the_new_severity_and_deletions_follow_status(world):
    port_id, old, new = world.round_b["status_port"]
    status = world.events_b[(world.events_b["rule_id"] == "ports.status")]
    assert status[["object_id", "old_value", "new_value", "severity"]].values.tolist() == [
        [port_id, old, new, "critical"]
    ]
    port_deletions = world.events_b[world.events_b["rule_id"] == "ports.deleted"]
    assert set(port_deletions["object_id"]) == world.round_b["deleted_ports"]
    assert set(port_deletions["severity"]) <= {"critical"}


def test_first_assignment_is_not_drift(world):
    vol = world.round_b["first_assignment_volume"]
    assert world.events_b[world.events_b["object_id"] == vol].empty
    store = open_store(world.data_dir)
    changed = store.sql("SELECT kind FROM changes WHERE run_id = ? AND id = ?", [world.runs[2], vol])
    assert changed["kind"].tolist() == ["updated"]  # it did change: null → a server


def test_deleted_server_yields_one_deletion_event_with_status_severity(world):
    server = world.round_b["deleted_server"]
    deleted = world.events_b[world.events_b["object_id"] == server["id"]]
    assert deleted[["rule_id", "severity", "change", "field", "old_value", "name"]].values.tolist() == [
        ["servers.deleted", "warning", "deleted", "deleted", server["status"], server["name"]]
    ]


def test_unknown_run_is_one_clear_error(world):
    from pf9lib.errors import Pf9Error

    with pytest.raises(Pf9Error, match="pick a finished run"):
        _evaluate(world.data_dir, "no-such-run")


def test_cli_evaluate_events_and_show(world, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(world.data_dir, data)
    cli = [sys.executable, "-m", "pf9lib.cli", "drift"]
    done = subprocess.run(
        [*cli, "evaluate", "--run", world.runs[2], "--data-dir", str(data)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"run {world.runs[2]}: {len(world.events_b)} drift event(s) (0 new)" in done.stdout
    done = subprocess.run(
        [*cli, "events", "--rule", "subnets.cidr", "--data-dir", str(data)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "198.51.100.0/24" in done.stdout and "(1-1 of 1 events)" in done.stdout
    event_id = world.events_a.set_index("rule_id").loc["subnets.cidr", "event_id"]
    done = subprocess.run(
        [*cli, "show", event_id[:8], "--data-dir", str(data)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "subnets.cidr" in done.stdout and world.expected["subnets.cidr"]["id"] in done.stdout
