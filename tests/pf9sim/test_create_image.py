"""Nova's createImage server action on the simulated cloud's process, against what real Nova answers and sets
(nova/api/openstack/compute/servers.py, nova/compute/utils.py): the image's properties, its owner and
visibility, the response per microversion, and a volume-backed server's block device mapping."""

from __future__ import annotations

import json

import openstack
import pytest

pytestmark = pytest.mark.integration


def _servers(conn) -> list[dict]:
    return conn.compute.get("/servers/detail?all_tenants=1", microversion="2.96").json()["servers"]


def _image(conn, image_id: str) -> dict:
    return conn.image.get(f"/images/{image_id}").json()


def _create(conn, server_id: str, body: dict, microversion: str):
    return conn.compute.post(
        f"/servers/{server_id}/action", json={"createImage": body}, microversion=microversion
    )


def _scoped(sim, project_id: str):
    """A session of the admin user scoped to `project_id` (given the admin role there first)."""
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


def test_an_image_backed_servers_snapshot_carries_what_nova_sets(fresh_sim):
    conn = fresh_sim.connect()
    server = next(s for s in _servers(conn) if s["image"] and s["status"] == "ACTIVE")
    base = _image(conn, server["image"]["id"])
    own = _scoped(fresh_sim, server["tenant_id"])
    resp = _create(own, server["id"], {"name": "snap-1", "metadata": {"purpose": "test"}}, "2.45")
    assert resp.status_code == 202 and "Location" not in resp.headers
    image = _image(conn, resp.json()["image_id"])
    project = conn.identity.get(f"/projects/{server['tenant_id']}").json()["project"]
    user = conn.identity.get(f"/users/{server['user_id']}").json()["user"]
    expected = {
        "name": "snap-1",
        "status": "active",
        "owner": server["tenant_id"],
        "visibility": "private",  # made from the server's own project
        "image_type": "snapshot",
        "instance_uuid": server["id"],
        "base_image_ref": base["id"],
        "image_location": "snapshot",
        "image_state": "available",
        "owner_id": server["tenant_id"],
        "owner_project_name": project["name"],
        "owner_user_name": user["name"],
        "user_id": own.current_user_id,  # who took the snapshot
        "purpose": "test",
        "container_format": "bare",
        "disk_format": base["disk_format"],
        "size": base["size"],
        "min_disk": max(base["min_disk"], server["flavor"]["disk"]),
    }
    assert {k: image.get(k) for k in expected} == expected
    assert image["boot_roles"] and set(image["boot_roles"].split(",")) >= {"member"}
    for key in ("os_distro", "os_version"):  # the base image's properties are inherited
        if key in base:
            assert image[key] == base[key]


def test_before_2_45_the_answer_is_a_location_header_and_no_body(fresh_sim):
    conn = fresh_sim.connect()
    server = next(s for s in _servers(conn) if s["image"] and s["status"] == "SHUTOFF")
    resp = _create(conn, server["id"], {"name": "old-style"}, "2.44")
    assert resp.status_code == 202 and resp.content == b""
    location = resp.headers["Location"]
    assert location.startswith(f"{fresh_sim.base_url}/{fresh_sim.regions[0]}/image/images/")
    image = _image(conn, location.rsplit("/", 1)[-1])
    # An admin of another project snapshots someone's server: shared with the server's project.
    assert (image["name"], image["visibility"], image["instance_owner"]) == (
        "old-style",
        "shared",
        server["tenant_id"],
    )
    members = conn.image.get(f"/images/{image['id']}/members").json()["members"]
    assert [m["member_id"] for m in members] == [server["tenant_id"]]


def test_a_server_in_error_or_a_bad_name_is_refused_and_makes_nothing(fresh_sim):
    conn = fresh_sim.connect()
    before = fresh_sim.summary()["counts"]["images"]
    broken = next(s for s in _servers(conn) if s["status"] == "ERROR")
    refused = _create(conn, broken["id"], {"name": "x"}, "2.96")
    assert refused.status_code == 409 and "vm_state error" in refused.json()["conflictingRequest"]["message"]
    fine = next(s for s in _servers(conn) if s["status"] == "ACTIVE")
    assert _create(conn, fine["id"], {"name": ""}, "2.96").status_code == 400
    assert fresh_sim.summary()["counts"]["images"] == before


def test_a_volume_backed_servers_image_maps_a_new_snapshot_of_each_volume(fresh_sim):
    conn = fresh_sim.connect()
    server = next(
        s for s in _servers(conn) if not s["image"] and len(s["os-extended-volumes:volumes_attached"]) >= 2
    )
    attached = {v["id"] for v in server["os-extended-volumes:volumes_attached"]}
    before = {s["id"] for s in conn.block_storage.get("/snapshots/detail?all_tenants=1").json()["snapshots"]}
    resp = _create(conn, server["id"], {"name": "bfv-snap"}, "2.96")
    image = _image(conn, resp.json()["image_id"])
    assert (image["size"], image["status"], image["bdm_v2"], image["root_device_name"]) == (
        0,
        "active",
        "True",
        "/dev/vda",
    )
    assert "image_location" not in image and image["instance_uuid"] == server["id"]
    mapping = json.loads(image["block_device_mapping"])
    snaps = conn.block_storage.get("/snapshots/detail?all_tenants=1").json()["snapshots"]
    new = {s["id"]: s for s in snaps if s["id"] not in before}
    assert {m["snapshot_id"] for m in mapping} == set(new)
    assert {s["volume_id"] for s in new.values()} == attached
    assert all(s["name"] == "snapshot for bfv-snap" for s in new.values())
    assert [m["boot_index"] for m in mapping if m["device_name"] == "/dev/vda"] == [0]


def test_the_sdk_creates_and_waits_for_a_server_image(fresh_sim):
    conn = fresh_sim.connect()
    server = next(s for s in _servers(conn) if s["image"] and s["status"] == "ACTIVE")
    image = conn.compute.create_server_image(server["id"], "sdk-snap", metadata={"k": "v"}, wait=True)
    assert (image.name, image.status, image.properties.get("k")) == ("sdk-snap", "active", "v")
