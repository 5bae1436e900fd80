"""The simulated Cinder v3 answers unmodified openstacksdk and openstackclient as a real Cinder does.

The estate is built by hand (storage_cloud.py) so every count is exact: 5 volumes (3 in alpha, 2 in beta),
4 snapshots (3 alpha, 1 beta), 3 volume types (__DEFAULT__, ssd, private gold). alpha's quota is volumes 5,
snapshots 5, gigabytes 200 with 3 volumes (80 GB) and 3 snapshots (90 GB) in use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openstack.exceptions
import pytest
import requests

from .storage_cloud import REGION, StorageCloud, serve


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[StorageCloud]:
    with serve(tmp_path) as running:
        yield running


def _token(cloud: StorageCloud, user: str = "admin") -> str:
    return cloud.connect(user).session.get_token()


def _get(cloud: StorageCloud, path: str, user: str = "admin", version: str | None = "3.70", **params):
    headers = {"X-Auth-Token": _token(cloud, user)}
    if version:
        headers["OpenStack-API-Version"] = f"volume {version}"
    return requests.get(f"{cloud.base}/{REGION}/volume/v3{path}", headers=headers, params=params, timeout=10)


# -- discovery and listing ---------------------------------------------------------------------------
def test_version_discovery(cloud: StorageCloud) -> None:
    root = requests.get(f"{cloud.base}/{REGION}/volume/", timeout=10)
    assert root.status_code == 300
    (v3,) = root.json()["versions"]
    assert (v3["id"], v3["status"], v3["min_version"], v3["version"]) == ("v3.0", "CURRENT", "3.0", "3.71")
    assert {"href": f"{cloud.base}/{REGION}/volume/v3/", "rel": "self"} in v3["links"]
    one = requests.get(f"{cloud.base}/{REGION}/volume/v3/", timeout=10)
    assert one.status_code == 200 and one.json() == {"versions": [v3]}
    resp = _get(cloud, "/volumes", version="3.72")
    assert resp.status_code == 406


def test_sdk_lists_all_projects_across_pages(cloud: StorageCloud) -> None:
    conn = cloud.connect()
    vols = list(conn.block_storage.volumes(all_projects=True, limit=2))
    assert sorted(v.name for v in vols) == [
        "alpha-boot",
        "alpha-data",
        "alpha-scratch",
        "beta-db",
        "beta-logs",
    ]
    snaps = list(conn.block_storage.snapshots(all_projects=True, limit=3))
    assert sorted(s.name for s in snaps) == ["alpha-boot-1", "alpha-boot-2", "alpha-data-1", "beta-db-1"]
    # Cinder lists only public types unless an admin asks for is_public=None.
    assert sorted(t.name for t in conn.block_storage.types()) == ["__DEFAULT__", "ssd"]
    assert sorted(t.name for t in conn.block_storage.types(is_public="None")) == [
        "__DEFAULT__",
        "gold",
        "ssd",
    ]
    # Without all_projects an admin sees its own project only (none here).
    assert list(conn.block_storage.volumes()) == []


def test_paging_links_and_filters(cloud: StorageCloud) -> None:
    first = _get(cloud, "/volumes/detail", all_tenants="1", limit="2").json()
    assert len(first["volumes"]) == 2
    (link,) = first["volumes_links"]
    assert (
        link["rel"] == "next"
        and "limit=2" in link["href"]
        and f"marker={first['volumes'][1]['id']}" in link["href"]
    )
    assert link["href"].startswith(f"{cloud.base}/{REGION}/volume/v3/volumes/detail?")
    second = requests.get(link["href"], headers={"X-Auth-Token": _token(cloud)}, timeout=10).json()
    third = requests.get(
        second["volumes_links"][0]["href"], headers={"X-Auth-Token": _token(cloud)}, timeout=10
    )
    assert (
        len(second["volumes"]) == 2
        and len(third.json()["volumes"]) == 1
        and "volumes_links" not in third.json()
    )
    ids = [v["id"] for page in (first, second, third.json()) for v in page["volumes"]]
    assert len(set(ids)) == 5
    alpha = cloud.ids["alpha"]
    assert len(_get(cloud, "/volumes/detail", all_tenants="1", project_id=alpha).json()["volumes"]) == 3
    boot = _get(cloud, "/volumes/detail", all_tenants="1", bootable="true").json()["volumes"]
    assert [v["name"] for v in boot] == ["alpha-boot"]
    meta = _get(cloud, "/volumes/detail", all_tenants="1", metadata="{'auto_snapshot': 'true'}").json()
    assert [v["name"] for v in meta["volumes"]] == ["alpha-boot"]
    err = _get(cloud, "/volumes/detail", all_tenants="1", status="error").json()["volumes"]
    assert [v["name"] for v in err] == ["alpha-scratch"]
    counted = _get(cloud, "/snapshots/detail", all_tenants="1", limit="1", with_count="true").json()
    assert counted["count"] == 4 and len(counted["snapshots"]) == 1
    by_volume = _get(cloud, "/snapshots", all_tenants="1", volume_id=cloud.ids["volume:alpha-boot"]).json()
    assert sorted(s["name"] for s in by_volume["snapshots"]) == ["alpha-boot-1", "alpha-boot-2"]
    assert "os-extended-snapshot-attributes:project_id" not in by_volume["snapshots"][0]
    assert _get(cloud, "/volumes/detail", marker="0" * 32).status_code == 404
    summary = _get(cloud, "/volumes", all_tenants="1").json()["volumes"][0]
    assert sorted(summary) == ["id", "links", "name"]


def test_volume_detail_body_by_microversion_and_role(cloud: StorageCloud) -> None:
    vid = cloud.ids["volume:alpha-boot"]
    body = _get(cloud, f"/volumes/{vid}").json()["volume"]
    assert body["bootable"] == "true" and body["status"] == "in-use" and body["size"] == 20
    assert body["os-vol-tenant-attr:tenant_id"] == cloud.ids["alpha"]
    assert body["volume_type"] == "ssd" and body["volume_type_id"] == cloud.ids["type:ssd"]
    assert body["os-vol-host-attr:host"] == f"{REGION}-cinder@ceph-ssd#ceph-ssd"
    assert body["volume_image_metadata"]["image_id"] == cloud.ids["image:ubuntu-22.04"]
    assert body["volume_image_metadata"]["os_distro"] == "ubuntu"
    (att,) = body["attachments"]
    assert att["server_id"] == "5d3c8f36-2f3c-4a6e-9e0b-7b7c3f3f7a01" and att["device"] == "/dev/vda"
    assert att["volume_id"] == vid and att["host_name"] == "compute-01"
    assert body["links"][0] == {
        "href": f"{cloud.base}/{REGION}/volume/v3/{cloud.ids['alpha']}/volumes/{vid}",
        "rel": "self",
    }
    assert body["consumes_quota"] is True and body["created_at"].count(".") == 1
    assert not any(k.startswith("_") for k in body)
    old = _get(cloud, f"/volumes/{vid}", version=None)
    assert old.headers["OpenStack-API-Version"] == "volume 3.0"
    old_body = old.json()["volume"]
    assert (
        "volume_type_id" not in old_body and "consumes_quota" not in old_body and "group_id" not in old_body
    )
    member = _get(cloud, f"/volumes/{vid}", user="alice").json()["volume"]
    assert "os-vol-host-attr:host" not in member and member["id"] == vid
    assert _get(cloud, f"/volumes/{vid}", user="bob").status_code == 404
    # The project-scoped URL is checked against the token's project.
    alpha_url = f"{cloud.base}/{REGION}/volume/v3/{cloud.ids['alpha']}/volumes/{vid}"
    wrong = requests.get(alpha_url, headers={"X-Auth-Token": _token(cloud, "bob")}, timeout=10)
    assert wrong.status_code == 400 and wrong.json() == {
        "badRequest": {"code": 400, "message": "Malformed request url"}
    }


def test_member_sees_only_its_project(cloud: StorageCloud) -> None:
    conn = cloud.connect("alice")
    assert sorted(v.name for v in conn.block_storage.volumes(all_projects=True)) == [
        "alpha-boot",
        "alpha-data",
        "alpha-scratch",
    ]
    assert sorted(s.name for s in conn.block_storage.snapshots()) == [
        "alpha-boot-1",
        "alpha-boot-2",
        "alpha-data-1",
    ]
    assert sorted(t.name for t in conn.block_storage.types()) == ["__DEFAULT__", "ssd"]
    ssd = conn.block_storage.get_type(cloud.ids["type:ssd"])
    assert ssd.extra_specs == {"multiattach": "<is> False"}  # backend names are admin-only
    with pytest.raises(openstack.exceptions.ForbiddenException):
        conn.block_storage.get_quota_set(cloud.ids["beta"])


# -- lifecycle, quotas, errors -----------------------------------------------------------------------
def test_volume_snapshot_volume_lifecycle(cloud: StorageCloud) -> None:
    conn = cloud.connect("alice")
    vol = conn.block_storage.create_volume(size=4, name="work", metadata={"owner": "alice"})
    assert vol.status == "creating" and vol.size == 4 and vol.volume_type == "__DEFAULT__"
    vol = conn.block_storage.wait_for_status(vol, "available", interval=0.1, wait=5)
    assert vol.project_id == cloud.ids["alpha"] and vol.user_id == cloud.ids["user:alice"]
    snap = conn.block_storage.create_snapshot(
        volume_id=vol.id, name="work-snap", description="before upgrade"
    )
    assert snap.status == "creating"
    snap = conn.block_storage.wait_for_status(snap, "available", interval=0.1, wait=5)
    assert (snap.size, snap.volume_id, snap.project_id) == (4, vol.id, cloud.ids["alpha"])
    with pytest.raises(openstack.exceptions.BadRequestException, match="cannot be smaller than the snapshot"):
        conn.block_storage.create_volume(size=3, snapshot_id=snap.id)
    clone = conn.block_storage.create_volume(snapshot_id=snap.id, name="restored")
    assert clone.size == 4 and clone.snapshot_id == snap.id
    clone = conn.block_storage.get_volume(clone.id)
    assert clone.status == "available"
    with pytest.raises(openstack.exceptions.BadRequestException, match="have snapshots"):
        conn.block_storage.delete_volume(vol)
    conn.block_storage.delete_volume(clone)
    conn.block_storage.delete_snapshot(snap)
    conn.block_storage.delete_volume(vol)
    assert sorted(v.name for v in conn.block_storage.volumes()) == [
        "alpha-boot",
        "alpha-data",
        "alpha-scratch",
    ]
    assert len(list(conn.block_storage.snapshots())) == 3
    with pytest.raises(openstack.exceptions.BadRequestException, match="attached"):
        conn.block_storage.delete_volume(cloud.ids["volume:alpha-boot"])


def test_quota_exceeded_is_413_overlimit(cloud: StorageCloud) -> None:
    conn = cloud.connect("alice")
    with pytest.raises(openstack.exceptions.HttpException) as exc:
        conn.block_storage.create_volume(size=31, name="too-big")  # 170 + 31 > 200 GB
    assert exc.value.status_code == 413
    body = exc.value.response.json()
    assert body == {  # as cinder 29 answers: the exception's name first, Retry-After repeated
        "overLimit": {
            "code": 413,
            "message": "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
            "gigabytes quota. Requested 31G, quota is 200G and 170G has been consumed.",
            "retryAfter": "0",
        }
    }
    conn.block_storage.create_volume(size=1, name="fourth")
    conn.block_storage.create_volume(size=1, name="fifth")
    with pytest.raises(openstack.exceptions.HttpException) as exc:
        conn.block_storage.create_volume(size=1, name="sixth")
    assert exc.value.status_code == 413
    assert "Maximum number of volumes allowed (5) exceeded for quota 'volumes'" in exc.value.response.text
    # beta may hold one ssd volume and already has beta-db.
    with pytest.raises(openstack.exceptions.HttpException, match="volumes_ssd"):
        cloud.connect("bob").block_storage.create_volume(size=1, volume_type="ssd")
    # Snapshots count against snapshots and gigabytes: alpha-data (50 GB) would pass 200 GB.
    vid = cloud.ids["volume:alpha-data"]
    with pytest.raises(openstack.exceptions.HttpException) as exc:
        conn.block_storage.create_snapshot(volume_id=vid, name="big")
    assert exc.value.status_code == 413


def test_in_use_snapshot_needs_force(cloud: StorageCloud) -> None:
    conn = cloud.connect("alice")
    vid = cloud.ids["volume:alpha-boot"]
    with pytest.raises(openstack.exceptions.BadRequestException) as exc:
        conn.block_storage.create_snapshot(volume_id=vid, name="no-force")
    assert exc.value.response.json() == {
        "badRequest": {
            "code": 400,
            "message": (
                f"Invalid volume: Volume {vid} status must be available, but current status is: in-use."
            ),
        }
    }
    snap = conn.block_storage.create_snapshot(volume_id=vid, name="forced", is_forced=True)
    assert snap.size == 20 and snap.volume_id == vid
    conn.block_storage.delete_snapshot(snap)
    # From 3.66 in-use volumes need no force flag, and an explicit false force is refused.
    headers = {"X-Auth-Token": _token(cloud, "alice"), "OpenStack-API-Version": "volume 3.66"}
    url = f"{cloud.base}/{REGION}/volume/v3/snapshots"
    refused = requests.post(
        url,
        headers=headers,
        timeout=10,
        json={"snapshot": {"volume_id": vid, "name": "modern", "force": False}},
    )
    assert refused.status_code == 400
    resp = requests.post(
        url, headers=headers, timeout=10, json={"snapshot": {"volume_id": vid, "name": "modern"}}
    )
    assert resp.status_code == 202 and resp.headers["OpenStack-API-Version"] == "volume 3.66"
    body = resp.json()["snapshot"]
    assert body["status"] == "creating" and body["os-extended-snapshot-attributes:progress"] == "0%"
    assert body["user_id"] == cloud.ids["user:alice"] and "consumes_quota" in body


def test_volume_metadata_update(cloud: StorageCloud) -> None:
    conn = cloud.connect("alice")
    vid = cloud.ids["volume:alpha-data"]
    conn.block_storage.set_volume_metadata(vid, auto_snapshot="true", snapshot_policies="daily_5,monthly_1st")
    conn.block_storage.delete_volume_metadata(vid, keys=["auto_snapshot"])
    assert conn.block_storage.get_volume(vid).metadata == {"snapshot_policies": "daily_5,monthly_1st"}
    assert cloud.est.get("volumes", vid)["metadata"] == {"snapshot_policies": "daily_5,monthly_1st"}
    headers = {"X-Auth-Token": _token(cloud, "alice")}
    url = f"{cloud.base}/{REGION}/volume/v3/volumes/{vid}/metadata"
    put = requests.put(url, json={"metadata": {"retention_daily_5": "5"}}, headers=headers, timeout=10)
    assert put.json() == {"metadata": {"retention_daily_5": "5"}}
    item = requests.get(url + "/retention_daily_5", headers=headers, timeout=10)
    assert item.json() == {"meta": {"retention_daily_5": "5"}}
    missing = requests.delete(url + "/nope", headers=headers, timeout=10)
    assert missing.status_code == 404 and "itemNotFound" in missing.json()
    bad = requests.post(url, json={"metadata": {"n": 5}}, headers=headers, timeout=10)
    assert bad.status_code == 400
    conn.block_storage.update_volume(vid, name="alpha-data-renamed", description="renamed")
    assert conn.block_storage.get_volume(vid).name == "alpha-data-renamed"


def test_actions_extend_retype_reset(cloud: StorageCloud) -> None:
    conn = cloud.connect()
    vid = cloud.ids["volume:beta-logs"]
    conn.block_storage.extend_volume(vid, 8)
    # beta may hold one ssd volume (beta-db): a retype checks only the new type's quota.
    with pytest.raises(openstack.exceptions.HttpException, match="volumes_ssd"):
        conn.block_storage.retype_volume(vid, "ssd")
    conn.block_storage.retype_volume(vid, "gold")
    vol = conn.block_storage.get_volume(vid)
    assert (vol.size, vol.volume_type) == (8, "gold")
    with pytest.raises(openstack.exceptions.BadRequestException, match="greater than current size"):
        conn.block_storage.extend_volume(vid, 8)
    conn.block_storage.reset_volume_status(vid, "error", None, None)
    assert conn.block_storage.get_volume(vid).status == "error"
    with pytest.raises(openstack.exceptions.ForbiddenException):
        cloud.connect("alice").block_storage.reset_volume_status(
            cloud.ids["volume:alpha-data"], "error", None, None
        )


def test_quota_usage_limits_services_azs(cloud: StorageCloud) -> None:
    alpha = cloud.ids["alpha"]
    qs = _get(cloud, f"/os-quota-sets/{alpha}", usage="true").json()["quota_set"]
    assert qs["id"] == alpha
    assert qs["volumes"] == {"limit": 5, "in_use": 3, "reserved": 0}
    assert qs["gigabytes"] == {"limit": 200, "in_use": 170, "reserved": 0}
    assert qs["snapshots"]["in_use"] == 3 and qs["volumes_ssd"]["in_use"] == 1
    assert qs["gigabytes___DEFAULT__"] == {"limit": -1, "in_use": 110, "reserved": 0}
    plain = _get(cloud, f"/os-quota-sets/{alpha}").json()["quota_set"]
    assert plain["volumes"] == 5 and plain["backups"] == 10 and plain["per_volume_gigabytes"] == -1
    defaults = _get(cloud, f"/os-quota-sets/{alpha}/defaults").json()["quota_set"]
    assert defaults["volumes"] == 10 and defaults["gigabytes"] == 1000
    quota = cloud.connect().block_storage.get_quota_set(alpha, usage=True)
    assert quota.usage["volumes"] == 3 and quota.volumes == 5
    cloud.connect().block_storage.update_quota_set(alpha, volumes=7)
    assert _get(cloud, f"/os-quota-sets/{alpha}").json()["quota_set"]["volumes"] == 7
    limits = _get(cloud, "/limits", user="alice").json()["limits"]["absolute"]
    assert (limits["maxTotalVolumes"], limits["totalVolumesUsed"], limits["totalGigabytesUsed"]) == (
        7,
        3,
        170,
    )
    zones = _get(cloud, "/os-availability-zone").json()["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}}]
    services = _get(cloud, "/os-services").json()["services"]
    assert sorted((s["binary"], s["host"]) for s in services) == [
        ("cinder-scheduler", f"{REGION}-cinder"),
        ("cinder-volume", f"{REGION}-cinder@ceph-ssd"),
        ("cinder-volume", f"{REGION}-cinder@lvmdriver-1"),
    ]
    assert _get(cloud, "/os-services", user="alice").status_code == 403


# -- openstackclient ---------------------------------------------------------------------------------
def _cli_json(cloud: StorageCloud, *args: str, as_user: str = "pf9sim") -> list | dict:
    result = cloud.openstack_cli(*args, "-f", "json", cloud=as_user)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_openstackclient_volume_commands(cloud: StorageCloud) -> None:
    volumes = _cli_json(cloud, "volume", "list", "--all-projects")
    assert sorted(v["Name"] for v in volumes) == [
        "alpha-boot",
        "alpha-data",
        "alpha-scratch",
        "beta-db",
        "beta-logs",
    ]
    assert {v["Name"]: v["Size"] for v in volumes}["beta-db"] == 100
    snaps = _cli_json(cloud, "volume", "snapshot", "list", "--all-projects")
    assert sorted(s["Name"] for s in snaps) == ["alpha-boot-1", "alpha-boot-2", "alpha-data-1", "beta-db-1"]
    types = _cli_json(cloud, "volume", "type", "list")
    assert sorted(t["Name"] for t in types) == ["__DEFAULT__", "gold", "ssd"]
    mine = _cli_json(cloud, "volume", "list", as_user="alice")
    assert sorted(v["Name"] for v in mine) == ["alpha-boot", "alpha-data", "alpha-scratch"]
    shown = _cli_json(cloud, "volume", "show", "alpha-data", as_user="alice")
    assert shown["size"] == 50 and shown["bootable"] is False and shown["type"] == "__DEFAULT__"


def test_volume_from_image_is_bootable(cloud: StorageCloud) -> None:
    conn = cloud.connect("alice")
    vol = conn.block_storage.create_volume(size=3, image_id=cloud.ids["image:win2022"], name="win-boot")
    vol = conn.block_storage.get_volume(vol.id)
    assert vol.is_bootable is True and vol.volume_image_metadata["os_distro"] == "windows"
    with pytest.raises(openstack.exceptions.BadRequestException, match="smaller than the image"):
        conn.block_storage.create_volume(size=2, image_id=cloud.ids["image:win2022"])  # a 3 GiB image
    with pytest.raises(openstack.exceptions.BadRequestException, match="unable to access"):
        conn.block_storage.create_volume(size=5, image_id=cloud.ids["image:beta-private"])


@pytest.mark.integration
def test_generated_estate_lists_exactly(sim) -> None:
    """Against the `tiny` simulated-cloud process: every volume, snapshot and type of every region is listed
    once through paged SDK calls."""
    counts = sim.summary()["counts"]
    seen = {"volumes": set(), "snapshots": set(), "volume_types": set()}
    for region in sim.regions:
        storage = sim.connect(region).block_storage
        seen["volumes"] |= {v.id for v in storage.volumes(all_projects=True, limit=7)}
        seen["snapshots"] |= {s.id for s in storage.snapshots(all_projects=True, limit=13)}
        seen["volume_types"] |= {t.id for t in storage.types(is_public="None")}
    assert {kind: len(ids) for kind, ids in seen.items()} == {kind: counts[kind] for kind in seen}
