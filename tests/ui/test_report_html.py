"""The scheduled inventory report's HTML in Chromium with the network off: plotly draws, no code shows."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_inventory_html_works_offline(browser, job_runs, tmp_path):
    rec = job_runs["inventory_report"]
    context = browser.new_context(offline=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto((rec.output_dir / "inventory_report.html").as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
        assert page.locator(".js-plotly-plot").count() == 2
        # --no-input: code cells show their outputs only
        assert page.locator(".jp-CodeCell .jp-InputArea").count() == 0
        assert page.get_by_text("import pf9lib").count() == 0
        assert page.get_by_text("Running VMs").count() == 1
        assert errors == []
        page.screenshot(path=str(tmp_path / "inventory_report.png"), full_page=True)
    finally:
        context.close()
