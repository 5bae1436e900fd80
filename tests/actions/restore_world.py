"""What the restore tests share: settings for a fresh simulated cloud with restores enabled, the two VMs
they restore (one boots from a volume, one from an image; each with a data volume), snapshots taken and
collected, and looks at the cloud through the SDK by the plan's tags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import openstack

from pf9lib import identity, pipeline
from pf9lib.actions import apply
from pf9lib.actions.client import plan_tag
from pf9lib.actions.restore import RestoreContext
from pf9lib.actions.snapshot_run import plan_run
from pf9lib.config import load_settings
from pf9lib.identity import Identity

SERVICE = {
    "SNAPSHOT_SERVICE_USER_EMAIL": "snapshot-svc@pf9sim.local",
    "SNAPSHOT_SERVICE_USER_PASSWORD": "pf9sim-snapshots",
}
ENABLED = {"RESTORE_ENABLED": "true", "RESTORE_DRY_RUN": "false"}
ADMIN, OPERATOR, VIEWER = Identity("ada", "test"), Identity("otto", "test"), Identity("vic", "test")
BFV_VM, IMAGE_VM = "acme-prod-web-01", "acme-prod-jenkins-01"  # of the `tiny` estate, seed 42


def settings_for(sim, data_dir, **env):
    return load_settings(cloud=sim.cloud_name, data_dir=str(data_dir), env={**sim.env(), **SERVICE, **env})


def setup(sim, data_dir, **env):
    """Settings with restores enabled (unless `env` says otherwise), ada admin, otto operator, vic viewer."""
    sim.client.options(nightly_snapshots=False)
    settings = settings_for(sim, data_dir, **{**ENABLED, **env})
    identity.grant(settings.data_dir, ADMIN, "ada", "admin")
    identity.grant(settings.data_dir, ADMIN, "otto", "operator")
    identity.grant(settings.data_dir, ADMIN, "vic", "viewer")
    return settings


def quick(settings) -> RestoreContext:
    """A job context with short pacing (heartbeats and polls) for tests."""
    return RestoreContext(settings, settings.data_dir, "", heartbeat_s=0.2, poll_s=0.05, timeout_s=60)


def clock(sim) -> datetime:
    return datetime.fromisoformat(sim.summary()["clock"].replace("Z", "+00:00"))


def server_named(sim, name: str) -> dict:
    conn = sim.connect()
    found = conn.compute.get("/servers/detail?all_tenants=1", microversion="2.96").json()["servers"]
    return next(s for s in found if s["name"] == name)


def scoped(sim, project_id: str) -> openstack.connection.Connection:
    """The admin user in `project_id` (given the admin role there), to make things in that project."""
    conn = sim.connect()
    admin = conn.identity.get("/users?name=admin").json()["users"][0]
    role = conn.identity.get("/roles?name=admin").json()["roles"][0]
    conn.identity.put(f"/projects/{project_id}/users/{admin['id']}/roles/{role['id']}")
    return openstack.connect(
        auth_url=sim.auth_url,
        username="admin",
        password="pf9sim-admin",
        user_domain_name="Default",
        project_id=project_id,
        region_name=sim.regions[0],
    )


@dataclass
class Prepared:
    vm: dict  # the server as Nova shows it
    point: str  # the newest restore point's id
    data_volume: str  # the data volume's id
    data_snapshot: str  # its snapshot matched to the point


def bfv_with_snapshots(sim, settings) -> Prepared:
    """acme-prod-web-01 (boots from a volume, one data volume): a snapshot of each volume now, collected."""
    vm = server_named(sim, BFV_VM)
    conn = sim.connect()
    attached = conn.compute.get(f"/servers/{vm['id']}/os-volume_attachments").json()["volumeAttachments"]
    assert not vm["image"] and sorted(a["device"] for a in attached) == ["/dev/vda", "/dev/vdb"]
    made = {}
    for att in attached:
        body = {
            "snapshot": {"volume_id": att["volumeId"], "name": f"manual-{att['device'][-3:]}", "force": True}
        }
        made[att["device"]] = conn.block_storage.post("/snapshots", json=body).json()["snapshot"]["id"]
    pipeline.collect(settings, settings.data_dir)
    data = next(a["volumeId"] for a in attached if a["device"] == "/dev/vdb")
    return Prepared(vm, made["/dev/vda"], data, made["/dev/vdb"])


def image_vm_with_snapshots(sim, settings) -> Prepared:
    """acme-prod-jenkins-01 (boots from an image) given a data volume, both enrolled in daily_2 and
    snapshotted by one policy run (an image snapshot and a volume snapshot with the same run mark)."""
    vm = server_named(sim, IMAGE_VM)
    assert vm["image"] and not vm["os-extended-volumes:volumes_attached"]
    own = scoped(sim, vm["tenant_id"])
    meta = {"auto_snapshot": "true", "snapshot_policies": "daily_2"}
    body = {"volume": {"size": 5, "name": "jenkins-data", "metadata": meta}}
    volume = own.block_storage.post("/volumes", json=body).json()["volume"]
    own.compute.post(
        f"/servers/{vm['id']}/os-volume_attachments", json={"volumeAttachment": {"volumeId": volume["id"]}}
    )
    conn = sim.connect()
    conn.compute.post(f"/servers/{vm['id']}/metadata", json={"metadata": meta})
    run = plan_run(settings, ADMIN, now=clock(sim))
    assert apply(settings, run.plan_id, ADMIN).status == "succeeded"
    image = next(
        s.inputs for s in run.steps if s.action == "image.create" and s.inputs["server_id"] == vm["id"]
    )
    images = conn.image.get(f"/images?instance_uuid={vm['id']}").json()["images"]
    point = next(i["id"] for i in images if i["name"] == image["name"])
    snaps = conn.block_storage.get("/snapshots/detail?all_tenants=1").json()["snapshots"]
    data_snapshot = next(s["id"] for s in snaps if s["volume_id"] == volume["id"])
    pipeline.collect(settings, settings.data_dir)
    return Prepared(server_named(sim, IMAGE_VM), point, volume["id"], data_snapshot)


# --------------------------------------------------------------------------------------------- the cloud


def tagged(sim, plan_id: str) -> dict[str, list[dict]]:
    """What the cloud holds with this plan's tag: servers (metadata), ports (description), volumes
    (metadata), and the attachments of those volumes."""
    conn = sim.connect()
    servers = conn.compute.get("/servers/detail?all_tenants=1", microversion="2.96").json()["servers"]
    ports = conn.network.get(f"/ports?description={plan_tag(plan_id)}").json()["ports"]
    volumes = conn.block_storage.get(
        "/volumes/detail?all_tenants=1",
        params={"metadata": f'{{"pf9wb_plan": "{plan_id}"}}'},
        microversion="3.70",
    ).json()["volumes"]
    return {
        "servers": [s for s in servers if s["metadata"].get("pf9wb_plan") == plan_id],
        "ports": ports,
        "volumes": volumes,
        "attachments": [a for v in volumes for a in v["attachments"]],
    }
