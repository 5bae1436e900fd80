"""Voilà serving the overview with culling on and a short cull limit (the demo culls after 300 s): a page
opened after the server idled past the limit renders and gets its viewer, and a page left open keeps its
kernel past the limit."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request

import pytest

from pf9lib.analytics.drift_events import acknowledgements
from pf9lib.demo import dashboard_url, start_voila, stop_process
from pf9lib.store.reader import open_store
from tests.helpers.roles import give_role

pytestmark = pytest.mark.integration

CULL_IDLE_S = 15  # longer than a loaded browser takes from the page's HTML to its kernel connection
CULL_INTERVAL_S = 1
USER = "carol@example.test"
RENDER_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def culling_server(history, tmp_path_factory):
    """(base URL, token, data dir) of a Voilà culling idle kernels after CULL_IDLE_S, on a copy of the history
    (this test acknowledges)."""
    root = tmp_path_factory.mktemp("voila-culling")
    data = shutil.copytree(history.data_dir, root / "data", symlinks=True)
    give_role(data, USER, "operator")  # acknowledging needs operator (the roles file decides, not the page)
    proc, url, token = start_voila(
        data,
        log_path=root / "voila.log",
        cull_idle=CULL_IDLE_S,
        cull_interval=CULL_INTERVAL_S,
        extra_env={"PF9WB_USER": ""},
    )
    yield url, token, data
    stop_process(proc.pid)


def _kernel_alive(url: str, token: str, kernel_id: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/kernels/{kernel_id}?token={token}", timeout=10) as resp:
            return json.load(resp)["id"] == kernel_id
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise


def _open_rendered(browser, url: str, token: str):
    context = browser.new_context(
        viewport={"width": 1400, "height": 1800}, extra_http_headers={"X-Forwarded-User": USER}
    )
    page = context.new_page()
    page.goto(dashboard_url(url, token), timeout=RENDER_TIMEOUT_MS)
    page.wait_for_selector(".pf9-card-value", timeout=RENDER_TIMEOUT_MS)
    page.wait_for_selector(".drift-row", timeout=RENDER_TIMEOUT_MS)
    kernel_id = page.evaluate(
        "JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
    )
    return context, page, kernel_id


def _event_id(row) -> str:
    return next(c for c in row.get_attribute("class").split() if c.startswith("drift-event-"))[12:]


def test_pages_render_after_idling_past_the_cull_limit_and_open_ones_keep_their_kernel(
    browser, culling_server
):
    url, token, data = culling_server
    context, _, first = _open_rendered(browser, url, token)
    context.close()
    # Culling is on: the closed page's kernel goes once idle past the limit. The pool's next kernel stays.
    deadline = time.monotonic() + CULL_IDLE_S + 60
    while _kernel_alive(url, token, first):
        assert time.monotonic() < deadline, f"kernel {first} of a closed page was never culled"
        time.sleep(CULL_INTERVAL_S)
    time.sleep(3 * CULL_INTERVAL_S)

    context, page, second = _open_rendered(browser, url, token)
    try:
        # The request's header reached the kernel that waited in the pool: the viewer may acknowledge.
        rows = page.locator(".drift-row")
        event_id, other = (_event_id(rows.nth(0)), _event_id(rows.nth(1)))
        rows.nth(0).locator("input[type=checkbox]").check()
        page.locator("button.drift-ack").click()
        page.wait_for_selector(f".drift-status:has-text('acknowledged by {USER}')", timeout=30_000)
        assert acknowledgements(open_store(data), event_id)["actor"].tolist() == [USER]

        # Open past the limit: its viewer is connected, so the kernel stays and the page still answers.
        time.sleep(CULL_IDLE_S + 3 * CULL_INTERVAL_S)
        assert _kernel_alive(url, token, second)
        page.locator(".drift-search input").fill(other)
        page.locator(".drift-search input").press("Enter")
        page.wait_for_selector(f".drift-event-{other}", timeout=30_000)
        page.wait_for_selector(".pf9-muted:has-text('1 of 1 events shown')", timeout=30_000)
    finally:
        context.close()
