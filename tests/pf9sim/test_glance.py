"""The simulated Glance v2 answers unmodified openstacksdk and openstackclient as a real Glance does.

The estate (storage_cloud.py) has 8 images: 3 public (admin's), alpha-golden and alpha-backup (private to
alpha), beta-private, beta-community and beta-shared (shared with alpha, accepted).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openstack.exceptions
import pytest
import requests

from .storage_cloud import REGION, StorageCloud, serve

ALL = [
    "alpha-backup",
    "alpha-golden",
    "beta-community",
    "beta-private",
    "beta-shared",
    "rocky-9",
    "ubuntu-22.04",
    "win2022",
]
PUBLIC = ["rocky-9", "ubuntu-22.04", "win2022"]


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[StorageCloud]:
    with serve(tmp_path) as running:
        yield running


def _headers(cloud: StorageCloud, user: str = "admin") -> dict[str, str]:
    return {"X-Auth-Token": cloud.connect(user).session.get_token()}


def _url(cloud: StorageCloud, path: str) -> str:
    return f"{cloud.base}/{REGION}/image{path}"


def test_version_discovery(cloud: StorageCloud) -> None:
    root = requests.get(_url(cloud, "/"), timeout=10)
    assert root.status_code == 300
    versions = root.json()["versions"]
    assert versions[0] == {
        "id": "v2.16",
        "status": "CURRENT",
        "links": [{"rel": "self", "href": f"{cloud.base}/{REGION}/image/v2/"}],
    }
    assert [v["id"] for v in versions][-1] == "v2.0" and len(versions) == 17
    listed = requests.get(_url(cloud, "/versions"), timeout=10)
    assert listed.status_code == 200 and listed.json() == root.json()


def test_sdk_admin_pages_through_every_image(cloud: StorageCloud) -> None:
    conn = cloud.connect()
    images = list(conn.image.images(limit=3))
    assert sorted(i.name for i in images) == ALL  # includes other projects' private images
    ubuntu = conn.image.get_image(cloud.ids["image:ubuntu-22.04"])
    assert ubuntu.os_distro == "ubuntu" and ubuntu.os_version == "22.04"
    assert ubuntu.hw_disk_bus == "virtio" and ubuntu.size == 2 * 1024**3
    assert [i.name for i in conn.image.images(os_distro="ubuntu")] == ["ubuntu-22.04"]
    assert [i.name for i in conn.image.images(visibility="community")] == ["beta-community"]


def test_next_link_first_and_schema(cloud: StorageCloud) -> None:
    headers = _headers(cloud)
    first = requests.get(
        _url(cloud, "/v2/images"), params={"limit": 3, "sort": "name:asc"}, headers=headers, timeout=10
    ).json()
    assert [i["name"] for i in first["images"]] == ALL[:3]
    assert first["first"] == "/v2/images?limit=3&sort=name%3Aasc" and first["schema"] == "/v2/schemas/images"
    last_id = first["images"][-1]["id"]
    assert first["next"] == f"/v2/images?limit=3&sort=name%3Aasc&marker={last_id}"
    names = [i["name"] for i in first["images"]]
    page = first
    while "next" in page:
        page = requests.get(_url(cloud, page["next"]), headers=headers, timeout=10).json()
        names += [i["name"] for i in page["images"]]
    assert names == ALL
    default = requests.get(_url(cloud, "/v2/images"), headers=headers, timeout=10).json()
    assert len(default["images"]) == 8 and "next" not in default  # default page size 25
    image = default["images"][0]
    assert image["self"] == f"/v2/images/{image['id']}" and image["file"] == f"/v2/images/{image['id']}/file"
    assert image["schema"] == "/v2/schemas/image" and not any(k.startswith("_") for k in image)
    bad = requests.get(_url(cloud, "/v2/images"), params={"marker": "nope"}, headers=headers, timeout=10)
    assert bad.status_code == 400
    for name in ("image", "images", "member", "members"):
        schema = requests.get(_url(cloud, f"/v2/schemas/{name}"), headers=headers, timeout=10).json()
        assert schema["name"] == name


def test_member_visibility_rules(cloud: StorageCloud) -> None:
    alice = cloud.connect("alice")
    # Default list: public, own, and shared-with-me (accepted); community images only when asked for.
    assert sorted(i.name for i in alice.image.images()) == [
        "alpha-backup",
        "alpha-golden",
        "beta-shared",
        *PUBLIC,
    ]
    assert sorted(i.name for i in alice.image.images(visibility="all")) == [
        "alpha-backup",
        "alpha-golden",
        "beta-community",
        "beta-shared",
        *PUBLIC,
    ]
    assert [i.name for i in alice.image.images(visibility="shared")] == ["beta-shared"]
    assert sorted(i.name for i in alice.image.images(visibility="private")) == [
        "alpha-backup",
        "alpha-golden",
    ]
    assert alice.image.get_image(cloud.ids["image:beta-community"]).name == "beta-community"
    with pytest.raises(openstack.exceptions.NotFoundException):
        alice.image.get_image(cloud.ids["image:beta-private"])
    bob = cloud.connect("bob")
    assert sorted(i.name for i in bob.image.images()) == [
        "beta-community",
        "beta-private",
        "beta-shared",
        *PUBLIC,
    ]
    members = requests.get(
        _url(cloud, f"/v2/images/{cloud.ids['image:beta-shared']}/members"),
        headers=_headers(cloud, "bob"),
        timeout=10,
    ).json()
    assert [(m["member_id"], m["status"]) for m in members["members"]] == [(cloud.ids["alpha"], "accepted")]


def test_create_patch_delete(cloud: StorageCloud) -> None:
    alice = cloud.connect("alice")
    headers = _headers(cloud, "alice")
    created = requests.post(
        _url(cloud, "/v2/images"),
        headers=headers,
        timeout=10,
        json={
            "name": "app-v1",
            "disk_format": "raw",
            "container_format": "bare",
            "os_distro": "centos",
            "tags": ["app"],
        },
    )
    assert created.status_code == 201
    img = created.json()
    assert (img["status"], img["visibility"], img["owner"]) == ("queued", "shared", cloud.ids["alpha"])
    assert img["size"] is None and img["checksum"] is None and img["os_distro"] == "centos"
    assert created.headers["Location"] == f"/v2/images/{img['id']}"
    updated = alice.image.update_image(img["id"], name="app-v2", os_version="8")
    assert updated.name == "app-v2" and updated.os_version == "8"
    stored = cloud.est.get("images", img["id"])
    assert (stored["name"], stored["os_version"]) == ("app-v2", "8")
    patch = [{"op": "replace", "path": "/visibility", "value": "public"}]
    ctype = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
    refused = requests.patch(
        _url(cloud, f"/v2/images/{img['id']}"), json=patch, headers={**headers, **ctype}, timeout=10
    )
    assert refused.status_code == 403
    wrong_type = requests.patch(
        _url(cloud, f"/v2/images/{img['id']}"), json=patch, headers=headers, timeout=10
    )
    assert wrong_type.status_code == 415
    upload = requests.put(
        _url(cloud, f"/v2/images/{img['id']}/file"),
        data=b"x" * 4096,
        headers={**headers, "Content-Type": "application/octet-stream"},
        timeout=10,
    )
    assert upload.status_code == 204
    active = alice.image.get_image(img["id"])
    assert (active.status, active.size) == ("active", 4096) and active.checksum
    alice.image.update_image(img["id"], is_protected=True)
    with pytest.raises(openstack.exceptions.ForbiddenException):
        alice.image.delete_image(img["id"])
    alice.image.update_image(img["id"], is_protected=False)
    with pytest.raises(openstack.exceptions.ForbiddenException):
        cloud.connect("bob").image.delete_image(cloud.ids["image:ubuntu-22.04"])
    alice.image.delete_image(img["id"])
    assert cloud.est.get("images", img["id"]) is None
    with pytest.raises(openstack.exceptions.NotFoundException):
        alice.image.get_image(img["id"])


def test_openstackclient_image_commands(cloud: StorageCloud) -> None:
    result = cloud.openstack_cli("image", "list", "-f", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(i["Name"] for i in json.loads(result.stdout)) == ALL
    result = cloud.openstack_cli("image", "list", "-f", "json", cloud="alice")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(json.loads(result.stdout)) == 6
    result = cloud.openstack_cli("image", "show", "ubuntu-22.04", "-f", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    shown = json.loads(result.stdout)
    assert shown["id"] == cloud.ids["image:ubuntu-22.04"] and shown["visibility"] == "public"
    assert shown["properties"]["os_distro"] == "ubuntu" and shown["size"] == 2 * 1024**3


@pytest.mark.integration
def test_generated_estate_lists_every_image(sim) -> None:
    """Against the `tiny` simulated-cloud process: the admin pages through every image of every region."""
    ids = set()
    for region in sim.regions:
        ids |= {i.id for i in sim.connect(region).image.images(limit=4)}
    assert len(ids) == sim.summary()["counts"]["images"]
