"""Restore jobs under stress, against the simulated cloud's process: a fault at each step leaves no orphan
server, port or attachment and the job FAILED with its reason, and a retry completes without making anything
twice; cancel between steps; a kill -9 mid-job is INTERRUPTED at the next start and resumes; heartbeats while
a step waits; the command line."""

from __future__ import annotations

import getpass
import re
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pf9lib import identity
from pf9lib.actions import restore, steps_of
from pf9lib.actions.client import WriteError
from pf9lib.actions.plan import Plan, Step
from pf9lib.actions.restore.executor import Job, RestoreContext
from pf9lib.errors import Pf9Error
from tests.actions.restore_world import (
    ADMIN,
    ENABLED,
    OPERATOR,
    SERVICE,
    bfv_with_snapshots,
    quick,
    setup,
    tagged,
)

pytestmark = pytest.mark.integration
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def cloud(fresh_sim, tmp_path):
    settings = setup(fresh_sim, tmp_path / "data")
    prepared = bfv_with_snapshots(fresh_sim, settings)
    plan = restore.plan_restore(settings, OPERATOR, prepared.vm["name"], prepared.point)
    return fresh_sim, settings, prepared, plan


def assert_no_orphans(sim, plan_id: str) -> None:
    made = tagged(sim, plan_id)
    assert (made["servers"], made["ports"], made["attachments"]) == ([], [], [])


def assert_restored_once(sim, plan) -> None:
    made = tagged(sim, plan.plan_id)
    [server] = made["servers"]
    assert len(made["ports"]) == len(plan.inputs["ports"]) and len(made["volumes"]) == 2
    assert sorted(a["server_id"] for a in made["attachments"]) == [server["id"]] * 2


# step name → the fault that makes it fail (paths are regexes on the request path, without the query)
FAULTS = {
    "restore.validate": lambda p: {"method": "GET", "path": f"/snapshots/{p.inputs['point']['id']}$"},
    "restore.service_user": lambda p: {"method": "HEAD", "path": "/users/[^/]+/roles/"},
    "restore.quota": lambda p: {"method": "GET", "path": "/os-quota-sets/[^/]+/detail$"},
    "restore.volume": lambda p: {"method": "POST", "path": "/volumes$"},
    "restore.wait_volumes": lambda p: {"method": "GET", "path": "/volumes/[0-9a-f-]{36}$"},
    "restore.port": lambda p: {"method": "POST", "path": "/ports$"},
    "restore.server": lambda p: {"method": "POST", "path": "/servers$"},
    "restore.wait_active": lambda p: {
        "method": "GET",
        "path": f"/servers/(?!{p.inputs['vm']['id']})[0-9a-f-]{{36}}$",
    },
    "restore.attach": lambda p: {"method": "POST", "path": "/os-volume_attachments$"},
    "restore.finalize": lambda p: {"method": "GET", "path": "/v2.0/ports$"},
}


@pytest.mark.parametrize("step", sorted(FAULTS))
def test_a_fault_at_each_step_leaves_no_orphan_and_a_retry_completes(cloud, step):
    sim, settings, _, plan = cloud
    n = next(i for i, s in enumerate(plan.steps) if s.action == step)
    sim.faults({**FAULTS[step](plan), "status": 503})
    result = restore.execute(settings, plan.plan_id, OPERATOR, context=quick(settings))
    sim.clear_faults()
    assert result.status == "failed" and result.message.startswith(f"step {n + 1} ("), result.message
    assert_no_orphans(sim, plan.plan_id)
    job = restore.job(settings.data_dir, plan.plan_id)
    assert job["state"] == "FAILED" and "HTTP 503" in job["detail"] and job["steps"][n]["state"] == "failed"
    kept = {v["id"] for v in tagged(sim, plan.plan_id)["volumes"]}
    assert all(v["type"] == "volume" for v in result.left) and {v["id"] for v in result.left} == kept
    again = restore.retry(settings, plan.plan_id, OPERATOR, context=quick(settings))
    assert again.status == "succeeded", again.message
    assert_restored_once(sim, plan)
    assert kept <= {v["id"] for v in tagged(sim, plan.plan_id)["volumes"]}  # the kept volumes were reused
    assert restore.jobs(settings.data_dir)["state"].tolist() == ["SUCCEEDED"]


# The steps only a REPLACE has (its wait for the delete reads the VM as validate does: not targetable alone).
REPLACE_FAULTS = {
    "restore.safety_snapshot": lambda p: {"method": "POST", "path": "/snapshots$"},
    "restore.delete_vm": lambda p: {"method": "DELETE", "path": f"/servers/{p.inputs['vm']['id']}$"},
    "restore.clean_ports": lambda p: {
        "method": "GET",
        "path": f"/ports/{p.inputs['ports'][0]['original_port']}$",
    },
    "restore.floating_ip": lambda p: {"method": "PUT", "path": "/floatingips/"},
}


@pytest.mark.parametrize("step", sorted(REPLACE_FAULTS))
def test_a_fault_at_each_replace_step_rolls_back_and_a_retry_brings_the_vm_back(cloud, step):
    sim, settings, prepared, _ = cloud
    name = prepared.vm["name"]
    plan = restore.plan_restore(
        settings,
        OPERATOR,
        name,
        prepared.point,
        mode="replace",
        name=name,
        ip_strategy="SAME_IPS_OR_FAIL",
        confirm=f"DELETE AND RESTORE {name}",
    )
    n = next(i for i, s in enumerate(plan.steps) if s.action == step)
    sim.faults({**REPLACE_FAULTS[step](plan), "status": 503})
    result = restore.execute(settings, plan.plan_id, OPERATOR, context=quick(settings))
    sim.clear_faults()
    assert result.status == "failed" and result.message.startswith(f"step {n + 1} ("), result.message
    assert_no_orphans(sim, plan.plan_id)
    deleted = n > next(i for i, s in enumerate(plan.steps) if s.action == "restore.delete_vm")
    assert ("the original VM is deleted: retry resumes" in result.message) == deleted
    again = restore.retry(settings, plan.plan_id, OPERATOR, context=quick(settings))
    assert again.status == "succeeded", again.message
    assert_restored_once(sim, plan)
    [server] = tagged(sim, plan.plan_id)["servers"]
    before = sorted(a["addr"] for v in prepared.vm["addresses"].values() for a in v)
    assert sorted(a["addr"] for v in server["addresses"].values() for a in v) == before


def test_cancel_stops_between_steps_and_rolls_back_then_retry_completes(cloud):
    sim, settings, _, plan = cloud
    ports = [i for i, s in enumerate(plan.steps) if s.action == "restore.port"]
    sim.faults({"method": "POST", "path": "/ports$", "status": None, "delay_s": 1.5})
    restore.execute(settings, plan.plan_id, OPERATOR, context=quick(settings), wait=False)
    deadline = time.monotonic() + 60
    while restore.job(settings.data_dir, plan.plan_id)["steps"][ports[0]]["state"] != "running":
        assert time.monotonic() < deadline, "the job never reached its first port"
        time.sleep(0.1)
    said = restore.cancel(settings, plan.plan_id, OPERATOR)
    assert "stops before its next step" in said
    while restore.job(settings.data_dir, plan.plan_id)["state"] in ("PENDING", "RUNNING"):
        assert time.monotonic() < deadline, "the job did not stop"
        time.sleep(0.1)
    sim.clear_faults()
    job = restore.job(settings.data_dir, plan.plan_id)
    # The cancel lands while a (slowed) port is being made: on a busy machine that may be the second port, so
    # the job says where it stopped: everything up to there ran (what it made rolled back), nothing after.
    stopped = re.match(r"canceled before step (\d+) ", job["detail"])
    assert job["state"] == "CANCELED" and stopped, job["detail"]
    last = int(stopped.group(1)) - 2  # the index of the last step that ran
    assert last in ports, (last, ports)
    states = [s["state"] for s in job["steps"]]
    assert set(states[: last + 1]) <= {"succeeded", "rolled_back"} and set(states[last + 1 :]) == {"pending"}
    assert_no_orphans(sim, plan.plan_id)
    assert restore.retry(settings, plan.plan_id, OPERATOR, context=quick(settings)).status == "succeeded"
    assert_restored_once(sim, plan)


def test_a_planned_job_canceled_is_not_executed_but_can_be_retried(cloud):
    sim, settings, _, plan = cloud
    assert "canceled before it ran" in restore.cancel(settings, plan.plan_id, OPERATOR)
    with pytest.raises(Pf9Error, match="is CANCELED, so it cannot be executed: resume it with"):
        restore.execute(settings, plan.plan_id, OPERATOR)
    with pytest.raises(Pf9Error, match="is CANCELED: there is nothing to cancel"):
        restore.cancel(settings, plan.plan_id, OPERATOR)
    assert restore.retry(settings, plan.plan_id, OPERATOR, context=quick(settings)).status == "succeeded"


KILLED = textwrap.dedent("""
    import sys
    from pf9lib.actions import restore
    from pf9lib.actions.restore import RestoreContext
    from pf9lib.config import load_settings
    settings = load_settings(cloud=sys.argv[1], data_dir=sys.argv[2])
    context = RestoreContext(settings, settings.data_dir, "", heartbeat_s=0.2, poll_s=0.05)
    restore.execute(settings, sys.argv[3], "otto", context=context)
""")


def test_a_kill_9_mid_job_is_interrupted_at_the_next_start_and_resumes_without_duplicates(cloud):
    sim, settings, _, plan = cloud
    server_step = next(i for i, s in enumerate(plan.steps) if s.action == "restore.server")
    sim.faults({"method": "POST", "path": "/servers$", "status": None, "delay_s": 2.0})
    env = {**sim.env(), **SERVICE, **ENABLED}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, sim.cloud_name, str(settings.data_dir), plan.plan_id], env=env
    )
    deadline = time.monotonic() + 60
    while restore.job(settings.data_dir, plan.plan_id)["steps"][server_step]["state"] != "running":
        assert time.monotonic() < deadline and proc.poll() is None, "the job never reached the server step"
        time.sleep(0.05)
    proc.kill()  # SIGKILL while the server's create waits on the cloud
    proc.wait()
    time.sleep(2.5)  # the delayed create completes in the cloud, or not: the resume must cope either way
    sim.clear_faults()
    job = restore.job(settings.data_dir, plan.plan_id)
    assert job["state"] == "INTERRUPTED" and f"process {proc.pid} ended" in job["detail"]
    result = restore.retry(settings, plan.plan_id, OPERATOR, context=quick(settings))
    assert result.status == "succeeded", result.message
    assert_restored_once(sim, plan)
    events = steps_of(settings.data_dir, plan.plan_id)
    done_before = events[(events["step"] < server_step) & (events["state"] == "succeeded")]
    creates = {s for s in done_before["step"] if plan.steps[s].action in ("restore.volume", "restore.port")}
    assert len(creates) == len(done_before[done_before["step"].isin(creates)])  # none of them ran twice


def test_a_waiting_step_beats_a_heartbeat_and_ends_on_a_failed_status(tmp_path):
    data = tmp_path / "data"

    class Settings:
        data_dir = data

    ctx = RestoreContext(Settings(), data, "p1", heartbeat_s=0.05, poll_s=0.02, timeout_s=0.5)
    plan = Plan(
        "p1", "restore.new", "vm", "otto", "c", None, datetime.now(UTC), "", (), (Step("x", {}, "x"),), {}
    )
    job = Job(ctx, plan, "a1", {}, set(), None, None)
    job.step = (0, "restore.wait_volumes")
    answers = iter(["creating"] * 8 + ["available"])
    found = job.wait("volume v", lambda: {"status": next(answers)}, {"available"}, {"error"})
    assert found == {"status": "available"}
    beats = steps_of(data, "p1")
    assert len(beats) >= 2 and set(beats["state"]) == {"heartbeat"}
    assert beats["detail"].str.match(r"volume v: creating after \d+ s").all()
    with pytest.raises(WriteError, match="volume v went to error"):
        job.wait("volume v", lambda: {"status": "error"}, {"available"}, {"error"})
    with pytest.raises(WriteError, match="still creating after 0 s"):
        job.wait("volume v", lambda: {"status": "creating"}, {"available"}, {"error"})


def test_the_command_line_plans_executes_and_lists(fresh_sim, tmp_path):
    settings = setup(fresh_sim, tmp_path / "data")
    prepared = bfv_with_snapshots(fresh_sim, settings)
    me = getpass.getuser()
    identity.grant(settings.data_dir, ADMIN, me, "operator")
    env = {**fresh_sim.env(), **SERVICE, **ENABLED, "PF9WB_DATA_DIR": str(settings.data_dir)}

    def pf9wb(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(VENV_BIN / "pf9wb"), "restore", *args], env=env, capture_output=True, text=True
        )

    points = pf9wb("points", prepared.vm["name"])
    assert points.returncode == 0 and prepared.point in points.stdout and "all" in points.stdout
    planned = pf9wb("plan", prepared.vm["name"], "--point", prepared.point[:8], "--name", "cli-copy")
    assert planned.returncode == 0, planned.stderr
    plan_id = planned.stdout.split()[1]
    assert f"run it with `pf9wb restore execute {plan_id}`" in planned.stdout
    done = pf9wb("execute", plan_id)
    assert done.returncode == 0 and f"job {plan_id}: succeeded" in done.stdout, done.stdout + done.stderr
    listed = pf9wb("jobs")
    assert plan_id in listed.stdout and "SUCCEEDED" in listed.stdout
    shown = pf9wb("show", plan_id)
    assert "[succeeded]" in shown.stdout and "[pending]" not in shown.stdout
    refused = pf9wb("plan", prepared.vm["name"], "--point", prepared.point, "--mode", "replace")
    assert refused.returncode == 1 and refused.stderr.startswith("pf9wb: error: REPLACE deletes VM")
    assert len(refused.stderr.strip().splitlines()) == 1
