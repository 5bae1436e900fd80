"""The managers' dashboards (home, tenant health, capacity, monitoring, history) in Debian's Chromium, served
by Voilà on the shared small history: each renders, shows a headline number equal to the library's, and
follows a change of its cloud and region filters."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from pf9lib.analytics import capacity, landing, monitoring_alerts, tenants
from pf9lib.analytics import history as changes
from pf9lib.demo import dashboard_url
from pf9lib.store.reader import open_store
from tests.helpers.workbench_history import VIEWER

pytestmark = pytest.mark.integration

RENDER_TIMEOUT_MS = 90_000  # as tests/ui/test_overview.py: Voilà runs the notebook first on a busy machine
UPDATE_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Case:
    notebook: str
    rendered: tuple[str, ...]  # selectors present once the page has rendered
    headline: str  # the selector of the number checked
    expected: Callable  # (store, scope) -> the text the headline must show


def _vms(store, scope) -> str:
    summary = landing.health_summary(store, **scope)
    return f"{int(summary.loc[summary['key'] == 'vms', 'value'].sum()):,}"


CASES = [
    Case(
        "home.ipynb",
        (".pf9-home-tiles .pf9-tile-overview",),
        ".pf9-tile-tenant_health .pf9-card-value",
        lambda s, scope: f"{int((tenants.tenant_health(s, **scope)['status'] != 'healthy').sum()):,}",
    ),
    Case(
        "tenant_health.ipynb",
        (".pf9-heatmap .main-svg", ".pf9-breakdown table", ".pf9-trends .main-svg"),
        ".pf9-card-mean_health .pf9-card-value",
        lambda s, scope: f"{tenants.tenant_health(s, **scope)['health'].mean():.1f}",
    ),
    Case(
        "capacity.ipynb",
        (".pf9-allocation .main-svg", ".pf9-waste"),
        ".pf9-card-waste .pf9-card-value",
        lambda s, scope: f"{len(capacity.waste_candidates(s, **scope)):,}",
    ),
    Case(
        "monitoring.ipynb",
        (".pf9-series .main-svg", ".pf9-alerts"),
        ".pf9-card-alerts_firing .pf9-card-value",
        lambda s, scope: f"{len(monitoring_alerts.alerts(s, open_only=True)):,}",
    ),
    Case(
        "history.ipynb",
        (".js-plotly-plot .main-svg", ".pf9-most-changed"),
        ".pf9-card-changes_24h .pf9-card-value",
        lambda s, scope: f"{len(changes.recent_changes(s, 24)):,}",
    ),
]


def _open(browser, voila_server, notebook: str, rendered: tuple[str, ...]):
    url, token = voila_server
    context = browser.new_context(
        viewport={"width": 1400, "height": 1800}, extra_http_headers={"X-Forwarded-User": VIEWER}
    )
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    started = time.perf_counter()
    page.goto(dashboard_url(url, token, notebook), timeout=RENDER_TIMEOUT_MS)
    page.wait_for_selector(".pf9-card-value", timeout=RENDER_TIMEOUT_MS)
    for selector in rendered:
        page.wait_for_selector(selector, timeout=RENDER_TIMEOUT_MS)
    print(f"{notebook} rendered in the browser {time.perf_counter() - started:.2f} s after navigation")
    return context, page, dialogs


@pytest.mark.parametrize("case", CASES, ids=[c.notebook.removesuffix(".ipynb") for c in CASES])
def test_dashboard_shows_the_library_number_and_follows_its_filters(browser, voila_server, history, case):
    store = open_store(history.data_dir)
    cloud = store.sql("SELECT cloud FROM runs ORDER BY started_at DESC LIMIT 1")["cloud"][0]
    region = landing.health_summary(store, cloud=cloud)["region"].iloc[0]
    context, page, dialogs = _open(browser, voila_server, case.notebook, case.rendered)
    try:
        scope = {"cloud": None, "region": None}
        assert page.locator(case.headline).first.inner_text().strip() == case.expected(store, scope)
        assert "all clouds · all regions" in page.locator(".pf9-scope-label").inner_text()
        page.locator(".pf9-filter-cloud select").select_option(label=cloud)
        page.wait_for_selector(
            f".pf9-scope-label:has-text('{cloud} · all regions')", timeout=UPDATE_TIMEOUT_MS
        )
        page.locator(".pf9-filter-region select").select_option(label=region)
        page.wait_for_selector(f".pf9-scope-label:has-text('{cloud} · {region}')", timeout=UPDATE_TIMEOUT_MS)
        scope = {"cloud": cloud, "region": region}
        expect(page.locator(case.headline).first).to_have_text(
            case.expected(store, scope), timeout=UPDATE_TIMEOUT_MS
        )
        assert dialogs == []
    finally:
        context.close()


def test_home_links_open_the_dashboards(browser, voila_server, history):
    context, page, _ = _open(browser, voila_server, "home.ipynb", (".pf9-home-tiles .pf9-tile-overview",))
    try:
        link = page.locator(".pf9-tile-capacity .pf9-tile-title a")
        assert link.get_attribute("href") == "./capacity.ipynb"
        link.click()
        page.wait_for_selector(".pf9-capacity .pf9-card-waste .pf9-card-value", timeout=RENDER_TIMEOUT_MS)
        assert page.url.split("?")[0].endswith("/voila/render/capacity.ipynb")
    finally:
        context.close()


def test_tenant_drill_down_follows_the_dropdown(browser, voila_server, history):
    store = open_store(history.data_dir)
    health = tenants.tenant_health(store)
    context, page, _ = _open(browser, voila_server, "tenant_health.ipynb", (".pf9-breakdown table",))
    try:
        last = health.iloc[-1]
        label = f"{last['project_name']} ({last['cloud']} / {last['region']}) – {last['health']:.0f}"
        page.locator(".pf9-tenant-choice select").select_option(label=label)
        text = f"Health {last['health']:.1f} = 100 − {last['points_lost']:.1f} points lost"
        page.wait_for_selector(f".pf9-health-sum:has-text('{text}')", timeout=UPDATE_TIMEOUT_MS)
    finally:
        context.close()
