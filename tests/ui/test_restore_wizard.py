"""The restore wizard (pf9lib.ui.restore_wizard) walked in Python against the simulated cloud's process: a NEW
restore of a boot-from-volume VM with its data volume ends with the new server ACTIVE in the cloud; a REPLACE
is not planned without the typed confirmation; a viewer browses restore points only and a forged execute is
refused by the library and audited; a job already running for the VM is followed instead of a new plan;
RESTORE_ENABLED=false shows plans only; a failed restore shows what was rolled back and Retry completes it."""

from __future__ import annotations

import shutil
import time

import ipywidgets
import pytest

from pf9lib.actions import audit, load_plan, plans, restore
from pf9lib.errors import PermissionDenied
from pf9lib.ui.restore_wizard import RestoreWizard
from tests.actions.restore_world import (
    ENABLED,
    OPERATOR,
    VIEWER,
    bfv_with_snapshots,
    quick,
    server_named,
    settings_for,
    setup,
    tagged,
)
from tests.helpers.sim import start_sim

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One simulated cloud whose boot-from-volume VM has fresh snapshots of both its volumes, collected into
    a data directory that each test copies (so plans, jobs and audits stay the test's own)."""
    work = tmp_path_factory.mktemp("restore-wizard")
    sim = start_sim(work)
    try:
        settings = setup(sim, work / "data")
        prepared = bfv_with_snapshots(sim, settings)
        yield sim, work / "data", prepared
    finally:
        sim.process.stop()


@pytest.fixture
def cloud(world, tmp_path):
    sim, data, prepared = world
    copy = shutil.copytree(data, tmp_path / "data", symlinks=True)
    return sim, settings_for(sim, copy, **ENABLED), prepared


class Viewer:
    """Who the wizard sees at the page, changeable mid-test (as another person's forged click would be)."""

    def __init__(self, user: str) -> None:
        self.user = user

    def __call__(self) -> str:
        return self.user


def wizard_for(settings, user: str = OPERATOR.user) -> tuple[RestoreWizard, Viewer]:
    viewer = Viewer(user)
    wizard = RestoreWizard(
        settings.data_dir, settings, viewer=viewer, context=lambda: quick(settings), poll_s=0.05
    )
    return wizard, viewer


def walk_to_points(wizard: RestoreWizard, vm: dict) -> None:
    """Choose the VM's project and the VM, by the labels the page shows."""
    wizard.project.value = vm["tenant_id"]
    wizard.choose_project()
    assert wizard.stage == "vm"
    [vm_id] = [v for label, v in wizard.vm.options if label.startswith(f"{vm['name']} ·")]
    wizard.vm.value = vm_id
    wizard.choose_vm()


def test_the_wizard_restores_a_boot_from_volume_vm_with_its_data_volume_side_by_side(cloud, monkeypatch):
    # Every stage, the progress included, draws through widget state: capturing output into an Output
    # widget while Voilà executes can hang the page (see tests/ui/test_widgets.py).
    captured: list[str] = []
    monkeypatch.setattr(ipywidgets.Output, "__enter__", lambda self: captured.append("with out"))
    monkeypatch.setattr(ipywidgets.Output, "clear_output", lambda self, *a, **k: captured.append("clear"))
    sim, settings, prepared = cloud
    wizard, _ = wizard_for(settings)
    walk_to_points(wizard, prepared.vm)
    assert wizard.stage == "point"
    expected = restore.points(settings.data_dir, prepared.vm["id"])
    assert [v for _, v in wizard.point.options] == expected["point_id"].tolist()  # newest first
    assert wizard.point.value == prepared.point
    assert "covers every attached volume" in wizard.point.options[0][0]
    assert "misses acme-prod-web-01-data1" in wizard.point.options[1][0]
    wizard.choose_point()
    assert wizard.stage == "options"
    assert {k: b.value for k, b in wizard.volume_boxes.items()} == {prepared.data_volume: True}
    wizard.name.value = "web-back"
    wizard.next_from_options()
    assert wizard.stage == "review", wizard.status.value
    plan = load_plan(settings.data_dir, wizard.plan.plan_id)
    assert plan.actor == OPERATOR.user and plan.kind == "restore.new"
    for text in [s.text for s in plan.steps] + plan.inputs["warnings"]:
        assert text.replace("'", "&#x27;") in wizard.review_html.value
    assert wizard.execute_button.layout.display is None  # an operator, restores enabled

    wizard.execute()
    found = wizard.wait(120)
    assert found is not None and found["state"] == "SUCCEEDED", found and found["detail"]
    assert wizard.stage == "result" and "restore-outcome-succeeded" in wizard.result_html.value
    assert wizard.result_steps.value.count("restore-step-succeeded") == len(plan.steps)
    made = tagged(sim, plan.plan_id)
    [server] = made["servers"]
    assert server["name"] == "web-back"
    new = sim.connect().compute.get_server(server["id"])
    assert new.status == "ACTIVE" and new.flavor.original_name == prepared.vm["flavor"]["original_name"]
    data = next(v for v in made["volumes"] if v["metadata"]["pf9wb_role"] == "data")
    assert data["snapshot_id"] == prepared.data_snapshot
    assert [(a["server_id"], a["device"]) for a in data["attachments"]] == [(server["id"], "/dev/vdb")]
    assert sorted(audit(settings.data_dir, plan_id=plan.plan_id)["result"]) == ["planned", "succeeded"]
    assert captured == []


def test_a_replace_is_not_planned_without_the_typed_confirmation(cloud):
    sim, settings, prepared = cloud
    name = prepared.vm["name"]
    wizard, _ = wizard_for(settings)
    walk_to_points(wizard, prepared.vm)
    wizard.choose_point()
    wizard.mode.value = "REPLACE"
    wizard.next_from_options()
    assert wizard.stage == "confirm" and f"DELETE AND RESTORE {name}" in wizard.confirm_help.value
    wizard.confirm_text.value = f"delete and restore {name}"
    assert wizard.confirm_next.disabled
    wizard.review()  # a forged click on the disabled button: the library refuses, and audits it
    assert f"confirm by typing exactly `DELETE AND RESTORE {name}`" in wizard.status.value
    assert wizard.stage == "confirm" and wizard.plan is None and plans(settings.data_dir).empty
    assert audit(settings.data_dir, action="restore.replace.plan")["result"].tolist() == ["refused"]
    assert server_named(sim, name)["status"] == "ACTIVE"

    wizard.confirm_text.value = f"DELETE AND RESTORE {name}"
    assert not wizard.confirm_next.disabled
    wizard.review()
    assert wizard.stage == "review" and wizard.plan.kind == "restore.replace"
    assert f"delete VM {name}" in wizard.review_html.value


def test_a_viewer_browses_restore_points_and_a_forged_execute_is_refused_and_audited(cloud):
    sim, settings, prepared = cloud
    wizard, viewer = wizard_for(settings, VIEWER.user)
    walk_to_points(wizard, prepared.vm)
    assert wizard.stage == "point" and wizard.point.value == prepared.point  # browsing works
    assert wizard.point_next.layout.display == "none"
    assert "vic is viewer" in wizard.point_role.value and "operator role" in wizard.point_role.value

    # The page offers a viewer nothing more; a forged callback meets the library's checks.
    viewer.user = OPERATOR.user
    wizard.choose_point()
    wizard.next_from_options()
    planned = wizard.plan
    viewer.user = VIEWER.user
    wizard.execute()
    assert "vic is viewer, operator is needed" in wizard.status.value and wizard.stage == "review"
    with pytest.raises(PermissionDenied):
        restore.execute(settings, planned.plan_id, VIEWER)
    denied = audit(settings.data_dir, actor=VIEWER.user)
    assert denied["action"].tolist() == ["restore.new.apply"] * 2 and set(denied["result"]) == {"denied"}
    assert tagged(sim, planned.plan_id)["servers"] == []
    assert restore.job(settings.data_dir, planned.plan_id)["state"] == "PLANNED"
    # Nor does a viewer get a plan made.
    wizard.review()
    assert "vic is viewer, operator is needed" in wizard.status.value


def test_a_job_already_running_for_the_vm_is_shown_instead_of_a_new_plan(cloud):
    sim, settings, prepared = cloud
    plan = restore.plan_restore(settings, OPERATOR, prepared.vm["name"], prepared.point, name="web-slow")
    sim.faults({"method": "POST", "path": "/ports$", "status": None, "delay_s": 1.5})
    try:
        restore.execute(settings, plan.plan_id, OPERATOR, context=quick(settings), wait=False)
        deadline = time.monotonic() + 60
        while restore.job(settings.data_dir, plan.plan_id)["state"] != "RUNNING":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        wizard, _ = wizard_for(settings)
        walk_to_points(wizard, prepared.vm)
        assert wizard.stage == "progress" and wizard.job_id == plan.plan_id
        assert f"already running (job {plan.plan_id} by otto)" in wizard.status.value
        assert wizard.cancel_button.layout.display is None
        found = wizard.wait(120)
    finally:
        sim.clear_faults()
    assert found["state"] == "SUCCEEDED" and wizard.stage == "result"
    assert len(plans(settings.data_dir)) == 1  # no second plan was made
    [server] = tagged(sim, plan.plan_id)["servers"]
    assert server["name"] == "web-slow"


def test_restores_disabled_means_plans_only_and_the_page_says_so(cloud):
    sim, settings, prepared = cloud
    off = settings_for(sim, settings.data_dir, RESTORE_ENABLED="false")
    wizard, _ = wizard_for(off)
    assert "RESTORE_ENABLED is off" in wizard.notice.value
    walk_to_points(wizard, prepared.vm)
    wizard.choose_point()
    wizard.next_from_options()
    assert wizard.stage == "review" and wizard.execute_button.layout.display == "none"
    assert "restore runs plans only here (RESTORE_ENABLED is off)" in wizard.review_note.value
    wizard.execute()  # forged: the library refuses
    assert "RESTORE_ENABLED is off" in wizard.status.value
    assert tagged(sim, wizard.plan.plan_id)["servers"] == []


def test_a_failed_restore_shows_what_was_rolled_back_and_retry_completes_it(cloud):
    sim, settings, prepared = cloud
    wizard, _ = wizard_for(settings)
    walk_to_points(wizard, prepared.vm)
    wizard.choose_point()
    wizard.name.value = "web-retried"
    wizard.next_from_options()
    plan = wizard.plan
    sim.faults({"method": "POST", "path": "/servers$", "status": 503})
    try:
        wizard.execute()
        found = wizard.wait(120)
    finally:
        sim.clear_faults()
    assert found["state"] == "FAILED" and wizard.stage == "result"
    job = restore.job(settings.data_dir, plan.plan_id)
    undone = [s for s in job["steps"] if s["state"] == "rolled_back"]
    assert {s["action"] for s in undone} == {"restore.port"}  # the ports went; the volumes are kept
    assert "restore-outcome-failed" in wizard.result_html.value
    for step in undone:
        assert step["detail"] in wizard.result_html.value
    kept = wizard.result_html.value.split("; kept ", 1)[1]  # the job's detail lists the kept volumes
    assert all(v["name"] in kept for v in tagged(sim, plan.plan_id)["volumes"])
    assert len(tagged(sim, plan.plan_id)["volumes"]) == 2
    assert tagged(sim, plan.plan_id)["servers"] == [] and tagged(sim, plan.plan_id)["ports"] == []
    assert wizard.retry_button.layout.display is None

    wizard.retry_button.click()
    found = wizard.wait(120)
    assert found["state"] == "SUCCEEDED" and "restore-outcome-succeeded" in wizard.result_html.value
    [server] = tagged(sim, plan.plan_id)["servers"]
    assert sim.connect().compute.get_server(server["id"]).status == "ACTIVE"
    assert len(tagged(sim, plan.plan_id)["volumes"]) == 2  # the kept volumes were reused, not made again
