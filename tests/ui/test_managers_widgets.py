"""The managers' pages built in Python (home, tenant health, capacity, monitoring, history): what they show
equals the library's numbers for the chosen cloud and region, two clouds in one store stay apart, a refresh
reads runs collected after the page was made, and a page without data says so."""

from __future__ import annotations

import html
import re
import shutil
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import ipywidgets as w
import pandas as pd
import pytest

from pf9lib.analytics import capacity, forecast, landing, monitoring, monitoring_alerts, tenants
from pf9lib.analytics import history as changes
from pf9lib.store.reader import open_store
from pf9lib.ui import capacity as ui_capacity
from pf9lib.ui import history as ui_history
from pf9lib.ui import home
from pf9lib.ui import monitoring as ui_monitoring
from pf9lib.ui import tenant_health as ui_tenant_health
from tests.helpers.two_clouds import two_cloud_store

pytestmark = pytest.mark.integration
DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"


def find(widget: w.Widget, cls: str) -> list[w.Widget]:
    """Every widget under `widget` (itself included) carrying the class `cls`, in page order."""
    found, todo = [], [widget]
    while todo:
        current = todo.pop(0)
        if cls in getattr(current, "_dom_classes", ()):
            found.append(current)
        todo = list(getattr(current, "children", ()) or ()) + todo
    return found


def card(widget: w.Widget, key: str) -> str:
    """The shown value of card `pf9-card-<key>` (or home tile `pf9-tile-<key>`) anywhere in the page."""
    text = "".join(getattr(x, "value", "") for x in _html_widgets(widget))
    got = re.search(
        rf'pf9-(?:card|tile)-{re.escape(key)}[ "].*?<div class="pf9-card-value">(.*?)</div>', text
    )
    assert got, f"no card {key}"
    return html.unescape(got.group(1))


def part(widget: w.Widget, cls: str) -> str:
    """The HTML of the part with the class `cls`: its own widget's, or (where the page joined neighbouring
    HTML parts into one widget, see pf9lib.ui.scope.merge_html) its div's, up to the next section heading."""
    own = [x for x in find(widget, cls) if isinstance(x, w.HTML)]
    if own:
        return own[0].value
    for html_widget in _html_widgets(widget):
        start = html_widget.value.find(f'<div class="{cls}">')
        if start >= 0:
            rest = html_widget.value[start:]
            end = rest.find('<div class="pf9-section">')
            return rest if end < 0 else rest[:end]
    raise AssertionError(f"no part {cls}")


def _html_widgets(widget: w.Widget) -> list[w.Widget]:
    out, todo = [], [widget]
    while todo:
        current = todo.pop(0)
        if isinstance(current, w.HTML):
            out.append(current)
        todo = list(getattr(current, "children", ()) or ()) + todo
    return out


def plotly(output: w.Output) -> dict:
    return output.outputs[0]["data"]["application/vnd.plotly.v1+json"]


# ------------------------------------------------------------------------------------ the shared history


def test_home_tiles_are_the_library_numbers(history):
    page = home.home_page(history.data_dir, dashboards_dir=DASHBOARDS)
    store = open_store(history.data_dir)
    summary = landing.health_summary(store)
    vms = int(summary.loc[summary["key"] == "vms", "value"].sum())
    health = tenants.tenant_health(store)
    expected = {
        "overview": f"{vms:,}",
        "tenant_health": f"{int((health['status'] != 'healthy').sum()):,}",
        "capacity": f"{len(capacity.waste_candidates(store)):,}",
        "monitoring": f"{len(monitoring_alerts.alerts(store, open_only=True)):,}",
        "history": f"{len(changes.recent_changes(store, 24)):,}",
    }
    assert {key: card(page.widget, key) for key in expected} == expected
    text = part(page.widget, "pf9-home-tiles")
    # Every dashboard is linked; one not in dashboards/ yet (another branch builds it) says so.
    each = text.split('<div class="pf9-card pf9-tile ')[1:]
    tiles = {t.split(" ")[0].removeprefix("pf9-tile-"): t for t in each}
    for dashboard in home.DASHBOARDS:
        assert f'href="./{dashboard.notebook}"' in text, dashboard.notebook
        tile = tiles[dashboard.notebook.removesuffix(".ipynb")]
        assert ("not in this installation yet" in tile) != (DASHBOARDS / dashboard.notebook).exists()


def test_a_page_without_data_says_so_and_refresh_reads_the_store_again(history, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    page = home.home_page(data_dir, dashboards_dir=DASHBOARDS)
    assert card(page.widget, "overview") == home.NO_DATA
    assert "no collection yet" in page.header.value
    shutil.copytree(history.data_dir / "store", data_dir / "store")  # runs arrive while the page is open
    page.refresh_button.click()
    store = open_store(data_dir)
    summary = landing.health_summary(store)
    assert card(page.widget, "overview") == f"{int(summary.loc[summary['key'] == 'vms', 'value'].sum()):,}"
    assert f"{store.now:%Y-%m-%d %H:%M} UTC" in page.header.value
    assert [o[1] for o in page.filters.cloud.options] == ["", *sorted(set(summary["cloud"]))]


def test_tenant_health_drill_down_explains_every_point(history):
    page = ui_tenant_health.tenant_health_page(history.data_dir)
    store = open_store(history.data_dir)
    health = tenants.tenant_health(store)
    assert card(page.widget, "tenants") == f"{len(health):,}"
    assert card(page.widget, "critical") == f"{int((health['status'] == 'critical').sum()):,}"
    assert card(page.widget, "mean_health") == f"{health['health'].mean():.1f}"
    choice = find(page.widget, "pf9-tenant-choice")[0]
    worst = health.iloc[0]
    assert choice.value.split("\t") == [worst["cloud"], worst["region"], worst["project_id"]]
    for value in [o[1] for o in choice.options]:
        choice.value = value
        cloud, region, project_id = value.split("\t")
        row = health[(health["project_id"] == project_id) & (health["region"] == region)]
        breakdown = part(page.widget, "pf9-breakdown")
        lost = [float(x) for x in re.findall(r'pf9-col-points_lost pf9-num">([\d.]+)<', breakdown)]
        # The parts shown add up to what the health lost (rounded to 1 decimal each).
        assert sum(lost) == pytest.approx(100.0 - float(row["health"].iloc[0]), abs=0.05 * len(lost))
        quota = tenants.quota_usage(store, cloud=cloud, region=region, project=project_id)
        limited = int((quota["limit"].fillna(-1) > 0).sum())
        shown = part(page.widget, "pf9-quota").count("<tr>") - 1
        assert shown == (limited if limited else -1)  # no table: the sentence instead
    # The heatmap holds one row per tenant and the risk of landing.risk_heatmap.
    heat = plotly(find(page.widget, "pf9-heatmap")[0])["data"][0]
    risk = tenants.tenant_risk(store)
    assert len(heat["y"]) == len(health)
    first = heat["y"].index(html.escape(f"{risk['cloud'][0]}/{risk['region'][0]}/{risk['project_name'][0]}"))
    assert heat["z"][first][0] == round(float(risk["risk"][0]), 1)


def test_capacity_cards_and_forecast_band_are_the_library_s(history):
    page = ui_capacity.capacity_page(history.data_dir)
    store = open_store(history.data_dir)
    hv = capacity.hypervisor_allocation(store)
    ratio = hv["vcpus_allocated"].sum() / hv["vcpus_capacity"].sum()
    assert card(page.widget, "vcpus_ratio") == f"{ratio:.2f}"
    assert card(page.widget, "hypervisors") == f"{len(hv):,}"
    assert card(page.widget, "waste") == f"{len(capacity.waste_candidates(store)):,}"
    waste = part(page.widget, "pf9-waste")
    for reason in capacity.waste_candidates(store)["reason"]:
        assert html.escape(reason) in waste
    fc = capacity.capacity_forecast(store, ui_capacity.HISTORY_DAYS, ui_capacity.HORIZON_DAYS)
    chart = find(page.widget, "pf9-forecast-chart")
    moving = fc[fc["note"] == "forecast"]
    if moving.empty:
        pytest.skip("no capacity series moved in the shared history")
    choice = find(page.widget, "pf9-forecast-choice")[0]
    choice.value = int(moving.index[0])
    chart = find(page.widget, "pf9-forecast-chart")[0]
    traces = {t["name"]: t for t in plotly(chart)["data"]}
    row = moving.iloc[0]
    # The band drawn is the one the library's forecast decided with: the same end values.
    assert traces["forecast"]["y"][-1] == pytest.approx(row["mean"], abs=0.01)
    assert traces["95 % band"]["y"][-1] == pytest.approx(row["lower"], abs=0.01)
    assert traces["upper (95 %)"]["y"][-1] == pytest.approx(row["upper"], abs=0.01)
    assert traces["threshold"]["y"][0] == row["threshold"]
    assert forecast.method_of(forecast.linear_trend) in plotly(chart)["layout"]["title"]["text"]


def test_monitoring_series_and_cards_are_the_library_s(history):
    page = ui_monitoring.monitoring_page(history.data_dir)
    store = open_store(history.data_dir)
    hosts = monitoring.top_hosts(store, limit=1000)
    assert card(page.widget, "hosts") == f"{len(hosts):,}"
    assert card(page.widget, "alerts_firing") == f"{len(monitoring_alerts.alerts(store, open_only=True)):,}"
    choice = find(page.widget, "pf9-hosts-choice")[0]
    assert sorted(o[1] for o in choice.options) == sorted(hosts["host"])
    chart = plotly(find(page.widget, "pf9-series")[0])
    since = store.now - timedelta(days=ui_monitoring.SERIES_DAYS)
    series = monitoring.series(store, "hosts", choice.value, since=since, resolution="hourly")
    cpu = next(t for t in chart["data"] if t["name"] == "CPU %")
    assert cpu["y"] == [None if pd.isna(v) else round(float(v), 2) for v in series["cpu_pct_avg"]]


def test_history_compares_two_dates_through_as_of(history):
    page = ui_history.history_page(history.data_dir)
    store = open_store(history.data_dir)
    assert card(page.widget, "changes_24h") == f"{len(changes.recent_changes(store, 24)):,}"
    find(page.widget, "pf9-compare-button")[0].click()
    before = find(page.widget, "pf9-date-before")[0].value
    shown = part(page.widget, "pf9-compare")
    at = min(datetime.combine(before, time.max, UTC), store.now)
    servers = store.as_of(at).sql("SELECT count(*) AS n FROM servers")["n"][0]
    now_servers = store.sql("SELECT count(*) AS n FROM servers")["n"][0]
    row = re.search(r'pf9-col-type">servers</td><td[^>]*>(\d+)</td><td[^>]*>(\d+)</td>', shown)
    assert row and (int(row.group(1)), int(row.group(2))) == (servers, now_servers)
    # One resource's history: its states and the newest change's fields.
    choice = find(page.widget, "pf9-resource-choice")[0]
    kind, obj_id = choice.value.split("\t")
    diff = changes.compare_states(store, kind, obj_id)
    changed = diff[diff["changed"] & ~diff["volatile"]]
    shown = part(page.widget, "pf9-diff")
    for field in changed["field"]:
        assert f'pf9-col-field">{html.escape(field)}<' in shown


# ------------------------------------------------------------------------------- two clouds in one store


@pytest.fixture(scope="module")
def two_clouds(tmp_path_factory):
    yield from two_cloud_store(tmp_path_factory)


def _pick(page, cloud: str | None = None, region: str | None = None) -> None:
    page.filters.cloud.value = cloud or ""
    page.filters.region.value = region or ""


def test_filters_keep_two_clouds_apart_on_every_page(two_clouds):
    store = open_store(two_clouds)
    health_page = ui_tenant_health.tenant_health_page(two_clouds)
    home_page = home.home_page(two_clouds, dashboards_dir=DASHBOARDS)
    capacity_page = ui_capacity.capacity_page(two_clouds)
    shown = {}
    for cloud in (None, "east", "west"):
        scope = {"cloud": cloud, "region": None}
        for page in (health_page, home_page, capacity_page):
            _pick(page, cloud)
            assert page.scope() == scope
        health = tenants.tenant_health(store, **scope)
        assert card(health_page.widget, "tenants") == f"{len(health):,}"
        assert card(health_page.widget, "mean_health") == f"{health['health'].mean():.1f}"
        assert set(o[1].split("\t")[0] for o in find(health_page.widget, "pf9-tenant-choice")[0].options) == (
            {cloud} if cloud else {"east", "west"}
        )
        summary = landing.health_summary(store, **scope)
        vms = int(summary.loc[summary["key"] == "vms", "value"].sum())
        assert card(home_page.widget, "overview") == f"{vms:,}"
        hv = capacity.hypervisor_allocation(store, **scope)
        assert card(capacity_page.widget, "hypervisors") == f"{len(hv):,}"
        shown[cloud] = card(health_page.widget, "mean_health")
    # West saw the ERROR server, east did not: the filter changes the number, and both together hold both.
    assert shown["east"] != shown["west"]
    both = tenants.tenant_health(store)
    assert len(both) == len(tenants.tenant_health(store, cloud="east")) + len(
        tenants.tenant_health(store, cloud="west")
    )


def test_region_choices_follow_the_cloud_and_a_region_filters(two_clouds):
    store = open_store(two_clouds)
    page = ui_monitoring.monitoring_page(two_clouds)
    _pick(page, "west")
    regions = [o[1] for o in page.filters.region.options]
    assert regions == ["", *sorted(landing.health_summary(store, cloud="west")["region"].unique())]
    _pick(page, "west", regions[1])
    assert "west · " + regions[1] in page.scope_label.value
    hosts = landing.top_hosts(store, limit=1000, cloud="west", region=regions[1])
    assert card(page.widget, "hosts") == f"{len(hosts):,}"
    _pick(page, "west", "")
    page.filters.region.value = regions[1]
    page.filters.cloud.value = "east"  # the region stays chosen while the new cloud has it
    assert page.scope() == {"cloud": "east", "region": regions[1]}


def test_building_and_using_the_pages_never_captures_output(history, monkeypatch):
    """As the overview (tests/ui/test_widgets.py): capturing output into an Output widget while Voilà runs a
    dashboard can hang its render, so every page, and every drop-down and refresh on it, draws through
    widget state."""
    captured: list[str] = []
    monkeypatch.setattr(w.Output, "__enter__", lambda self: captured.append("with out"))
    monkeypatch.setattr(w.Output, "clear_output", lambda self, *a, **k: captured.append("clear_output"))
    pages = [
        home.home_page(history.data_dir, dashboards_dir=DASHBOARDS),
        ui_tenant_health.tenant_health_page(history.data_dir),
        ui_capacity.capacity_page(history.data_dir),
        ui_monitoring.monitoring_page(history.data_dir),
        ui_history.history_page(history.data_dir),
    ]
    for page in pages:
        for cls in ("pf9-tenant-choice", "pf9-forecast-choice", "pf9-vms-choice", "pf9-resource-choice"):
            for choice in find(page.widget, cls):
                if len(choice.options) > 1:
                    choice.value = choice.options[-1][1]
        page.refresh_button.click()
    assert captured == []
