"""The snapshot SLA page, the overview's SLA card and the drift panel's incident summary, built in Python over
real stores and checked on their state: every number is the library's (pf9lib.analytics.sla, drift), the run
results agree with the audit the executor wrote, the cloud/region filter and Refresh ask the library again.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime
from html.parser import HTMLParser

import pandas as pd
import pytest

from pf9lib.actions.audit import audit
from pf9lib.actions.snapshot_run import KIND
from pf9lib.analytics import drift, sla
from pf9lib.demo import build_history, collect_day, settings_for, snapshot_day
from pf9lib.store.reader import open_store
from pf9lib.ui import branding, cards, drift_table, snapshots
from pf9lib.ui.filters import ALL
from pf9lib.ui.tables import format_value
from pf9sim.client import SimProcess
from tests.helpers.workbench_history import XSS_NAME

pytestmark = pytest.mark.integration

PALETTE = branding.load().palette


class _Html(HTMLParser):
    """Text per class (as a browser shows it) and each table's body rows as lists of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[list[str]] = []
        self.text: dict[str, list[str]] = {}
        self.rows: list[list[str]] = []
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        self.stack.append((dict(attrs).get("class") or "").split())
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        self.stack.pop()
        if tag == "tbody":
            self._in_body = False

    def handle_data(self, data):
        for classes in self.stack:
            for cls in classes:
                self.text.setdefault(cls, []).append(data)
        if self._in_body and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def _parse(text: str) -> _Html:
    parser = _Html()
    parser.feed(text)
    return parser


def _cards(page: snapshots.SnapshotsPage) -> dict[str, str]:
    parsed = _parse(page.cards.value)
    return {
        k[len("pf9-card-") :]: v[0]
        for k, v in parsed.text.items()
        if k.startswith("pf9-card-")
        and k
        not in (
            "pf9-card-value",
            "pf9-card-label",
        )
    }


def _expected_cards(store, cloud=None, region=None, rpo_days=7) -> dict[str, str]:
    """The cards as the library's frames say, computed here from sla.status / coverage / rpo directly."""
    status = sla.status(store, cloud=cloud, region=region)
    coverage = sla.coverage(store, cloud=cloud, region=region)
    rpo = sla.rpo(store, days=rpo_days, cloud=cloud, region=region)
    gaps = rpo[rpo["volume_id"].isin(status["volume_id"])]["worst_gap_h"]
    compliant = int((status["status"] == "compliant").sum())
    return {
        "sla_pct": f"{compliant / len(status) * 100:.1f}" if len(status) else "no policy data",
        "enrolled": f"{len(status):,}",
        "late": str(int((status["status"] == "late").sum())),
        "never": str(int((status["status"] == "never").sum())),
        "quota_blocked": str(int((status["status"] == "quota_blocked").sum())),
        "no_policy": str(int((~coverage["enrolled"]).sum())),
        "no_snapshot": str(int((coverage["snapshots"] == 0).sum())),
        "rpo_median_h": f"{gaps.median():.1f}" if len(gaps) else "–",
        "rpo_worst_h": f"{gaps.max():.1f}" if len(gaps) else "–",
    }


def _tenant_rows(store, cloud=None, region=None, rows=20) -> list[list[str]]:
    df = sla.compliance(store, "tenant", cloud=cloud, region=region).head(rows)
    columns = [c for c, _ in snapshots.TENANT_COLUMNS]
    return [[format_value(v) for v in record] for record in df[columns].itertuples(index=False, name=None)]


def _audited_runs(data_dir, plan_ids) -> dict[str, dict[str, int]]:
    """Per snapshot run, its steps' outcomes as the executor audited them (one audit row per step)."""
    rows = audit(data_dir)
    rows = rows[
        rows["plan_id"].isin(plan_ids)
        & rows["action"].isin(["snapshots.create", "snapshots.prune", "snapshots.note"])
    ]
    words = {("snapshots.create", "succeeded"): "created", ("snapshots.prune", "succeeded"): "pruned"}
    out: dict[str, dict[str, int]] = {}
    for row in rows.itertuples():
        outcome = words.get((row.action, row.result), row.result)
        out.setdefault(row.plan_id, {}).setdefault(outcome, 0)
        out[row.plan_id][outcome] += 1
    return out


# ------------------------------------------------------------------------------------ the shared history


def test_the_shared_history_has_policy_data_and_the_cards_are_the_librarys(history):
    store = open_store(history.data_dir)
    assert len(sla.status(store)) > 0, "the shared history should enrol volumes (its daily snapshot job)"
    page = snapshots.SnapshotsPage(store, PALETTE)
    assert _cards(page) == _expected_cards(store)
    assert _parse(page.by_tenant.value).rows == _tenant_rows(store)
    # Worst first: the compliance column never goes down the table.
    shown = [float(r[3]) for r in _parse(page.by_tenant.value).rows]
    assert shown == sorted(shown)


def test_gap_tables_list_the_librarys_volumes(history):
    store = open_store(history.data_dir)
    page = snapshots.SnapshotsPage(store, PALETTE, rows=1000)
    coverage = sla.coverage(store)
    gaps = coverage[coverage["gap"] != ""]
    shown = _parse(page.gaps.value).rows
    named = [n or i for n, i in zip(gaps["volume_name"].fillna(""), gaps["volume_id"], strict=True)]
    assert [(r[2], r[6]) for r in shown] == list(zip(named, gaps["gap"], strict=True))
    status = sla.status(store)
    late = status[status["status"] != "compliant"]
    rows = _parse(page.late.value).rows
    assert len(rows) == len(late) > 0
    assert sorted((r[3], r[4]) for r in rows) == sorted(zip(late["policy"], late["status"], strict=True))


def test_run_results_agree_with_what_the_executor_audited(history):
    assert snapshots.RUN_KIND == KIND
    store = open_store(history.data_dir)
    page = snapshots.SnapshotsPage(store, PALETTE)
    results = snapshots.run_results(snapshots.run_steps(store))
    assert len(results) == 4  # the shared history's daily runs (three days, then one more)
    audited = _audited_runs(history.data_dir, results["plan_id"].tolist())
    for row in results.to_dict("records"):
        counted = {
            o: row[o] for o in ("created", "adopted", "pruned", "skipped", "blocked", "failed") if row[o]
        }
        assert counted == audited[row["plan_id"]]
        assert row["not applied"] == 0
    shown = _parse(page.run_table.value).rows
    assert [r[1] for r in shown] == results["plan_id"].tolist()
    assert [int(r[2]) for r in shown] == results["created"].tolist()
    assert [int(r[6]) for r in shown] == results["blocked"].tolist()
    # The newest run's skips and blocks: each audited one, with the audit's reason.
    newest = results.iloc[0]["plan_id"]
    notes = audit(history.data_dir)
    notes = notes[(notes["plan_id"] == newest) & notes["result"].isin(["skipped", "blocked"])]
    assert len(notes) > 0
    rows = _parse(page.exceptions.value).rows
    assert sorted((r[4], r[5], r[6]) for r in rows) == sorted(
        (t.split(":")[1], r, n)
        for t, r, n in zip(notes["target"], notes["result"], notes["note"], strict=True)
    )


def test_the_trend_is_the_librarys(history):
    store = open_store(history.data_dir)
    page = snapshots.SnapshotsPage(store, PALETTE, days=30)
    (chart,) = page.trend.children
    (line,) = chart.outputs[0]["data"]["application/vnd.plotly.v1+json"]["data"]
    trend = sla.trend(store, 30)
    assert line["y"] == trend["compliance_pct"].tolist()
    assert line["x"] == [d.strftime("%Y-%m-%d") for d in pd.to_datetime(trend["day"])]


def test_overview_sla_card_is_compliant_over_enrolled(history):
    store = open_store(history.data_dir)
    status = sla.status(store)
    parsed = _parse(cards.overview_cards(store).value)
    (value,) = parsed.text["pf9-card-sla"][:1]
    assert value == f"{(status['status'] == 'compliant').mean() * 100:.1f}"
    # The health cards come first, unchanged.
    assert parsed.text["pf9-card-vms"][0] == f"{history.counts['servers']:,}"


def test_without_enrolment_the_sla_says_no_policy_data(tmp_path):
    store = open_store(tmp_path)  # no run: nothing enrolled
    (value, label) = _parse(cards.sla_card(store).value).text["pf9-card-sla"]
    assert value == "no policy data" and "no volume is enrolled" in label
    page = snapshots.SnapshotsPage(store, PALETTE)
    assert _cards(page)["sla_pct"] == "no policy data"
    assert "No snapshot run is stored." in page.run_table.value
    assert "No data for snapshot SLA compliance" in page.trend.children[0].value


def test_building_the_snapshots_page_never_captures_output(history, monkeypatch):
    """As the overview (tests/ui/test_widgets.py): an Output captured during a Voilà run can hang the page."""
    import ipywidgets

    captured: list[str] = []
    monkeypatch.setattr(ipywidgets.Output, "__enter__", lambda self: captured.append("with out"))
    monkeypatch.setattr(ipywidgets.Output, "clear_output", lambda self, *a, **k: captured.append("clear"))
    page = snapshots.SnapshotsPage(open_store(history.data_dir), PALETTE)
    page.refresh_button.click()
    assert captured == []


# ------------------------------------------------------------------------------------ the drift panel

Event = namedtuple(
    "Event", "event_id severity type name object_id field old_value new_value change observed_at acked_by"
)


def test_drift_panel_leads_with_the_open_incidents_by_severity_and_rule(history):
    store = open_store(history.data_dir)
    panel = drift_table.DriftPanel(store, viewer=lambda: None)
    assert panel.widget.children[0] is panel.incidents
    parsed = _parse(panel.incidents.value)
    # Incidents counted here from the events: a parent is an open event that follows no other one.
    events = drift.events(store, acknowledged=False, limit=None)
    parents = events[events["incident_id"].isna() | (events["incident_id"] == events["event_id"])]
    assert len(parents) > 0
    for severity in ("critical", "warning", "info"):
        n = int((parents["severity"] == severity).sum())
        assert parsed.text[f"drift-incidents-{severity}"] == [f"{n} {severity}"]
    by_rule = parents.groupby(["severity", "rule_id"]).size()
    shown = {(r[0], r[1]): int(r[2]) for r in parsed.rows}
    assert shown == {key: int(n) for key, n in by_rule.items()}
    assert drift.incidents(store, limit=None).attrs["total"] == len(parents)


def test_drift_rows_name_the_objects_and_read_old_to_new(history):
    store = open_store(history.data_dir)
    when = datetime(2026, 10, 4)
    server = history.xss_server_id
    unknown = "0123abcd-0000-4000-8000-000000000000"
    nameless = Event(
        "e1", "warning", "volumes", None, "vol-id-1", "server_id", server, None, "updated", when, None
    )
    names = drift_table.inventory_names(store, drift_table.ids_in(server, unknown))
    cells = _parse(drift_table.row_cells(nameless, names))
    assert cells.text["drift-name"] == ["vol-id-1"]  # no name: the id
    # The server's id reads as the server's name (escaped text), a missing value as "(none)".
    assert cells.text["drift-change"] == [f"{XSS_NAME} → (none)"]
    listed = Event(
        "e2", "info", "ports", "p1", "p1", "security_groups", f"['{unknown}']", "[]", "updated", when, ""
    )
    assert _parse(drift_table.row_cells(listed, names)).text["drift-change"] == ["['0123abcd…'] → []"]
    # In the panel (acknowledged rows too: the browser tests acknowledge one): the released floating IP's port
    # id reads as the port's name, or its type and short id when it has none.
    panel = drift_table.DriftPanel(store, viewer=lambda: None)
    panel.filters.show_acknowledged.value = True
    changes = [_parse(r.children[1].value).text["drift-change"][0] for r in panel.table.children[1:]]
    port_event = drift.events(store, acknowledged=None, rule_id="floating_ips.released", limit=1).iloc[0]
    port = store.sql(
        "SELECT name FROM ports_history WHERE id = ? ORDER BY observed_at DESC LIMIT 1",
        [port_event["old_value"]],
    )["name"]
    port_name = port.iloc[0] if len(port) and port.iloc[0] else f"port {port_event['old_value'][:8]}"
    assert f"{port_name} → (none)" in changes
    assert "ACTIVE → PAUSED" in changes


# ------------------------------------------------------------------------------------ two regions, live


@pytest.fixture(scope="module")
def two_regions(tmp_path_factory):
    """A `small` simulated cloud (two regions) with one day of policy runs, still running for Refresh."""
    root = tmp_path_factory.mktemp("snap-two-regions")
    sim = SimProcess(size="small", seed=7, port=0, log_path=root / "simcloud.log").start()
    try:
        build_history(sim, root / "data", days=1)
        yield sim, root / "data"
    finally:
        sim.stop()


def test_the_region_filter_asks_the_library_for_that_region(two_regions):
    _, data_dir = two_regions
    store = open_store(data_dir)
    page = snapshots.SnapshotsPage(store, PALETTE)
    regions = list(page.scope.region.options)
    assert regions == [ALL, "RegionOne", "RegionTwo"]
    everything = _parse(page.by_tenant.value).rows
    assert everything == _tenant_rows(store)
    page.scope.region.value = "RegionTwo"  # the observer refreshes the page
    assert _parse(page.by_tenant.value).rows == _tenant_rows(store, region="RegionTwo") != everything
    assert {r[1] for r in _parse(page.by_tenant.value).rows} == {"RegionTwo"}
    assert _cards(page) == _expected_cards(store, region="RegionTwo")
    steps = snapshots.run_steps(store, region="RegionTwo")
    assert set(steps["region"]) == {"RegionTwo"}
    shown = _parse(page.run_table.value).rows
    assert [int(r[2]) for r in shown] == snapshots.run_results(steps)["created"].tolist()
    (line,) = page.trend.children[0].outputs[0]["data"]["application/vnd.plotly.v1+json"]["data"]
    assert line["name"] == "pf9sim / RegionTwo"
    # Choosing a cloud again resets the region: all of the cloud's regions.
    page.scope.cloud.value = "pf9sim"
    assert page.scope.region.value == ALL and page.scope.query() == {"cloud": "pf9sim", "region": None}
    assert _parse(page.by_tenant.value).rows == everything


def test_refresh_reads_the_runs_written_since(two_regions):
    sim, data_dir = two_regions
    store = open_store(data_dir)
    page = snapshots.SnapshotsPage(store, PALETTE)
    before = _parse(page.run_table.value).rows
    settings = settings_for(sim, data_dir)
    at = datetime.fromisoformat(sim.client.advance(24)["clock"].replace("Z", "+00:00"))
    snapshot_day(settings, at)
    collect_day(sim, data_dir, settings, metrics=False, offset=datetime.now(at.tzinfo) - at)
    assert _parse(page.run_table.value).rows == before  # nothing moves until Refresh
    page.refresh_button.click()
    after = _parse(page.run_table.value).rows
    assert len(after) == len(before) + 1 and after[1:] == before
    assert _cards(page) == _expected_cards(store)
    assert _parse(page.by_tenant.value).rows == _tenant_rows(store)
