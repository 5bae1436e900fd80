"""Policy runs take Nova image snapshots of boot-from-image servers enrolled through server metadata, against
the simulated cloud's process: plan lines, the images in Glance, retention and the audit."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pf9lib import identity
from pf9lib.actions import apply, audit, steps_of
from pf9lib.actions.snapshot_run import plan_run
from pf9lib.config import load_settings

pytestmark = pytest.mark.integration
SERVICE = {
    "SNAPSHOT_SERVICE_USER_EMAIL": "snapshot-svc@pf9sim.local",
    "SNAPSHOT_SERVICE_USER_PASSWORD": "pf9sim-snapshots",
}
ENROL = {"auto_snapshot": "true", "snapshot_policies": "daily_2", "retention_daily_2": "2"}


@pytest.fixture
def cloud(fresh_sim, tmp_path):
    fresh_sim.client.options(nightly_snapshots=False)
    env = {**fresh_sim.env(), **SERVICE}
    settings = load_settings(cloud=fresh_sim.cloud_name, data_dir=str(tmp_path / "data"), env=env)
    identity.grant(settings.data_dir, "ops", "ops", "admin")
    return fresh_sim, settings


def clock(sim) -> datetime:
    return datetime.fromisoformat(sim.summary()["clock"].replace("Z", "+00:00"))


def servers(sim) -> list[dict]:
    conn = sim.connect()
    return conn.compute.get("/servers/detail?all_tenants=1", microversion="2.96").json()["servers"]


def images_of(sim, server_id: str) -> list[dict]:
    found = sim.connect().image.get(f"/images?instance_uuid={server_id}&limit=1000").json()["images"]
    return [i for i in found if i.get("image_type") == "snapshot"]


def enrol(sim, server: dict, meta: dict = ENROL) -> None:
    sim.connect().compute.post(f"/servers/{server['id']}/metadata", json={"metadata": meta})


def test_enrolled_servers_get_plan_lines_and_image_snapshots_in_their_project(cloud):
    sim, settings = cloud
    listed = servers(sim)
    active = next(s for s in listed if s["image"] and s["status"] == "ACTIVE")
    broken = next(s for s in listed if s["image"] and s["status"] == "ERROR")
    on_volume = next(s for s in listed if not s["image"])
    for server in (active, broken, on_volume):
        enrol(sim, server)
    plan = plan_run(settings, "ops", now=clock(sim))
    mine = {s.inputs["server_id"]: s for s in plan.steps if "server_id" in s.inputs}
    assert set(mine) == {active["id"], broken["id"], on_volume["id"]}
    assert mine[active["id"]].action == "image.create"
    assert mine[broken["id"]].inputs["reason"] == "status ERROR"
    assert mine[on_volume["id"]].inputs["reason"] == "boots from a volume: enrol its volumes instead"
    assert not [s for s in plan.steps if s.inputs.get("state") == "blocked" and "server_id" in s.inputs]
    result = apply(settings, plan.plan_id, "ops")
    assert result.status == "succeeded", result.message
    [image] = images_of(sim, active["id"])
    assert image["name"] == mine[active["id"]].inputs["name"] and image["name"].startswith("auto-")
    assert (image["owner"], image["visibility"], image["status"]) == (
        active["tenant_id"],
        "private",
        "active",
    )
    assert (image["pf9wb_policy"], image["pf9wb_run"], image["created_by"]) == (
        "daily_2",
        plan.plan_id,
        "pf9wb",
    )
    assert images_of(sim, broken["id"]) == [] and images_of(sim, on_volume["id"]) == []
    trail = audit(settings.data_dir, plan_id=plan.plan_id, action="snapshots")
    creates = trail[trail["action"] == "snapshots.create"]
    assert f"{active['id']}:daily_2" in set(creates["target"])
    assert set(creates[creates["target"] == f"{active['id']}:daily_2"]["result"]) == {"succeeded"}
    # The same day again: nothing more, with the reason.
    again = plan_run(settings, "ops", now=clock(sim))
    step = next(s for s in again.steps if s.inputs.get("server_id") == active["id"])
    assert step.action == "snapshot.note" and step.inputs["reason"].startswith("already done today")


def test_a_crash_between_create_and_record_adopts_the_image_instead_of_making_a_second(cloud):
    sim, settings = cloud
    server = next(s for s in servers(sim) if s["image"] and s["status"] == "ACTIVE")
    enrol(sim, server)
    plan = plan_run(settings, "ops", now=clock(sim))
    step = next(s for s in plan.steps if s.inputs.get("server_id") == server["id"])
    # The image of this run exists already (as if a killed apply made it): the apply adopts it.
    meta = {"pf9wb_policy": "daily_2", "pf9wb_day": step.inputs["day"], "pf9wb_run": plan.plan_id}
    sim.connect().compute.post(
        f"/servers/{server['id']}/action",
        json={"createImage": {"name": step.inputs["name"], "metadata": meta}},
    )
    assert apply(settings, plan.plan_id, "ops").status == "succeeded"
    assert len(images_of(sim, server["id"])) == 1
    trail = steps_of(settings.data_dir, plan.plan_id)
    assert "adopted" in set(trail[trail["name"] == "image.create"]["state"])


def test_retention_prunes_only_automatic_images_of_the_policy_beyond_the_newest(cloud):
    sim, settings = cloud
    conn = sim.connect()
    server = next(s for s in servers(sim) if s["image"] and s["status"] == "ACTIVE")
    enrol(sim, server)
    now = clock(sim)
    made = {}
    for label, age_days, meta in (
        ("a1", 1, {"pf9wb_policy": "daily_2"}),
        ("a3", 3, {"policy": "daily_2"}),  # a policy image made by another tool's run
        ("a5", 5, {"pf9wb_policy": "daily_2"}),
        ("other", 6, {"pf9wb_policy": "daily_9"}),
        ("manual", 9, {}),
    ):
        body = {"createImage": {"name": label, "metadata": meta}}
        image_id = conn.compute.post(
            f"/servers/{server['id']}/action", json=body, microversion="2.45"
        ).json()["image_id"]
        sim.mutate(
            "images",
            image_id,
            {"created_at": (now - timedelta(days=age_days)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        )
        made[label] = image_id
    plan = plan_run(settings, "ops", now=now)
    pruned = {s.inputs["image_id"] for s in plan.steps if s.action == "image.prune"}
    # Keep 2 counting today's new one: a1 stays, a3 and a5 go; daily_9's and the manual one are not daily_2's.
    assert pruned == {made["a3"], made["a5"]}
    assert apply(settings, plan.plan_id, "ops").status == "succeeded"
    left = {i["id"] for i in images_of(sim, server["id"])}
    assert {made["a1"], made["other"], made["manual"]} <= left and not left & pruned
    assert len(left) == 4  # the three kept and today's


def test_no_servers_leaves_servers_out(cloud):
    sim, settings = cloud
    server = next(s for s in servers(sim) if s["image"] and s["status"] == "ACTIVE")
    enrol(sim, server)
    plan = plan_run(settings, "ops", now=clock(sim), servers=False)
    assert not [s for s in plan.steps if "server_id" in s.inputs]
