"""The admin dashboard in Debian's Chromium, served by Voilà as the demo serves it, acting on a running
simulated cloud: an admin creates a flavor through the page and it exists in the cloud; a viewer sees no
form."""

from __future__ import annotations

import shutil
import time

import pytest

from pf9lib import identity
from pf9lib.actions import audit
from pf9lib.demo import dashboard_url, start_voila, stop_process
from tests.helpers.roles import give_role
from tests.helpers.workbench_history import VIEWER

pytestmark = pytest.mark.integration

ADMIN = "root-admin@example.test"
RENDER_TIMEOUT_MS = 90_000  # Voilà runs the notebook first; a busy 2-core machine needs slack
ACTION_TIMEOUT_MS = 60_000  # a plan or an apply: a few API calls to the simulated cloud from the kernel


@pytest.fixture
def admin_voila(history, fresh_sim, tmp_path):
    """Voilà on a copy of the shared history whose kernels reach `fresh_sim` the way `pf9wb admin` does
    (OS_CLOUD in a clouds.yaml); ADMIN is an admin there, VIEWER has no role."""
    data_dir = shutil.copytree(history.data_dir, tmp_path / "data", symlinks=True)
    give_role(data_dir, ADMIN, "admin")
    env = {
        "PF9WB_USER": "",
        "OS_CLIENT_CONFIG_FILE": str(fresh_sim.clouds_yaml),
        "OS_CLOUD": fresh_sim.cloud_name,
    }
    proc, url, token = start_voila(data_dir, log_path=tmp_path / "voila.log", extra_env=env)
    try:
        yield url, token, data_dir, fresh_sim
    finally:
        stop_process(proc.pid)


def _open(browser, url: str, token: str, user: str, selector: str):
    context = browser.new_context(
        viewport={"width": 1400, "height": 1800}, extra_http_headers={"X-Forwarded-User": user}
    )
    page = context.new_page()
    started = time.perf_counter()
    page.goto(dashboard_url(url, token, "admin.ipynb"), timeout=RENDER_TIMEOUT_MS)
    page.wait_for_selector(selector, timeout=RENDER_TIMEOUT_MS)
    print(f"admin page for {user} rendered {time.perf_counter() - started:.2f} s after navigation")
    return context, page


def _flavors_named(sim, name: str) -> list[dict]:
    body = sim.connect().compute.get("/flavors/detail?is_public=None", microversion="2.55").json()["flavors"]
    return [f for f in body if f["name"] == name]


def test_an_admin_creates_a_flavor_in_the_browser_and_a_viewer_sees_no_form(browser, admin_voila, tmp_path):
    url, token, data_dir, sim = admin_voila
    context, page = _open(browser, url, token, ADMIN, ".admin-forms")
    try:
        page.locator(".admin-field-name input").fill("m1.browser")
        page.locator(".admin-field-vcpus input").fill("2")
        page.locator(".admin-field-ram_mb input").fill("1024")
        page.locator(".admin-field-disk_gb input").fill("10")
        before = sim.summary()["counts"]
        page.locator("button.admin-plan").click()
        page.wait_for_selector(".admin-plan-id", timeout=ACTION_TIMEOUT_MS)
        plan_id = page.locator(".admin-plan-id").inner_text().strip()
        assert (
            "create flavor m1.browser (2 vCPU, 1024 MB RAM, 10 GB disk"
            in page.locator(".admin-steps").inner_text()
        )
        assert sim.summary()["counts"] == before and _flavors_named(sim, "m1.browser") == []
        started = time.perf_counter()
        page.locator("button.admin-apply").click()
        page.wait_for_selector(
            f".admin-status:has-text('plan {plan_id}: succeeded')", timeout=ACTION_TIMEOUT_MS
        )
        print(f"apply answered in the browser {time.perf_counter() - started:.2f} s after the click")
        assert sim.summary()["counts"] == {**before, "flavors": before["flavors"] + 1}
        assert [(f["vcpus"], f["ram"], f["disk"]) for f in _flavors_named(sim, "m1.browser")] == [
            (2, 1024, 10)
        ]
        trail = audit(data_dir, plan_id=plan_id)
        assert sorted(zip(trail["result"], trail["actor"], strict=True)) == [
            ("planned", ADMIN),
            ("succeeded", ADMIN),
        ]
        page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
    finally:
        context.close()

    context, page = _open(browser, url, token, VIEWER, ".admin-notice")
    try:
        role = identity.role_of(data_dir, VIEWER)  # viewer, or operator when the session's Voilà made it one
        assert role != "admin" and f"{VIEWER} is {role}" in page.locator(".admin-notice").inner_text()
        assert (
            page.locator(".admin-forms").count() == 0 and page.locator(".admin-forms-box button").count() == 0
        )
        assert page.locator(".admin-forms-box input").count() == 0
        assert plan_id in page.locator(".admin-audit").inner_text()  # the audit is for everyone to read
    finally:
        context.close()
