"""A small hand-built estate for the Cinder and Glance tests, served in-process on port 0.

Only Keystone, Cinder and Glance are registered (behind the real auth/fault middleware), so every count the
tests check is known exactly: 3 projects, 3 volume types (one private), 5 volumes, 4 snapshots, 8 images.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import openstack
import yaml
from aiohttp import web

from pf9sim.app import fault_and_auth_middleware
from pf9sim.cinder import routes as cinder
from pf9sim.cloud import SimCloud
from pf9sim.glance import routes as glance
from pf9sim.keystone import routes as keystone
from pf9sim.model import identity as mi
from pf9sim.model import image as mimg
from pf9sim.model import volume as mv
from pf9sim.state import Estate, make_quota

REGION = "RegionOne"
PASSWORDS = {"admin": "pf9sim-admin", "alice": "alice-pw", "bob": "bob-pw"}
VENV_BIN = Path(sys.executable).parent


@dataclass
class StorageCloud:
    sim: SimCloud
    ids: dict[str, str]
    clouds_yaml: Path

    @property
    def base(self) -> str:
        return self.sim.base_url

    @property
    def est(self) -> Estate:
        return self.sim.estate

    def connect(self, user: str = "admin") -> openstack.connection.Connection:
        project = {"admin": "admin", "alice": "alpha", "bob": "beta"}[user]
        return openstack.connect(
            auth_url=f"{self.base}/identity/v3",
            username=user,
            password=PASSWORDS[user],
            user_domain_id="default",
            project_name=project,
            project_domain_id="default",
            region_name=REGION,
            load_yaml_config=False,
            load_envvars=False,
        )

    def openstack_cli(self, *args: str, cloud: str = "pf9sim") -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PF9_"))}
        env.update(OS_CLIENT_CONFIG_FILE=str(self.clouds_yaml), OS_CLOUD=cloud)
        cmd = [str(VENV_BIN / "openstack"), *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def build_estate() -> tuple[Estate, dict[str, str]]:
    est = Estate(seed=11, size="tiny", regions=[REGION])
    ids: dict[str, str] = {}
    mi.make_domain(est, "Default", domain_id="default")
    for name in ("admin", "alpha", "beta"):
        ids[name] = mi.make_project(est, name, "default")["id"]
    for name in ("admin", "member", "reader"):
        ids[f"role:{name}"] = mi.make_role(est, name)["id"]
    for user, project, role in (
        ("admin", "admin", "admin"),
        ("alice", "alpha", "member"),
        ("bob", "beta", "member"),
    ):
        ids[f"user:{user}"] = mi.make_user(est, user, "default", PASSWORDS[user])["id"]
        mi.make_role_assignment(
            est, ids[f"role:{role}"], user_id=ids[f"user:{user}"], project_id=ids[project]
        )

    # Images: 3 public, 2 private (alpha), 1 private (beta), 1 community (beta), 1 shared by beta with alpha.
    images = {}
    for name, distro, version in (
        ("ubuntu-22.04", "ubuntu", "22.04"),
        ("rocky-9", "rocky", "9"),
        ("win2022", "windows", "2022"),
    ):
        images[name] = mimg.make_image(
            est,
            name=name,
            owner=ids["admin"],
            region=REGION,
            os_distro=distro,
            os_version=version,
            size=3 * 1024**3 if distro == "windows" else 2 * 1024**3,
            properties={"hw_disk_bus": "virtio"},
        )
    for name in ("alpha-golden", "alpha-backup"):
        images[name] = mimg.make_image(
            est, name=name, owner=ids["alpha"], region=REGION, visibility="private"
        )
    images["beta-private"] = mimg.make_image(
        est, name="beta-private", owner=ids["beta"], region=REGION, visibility="private"
    )
    images["beta-community"] = mimg.make_image(
        est,
        name="beta-community",
        owner=ids["beta"],
        region=REGION,
        visibility="community",
        os_distro="debian",
    )
    images["beta-shared"] = mimg.make_image(
        est, name="beta-shared", owner=ids["beta"], region=REGION, visibility="shared"
    )
    mimg.add_image_member(est, images["beta-shared"], ids["alpha"], status="accepted")
    for name, img in images.items():
        ids[f"image:{name}"] = img["id"]

    default = mv.make_volume_type(est, "__DEFAULT__", REGION, description="Default Volume Type")
    ssd = mv.make_volume_type(
        est, "ssd", REGION, extra_specs={"volume_backend_name": "ceph-ssd", "multiattach": "<is> False"}
    )
    gold = mv.make_volume_type(est, "gold", REGION, is_public=False)
    ids.update({"type:default": default["id"], "type:ssd": ssd["id"], "type:gold": gold["id"]})

    server = {"id": "5d3c8f36-2f3c-4a6e-9e0b-7b7c3f3f7a01", "OS-EXT-SRV-ATTR:host": "compute-01"}
    vols = {}
    vols["alpha-boot"] = mv.make_volume(
        est,
        name="alpha-boot",
        project_id=ids["alpha"],
        user_id=ids["user:alice"],
        size=20,
        region=REGION,
        volume_type=ssd,
        image=images["ubuntu-22.04"],
        metadata={"auto_snapshot": "true", "snapshot_policies": "daily_5"},
    )
    mv.attach_volume(est, vols["alpha-boot"], server, device="/dev/vda")
    vols["alpha-data"] = mv.make_volume(
        est,
        name="alpha-data",
        project_id=ids["alpha"],
        user_id=ids["user:alice"],
        size=50,
        region=REGION,
        volume_type=default,
    )
    vols["alpha-scratch"] = mv.make_volume(
        est,
        name="alpha-scratch",
        project_id=ids["alpha"],
        user_id=ids["user:alice"],
        size=10,
        region=REGION,
        volume_type=default,
        status="error",
    )
    vols["beta-db"] = mv.make_volume(
        est,
        name="beta-db",
        project_id=ids["beta"],
        user_id=ids["user:bob"],
        size=100,
        region=REGION,
        volume_type=ssd,
    )
    vols["beta-logs"] = mv.make_volume(
        est,
        name="beta-logs",
        project_id=ids["beta"],
        user_id=ids["user:bob"],
        size=5,
        region=REGION,
        volume_type=default,
    )
    for name, vol in vols.items():
        ids[f"volume:{name}"] = vol["id"]
    snaps = {
        "alpha-boot-1": mv.make_snapshot(
            est, volume=vols["alpha-boot"], name="alpha-boot-1", metadata={"policy": "daily_5"}
        ),
        "alpha-boot-2": mv.make_snapshot(est, volume=vols["alpha-boot"], name="alpha-boot-2"),
        "alpha-data-1": mv.make_snapshot(est, volume=vols["alpha-data"], name="alpha-data-1", status="error"),
        "beta-db-1": mv.make_snapshot(est, volume=vols["beta-db"], name="beta-db-1"),
    }
    for name, snap in snaps.items():
        ids[f"snapshot:{name}"] = snap["id"]
    # alpha: 3 volumes (80 GB) + 3 snapshots (50 GB) in use.
    make_quota(est, ids["alpha"], "volume", REGION, {"volumes": 5, "snapshots": 5, "gigabytes": 200})
    make_quota(
        est,
        ids["beta"],
        "volume",
        REGION,
        {"volumes": 10, "snapshots": 10, "gigabytes": 1000, "volumes_ssd": 1},
    )
    return est, ids


def _write_clouds_yaml(path: Path, base: str) -> Path:
    def cloud(user: str, project: str) -> dict:
        return {
            "auth": {
                "auth_url": f"{base}/identity/v3",
                "username": user,
                "password": PASSWORDS[user],
                "user_domain_id": "default",
                "project_name": project,
                "project_domain_id": "default",
            },
            "region_name": REGION,
            "identity_api_version": 3,
        }

    data = {"clouds": {"pf9sim": cloud("admin", "admin"), "alice": cloud("alice", "alpha")}}
    path.write_text(yaml.safe_dump(data))
    return path


@contextmanager
def serve(tmp: Path) -> Iterator[StorageCloud]:
    est, ids = build_estate()
    sim = SimCloud(est, port=0)
    loop = asyncio.new_event_loop()
    runner_box: list[web.AppRunner] = []

    async def start() -> None:
        app = web.Application(middlewares=[fault_and_auth_middleware])
        app["sim"] = sim
        for module in (keystone, cinder, glance):
            module.register(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sim.port = runner.addresses[0][1]
        runner_box.append(runner)

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield StorageCloud(sim, ids, _write_clouds_yaml(tmp / "clouds.yaml", sim.base_url))
    finally:
        asyncio.run_coroutine_threadsafe(runner_box[0].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
