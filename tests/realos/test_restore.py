"""A restore against a real OpenStack (the realos stack, whose fake hypervisor and volume driver do the whole
boot-from-volume chain): a VM booted from a volume, with a data volume, is snapshotted, collected, planned and
restored in NEW mode from the real Cinder snapshots by the service user; the new server is ACTIVE with its
flavor, its network, and both volumes made from those snapshots at the same devices. Everything is removed
afterwards (the throwaway project with its contents, the snapshots, the service user)."""

from __future__ import annotations

import uuid

import pytest

from pf9lib import identity, pipeline
from pf9lib.actions import audit, restore
from pf9lib.actions.restore import RestoreContext
from pf9lib.config import load_settings

pytestmark = [pytest.mark.realos, pytest.mark.realos_mutates]


def _boot_from_volume_vm_with_data(admin, project) -> tuple[object, dict[str, str]]:
    """A network of the project's own, a blank bootable root volume, a server booted from it, a data volume
    attached: (server, device → volume id)."""
    conn = admin.connect_as_project(project)
    net = conn.network.create_network(name="realos-restore-net")
    conn.network.create_subnet(network_id=net.id, cidr="192.168.77.0/24", ip_version=4, name="restore-sub")
    root = conn.block_storage.create_volume(size=1, name="realos-restore-root")
    conn.block_storage.wait_for_status(root, "available", wait=120)
    conn.block_storage.post(
        f"/volumes/{root.id}/action", json={"os-set_bootable": {"bootable": True}}
    ).raise_for_status()
    flavor = admin.compute.find_flavor("m1.tiny", ignore_missing=False)
    server = conn.compute.create_server(
        name="realos-restore-vm",
        flavor_id=flavor.id,
        networks=[{"uuid": net.id}],
        block_device_mapping=[
            {"boot_index": 0, "uuid": root.id, "source_type": "volume", "destination_type": "volume"}
        ],
    )
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=180)
    data = conn.block_storage.create_volume(size=1, name="realos-restore-data")
    conn.block_storage.wait_for_status(data, "available", wait=120)
    conn.compute.create_volume_attachment(server, volume_id=data.id)
    conn.block_storage.wait_for_status(data, "in-use", wait=120)
    devices = {a.device: a.volume_id for a in conn.compute.volume_attachments(server)}
    # The fake hypervisor's bus names them /dev/sda and /dev/sdb: the root is at the server's root device.
    server = admin.compute.get_server(server.id)
    assert len(devices) == 2 and devices[server.root_device_name] == root.id, devices
    return server, devices


def test_a_boot_from_volume_vm_with_a_data_volume_comes_back_from_real_snapshots(
    stack, admin, throwaway_project, data_dir, cleanup
):
    password = f"Svc-{uuid.uuid4().hex[:12]}"
    user = admin.identity.create_user(
        name=f"realos-restore-{uuid.uuid4().hex[:6]}", password=password, domain_id="default"
    )
    cleanup.add("delete the service user", lambda: admin.identity.delete_user(user, ignore_missing=True))
    server, devices = _boot_from_volume_vm_with_data(admin, throwaway_project)

    snapshots: dict[str, str] = {}
    made_snapshots = []

    def drop_snapshots() -> None:
        for snap in made_snapshots:
            admin.block_storage.delete_snapshot(snap, ignore_missing=True, force=True)
            admin.block_storage.wait_for_delete(snap, wait=120)

    # Registered after the project: the clean-up runs last-in first-out, so the snapshots go before the
    # project's volumes (a volume with snapshots cannot be deleted).
    cleanup.add("delete the snapshots", drop_snapshots)
    for device, volume_id in devices.items():
        snap = admin.block_storage.create_snapshot(
            volume_id=volume_id, name=f"realos-restore-{device[-3:]}", force=True
        )
        made_snapshots.append(snap)
        snapshots[device] = snap.id
        admin.block_storage.wait_for_status(snap, "available", wait=120)

    env = {
        **stack.env("realos-admin"),
        "SNAPSHOT_SERVICE_USER_EMAIL": user.name,
        "SNAPSHOT_SERVICE_USER_PASSWORD": password,
        "RESTORE_ENABLED": "true",
        "RESTORE_DRY_RUN": "false",
    }
    cfg = load_settings(cloud="realos-admin", data_dir=str(data_dir), env=env)
    identity.grant(data_dir, "ops", "ops", "admin")
    pipeline.collect(cfg, data_dir)

    points = restore.points(data_dir, server.id)
    newest = points.iloc[0]
    root_device = server.root_device_name
    [data_device] = [d for d in devices if d != root_device]
    assert newest["point_id"] == snapshots[root_device] and newest["kind"] == "volume_snapshot"
    assert newest["covers_all"] and newest["data_snapshots"] == {devices[data_device]: snapshots[data_device]}

    plan = restore.plan_restore(cfg, "ops", server.id, newest["point_id"], name="realos-restore-vm-back")
    context = RestoreContext(cfg, data_dir, "", heartbeat_s=5, poll_s=0.5, timeout_s=300)
    result = restore.execute(cfg, plan.plan_id, "ops", context=context)
    assert result.status == "succeeded", result.message

    [made] = [c for c in result.created if c["type"] == "server"]
    new = admin.compute.get_server(made["id"])
    assert (new.name, new.status, new.project_id) == (
        "realos-restore-vm-back",
        "ACTIVE",
        throwaway_project.id,
    )
    assert new.flavor.original_name == "m1.tiny" and sorted(new.addresses) == sorted(server.addresses)
    attached = {a.device: a.volume_id for a in admin.compute.volume_attachments(new)}
    assert sorted(attached) == sorted(devices) and new.root_device_name == root_device
    for device, volume_id in attached.items():
        volume = admin.block_storage.get_volume(volume_id)
        assert volume.snapshot_id == snapshots[device] and volume.id != devices[device]
    assert admin.compute.get_server(server.id).status == "ACTIVE"  # NEW leaves the original alone
    assert restore.job(data_dir, plan.plan_id)["state"] == "SUCCEEDED"
    assert sorted(audit(data_dir, plan_id=plan.plan_id)["result"]) == ["planned", "succeeded"]
