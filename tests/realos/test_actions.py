"""Actions against a real OpenStack: admin operations through plan → apply with their audit, and a snapshot
policy run whose service user is granted a role on a real project, creating and pruning real Cinder
snapshots. Everything is removed afterwards."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import openstack
import pytest

from pf9lib import identity
from pf9lib.actions import admin_flavors, admin_network, apply, audit
from pf9lib.actions.snapshot_run import plan_run
from pf9lib.config import load_settings

pytestmark = [pytest.mark.realos, pytest.mark.realos_mutates]


def test_a_flavor_and_a_security_group_rule_made_and_removed_through_plans(
    stack, admin, settings, data_dir, cleanup
):
    cfg = settings()
    identity.grant(data_dir, "ops", "ops", "admin")
    name = f"realos-flavor-{uuid.uuid4().hex[:6]}"
    plan = admin_flavors.plan_flavor_create(cfg, "ops", name, 1, 256, 1)
    assert admin.compute.find_flavor(name) is None  # planning changes nothing
    result = apply(cfg, plan.plan_id, "ops")
    assert result.status == "succeeded", result.message
    flavor = admin.compute.find_flavor(name, ignore_missing=False)
    cleanup.add(f"delete flavor {name}", lambda: admin.compute.delete_flavor(flavor, ignore_missing=True))
    assert (flavor.vcpus, flavor.ram, flavor.disk) == (1, 256, 1)
    gone = admin_flavors.plan_flavor_delete(cfg, "ops", name)
    assert apply(cfg, gone.plan_id, "ops").status == "succeeded"
    assert admin.compute.find_flavor(name) is None

    web = admin.network.find_security_group("web", ignore_missing=False)
    rule_plan = admin_network.plan_rule_create(
        cfg, "ops", web.id, "ingress", "tcp", "IPv4", 8443, None, "192.0.2.0/24"
    )
    made = apply(cfg, rule_plan.plan_id, "ops")
    assert made.status == "succeeded", made.message
    rule_id = made.created[0]["id"]
    cleanup.add(
        "delete the rule", lambda: admin.network.delete_security_group_rule(rule_id, ignore_missing=True)
    )
    rule = admin.network.get_security_group_rule(rule_id)
    assert (rule.port_range_min, rule.remote_ip_prefix, rule.description) == (
        8443,
        "192.0.2.0/24",
        f"pf9wb-plan:{rule_plan.plan_id}",
    )
    removal = admin_network.plan_rule_delete(cfg, "ops", rule_id)
    assert apply(cfg, removal.plan_id, "ops").status == "succeeded"
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.network.get_security_group_rule(rule_id)
    trail = audit(data_dir, actor="ops")
    applied = trail[trail["action"].str.endswith(".apply")]
    assert sorted(applied["action"]) == sorted(
        [
            "admin.flavor.create.apply",
            "admin.flavor.delete.apply",
            "admin.rule.create.apply",
            "admin.rule.delete.apply",
        ]
    )
    assert set(applied["result"]) == {"succeeded"}


def test_a_policy_run_grants_the_service_user_and_creates_and_prunes_real_snapshots(
    stack, admin, throwaway_project, data_dir, cleanup
):
    password = f"Svc-{uuid.uuid4().hex[:12]}"
    user = admin.identity.create_user(
        name=f"realos-snap-{uuid.uuid4().hex[:6]}", password=password, domain_id="default"
    )
    cleanup.add("delete the service user", lambda: admin.identity.delete_user(user, ignore_missing=True))
    role = admin.identity.find_role("admin")
    # A volume of the project, enrolled through its metadata (retention 1: each run keeps one).
    in_project = admin.connect_as_project(throwaway_project)
    volume = in_project.block_storage.create_volume(
        size=1,
        name="realos-policy-vol",
        metadata={"auto_snapshot": "true", "snapshot_policies": "daily_7", "retention_daily_7": "1"},
    )
    in_project.block_storage.wait_for_status(volume, "available", wait=120)

    def drop_snapshots() -> None:
        for snap in admin.block_storage.snapshots(all_projects=True, volume_id=volume.id):
            admin.block_storage.delete_snapshot(snap, force=True)
            admin.block_storage.wait_for_delete(snap, wait=120)

    cleanup.add("delete the volume's snapshots", drop_snapshots)
    env = {
        **stack.env("realos-admin"),
        "SNAPSHOT_SERVICE_USER_EMAIL": user.name,
        "SNAPSHOT_SERVICE_USER_PASSWORD": password,
    }
    cfg = load_settings(cloud="realos-admin", data_dir=str(data_dir), env=env)
    identity.grant(data_dir, "ops", "ops", "admin")
    grant_path = f"/projects/{throwaway_project.id}/users/{user.id}/roles/{role.id}"
    assert admin.identity.head(grant_path).status_code == 404  # not granted yet

    now = datetime.now(UTC)
    first = plan_run(cfg, "ops", projects=[throwaway_project.name], now=now)
    assert [s.action for s in first.steps] == ["snapshot.create"]
    result = apply(cfg, first.plan_id, "ops")
    assert result.status == "succeeded", result.message
    assert admin.identity.head(grant_path).status_code == 204  # granted by the run, in that project only
    made = result.created[0]["id"]
    snap = admin.block_storage.get_snapshot(made)
    assert snap.project_id == throwaway_project.id and snap.metadata["policy"] == "daily_7"
    admin.block_storage.wait_for_status(snap, "available", wait=120)

    # The next day: a new snapshot, and retention 1 prunes the first.
    second = plan_run(cfg, "ops", projects=[throwaway_project.name], now=now + timedelta(days=1))
    assert [s.action for s in second.steps] == ["snapshot.create", "snapshot.prune"]
    assert second.steps[1].inputs["snapshot_id"] == made
    assert apply(cfg, second.plan_id, "ops").status == "succeeded"
    admin.block_storage.wait_for_delete(snap, wait=120)
    left = list(admin.block_storage.snapshots(all_projects=True, volume_id=volume.id))
    assert len(left) == 1 and left[0].id != made
