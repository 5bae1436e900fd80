"""pf9lib.ui's widgets built over a real store (the shared small history), checked on their state, no browser:
the cards say what the library computes, tables are formatted escaped text, an empty chart says so, and an
acknowledgement is written for a permitted viewer only, the library refusing anyone else."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from html.parser import HTMLParser

import pandas as pd
import pytest

from pf9lib.actions.audit import audit
from pf9lib.analytics import drift, monitoring, summary
from pf9lib.analytics.drift_events import acknowledge_as_viewer, acknowledgements
from pf9lib.analytics.monitoring_alerts import ALERTS_KIND
from pf9lib.errors import PermissionDenied, Pf9Error
from pf9lib.store.events import append_events
from pf9lib.store.reader import open_store
from pf9lib.ui import branding, cards, drift_table, figures, tables
from tests.helpers.roles import give_role
from tests.helpers.workbench_history import XSS_NAME

pytestmark = pytest.mark.integration

ALICE = "alice@example.test"


class _Cells(HTMLParser):
    """Text of the elements carrying a class, per class (what a browser would show as text)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[list[str]] = []
        self.text: dict[str, list[str]] = {}
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        self.stack.append((dict(attrs).get("class") or "").split())
        if tag == "tr":
            self.rows.append([])

    def handle_endtag(self, tag):
        self.stack.pop()

    def handle_data(self, data):
        for classes in self.stack:
            for cls in classes:
                self.text.setdefault(cls, []).append(data)
        if self.stack and self.rows and any(c.startswith("pf9-col-") for c in self.stack[-1]):
            self.rows[-1].append(data)


def _parse(html: str) -> _Cells:
    parser = _Cells()
    parser.feed(html)
    return parser


@pytest.fixture()
def data(history, tmp_path):
    """A private copy of the history's data directory, for tests that write (acknowledgements, alerts)."""
    return shutil.copytree(history.data_dir, tmp_path / "data", symlinks=True)


def test_cards_show_the_health_summary(history):
    store = open_store(history.data_dir)
    expected = summary.health_summary(store)
    parsed = _parse(cards.health_cards(store).value)
    shown = {key: "".join(parsed.text[f"pf9-card-{key}"][:1]) for key in expected["key"]}
    assert shown == {r.key: summary.format_card_value(r.key, r.value) for r in expected.itertuples()}
    assert shown["vms"] == f"{history.counts['servers']:,}"
    assert parsed.text["pf9-card-label"] == expected["label"].tolist()


def test_alert_table_cells_are_formatted_text(data):
    fired = datetime(2026, 10, 4, 5, 6, 7, 891234, tzinfo=UTC)
    append_events(
        data,
        ALERTS_KIND,
        [
            {
                "event_id": "e1",
                "episode_id": "ep1",
                "alert_id": "host_cpu_high:host:h1",
                "state": "firing",
                "rule": "host_cpu_high",
                "severity": "critical",
                "entity_kind": "host",
                "entity": "h1",
                "entity_name": "<b>h1</b>",
                "host": "h1",
                "metric": "cpu_pct",
                "op": ">",
                "threshold": 85.0,
                "value": 93.456789,
                "first_seen": fired,
                "fired_at": fired,
                "last_seen": fired,
                "at": fired,
            }
        ],
    )
    widget = tables.alerts_table(open_store(data))
    assert "pf9-alerts" in widget._dom_classes
    header, *rows = _parse(widget.value).rows
    (row,) = [r for r in rows if r[3] == "<b>h1</b>"]  # the history's own alerts are listed too
    assert row == [
        "critical",
        "host_cpu_high",
        "host",
        "<b>h1</b>",
        "h1",
        "cpu_pct",
        "93.5",
        "85.0",
        "2026-10-04 05:06",
    ]
    assert "<b>h1</b>" not in widget.value  # the name is escaped text, not markup
    assert "891234" not in widget.value and ":07" not in widget.value


def test_format_value():
    assert tables.format_value(pd.Timestamp("2026-10-04 05:06:07.891234+00:00")) == "2026-10-04 05:06"
    assert tables.format_value(datetime(2026, 10, 4, 7, 6, tzinfo=UTC).astimezone()) == "2026-10-04 07:06"
    assert tables.format_value(12.3456) == "12.3" and tables.format_value(float("nan")) == ""
    assert tables.format_value(None) == "" and tables.format_value(pd.NaT) == ""
    assert tables.format_value(1234) == "1234" and tables.format_value(True) == "yes"


def test_empty_charts_say_there_is_no_data(tmp_path):
    store = open_store(tmp_path)  # no run, no metrics
    palette = branding.load().palette
    tabs = figures.top_hosts_tabs(store, palette)
    tabs.selected_index = 1  # the memory chart is made when its tab is first opened
    for pane, what in zip(tabs.children, ("CPU", "memory"), strict=True):
        (chart,) = pane.children
        assert chart.value.count("pf9-no-data") == 1
        assert f"No data for top hosts by {what}: no host metrics in the store yet" in chart.value
    chart = figures.changes_per_day(store, 30, palette)
    assert "No data for changes in the last 30 days" in chart.value
    assert "plotly" not in chart.value


def test_charts_with_data_are_plotly_mimetype_outputs(history):
    store = open_store(history.data_dir)
    tabs = figures.top_hosts_tabs(store, branding.load().palette)
    assert [len(p.children) for p in tabs.children] == [1, 0]  # memory waits for its tab
    tabs.selected_index = 1
    ((cpu,), (mem,)) = (p.children for p in tabs.children)
    for chart, column in ((cpu, "cpu_pct"), (mem, "mem_pct")):
        (bars,) = chart.outputs[0]["data"][figures.PLOTLY_MIME]["data"]
        top = monitoring.top_hosts(store, column, limit=10)
        assert sorted(bars["x"]) == sorted(top[column].tolist())
    chart = figures.changes_per_day(store, 30, branding.load().palette)
    (output,) = chart.outputs
    figure = output["data"][figures.PLOTLY_MIME]
    daily = summary.daily_changes(store, 30)
    assert [b["name"] for b in figure["data"]] == ["created", "updated", "deleted"]
    assert sum(sum(b["y"]) for b in figure["data"]) == int(daily["n"].sum())


def test_drift_rows_show_names_as_text(history):
    panel = drift_table.DriftPanel(open_store(history.data_dir), viewer=lambda: ALICE)
    panel.filters.show_acknowledged.value = True  # whatever the browser tests acknowledged in the history
    panel.filters.search.value = "img src"  # the observer refreshes the table
    rows = panel.table.children[1:]
    assert len(rows) == 1 == len(panel.selected)
    cells = rows[0].children[1].value
    assert _parse(cells).text["drift-name"] == [XSS_NAME]
    assert "<img" not in cells
    assert panel.shown.value == "1 of 1 events shown"
    # The rows it replaced are closed (their models gone), the shared layout stays open.
    assert rows[0].comm is not None
    panel.filters.search.value = ""
    assert rows[0].comm is None and rows[0].children[0].comm is None
    assert panel.table.children[1].layout.comm is not None


def test_ack_through_the_widget_writes_the_viewers_acknowledgement(data):
    give_role(data, ALICE, "operator")
    store = open_store(data)
    panel = drift_table.DriftPanel(store, viewer=lambda: ALICE)
    open_before = drift.totals(store).iloc[0]["open"]
    event_id = next(iter(panel.selected))
    panel.selected[event_id].value = True
    panel.note.value = "planned maintenance"
    panel.ack_button.click()
    assert panel.status.value == f"1 event(s) acknowledged by {ALICE}"
    row = drift.events(open_store(data), search=event_id, limit=None).iloc[0]
    assert (row["acknowledged"], row["acked_by"], row["ack_note"]) == (True, ALICE, "planned maintenance")
    assert event_id not in panel.selected  # the table shows open events: it was refreshed
    assert panel.summary.value.startswith(f"Drift: {open_before - 1} open")
    assert panel.note.value == ""


def test_a_viewer_who_may_not_acknowledge_is_refused_by_the_library(data):
    give_role(data, ALICE, "operator")
    store = open_store(data)
    panel = drift_table.DriftPanel(store, viewer=lambda: "mallory")
    event_id = next(iter(panel.selected))  # an open event
    before = len(acknowledgements(store))
    # The shared history may hold refusals already (test_overview.py's browser test runs first in tests/ui).
    audited = len(audit(data, action="drift.ack"))
    # A forged call, as a callback fired with another identity would make: refused before any write.
    with pytest.raises(PermissionDenied) as refused:
        acknowledge_as_viewer(store, [event_id], "mallory", note="looks fine")
    refusal = (
        "drift.ack refused: mallory is viewer, operator is needed; "
        "an admin can run `pf9wb access grant mallory operator`"
    )
    assert str(refused.value) == refusal
    with pytest.raises(PermissionDenied, match="no identity"):
        acknowledge_as_viewer(store, [event_id], None)
    assert isinstance(refused.value, Pf9Error)
    # Through the widget: the same refusal, one line in the status.
    panel.selected[event_id].value = True
    panel.ack_button.click()
    assert panel.status.value == refusal
    assert len(acknowledgements(open_store(data))) == before
    denied = audit(data, action="drift.ack").head(-audited or None)  # newest first: this test's records
    assert (denied["result"] == "denied").sum() == 3 == len(denied)
    assert set(denied["actor"]) == {"mallory", "(nobody)"}


def test_nothing_selected_is_a_one_line_message(data):
    give_role(data, ALICE, "operator")
    panel = drift_table.DriftPanel(open_store(data), viewer=lambda: ALICE)
    panel.ack_button.click()
    assert panel.status.value == "no drift event selected: select one or more events first"


def test_building_the_overview_never_captures_output(history, monkeypatch):
    """Capturing output into an Output widget while Voilà executes a dashboard can hang the render for ever
    (nbclient's Output widget mimic, voila-dashboards/voila#1428): every part draws through widget state."""
    import ipywidgets

    captured: list[str] = []
    monkeypatch.setattr(ipywidgets.Output, "__enter__", lambda self: captured.append("with out"))
    monkeypatch.setattr(
        ipywidgets.Output, "clear_output", lambda self, *a, **k: captured.append("clear_output")
    )
    store = open_store(history.data_dir)
    palette = branding.load().palette
    tabs = figures.top_hosts_tabs(store, palette)
    tabs.selected_index = 1
    parts = [
        cards.health_cards(store),
        tabs,
        figures.changes_per_day(store, 30, palette),
        drift_table.DriftPanel(store, viewer=lambda: ALICE).widget,
        tables.alerts_table(store),
    ]
    assert all(isinstance(p, ipywidgets.Widget) for p in parts)
    assert captured == []
