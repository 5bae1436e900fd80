"""The snapshot SLA dashboard and the overview's SLA card in Debian's Chromium, served by Voilà on the shared
small history: the headline numbers are the library's, and a filter change redraws the page."""

from __future__ import annotations

import time

import pytest

from pf9lib.analytics import drift, sla
from pf9lib.demo import dashboard_url
from pf9lib.store.reader import open_store
from pf9lib.ui import snapshots
from tests.helpers.workbench_history import VIEWER

pytestmark = pytest.mark.integration

RENDER_TIMEOUT_MS = 90_000  # as tests/ui/test_overview.py: Voilà runs the notebook first on a busy machine


def _open(browser, voila_server, name: str, ready: str):
    url, token = voila_server
    context = browser.new_context(
        viewport={"width": 1400, "height": 1800}, extra_http_headers={"X-Forwarded-User": VIEWER}
    )
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    started = time.perf_counter()
    page.goto(dashboard_url(url, token, name), timeout=RENDER_TIMEOUT_MS)
    page.wait_for_selector(ready, timeout=RENDER_TIMEOUT_MS)
    print(f"{name} rendered in the browser {time.perf_counter() - started:.2f} s after navigation")
    return context, page, dialogs


def _compliance_pct(store, **scope) -> str:
    status = sla.status(store, **scope)
    return f"{(status['status'] == 'compliant').mean() * 100:.1f}"


def test_snapshot_page_shows_the_library_numbers_and_follows_its_filter(
    browser, voila_server, history, tmp_path
):
    context, page, dialogs = _open(browser, voila_server, "snapshots.ipynb", ".snap-cards .pf9-card-value")
    try:
        store = open_store(history.data_dir)
        assert len(sla.status(store)) > 0  # the shared history enrols volumes: a real number, not "no data"
        value = page.locator(".snap-cards .pf9-card-sla_pct .pf9-card-value").inner_text().strip()
        assert value == _compliance_pct(store)
        worst = sla.compliance(store, "tenant").iloc[0]
        first_row = page.locator(".snap-by-tenant tbody tr").first
        assert first_row.locator(".pf9-col-project_name").inner_text() == worst["project_name"]
        assert first_row.locator(".pf9-col-compliance_pct").inner_text() == f"{worst['compliance_pct']:.1f}"
        page.wait_for_selector(".snap-trend .js-plotly-plot", timeout=30_000)
        runs = snapshots.run_results(snapshots.run_steps(store))
        assert page.locator(".snap-runs .pf9-col-plan_id").all_inner_texts() == runs["plan_id"].tolist()

        # A filter change redraws the page from the library: pick the cloud, then its one region.
        (cloud, region) = sla.coverage(store)[["cloud", "region"]].drop_duplicates().iloc[0]
        page.locator(".scope-cloud select").select_option(cloud)
        page.locator(".scope-region select").select_option(region)
        page.wait_for_selector(f".snap-read-at:has-text('{cloud} / {region},')", timeout=30_000)
        regions = page.locator(".snap-by-tenant .pf9-col-region").all_inner_texts()
        assert regions and set(regions) == {region}
        value = page.locator(".snap-cards .pf9-card-sla_pct .pf9-card-value").inner_text().strip()
        assert value == _compliance_pct(store, cloud=cloud, region=region)
        assert page.locator("button.snap-refresh").is_visible()  # its effect: test_snapshots_widgets.py
        assert dialogs == []
        page.screenshot(path=str(tmp_path / "snapshots.png"), full_page=True)
    finally:
        context.close()


def test_overview_sla_card_is_the_librarys(browser, voila_server, history):
    context, page, _ = _open(browser, voila_server, "overview.ipynb", ".pf9-card-sla .pf9-card-value")
    try:
        store = open_store(history.data_dir)
        shown = page.locator(".pf9-card-sla .pf9-card-value").inner_text().strip()
        assert shown == _compliance_pct(store)
        # The drift panel leads with the open incidents, as many as the library counts.
        line = page.locator(".drift-incidents .drift-incidents-line").inner_text()
        assert line.startswith(f"Open incidents: {drift.incidents(store, limit=None).attrs['total']} (")
    finally:
        context.close()
