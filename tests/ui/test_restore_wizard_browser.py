"""The restore wizard in Debian's Chromium through Voilà, end to end: Voilà serves dashboards/ on a data
directory collected from a running simulated cloud, with that cloud's clouds.yaml (as the CLI would find it);
the viewer (X-Forwarded-User, an operator) walks project → VM → point → options → review, executes, watches
the steps and the result, and the new server exists ACTIVE in the simulated cloud. A viewer without a role
sees the restore points and is offered no plan."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from pf9lib.actions import restore
from pf9lib.demo import dashboard_url, start_voila, stop_process
from tests.actions.restore_world import ENABLED, SERVICE, bfv_with_snapshots, setup
from tests.helpers.roles import give_role
from tests.helpers.sim import start_sim
from tests.helpers.workbench_history import VIEWER

pytestmark = pytest.mark.integration

RENDER_TIMEOUT_MS = 90_000  # as tests/ui/test_overview.py: Voilà runs the notebook first on a loaded machine
RESTORED = "web-from-the-browser"


@pytest.fixture(scope="module")
def wizard_server(tmp_path_factory) -> Iterator[tuple[str, str, object, object, object]]:
    """(base URL, token, sim, prepared VM, data dir): Voilà on a data dir collected from a fresh simulated
    cloud, its kernels pointed at that cloud through its clouds.yaml, restores enabled, the viewer an
    operator."""
    work = tmp_path_factory.mktemp("wizard-browser")
    sim = start_sim(work)
    proc = None
    try:
        settings = setup(sim, work / "data")
        prepared = bfv_with_snapshots(sim, settings)
        give_role(settings.data_dir, VIEWER, "operator")
        cloud_env = {k: v for k, v in sim.env().items() if k.startswith("OS_")}
        env = {**cloud_env, **SERVICE, **ENABLED, "PF9WB_USER": ""}
        proc, url, token = start_voila(settings.data_dir, log_path=work / "voila.log", extra_env=env)
        yield url, token, sim, prepared, settings.data_dir
    finally:
        if proc is not None:
            stop_process(proc.pid)
        sim.process.stop()


def test_the_wizard_restores_a_vm_in_the_browser(browser, wizard_server, tmp_path):
    url, token, sim, prepared, data_dir = wizard_server
    vm = prepared.vm
    project = restore.find_vm(data_dir, vm["id"])["project_name"]
    context = browser.new_context(
        viewport={"width": 1400, "height": 1800}, extra_http_headers={"X-Forwarded-User": VIEWER}
    )
    page = context.new_page()
    try:
        started = time.perf_counter()
        page.goto(dashboard_url(url, token, "restore_wizard.ipynb"), timeout=RENDER_TIMEOUT_MS)
        page.wait_for_selector(".restore-project select", timeout=RENDER_TIMEOUT_MS)
        print(f"wizard interactive {time.perf_counter() - started:.2f} s after navigation")
        label = page.locator(".restore-project option", has_text=f"{project} (")
        page.select_option(".restore-project select", label=label.first.inner_text().strip())
        page.click(".restore-next-project")
        vm_option = page.locator(".restore-vm option", has_text=f"{vm['name']}\xa0·")
        vm_option.wait_for(timeout=30_000)
        page.select_option(".restore-vm select", label=vm_option.inner_text().strip())
        page.click(".restore-next-vm")
        page.wait_for_selector(".restore-point select", timeout=30_000)
        first = page.locator(".restore-point option").first.inner_text().replace("\xa0", " ")
        assert "covers every attached volume" in first  # the newest point, preselected
        page.click(".restore-next-point")
        page.wait_for_selector(".restore-name input", timeout=30_000)
        assert page.locator(".restore-volume input[type=checkbox]").is_checked()
        page.fill(".restore-name input", RESTORED)
        page.click(".restore-next-options")
        page.wait_for_selector(".restore-plan-steps li", timeout=60_000)
        [job] = restore.jobs(data_dir)["job_id"].tolist()
        planned = restore.job(data_dir, job)
        assert page.locator(".restore-plan-steps li").count() == len(planned["steps"])
        page.click(".restore-execute")
        # The result stage is shown by the poller thread's updates, handed to the kernel's event loop.
        page.wait_for_selector(".restore-outcome-succeeded", timeout=180_000)
        assert page.locator(".restore-step-succeeded").count() == len(planned["steps"])
        page.screenshot(path=str(tmp_path / "restore-wizard.png"), full_page=True)
    finally:
        context.close()
    assert restore.job(data_dir, job)["state"] == "SUCCEEDED"
    conn = sim.connect()
    servers = conn.compute.get("/servers/detail?all_tenants=1", microversion="2.96").json()["servers"]
    [server] = [s for s in servers if s["name"] == RESTORED]
    assert server["status"] == "ACTIVE" and server["metadata"]["pf9wb_plan"] == job
    assert server["metadata"]["pf9wb_restored_from"] == vm["id"]
    attached = conn.compute.get(f"/servers/{server['id']}/os-volume_attachments").json()["volumeAttachments"]
    assert sorted(a["device"] for a in attached) == ["/dev/vda", "/dev/vdb"]


def test_a_viewer_browses_restore_points_in_the_browser_but_is_offered_no_plan(browser, wizard_server):
    url, token, _, prepared, data_dir = wizard_server
    vm = prepared.vm
    project = restore.find_vm(data_dir, vm["id"])["project_name"]
    nobody = "bob@example.test"  # no role granted: a viewer
    context = browser.new_context(extra_http_headers={"X-Forwarded-User": nobody})
    page = context.new_page()
    try:
        page.goto(dashboard_url(url, token, "restore_wizard.ipynb"), timeout=RENDER_TIMEOUT_MS)
        page.wait_for_selector(".restore-project select", timeout=RENDER_TIMEOUT_MS)
        label = page.locator(".restore-project option", has_text=f"{project} (")
        page.select_option(".restore-project select", label=label.first.inner_text().strip())
        page.click(".restore-next-project")
        vm_option = page.locator(".restore-vm option", has_text=f"{vm['name']}\xa0·")
        vm_option.wait_for(timeout=30_000)
        page.select_option(".restore-vm select", label=vm_option.inner_text().strip())
        page.click(".restore-next-vm")
        page.wait_for_selector(".restore-viewer-note", timeout=30_000)
        assert f"{nobody} is viewer" in page.locator(".restore-viewer-note").inner_text()
        points = restore.points(data_dir, vm["id"])
        assert page.locator(".restore-point option").count() == len(points)
        assert not page.locator(".restore-next-point").is_visible()
        assert (
            page.locator(".restore-execute").count() == 0 or not page.locator(".restore-execute").is_visible()
        )
    finally:
        context.close()
