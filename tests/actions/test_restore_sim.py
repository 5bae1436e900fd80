"""Restoring VMs from their snapshots (docs/domain.md §8) against the simulated cloud's process: both boot
modes in NEW mode, REPLACE with and without its confirmation, every IP strategy, quota refusals, roles and the
RESTORE_* switches. What the cloud holds is checked through the SDK, by the plan's tags."""

from __future__ import annotations

import ipaddress

import pytest

from pf9lib.actions import audit, plans, restore
from pf9lib.actions.restore.executor import vm_lock
from pf9lib.errors import Pf9Error
from pf9lib.identity import PermissionDenied
from tests.actions.restore_world import (
    OPERATOR,
    VIEWER,
    bfv_with_snapshots,
    image_vm_with_snapshots,
    quick,
    server_named,
    settings_for,
    setup,
    tagged,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def cloud(fresh_sim, tmp_path):
    return fresh_sim, setup(fresh_sim, tmp_path / "data")


def run(settings, plan, who=OPERATOR):
    return restore.execute(settings, plan.plan_id, who, context=quick(settings))


def addresses(server: dict) -> dict[str, list[str]]:
    return {net: sorted(a["addr"] for a in addrs) for net, addrs in server["addresses"].items()}


def fixed(server: dict) -> list[str]:
    return sorted(
        a["addr"] for addrs in server["addresses"].values() for a in addrs if a["OS-EXT-IPS:type"] == "fixed"
    )


def test_points_are_newest_first_and_say_what_they_cover(cloud):
    sim, settings = cloud
    prepared = bfv_with_snapshots(sim, settings)
    found = restore.points(settings.data_dir, prepared.vm["name"])
    first = found.iloc[0]
    assert first["point_id"] == prepared.point and first["kind"] == "volume_snapshot"
    assert first["covers_all"] and first["data_snapshots"] == {prepared.data_volume: prepared.data_snapshot}
    assert list(found["created_at"]) == sorted(found["created_at"], reverse=True)
    older = found.iloc[1:]  # the generator's nightly snapshots of the root: the data volume has none near
    assert (~older["covers_all"]).all() and all(m == ["acme-prod-web-01-data1"] for m in older["missing"])


def test_a_boot_from_volume_vm_comes_back_side_by_side_with_its_data_volume(cloud):
    sim, settings = cloud
    prepared = bfv_with_snapshots(sim, settings)
    plan = restore.plan_restore(settings, OPERATOR, prepared.vm["name"], prepared.point)
    assert restore.jobs(settings.data_dir)["state"].tolist() == ["PLANNED"]
    result = run(settings, plan)
    assert result.status == "succeeded", result.message
    made = tagged(sim, plan.plan_id)
    [server] = made["servers"]
    conn = sim.connect()
    new = conn.compute.get_server(server["id"])
    assert (new.status, new.flavor.original_name) == ("ACTIVE", prepared.vm["flavor"]["original_name"])
    assert sorted(new.addresses) == sorted(prepared.vm["addresses"])
    volumes = {v["id"]: v for v in made["volumes"]}
    attached = {a.volume_id: a.device for a in conn.compute.volume_attachments(server["id"])}
    root = next(v for v in volumes.values() if v["metadata"]["pf9wb_role"] == "root")
    data = next(v for v in volumes.values() if v["metadata"]["pf9wb_role"] == "data")
    assert attached == {root["id"]: "/dev/vda", data["id"]: "/dev/vdb"}
    assert (root["snapshot_id"], data["snapshot_id"]) == (prepared.point, prepared.data_snapshot)
    assert server["metadata"]["pf9wb_restored_from"] == prepared.vm["id"]
    assert len(made["ports"]) == len(prepared.vm["addresses"])
    # The original is untouched, and the whole story is in the audit.
    assert server_named(sim, prepared.vm["name"])["status"] == "ACTIVE"
    trail = audit(settings.data_dir, plan_id=plan.plan_id)
    assert sorted(trail["result"]) == ["planned", "succeeded"] and set(trail["actor"]) == {"otto"}
    assert restore.job(settings.data_dir, plan.plan_id)["state"] == "SUCCEEDED"


def test_a_boot_from_image_vm_comes_back_from_its_image_snapshot(cloud):
    sim, settings = cloud
    prepared = image_vm_with_snapshots(sim, settings)
    found = restore.points(settings.data_dir, prepared.vm["id"])
    assert found.iloc[0]["point_id"] == prepared.point and found.iloc[0]["kind"] == "image_snapshot"
    assert found.iloc[0]["covers_all"]  # the same policy run took the data volume's snapshot
    plan = restore.plan_restore(
        settings, OPERATOR, prepared.vm["id"], prepared.point[:8], name="jenkins-back"
    )
    result = run(settings, plan)
    assert result.status == "succeeded", result.message
    [server] = tagged(sim, plan.plan_id)["servers"]
    conn = sim.connect()
    new = conn.compute.get_server(server["id"])
    assert (new.name, new.status, new.image.id) == ("jenkins-back", "ACTIVE", prepared.point)
    assert new.flavor.original_name == prepared.vm["flavor"]["original_name"]
    assert sorted(new.addresses) == sorted(prepared.vm["addresses"])
    [att] = list(conn.compute.volume_attachments(server["id"]))
    restored = conn.block_storage.get(f"/volumes/{att.volume_id}").json()["volume"]
    assert restored["snapshot_id"] == prepared.data_snapshot
    # The copy is not enrolled in the original's policies (the original keeps them).
    assert "auto_snapshot" not in server["metadata"] and prepared.vm["metadata"]["auto_snapshot"] == "true"


def test_replace_is_refused_without_the_typed_confirmation_and_audited(cloud):
    sim, settings = cloud
    prepared = bfv_with_snapshots(sim, settings)
    name = prepared.vm["name"]
    for confirm in (None, "delete and restore " + name, "DELETE AND RESTORE other"):
        with pytest.raises(Pf9Error, match=f"confirm by typing exactly `DELETE AND RESTORE {name}`"):
            restore.plan_restore(settings, OPERATOR, name, prepared.point, mode="replace", confirm=confirm)
    assert plans(settings.data_dir).empty
    refused = audit(settings.data_dir, action="restore.replace")
    assert len(refused) == 3 and set(refused["result"]) == {"refused"}


def test_replace_brings_the_vm_back_in_place_with_its_addresses(cloud):
    sim, settings = cloud
    prepared = bfv_with_snapshots(sim, settings)
    name, before = prepared.vm["name"], addresses(prepared.vm)
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
    result = run(settings, plan)
    assert result.status == "succeeded", result.message
    conn = sim.connect()
    assert conn.compute.find_server(prepared.vm["id"], ignore_missing=True) is None  # the original is gone
    [server] = tagged(sim, plan.plan_id)["servers"]
    assert server["name"] == name and addresses(server) == before
    # A safety snapshot of each of the original's volumes was taken first, and is kept.
    snaps = conn.block_storage.get("/snapshots/detail?all_tenants=1", microversion="3.70").json()["snapshots"]
    safety = [s for s in snaps if s["metadata"].get("pf9wb_plan") == plan.plan_id]
    assert sorted(s["volume_id"] for s in safety) == sorted(v["id"] for v in plan.inputs["vm"]["attached"])


def test_replace_of_an_image_booted_vm_keeps_an_image_safety_snapshot_and_cleans_up_what_it_can(cloud):
    sim, settings = cloud
    prepared = image_vm_with_snapshots(sim, settings)
    name = prepared.vm["name"]
    plan = restore.plan_restore(
        settings,
        OPERATOR,
        name,
        prepared.point,
        mode="replace",
        confirm=f"DELETE AND RESTORE {name}",
        cleanup_old_volumes=True,
    )
    result = run(settings, plan)
    assert result.status == "succeeded", result.message
    conn = sim.connect()
    [server] = tagged(sim, plan.plan_id)["servers"]
    assert conn.compute.get_server(server["id"]).image.id == prepared.point
    images = conn.image.get(f"/images?instance_uuid={prepared.vm['id']}").json()["images"]
    assert [i["name"] for i in images if i.get("pf9wb_plan") == plan.plan_id][0].startswith(
        f"pf9wb-safety-{name}-"
    )
    # The original's data volume has snapshots, which Cinder keeps it for: the clean-up says so.
    notes = [s["detail"] for s in restore.job(settings.data_dir, plan.plan_id)["steps"]]
    assert any(n.startswith("kept the original's volume jenkins-data") for n in notes)
    assert (
        conn.block_storage.get(f"/volumes/{prepared.data_volume}").json()["volume"]["status"] == "available"
    )


def test_ip_strategies(cloud):
    sim, settings = cloud
    prepared = bfv_with_snapshots(sim, settings)
    vm, point = prepared.vm["name"], prepared.point
    taken = fixed(prepared.vm)
    # NEW_IPS: new addresses on the same networks.
    plan = restore.plan_restore(settings, OPERATOR, vm, point, name="n1")
    assert run(settings, plan).status == "succeeded"
    [n1] = tagged(sim, plan.plan_id)["servers"]
    assert sorted(addresses(n1)) == sorted(addresses(prepared.vm))
    assert not set(taken) & set(fixed(n1))
    # TRY_SAME_IPS while the original holds them: a new address each, with a warning each.
    plan = restore.plan_restore(settings, OPERATOR, vm, point, name="n2", ip_strategy="TRY_SAME_IPS")
    fallbacks = [w for w in plan.inputs["warnings"] if "is in use by port" in w and "gets a new address" in w]
    assert len(fallbacks) == len(taken) and all(p["ip"] is None for p in plan.inputs["ports"])
    # SAME_IPS_OR_FAIL while the original holds them: refused, naming the address.
    with pytest.raises(Pf9Error, match=rf"{taken[0]} is in use by port|is in use by port"):
        restore.plan_restore(settings, OPERATOR, vm, point, ip_strategy="SAME_IPS_OR_FAIL")
    # MANUAL_IP: one free address per port, in the port order the plan shows.
    ports = plan.inputs["ports"]
    conn = sim.connect()
    wanted = []
    for entry in ports:
        subnet = conn.network.get(f"/subnets?network_id={entry['network_id']}").json()["subnets"][0]
        used = {
            f["ip_address"]
            for p in conn.network.get(f"/ports?network_id={entry['network_id']}").json()["ports"]
            for f in p["fixed_ips"]
        }
        free = next(
            str(ip) for ip in list(ipaddress.ip_network(subnet["cidr"]).hosts())[100:] if str(ip) not in used
        )
        wanted.append(free)
    plan = restore.plan_restore(settings, OPERATOR, vm, point, name="n3", ip_strategy="MANUAL_IP", ips=wanted)
    assert run(settings, plan).status == "succeeded"
    [n3] = tagged(sim, plan.plan_id)["servers"]
    assert fixed(n3) == sorted(wanted)
    with pytest.raises(Pf9Error, match="MANUAL_IP needs one address per port"):
        restore.plan_restore(settings, OPERATOR, vm, point, ip_strategy="MANUAL_IP", ips=wanted[:1])
    with pytest.raises(Pf9Error, match=f"{wanted[0]} is in use by port"):
        restore.plan_restore(settings, OPERATOR, vm, point, ip_strategy="MANUAL_IP", ips=wanted)
    with pytest.raises(Pf9Error, match="is not in a subnet of network"):
        restore.plan_restore(
            settings, OPERATOR, vm, point, ip_strategy="MANUAL_IP", ips=["192.0.2.7"] * len(ports)
        )


def test_try_same_ips_falls_back_when_an_address_is_taken_after_the_plan(cloud):
    sim, settings = cloud
    prepared = bfv_with_snapshots(sim, settings)
    name = prepared.vm["name"]
    plan = restore.plan_restore(
        settings,
        OPERATOR,
        name,
        prepared.point,
        mode="replace",
        ip_strategy="TRY_SAME_IPS",
        confirm=f"DELETE AND RESTORE {name}",
        safety_snapshot=False,
    )
    assert all(p["ip"] for p in plan.inputs["ports"])
    # Someone takes the first address between the plan and the port's creation: Neutron answers 409 once.
    sim.faults({"method": "POST", "path": "/ports$", "status": 409, "times": 1})
    result = run(settings, plan)
    sim.clear_faults()
    assert result.status == "succeeded", result.message
    [server] = tagged(sim, plan.plan_id)["servers"]
    got, planned = fixed(server), [p["ip"] for p in plan.inputs["ports"]]
    assert len(got) == 2 and planned[1] in got and planned[0] not in got
    steps = restore.job(settings.data_dir, plan.plan_id)["steps"]
    notes = [s["detail"] for s in steps if s["action"] == "restore.port"]
    assert any("was taken since the plan: port 1 got a new address" in n for n in notes)


def test_a_quota_shortfall_is_refused_at_plan_time_with_the_numbers(cloud):
    sim, settings = cloud
    prepared = bfv_with_snapshots(sim, settings)
    pid, conn = prepared.vm["tenant_id"], sim.connect()
    nova = conn.compute.get(f"/os-quota-sets/{pid}/detail").json()["quota_set"]["cores"]
    cinder = conn.block_storage.get(f"/os-quota-sets/{pid}?usage=true").json()["quota_set"]["gigabytes"]
    ports = conn.network.get(f"/quotas/{pid}/details").json()["quota"]["port"]
    conn.compute.put(f"/os-quota-sets/{pid}", json={"quota_set": {"cores": nova["in_use"] + 1}})
    conn.block_storage.put(f"/os-quota-sets/{pid}", json={"quota_set": {"gigabytes": cinder["in_use"] + 10}})
    conn.network.put(f"/quotas/{pid}", json={"quota": {"port": ports["used"]}})
    vcpus = prepared.vm["flavor"]["vcpus"]
    sizes = sum(
        conn.block_storage.get(f"/snapshots/{s}").json()["snapshot"]["size"]
        for s in (prepared.point, prepared.data_snapshot)
    )
    with pytest.raises(Pf9Error) as refused:
        restore.plan_restore(settings, OPERATOR, prepared.vm["name"], prepared.point)
    message = str(refused.value)
    assert f"cores: {vcpus} needed, 1 left (limit {nova['in_use'] + 1}, in use {nova['in_use']})" in message
    assert (
        f"gigabytes: {sizes} needed, 10 left (limit {cinder['in_use'] + 10}, in use {cinder['in_use']})"
        in message
    )
    assert f"ports: {len(prepared.vm['addresses'])} needed, 0 left" in message
    assert "raise the quota" in message and "\n" not in message
    assert plans(settings.data_dir).empty


def test_a_viewer_is_refused_execution_in_the_library_and_it_is_audited(cloud):
    sim, settings = cloud
    prepared = bfv_with_snapshots(sim, settings)
    with pytest.raises(PermissionDenied):
        restore.plan_restore(settings, VIEWER, prepared.vm["name"], prepared.point)
    plan = restore.plan_restore(settings, OPERATOR, prepared.vm["name"], prepared.point)
    with pytest.raises(PermissionDenied, match="vic is viewer, operator is needed"):
        restore.execute(settings, plan.plan_id, VIEWER)
    denied = audit(settings.data_dir, actor="vic")
    assert set(denied["action"]) == {"restore.new.plan", "restore.new.apply"} and set(denied["result"]) == {
        "denied"
    }
    assert (
        tagged(sim, plan.plan_id)["servers"] == []
        and restore.jobs(settings.data_dir)["state"][0] == "PLANNED"
    )


@pytest.mark.parametrize(
    "env, said",
    [
        ({"RESTORE_ENABLED": "false"}, "RESTORE_ENABLED is off"),
        ({"RESTORE_ENABLED": "true", "RESTORE_DRY_RUN": "true"}, "RESTORE_DRY_RUN is on"),
    ],
)
def test_disabled_or_dry_run_means_plans_only_in_one_line(cloud, env, said):
    sim, settings = cloud
    prepared = bfv_with_snapshots(sim, settings)
    off = settings_for(sim, settings.data_dir, **env)
    plan = restore.plan_restore(off, OPERATOR, prepared.vm["name"], prepared.point)  # plans still work
    with pytest.raises(Pf9Error, match=f"restore runs plans only here \\({said}\\)") as refused:
        restore.execute(off, plan.plan_id, OPERATOR)
    assert "\n" not in str(refused.value)
    assert tagged(sim, plan.plan_id)["servers"] == [] and restore.jobs(off.data_dir)["state"][0] == "PLANNED"
    assert "refused" in set(audit(off.data_dir, plan_id=plan.plan_id)["result"])


def test_one_active_job_per_vm(cloud):
    sim, settings = cloud
    prepared = bfv_with_snapshots(sim, settings)
    plan = restore.plan_restore(settings, OPERATOR, prepared.vm["name"], prepared.point)
    with vm_lock(settings.data_dir, prepared.vm["id"]) as held:  # as another process's job would
        assert held
        result = run(settings, plan)
    assert (
        result.status == "refused" and "another restore of VM acme-prod-web-01 is running" in result.message
    )
    assert tagged(sim, plan.plan_id)["servers"] == []
    assert restore.retry(settings, plan.plan_id, OPERATOR, context=quick(settings)).status == "succeeded"
