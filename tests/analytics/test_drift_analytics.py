"""pf9lib.analytics.drift on a history collected from the simulated cloud: every figure is checked against
the events the evaluation returned (counted here with pandas), and acknowledgements (single, bulk, two
processes at once) are kept and stay queryable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

import openpyxl
import pandas as pd
import pytest
import yaml

from pf9lib.actions.audit import audit
from pf9lib.analytics import drift
from pf9lib.analytics.drift_events import acknowledgements
from pf9lib.errors import PermissionDenied, Pf9Error
from pf9lib.identity import os_login, roles_file
from pf9lib.store.reader import open_store
from tests.helpers.roles import give_role

from .drift_world import build_world

pytestmark = pytest.mark.integration
RANK = {"critical": 3, "warning": 2, "info": 1}


@pytest.fixture(scope="module")
def world(sim_factory, tmp_path_factory):
    return build_world(sim_factory("tiny"), tmp_path_factory.mktemp("drift-analytics") / "data")


@pytest.fixture(scope="module")
def every_event(world) -> pd.DataFrame:
    """Every stored event, as the two evaluations returned them (nothing acknowledged yet)."""
    return pd.concat([world.events_a, world.events_b], ignore_index=True)


@pytest.fixture(scope="module")
def all_events(every_event) -> pd.DataFrame:
    """The events that are drift: not expected (the deleted server's follow-on changes are)."""
    return every_event[every_event["expected_reason"].isna()].reset_index(drop=True)


@pytest.fixture
def copy(world, tmp_path):
    """A private copy of the world's data directory for tests that append acknowledgements."""
    shutil.copytree(world.data_dir, tmp_path / "data")
    for user in ("alice", "bob", "carol", "dora", "emil", "frank"):
        give_role(tmp_path / "data", user, "operator")
    return tmp_path / "data"


def test_summary_counts_equal_the_events(world, all_events, every_event):
    s = drift.summary(world.data_dir)
    t = s["totals"].iloc[0].to_dict()
    sev = all_events["severity"].value_counts()
    incidents = all_events["incident_id"].where(all_events["incident_id"].notna(), all_events["event_id"])
    assert len(every_event) > len(all_events)  # the deleted server's ports, volumes … are expected
    assert t == {
        "events": len(every_event),
        "open": len(all_events),
        "acknowledged": 0,
        "expected": len(every_event) - len(all_events),
        "open_incidents": incidents.nunique(),
        "open_critical": sev.get("critical", 0),
        "open_warning": sev.get("warning", 0),
        "open_info": sev.get("info", 0),
    }
    assert s["open_by_severity"].values.tolist() == [
        [k, int(sev.get(k, 0))] for k in ("critical", "warning", "info")
    ]
    by_type = all_events.groupby("type").size().sort_values(ascending=False)
    got = s["open_by_type"].set_index("type")
    assert got["open"].to_dict() == by_type.to_dict()
    for kind, part in all_events.groupby("type"):
        for severity in ("critical", "warning", "info"):
            assert got.loc[kind, severity] == (part["severity"] == severity).sum()


def test_daily_trend_is_seven_zero_filled_days_ending_today(world, all_events):
    now = datetime.now(UTC)
    trend = drift.daily_trend(world.data_dir, 7, now=now)
    today = now.date()
    assert trend["day"].tolist() == [today - timedelta(days=6 - i) for i in range(7)]
    days = all_events["observed_at"].dt.date.value_counts()
    assert trend.set_index("day")["total"].to_dict() == {d: int(days.get(d, 0)) for d in trend["day"]}
    later = drift.daily_trend(world.data_dir, 7, now=now + timedelta(days=10))
    assert later["total"].sum() == 0


def test_event_filters(world, all_events):
    d = world.data_dir
    ports = drift.events(d, type="ports", limit=None)
    assert set(ports["event_id"]) == set(all_events[all_events["type"] == "ports"]["event_id"])
    crit = drift.events(d, severity="critical", limit=None)
    assert set(crit["event_id"]) == set(all_events[all_events["severity"] == "critical"]["event_id"])
    warn_up = drift.events(d, min_severity="warning", limit=None)
    want = all_events[all_events["severity"].map(RANK) >= 2]
    assert set(warn_up["event_id"]) == set(want["event_id"])
    project = all_events["project_name"].dropna().iloc[0]
    by_name = drift.events(d, project=project, limit=None)
    by_id = drift.events(
        d, project=all_events.set_index("project_name").loc[[project], "project_id"].iloc[0], limit=None
    )
    want = set(all_events[all_events["project_name"] == project]["event_id"])
    assert set(by_name["event_id"]) == set(by_id["event_id"]) == want
    domain = all_events["domain_name"].dropna().iloc[0]
    assert set(drift.events(d, domain=domain, limit=None)["event_id"]) == set(
        all_events[all_events["domain_name"] == domain]["event_id"]
    )
    found = drift.events(d, search="198.51.100", limit=None)
    assert found["rule_id"].tolist() == ["subnets.cidr"]
    assert drift.events(d, days=1, limit=None).attrs["total"] == len(all_events)
    assert drift.events(d, days=1, now=datetime.now(UTC) + timedelta(days=3)).attrs["total"] == 0
    assert drift.events(d, run_id=world.runs[1], limit=None).attrs["total"] == len(world.events_a)
    assert drift.events(d, acknowledged=True).attrs["total"] == 0
    with pytest.raises(Pf9Error, match="minimum severity"):
        drift.events(d, min_severity="urgent")
    with pytest.raises(Pf9Error, match="cannot sort"):
        drift.events(d, sort="raw; DROP VIEW runs")


def test_sorting_and_paging(world, all_events):
    d = world.data_dir
    full = drift.events(d, sort="severity", limit=None)
    ranks = full["severity"].map(RANK).tolist()
    assert ranks == sorted(ranks, reverse=True)
    pages = [drift.events(d, sort="severity", limit=10, offset=o) for o in range(0, len(all_events), 10)]
    assert pd.concat(pages)["event_id"].tolist() == full["event_id"].tolist()
    assert {p.attrs["total"] for p in pages} == {len(all_events)}
    by_name = drift.events(d, sort="name", descending=False, limit=None)["name"].dropna().tolist()
    assert by_name == sorted(by_name)


def test_event_detail_has_acks_and_object_history(copy, world):
    event = world.events_a.set_index("rule_id").loc["volumes.size"]
    drift.acknowledge(copy, [event["event_id"]], note="extended on request #42", actor="alice")
    detail = drift.event_detail(copy, event["event_id"])
    assert detail["event"]["object_id"] == world.expected["volumes.size"]["id"]
    assert detail["event"]["acknowledged"] and detail["event"]["acked_by"] == "alice"
    assert detail["acks"][["actor", "note", "action"]].values.tolist() == [
        ["alice", "extended on request #42", "ack"]
    ]
    assert detail["history"]["change"].tolist() == ["created", "updated"]
    with pytest.raises(Pf9Error, match="no drift event"):
        drift.event_detail(copy, "0" * 16)


def test_rules_with_open_counts_and_changes(world, all_events, every_event):
    df = drift.rules(world.data_dir).set_index("rule_id")
    assert len(df[df["source"] == "builtin"]) == 27
    counts, totals = all_events["rule_id"].value_counts(), every_event["rule_id"].value_counts()
    for rule_id, row in df.iterrows():
        assert row["open_events"] == counts.get(rule_id, 0), rule_id
        assert row["events"] == totals.get(rule_id, 0), rule_id
        assert row["expected_events"] == row["events"] - row["open_events"], rule_id
    assert (
        not df.loc["servers.flavor", "enabled"] and df.loc["servers.flavor", "changed_by"] == "test-operator"
    )
    assert (df.loc["ports.status", "severity"], df.loc["ports.status", "default_severity"]) == (
        "critical",
        "info",
    )
    assert df.loc["ports.deleted", "severity"] == "critical"  # follows the re-graded status rule
    assert df.loc["servers.deleted", "severity"] == "warning"


def test_single_and_bulk_acknowledgement_stay_queryable(copy, all_events):
    one = all_events["event_id"].iloc[0]
    assert drift.acknowledge(copy, [one[:8]], note="expected", actor="bob") == 1  # a unique prefix is enough
    ports = all_events[all_events["type"] == "ports"]
    n = drift.acknowledge_matching(copy, note="port churn", actor="bob", type="ports")
    assert n == len(ports) - (1 if one in set(ports["event_id"]) else 0)
    acked = drift.events(copy, acknowledged=True, limit=None)
    assert set(acked["event_id"]) == set(ports["event_id"]) | {one}
    assert set(acked["acked_by"]) == {"bob"}
    assert drift.totals(copy).iloc[0]["open"] == len(all_events) - len(acked)
    assert drift.events(copy, limit=None).attrs["total"] == len(all_events)  # acknowledged events stay
    drift.acknowledge(copy, [one], note="looked again", actor="carol", action="reopen")
    assert not drift.events(copy, search=one, limit=None)["acknowledged"].iloc[0]
    with pytest.raises(Pf9Error, match="no single drift event"):
        drift.acknowledge(copy, ["feedfacefeedface"], note="x", actor="bob")
    with pytest.raises(PermissionDenied, match="drift.ack refused: mallory is viewer, operator is needed"):
        drift.acknowledge(copy, [one], note="x", actor="mallory")
    assert len(acknowledgements(open_store(copy))) == n + 2  # the refused ones wrote nothing
    assert audit(copy, actor="mallory")["result"].tolist() == ["denied"]


def test_two_processes_acknowledging_at_the_same_moment_are_both_kept(copy, all_events):
    code = textwrap.dedent("""
        import sys, time
        from pf9lib.analytics.drift import acknowledge
        time.sleep(max(0.0, float(sys.argv[4]) - time.time()))
        acknowledge(sys.argv[1], [sys.argv[2]], note="seen by " + sys.argv[3], actor=sys.argv[3])
    """)
    target = all_events["event_id"].iloc[0]
    at = str(time.time() + 2.0)
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(copy), target, who, at]) for who in ("dora", "emil")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    acks = acknowledgements(open_store(copy), target)
    assert sorted(acks["actor"]) == ["dora", "emil"]
    assert sorted(acks["note"]) == ["seen by dora", "seen by emil"]
    assert drift.events(copy, acknowledged=True, limit=None)["event_id"].tolist() == [target]


def test_export_csv_and_xlsx(world, all_events, tmp_path):
    path = drift.export_events(world.data_dir, tmp_path / "crit.csv", severity="critical")
    got = pd.read_csv(path)
    want = all_events[all_events["severity"] == "critical"]
    assert sorted(got["event_id"]) == sorted(want["event_id"])
    assert list(got.columns)[:4] == ["event_id", "observed_at", "severity", "rule_id"]
    xlsx = drift.export_events(world.data_dir, tmp_path / "all.xlsx")
    sheet = openpyxl.load_workbook(xlsx, read_only=True)["DriftEvents"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("event_id", "observed_at", "severity") and len(rows) == len(all_events) + 1


def test_cli_ack_then_summary(copy, world):
    env = {**os.environ, "PF9WB_USER": "frank"}
    cli = [sys.executable, "-m", "pf9lib.cli", "drift"]
    target = world.events_a.set_index("rule_id").loc["subnets.gateway_ip", "event_id"]
    # PF9WB_USER counts only where the roles file lets this login act for others: refused, exit 4, one line.
    refused = subprocess.run(
        [*cli, "ack", target, "--note", "new router", "--data-dir", str(copy)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 4 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"drift.ack refused: {os_login()} is viewer" in refused.stderr
    roles = yaml.safe_load(roles_file(copy).read_text())
    roles["impersonate"] = [os_login()]
    roles_file(copy).write_text(yaml.safe_dump(roles))
    done = subprocess.run(
        [*cli, "ack", target, "--note", "new router", "--data-dir", str(copy)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "acknowledged 1 event(s)" in done.stdout, done.stderr
    row = drift.events(copy, acknowledged=True, limit=None)
    assert row[["event_id", "acked_by", "ack_note"]].values.tolist() == [[target, "frank", "new router"]]
    done = subprocess.run(
        [*cli, "ack", "--note", "x", "--type", "ports", "--data-dir", str(copy)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "--matching" in done.stderr
