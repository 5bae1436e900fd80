"""Admin operations on the action spine, against the simulated cloud's process: `/_sim/summary` before and
after is the proof of what changed in the cloud."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from pf9lib import identity
from pf9lib.actions import admin_flavors as fl
from pf9lib.actions import admin_network as nw
from pf9lib.actions import apply, audit, plans, steps_of
from pf9lib.actions.client import plan_tag
from pf9lib.config import load_settings
from pf9lib.errors import Pf9Error
from pf9lib.identity import Identity, PermissionDenied

pytestmark = pytest.mark.integration
ADMIN, OPERATOR, VIEWER = Identity("ada", "test"), Identity("otto", "test"), Identity("vic", "test")


@pytest.fixture
def cloud(fresh_sim, tmp_path):
    """Settings for a fresh tiny simulated cloud, with ada admin and otto operator."""
    settings = load_settings(cloud=fresh_sim.cloud_name, data_dir=str(tmp_path / "data"), env=fresh_sim.env())
    identity.grant(settings.data_dir, ADMIN, "ada", "admin")
    identity.grant(settings.data_dir, ADMIN, "otto", "operator")
    return fresh_sim, settings


def counts(sim) -> dict:
    return sim.summary()["counts"]


def tagged(sim, kind: str, plan_id: str) -> list[dict]:
    conn = sim.connect()
    if kind == "flavors":
        body = conn.compute.get("/flavors/detail?is_public=None", microversion="2.55").json()["flavors"]
    else:
        body = conn.network.get(f"/{kind}").json()[kind]
    return [o for o in body if o.get("description") == plan_tag(plan_id)]


def test_a_plan_changes_nothing_and_its_apply_does_exactly_what_it_listed(cloud):
    sim, settings = cloud
    before = counts(sim)
    plan = fl.plan_flavor_create(settings, ADMIN, "m1.audit", 2, 2048, 20)
    assert counts(sim) == before
    assert plans(settings.data_dir)["state"].tolist() == ["planned"]
    result = apply(settings, plan.plan_id, ADMIN)
    assert result.status == "succeeded", result.message
    after = counts(sim)
    assert after == {**before, "flavors": before["flavors"] + 1}
    made = tagged(sim, "flavors", plan.plan_id)
    assert [(f["name"], f["vcpus"], f["ram"], f["disk"]) for f in made] == [("m1.audit", 2, 2048, 20)]
    assert result.created == [{"type": "flavor", "id": made[0]["id"], "name": "m1.audit"}]
    trail = audit(settings.data_dir, plan_id=plan.plan_id)
    assert sorted(trail["result"]) == ["planned", "succeeded"] and set(trail["actor"]) == {"ada"}
    with pytest.raises(Pf9Error, match="applied already"):
        apply(settings, plan.plan_id, ADMIN)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda s: fl.plan_flavor_create(s, ADMIN, "bad name!", 2, 2048, 20), "flavor name 'bad name!'"),
        (
            lambda s: fl.plan_flavor_create(s, ADMIN, "big", 65, 2048, 20),
            "vCPUs 65 is out of range: give 1-64",
        ),
        (lambda s: fl.plan_flavor_create(s, ADMIN, "tiny", 1, 64, 20), "RAM 64 is out of range"),
        (lambda s: nw.plan_rule_create(s, ADMIN, "x", "sideways"), "direction 'sideways'"),
        (lambda s: nw.plan_rule_create(s, ADMIN, "x", "ingress", "gre"), "protocol 'gre'"),
        (lambda s: nw.plan_rule_create(s, ADMIN, "x", "ingress", "tcp", "IPv5"), "ethertype 'IPv5'"),
        (lambda s: nw.plan_rule_create(s, ADMIN, "x", "ingress", "tcp", "IPv4", 0), "minimum port 0"),
        (lambda s: nw.plan_rule_create(s, ADMIN, "x", "ingress", "tcp", "IPv4", 90, 80), "above maximum"),
        (lambda s: nw.plan_rule_create(s, ADMIN, "x", "ingress", "icmp", "IPv4", 22), "tcp and udp only"),
        (
            lambda s: nw.plan_rule_create(s, ADMIN, "x", "ingress", "tcp", "IPv6", None, None, "10.0.0.0/8"),
            "is IPv4 but the ethertype is IPv6",
        ),
        (lambda s: nw.plan_network_create(s, ADMIN, "n", "no-such-project"), "no single project"),
        (
            lambda s: nw.plan_network_create(s, ADMIN, "n", "", subnet_cidr="10.0.0.0/24"),
            "project is required",
        ),
        (lambda s: nw.plan_network_create(s, ADMIN, "n", "x", subnet_cidr="10.0.0.1/24"), "not valid"),
    ],
)
def test_invalid_input_is_one_line_and_changes_nothing(cloud, make, message):
    sim, settings = cloud
    before = counts(sim)
    with pytest.raises(Pf9Error, match=message) as refused:
        make(settings)
    assert "\n" not in str(refused.value)
    assert counts(sim) == before
    assert plans(settings.data_dir).empty


def test_refusals_name_their_reason(cloud):
    sim, settings = cloud
    conn = sim.connect()
    server = conn.compute.get("/servers/detail?all_tenants=1", microversion="2.1").json()["servers"][0]
    used = server["flavor"]["id"]
    with pytest.raises(Pf9Error, match=r"is used by \d+ server\(s\): resize or delete them first"):
        fl.plan_flavor_delete(settings, ADMIN, used)
    groups = conn.network.get("/security-groups").json()["security_groups"]
    default = next(g for g in groups if g["name"] == "default")
    with pytest.raises(Pf9Error, match="`default` security group cannot be deleted"):
        nw.plan_secgroup_delete(settings, ADMIN, default["id"])
    ports = conn.network.get("/ports").json()["ports"]
    port = next(p for p in ports if p.get("device_owner", "").startswith("compute:") and p["security_groups"])
    in_use = next(g for g in groups if g["id"] in port["security_groups"] and g["name"] != "default")
    with pytest.raises(Pf9Error, match=r"is attached to \d+ port\(s\): detach it first"):
        nw.plan_secgroup_delete(settings, ADMIN, in_use["id"])
    with pytest.raises(Pf9Error, match=r"has \d+ port\(s\) in use"):
        nw.plan_network_delete(settings, ADMIN, port["network_id"])
    assert plans(settings.data_dir).empty


def _project(sim) -> dict:
    conn = sim.connect()
    return next(p for p in conn.identity.get("/projects").json()["projects"] if p["name"] != "admin")


def test_a_503_on_the_second_call_rolls_back_the_first(cloud):
    sim, settings = cloud
    before = counts(sim)
    plan = nw.plan_network_create(
        settings, ADMIN, "net-rb", _project(sim)["name"], subnet_cidr="10.77.0.0/24"
    )
    sim.faults({"method": "POST", "path": "/subnets$", "status": 503})
    try:
        result = apply(settings, plan.plan_id, ADMIN)
    finally:
        sim.clear_faults()
    assert result.status == "failed"
    assert (
        "step 2" in result.message
        and "HTTP 503" in result.message
        and "rolled back network net-rb" in result.message
    )
    assert counts(sim) == before
    assert tagged(sim, "networks", plan.plan_id) == []
    events = steps_of(settings.data_dir, plan.plan_id)
    assert [(s, st) for s, st in zip(events["step"], events["state"], strict=True)] == [
        (-1, "started"),
        (0, "started"),
        (0, "succeeded"),
        (1, "started"),
        (1, "failed"),
        (0, "rolled_back"),
        (-1, "failed"),
    ]
    assert "HTTP 503" in events[events["state"] == "failed"]["detail"].iloc[0]
    assert plans(settings.data_dir)["state"].tolist() == ["failed"]


def test_a_plan_whose_cloud_moved_is_refused_with_the_reason(cloud):
    sim, settings = cloud
    plan = fl.plan_flavor_create(settings, ADMIN, "m1.race", 1, 512, 1)
    sim.connect().compute.post(
        "/flavors", json={"flavor": {"name": "m1.race", "vcpus": 1, "ram": 512, "disk": 1}}
    )
    before = counts(sim)
    result = apply(settings, plan.plan_id, ADMIN)
    assert result.status == "refused"
    assert (
        "the cloud moved" in result.message and "no flavor is named m1.race: was None, now" in result.message
    )
    assert counts(sim) == before
    assert audit(settings.data_dir, plan_id=plan.plan_id)["result"].tolist()[0] == "refused"


KILLABLE = textwrap.dedent("""
    import sys
    from pf9lib.actions import apply
    from pf9lib.config import load_settings
    from pf9lib.identity import Identity
    settings = load_settings(cloud=sys.argv[1], data_dir=sys.argv[2])
    apply(settings, sys.argv[3], Identity("ada", "test"))
""")


def test_kill_9_during_an_apply_then_a_rerun_creates_nothing_twice(cloud):
    sim, settings = cloud
    before = counts(sim)
    plan = nw.plan_network_create(
        settings, ADMIN, "net-kill", _project(sim)["name"], subnet_cidr="10.78.0.0/24"
    )
    # The subnet's POST waits 3 s in the cloud, then is carried out even though its client is gone.
    sim.faults({"method": "POST", "path": "/subnets$", "status": None, "delay_s": 3, "times": 1})
    env = {**sim.env()}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLABLE, sim.cloud_name, str(settings.data_dir), plan.plan_id], env=env
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = steps_of(settings.data_dir, plan.plan_id)
        if ((events["step"] == 1) & (events["state"] == "started")).any():
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the apply never reached its second step")
    proc.kill()
    proc.wait()
    time.sleep(4)  # the delayed POST completes in the cloud
    result = apply(settings, plan.plan_id, ADMIN)
    assert result.status == "succeeded", result.message
    assert len(tagged(sim, "networks", plan.plan_id)) == 1
    assert len(tagged(sim, "subnets", plan.plan_id)) == 1
    assert counts(sim) == {**before, "networks": before["networks"] + 1, "subnets": before["subnets"] + 1}
    states = steps_of(settings.data_dir, plan.plan_id)
    assert "interrupted" in set(states[states["step"] == -1]["state"])
    # Step 1 finished before the kill: it is not run again; step 2 is adopted or made, never both.
    assert ((states["step"] == 0) & (states["state"] == "started")).sum() == 1
    assert len(set(states[states["step"] == 1]["state"]) & {"adopted", "succeeded"}) == 1


def test_an_object_made_just_before_a_crash_is_found_by_its_tag_and_adopted(cloud):
    """The crash falls between the cloud carrying out a create and the step's record of it."""
    sim, settings = cloud
    plan = nw.plan_secgroup_create(settings, ADMIN, "sg-crash", _project(sim)["name"])
    # A process records that the plan and its step started, then dies: its pid is gone from this host.
    crashed = (
        "from pf9lib.actions.plan import PLAN, record_step\n"
        f"record_step({str(settings.data_dir)!r}, {plan.plan_id!r}, 'a1', PLAN, 'plan', 'started')\n"
        f"record_step({str(settings.data_dir)!r}, {plan.plan_id!r}, 'a1', 0, 'secgroup.create', 'started')\n"
    )
    subprocess.run([sys.executable, "-c", crashed], check=True)
    made = (
        sim.connect()
        .network.post(
            "/security-groups",
            json={
                "security_group": {
                    "name": "sg-crash",
                    "project_id": plan.inputs["project_id"],
                    "description": plan_tag(plan.plan_id),
                }
            },
        )
        .json()["security_group"]
    )
    before = counts(sim)
    result = apply(settings, plan.plan_id, ADMIN)
    assert result.status == "succeeded" and result.created == [
        {"type": "security_group", "id": made["id"], "name": "sg-crash"}
    ]
    assert counts(sim) == before
    states = steps_of(settings.data_dir, plan.plan_id)
    assert states[states["step"] == 0]["state"].tolist() == ["started", "started", "adopted"]


def test_viewers_and_operators_are_refused_admin_operations_and_the_refusal_is_audited(cloud):
    sim, settings = cloud
    before = counts(sim)
    for who in (VIEWER, OPERATOR):
        with pytest.raises(PermissionDenied, match=f"{who.user} is (viewer|operator), admin is needed"):
            fl.plan_flavor_create(settings, who, "m1.nope", 1, 512, 1)
    plan = fl.plan_flavor_create(settings, ADMIN, "m1.later", 1, 512, 1)
    with pytest.raises(PermissionDenied, match="otto is operator, admin is needed"):
        apply(settings, plan.plan_id, OPERATOR)
    assert counts(sim) == before
    denied = audit(settings.data_dir, action="admin")
    denied = denied[denied["result"] == "denied"]
    assert sorted(denied["actor"]) == ["otto", "otto", "vic"]
    assert set(denied["note"]) == {"needs admin"}


def test_the_first_grant_bootstraps_an_admin_and_later_grants_need_one(tmp_path):
    data = tmp_path / "data"
    with pytest.raises(Pf9Error, match="first grant makes an admin"):
        identity.grant(data, "eve", "eve", "operator")
    assert identity.role_of(data, "eve") == "viewer"
    assert identity.grant(data, "eve", "eve", "admin") == "eve is now admin"
    with pytest.raises(PermissionDenied, match="mallory is viewer, admin is needed"):
        identity.grant(data, "mallory", "mallory", "admin")
    identity.grant(data, "eve", "bob", "operator")
    with pytest.raises(Pf9Error, match="last admin"):
        identity.revoke(data, "eve", "eve")
    assert identity.grants(data) == [("eve", "admin"), ("bob", "operator")]
    trail = audit(data)
    grants = trail[trail["action"] == "access.grant"]
    assert grants[["target", "result"]].values.tolist() == [
        ["bob", "succeeded"],
        ["mallory", "denied"],
        ["eve", "succeeded"],
    ]
