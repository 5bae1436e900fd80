"""Alert rules: the defaults of docs/domain.md §7 (+ disk), validation, the sustained-window evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pf9lib.analytics.monitoring_alerts import AlertRule, evaluate, load_rules
from pf9lib.errors import ConfigError

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_default_rules_are_the_domain_defaults_plus_disk():
    rules = {(r.entity, r.metric): (r.op, r.threshold, r.severity) for r in load_rules()}
    assert rules == {
        ("vm", "cpu_pct"): (">", 90.0, "high"),
        ("vm", "mem_pct"): (">", 85.0, "medium"),
        ("host", "cpu_pct"): (">", 80.0, "critical"),
        ("host", "mem_pct"): (">", 85.0, "high"),
        ("host", "fs_pct"): (">", 90.0, "high"),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{name: a, entity: disk, metric: x, threshold: 1}]", "entity 'disk' is not host or vm"),
        ("rules: [{name: a, entity: vm, metric: x, threshold: 1, op: '!='}]", "op '!='"),
        ("rules: [{name: a, entity: vm, metric: x}]", "lacks 'threshold'"),
        ("rules: [{name: a, entity: vm, metric: x, threshold: 1, for: 0}]", "at least 1"),
        ("rules: [{name: a, entity: vm, metric: x, threshold: 1, colour: red}]", "unknown keys ['colour']"),
        ("rules: {a: 1}", "top-level `rules:` list"),
        (
            "rules: [{name: a, entity: vm, metric: x, threshold: 1}, {name: a, entity: vm, metric: y, "
            "threshold: 2}]",
            "appear twice",
        ),
        ("rules: [", "not valid YAML"),
    ],
)
def test_bad_rule_files_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as err:
        load_rules(path)
    assert message in str(err.value) and str(path) in str(err.value)


RULE = AlertRule("host_cpu", "host", "cpu_pct", ">", 80.0, "critical", for_scrapes=3)


def host(value, n: int, stale: bool = False) -> dict:
    return {"host": "h1", "ts": T0 + timedelta(minutes=n), "cpu_pct": value, "stale": stale}


def run(values, rules=(RULE,), state=None):
    """Evaluate a sequence of host rows; returns the per-step events and the final state."""
    state, steps = list(state or []), []
    for n, v in enumerate(values):
        row = v if isinstance(v, dict) else host(v, n)
        state, events = evaluate(list(rules), [row], [], state, row["ts"] or T0, f"b{n}")
        steps.append(events)
    return steps, state


def test_fires_after_n_consecutive_breaches_and_resolves_after_recovery():
    steps, state = run([90, 95, 85, 99, 50])
    assert [len(e) for e in steps] == [0, 0, 1, 0, 1]
    fired, resolved = steps[2][0], steps[4][0]
    assert fired["state"] == "firing" and fired["value"] == 85
    assert fired["first_seen"] == T0 and fired["fired_at"] == T0 + timedelta(minutes=2)
    assert resolved["state"] == "resolved" and resolved["last_seen"] == T0 + timedelta(minutes=3)
    assert resolved["resolved_at"] == T0 + timedelta(minutes=4)
    assert resolved["episode_id"] == fired["episode_id"] and state == []


def test_a_broken_streak_starts_over():
    steps, _ = run([90, 95, 70, 90, 95])
    assert all(not e for e in steps)


def test_stale_values_and_missing_rates_neither_count_nor_resolve():
    steps, state = run([90, 95, host(99, 2, stale=True), host(None, 3), 91, host(10, 5, stale=True), 12])
    assert [[e["state"] for e in s] for s in steps] == [[], [], [], [], ["firing"], [], ["resolved"]]


def test_the_same_sample_seen_twice_counts_once():
    row = host(90, 0)
    steps, _ = run([row, row, row, host(91, 1), host(92, 2)])
    assert [len(e) for e in steps] == [0, 0, 0, 0, 1]


def test_clear_for_needs_that_many_good_scrapes():
    rule = AlertRule("host_cpu", "host", "cpu_pct", ">", 80.0, "critical", for_scrapes=1, clear_for=2)
    steps, _ = run([90, 10, 95, 10, 10], rules=(rule,))
    assert [[e["state"] for e in s] for s in steps] == [["firing"], [], [], [], ["resolved"]]


def test_a_vm_that_disappears_from_its_read_host_resolves_as_gone():
    rule = AlertRule("vm_cpu", "vm", "cpu_pct", ">", 90.0, "high", for_scrapes=1)
    vm = {"vm_key": "u1", "host": "h1", "instance_name": "web", "ts": T0, "cpu_pct": 99.0, "stale": False}
    state, events = evaluate([rule], [], [vm], [], T0, "b0", {"h1"})
    assert events[0]["state"] == "firing" and events[0]["entity_name"] == "web"
    kept, none = evaluate([rule], [], [], state, T0, "b1", {"h2"})  # its host was not read: keep
    assert none == [] and kept == state
    gone, events = evaluate([rule], [], [], state, T0, "b2", {"h1"})
    assert gone == [] and events[0]["state"] == "resolved" and events[0]["reason"] == "no longer reported"
