"""Drift rules as data: the built-in table, user rules, the ignore file, rule changes with who and when, and
bad input that must give one clear error and change nothing. Stores here are real Parquet written by the
store's own RunWriter from hand-made API objects (no cloud needed)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pf9lib.analytics.drift_events import evaluate_run
from pf9lib.analytics.drift_rules import (
    BUILTIN_RULES,
    change_rules,
    effective_rules,
    parse_ignore,
)
from pf9lib.errors import Pf9Error
from pf9lib.normalize.rows import Lookups, normalize
from pf9lib.resources import type_columns
from pf9lib.store.reader import open_store
from pf9lib.store.writer import RunWriter
from tests.helpers.roles import give_role

# docs/domain.md §3, restated: (type, rule as the domain names it, severity, trigger).
DOMAIN_TABLE = [
    ("servers", "flavor", "critical", "changed"),
    ("servers", "status", "warning", "changed"),
    ("servers", "vm_state", "warning", "changed"),
    ("servers", "hypervisor_hostname", "info", "changed"),
    ("servers", "host_id", "info", "changed"),
    ("volumes", "status", "warning", "changed"),
    ("volumes", "attached_server", "critical", "changed"),
    ("volumes", "detached", "info", "cleared"),
    ("volumes", "size", "warning", "changed"),
    ("volumes", "volume_type", "warning", "changed"),
    ("networks", "status", "warning", "changed"),
    ("networks", "admin_state_up", "critical", "changed"),
    ("networks", "shared", "critical", "changed"),
    ("ports", "device_id", "warning", "changed"),
    ("ports", "detached", "info", "cleared"),
    ("ports", "status", "info", "changed"),
    ("ports", "mac_address", "critical", "changed_or_cleared"),
    ("floating_ips", "port_id", "warning", "changed"),
    ("floating_ips", "released", "info", "cleared"),
    ("floating_ips", "router_id", "warning", "changed"),
    ("floating_ips", "status", "info", "changed"),
    ("security_groups", "description", "info", "changed_or_cleared"),
    ("snapshots", "status", "warning", "changed"),
    ("snapshots", "size", "info", "changed"),
    ("subnets", "gateway_ip", "critical", "changed_or_cleared"),
    ("subnets", "cidr", "critical", "changed"),
    ("subnets", "enable_dhcp", "warning", "changed"),
]
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def server(i: int, **changes) -> dict:
    raw = {
        "id": f"srv-{i}",
        "name": f"vm-{i}",
        "tenant_id": "p1",
        "status": "ACTIVE",
        "OS-EXT-STS:vm_state": "active",
        "flavor": {"original_name": "m1.small", "vcpus": 1},
        "hostId": "h1",
        "key_name": "ops-key",
        "image": {"id": "img-1"},
    }
    raw.update(changes)
    return raw


def write_runs(data_dir: Path, *states: list[dict]) -> list[str]:
    runs = []
    for n, objects in enumerate(states):
        with RunWriter(data_dir, "c1", ["r1"], ["servers"], started_at=T0 + timedelta(days=n)) as writer:
            writer.write_type(
                "servers", "r1", objects, True, lambda raws: normalize("servers", raws, Lookups())
            )
        runs.append(writer.run_id)
    return runs


@pytest.fixture
def two_runs(tmp_path):
    """Run 1: three servers. Run 2: srv-1 status and key changed, srv-2 renamed, srv-3 deleted."""
    data = tmp_path / "data"
    runs = write_runs(
        data,
        [server(1), server(2), server(3)],
        [server(1, status="SHUTOFF", key_name="new-key"), server(2, name="vm-2-renamed")],
    )
    return data, runs


def store_files(data: Path) -> list[str]:
    return sorted(str(p.relative_to(data)) for p in (data / "store").rglob("*.parquet"))


def test_builtin_table_is_the_domain_table_on_existing_columns():
    # The 24 rules of the domain, plus a detach rule each where "changed" no longer covers "cleared".
    assert len(BUILTIN_RULES) == 27 and len({r[0] for r in BUILTIN_RULES}) == 27
    assert len({r[1] for r in BUILTIN_RULES}) == 8
    assert [(t, rid.split(".", 1)[1], s, tr) for rid, t, _, s, _, tr in BUILTIN_RULES] == DOMAIN_TABLE
    for rule_id, kind, column, _, meaning, _ in BUILTIN_RULES:
        assert column in {name for name, _ in type_columns(kind)}, rule_id
        assert meaning
    columns = {r[0]: r[2] for r in BUILTIN_RULES}
    assert columns["volumes.attached_server"] == "attached_server_id"
    assert columns["servers.flavor"] == "flavor_name"


def test_user_rules_and_deletion_rules(tmp_path, two_runs):
    data, runs = two_runs
    (data / "drift").mkdir()
    (data / "drift" / "rules.yaml").write_text(
        "rules:\n"
        "  - {type: servers, field: key_name, severity: critical, meaning: key pair replaced}\n"
        "  - {type: servers, field: name, severity: info, id: servers.renamed}\n"
        "  - {type: images, field: visibility, severity: warning}\n"
    )
    rules = {r.id: r for r in effective_rules(open_store(data))}
    assert rules["servers.key_name"].source == "rules.yaml"
    assert rules["images.deleted"].severity == "warning"  # no status rule: the type's highest severity
    assert rules["servers.deleted"].severity == "warning"  # servers.status
    events = evaluate_run(data, runs[1]).set_index("rule_id")
    assert events.loc[
        "servers.key_name", ["object_id", "old_value", "new_value", "severity", "meaning"]
    ].tolist() == [
        "srv-1",
        "ops-key",
        "new-key",
        "critical",
        "key pair replaced",
    ]
    assert events.loc["servers.renamed", ["old_value", "new_value"]].tolist() == ["vm-2", "vm-2-renamed"]
    assert events.loc["servers.status", ["old_value", "new_value"]].tolist() == ["ACTIVE", "SHUTOFF"]
    assert events.loc["servers.deleted", ["object_id", "old_value", "severity"]].tolist() == [
        "srv-3",
        "ACTIVE",
        "warning",
    ]
    assert len(events) == 4


def test_rule_changes_are_events_with_who_and_when(two_runs):
    data, runs = two_runs
    store = open_store(data)
    give_role(data, "ops1", "admin")
    give_role(data, "ops2", "admin")
    before = datetime.now(UTC)
    change_rules(store, ["servers.status"], "disable", actor="ops1", note="maintenance week")
    change_rules(store, ["servers.status"], "grade", "critical", actor="ops2")
    rules = {r.id: r for r in effective_rules(store)}
    status = rules["servers.status"]
    assert (status.enabled, status.severity, status.default_severity) == (False, "critical", "warning")
    assert status.changed_by == "ops2" and status.changed_at >= before
    assert rules["servers.deleted"].severity == "critical"  # deletions follow the graded status rule
    assert "servers.status" not in set(evaluate_run(data, runs[1])["rule_id"])
    change_rules(store, ["servers.status"], "enable", actor="ops1")
    events = evaluate_run(data, runs[1]).set_index("rule_id")
    assert events.loc["servers.status", "severity"] == "critical"
    assert events.loc["servers.deleted", "severity"] == "critical"
    actions = store.sql(
        "SELECT actor, action, coalesce(severity, '-') AS s, note FROM drift_rule_changes ORDER BY changed_at"
    )
    assert actions.values.tolist() == [
        ["ops1", "disable", "-", "maintenance week"],
        ["ops2", "grade", "critical", ""],
        ["ops1", "enable", "-", ""],
    ]


@pytest.mark.parametrize(
    "line, problem",
    [
        ("servers.status", "2 part"),
        ("servers..status", "empty part"),
        ("servrs.*.status", "unknown type 'servrs'"),
        ("servers.*.colour", "servers has no field 'colour'"),
        ("servers.a b.status", "space inside"),
        ("servers.x.y.z.status", "5 part(s) where 3 are needed (write a dot inside an id as \\.)"),
    ],
)
def test_malformed_ignore_line_is_one_clear_error(line, problem):
    with pytest.raises(Pf9Error) as err:
        parse_ignore(f"# header\n\n{line}\n", "drift/ignore")
    message = str(err.value)
    assert "\n" not in message and message.startswith("drift/ignore:3: malformed ignore line")
    assert problem in message and "TYPE.ID-OR-GLOB.FIELD" in message


def test_ignore_patterns_globs_names_negation_and_escaped_dots():
    ignore = parse_ignore(
        "ports.*.status\n"
        "!ports.keep-me.status\n"
        "servers.ci-runner-*.vm_state\n"
        "*.srv-9.*\n"
        "images.ubuntu-22\\.04.visibility\n"
        "snapshots.auto-*.deleted   # retention pruning\n"
    )
    assert ignore.ignores("ports", "any", None, "status")
    assert not ignore.ignores("ports", "keep-me", None, "status")
    assert not ignore.ignores("ports", "any", None, "mac_address")
    assert ignore.ignores("servers", "uuid-1", "ci-runner-7", "vm_state")  # the id part matches the name too
    assert not ignore.ignores("servers", "uuid-1", "web-1", "vm_state")
    assert ignore.ignores("volumes", "srv-9", None, "size_gb") and ignore.ignores(
        "servers", "srv-9", None, "deleted"
    )
    assert ignore.ignores("images", "ubuntu-22.04", None, "visibility")
    assert not ignore.ignores("images", "ubuntu-22x04", None, "visibility")
    assert ignore.ignores("snapshots", "s1", "auto-p-daily_5-x", "deleted")


def test_ignore_file_applies_at_evaluation(two_runs):
    data, runs = two_runs
    (data / "drift").mkdir()
    (data / "drift" / "ignore").write_text("servers.vm-1.status\nservers.*.deleted\n")
    assert set(evaluate_run(data, runs[1])["rule_id"]) == set()


@pytest.mark.parametrize(
    "rules_yaml, message",
    [
        ("rules:\n  - {type: servers, field: colour, severity: info}\n", "servers has no column 'colour'"),
        ("rules:\n  - {type: server, field: status, severity: info}\n", "unknown type 'server'"),
        ("rules:\n  - {type: servers, field: status, severity: high}\n", "severity 'high' is not one of"),
        (
            "rules:\n  - {type: servers, field: status, severity: info, when: now}\n",
            "unknown key(s) ['when']",
        ),
        ("rules:\n  - {type: servers, field: flavor_name, severity: info, id: servers.flavor}\n", "built-in"),
        ("rules: [\n", "not valid YAML"),
    ],
)
def test_bad_rules_file_is_one_error_and_evaluation_writes_nothing(two_runs, rules_yaml, message):
    data, runs = two_runs
    (data / "drift").mkdir()
    (data / "drift" / "rules.yaml").write_text(rules_yaml)
    before = store_files(data)
    with pytest.raises(Pf9Error) as err:
        evaluate_run(data, runs[1])
    assert message in str(err.value) and "\n" not in str(err.value)
    assert store_files(data) == before


def test_malformed_ignore_stops_evaluation_before_writing(two_runs):
    data, runs = two_runs
    (data / "drift").mkdir()
    (data / "drift" / "ignore").write_text("servers.status\n")
    before = store_files(data)
    with pytest.raises(Pf9Error, match="ignore:1: malformed"):
        evaluate_run(data, runs[1])
    assert store_files(data) == before


def test_unknown_rule_id_or_severity_changes_nothing(two_runs):
    data, _ = two_runs
    store = open_store(data)
    before, rules_before = store_files(data), effective_rules(store)
    with pytest.raises(Pf9Error, match="unknown drift rule id\\(s\\) servers.nope: list the rules"):
        change_rules(store, ["servers.status", "servers.nope"], "disable", actor="ops1")
    with pytest.raises(Pf9Error, match="severity 'urgent'"):
        change_rules(store, ["servers.status"], "grade", "urgent", actor="ops1")
    assert store_files(data) == before and effective_rules(store) == rules_before


def test_cli_bad_input_is_one_line_and_exit_1(two_runs):
    data, _ = two_runs
    cli = [sys.executable, "-m", "pf9lib.cli", "drift"]
    before = store_files(data)
    cases = [
        ([*cli, "rules", "disable", "servers.nope", "--data-dir", str(data)], None, "unknown drift rule id"),
        ([*cli, "check", "--data-dir", str(data)], ("ignore", "ports.*\n"), "malformed ignore line"),
        (
            [*cli, "check", "--data-dir", str(data)],
            ("rules.yaml", "rules:\n  - {type: ports, field: colour, severity: info}\n"),
            "ports has no column 'colour'",
        ),
    ]
    for argv, file, message in cases:
        if file:
            (data / "drift").mkdir(exist_ok=True)
            for name in ("ignore", "rules.yaml"):
                (data / "drift" / name).unlink(missing_ok=True)
            (data / "drift" / file[0]).write_text(file[1])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done
        assert done.stderr.startswith("pf9wb: error: ") and done.stderr.count("\n") == 1, done.stderr
        assert message in done.stderr
    assert store_files(data) == before


def test_an_open_store_sees_later_runs_events_and_acks(tmp_path):
    """Analytics keep materialised tables per store: they must follow what is appended after it was opened."""
    from pf9lib.analytics import drift, history

    data = tmp_path / "data"
    runs = write_runs(data, [server(1), server(2)], [server(1, status="SHUTOFF"), server(2)])
    store = open_store(data)
    assert drift.totals(store)["events"][0] == 0
    before = history.most_changed(store, limit=5)
    evaluate_run(store, runs[1])
    assert drift.totals(store).iloc[0][["events", "open"]].tolist() == [1, 1]
    give_role(data, "t", "operator")
    drift.acknowledge(store, drift.events(store)["event_id"].tolist(), note="ok", actor="t")
    assert drift.totals(store).iloc[0][["open", "acknowledged"]].tolist() == [0, 1]
    with RunWriter(data, "c1", ["r1"], ["servers"], started_at=T0 + timedelta(days=5)) as writer:
        objects = [server(1, status="ACTIVE"), server(2, hostId="h9")]
        writer.write_type("servers", "r1", objects, True, lambda raws: normalize("servers", raws, Lookups()))
    after = history.most_changed(store, limit=5).set_index("id")["changes"].to_dict()
    assert before.set_index("id")["changes"].to_dict() == {"srv-1": 1}
    assert after == {"srv-1": 2, "srv-2": 1}
    evaluate_run(store, writer.run_id)
    assert drift.totals(store).iloc[0][["events", "open"]].tolist() == [3, 2]
