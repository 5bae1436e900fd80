"""Fixtures of the real-OpenStack tier: the stack, admin/demo connections, settings, a data dir, a throwaway
project and a clean-up list. Tests here that need the stack are marked `realos` and skip with one line when it
is not up, so `make test` stays fast; `make test-real` starts it.

Adding a test for a new action: take `admin` (or `demo`), make what it needs in `throwaway_project` or
register each thing it creates with `cleanup`, and mark it `realos_mutates` when it changes the seeded estate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import openstack
import pytest

from pf9lib.config import Settings, load_settings
from tests.realos.stack import RealStack, why_not_up


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that change the seeded estate run after every test that only reads it (a stable sort keeps the
    # rest in file order), so readers see the estate realos-up.sh made and the tier can run again.
    items.sort(key=lambda item: item.get_closest_marker("realos_mutates") is not None)


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> RealStack:
    reason = why_not_up()
    if reason:
        pytest.skip(reason)
    import os

    return RealStack(Path(os.environ["REALOS_STATE"]), tmp_path_factory.mktemp("realos"))


@pytest.fixture(scope="session")
def admin(stack) -> openstack.connection.Connection:
    """admin in project admin: sees every project."""
    return stack.connect("realos-admin")


@pytest.fixture(scope="session")
def demo(stack) -> openstack.connection.Connection:
    """demo, a member of project demo only."""
    return stack.connect("realos-demo")


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(stack, data_dir) -> Callable[..., Settings]:
    """settings(cloud="realos-admin"): the workbench's settings for a clouds.yaml entry, data in data_dir."""

    def make(cloud: str = "realos-admin") -> Settings:
        return load_settings(cloud=cloud, data_dir=str(data_dir), env=stack.env(cloud))

    return make


class Cleanup:
    """Undo steps registered while a test runs, run last-in first-out even when the test fails."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Callable[[], object]]] = []

    def add(self, what: str, step: Callable[[], object]) -> None:
        self.steps.append((what, step))

    def run(self) -> list[str]:
        failed = []
        while self.steps:
            what, step = self.steps.pop()
            try:
                step()
            except Exception as exc:  # every step runs; the failures are reported together
                failed.append(f"{what}: {type(exc).__name__}: {exc}")
        return failed


@pytest.fixture
def cleanup() -> Iterator[Cleanup]:
    steps = Cleanup()
    yield steps
    failed = steps.run()
    if failed:
        pytest.fail("clean-up failed, the stack may keep test objects: " + "; ".join(failed))


@pytest.fixture
def throwaway_project(admin, cleanup) -> openstack.identity.v3.project.Project:
    """A new project in domain Default with admin as its admin, deleted afterwards with its contents."""
    project = admin.identity.create_project(name=f"realos-tmp-{uuid.uuid4().hex[:8]}", domain_id="default")
    cleanup.add(f"delete project {project.name}", lambda: purge_project(admin, project.id))
    user = admin.identity.find_user("admin", domain_id="default")
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("admin"))
    return project


def purge_project(admin: openstack.connection.Connection, project_id: str) -> None:
    """Delete a project's servers, volumes, floating IPs, routers, ports, networks and groups, then it."""
    for server in admin.compute.servers(all_projects=True, project_id=project_id):
        admin.compute.delete_server(server)
        admin.compute.wait_for_delete(server, wait=120)
    for volume in admin.block_storage.volumes(all_projects=True, project_id=project_id):
        admin.block_storage.delete_volume(volume, force=True)
    for fip in admin.network.ips(project_id=project_id):
        admin.network.delete_ip(fip)
    for router in admin.network.routers(project_id=project_id):
        for port in admin.network.ports(device_id=router.id, device_owner="network:router_interface"):
            admin.network.remove_interface_from_router(router, port_id=port.id)
        admin.network.delete_router(router)
    for port in admin.network.ports(project_id=project_id):
        admin.network.delete_port(port)
    for network in admin.network.networks(project_id=project_id):
        admin.network.delete_network(network)
    for group in admin.network.security_groups(project_id=project_id):
        admin.network.delete_security_group(group)
    admin.identity.delete_project(project_id)


# -- the estate beyond what realos-up.sh seeds ------------------------------------------------------------
EXTRAS = {
    "keypair": "realos-key",
    "server_group": "realos-anti",
    "aggregate": "realos-agg",
    "group": "realos-ops",
}


def _public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


@pytest.fixture(scope="session")
def extras(admin, demo) -> dict[str, str]:
    """One object of each inventory type realos-up.sh leaves empty (keypairs, server groups, aggregates,
    groups with a role) so that collect and the fidelity recording see them. Made once; re-runs reuse them."""
    if admin.compute.find_keypair(EXTRAS["keypair"]) is None:
        admin.compute.create_keypair(name=EXTRAS["keypair"], public_key=_public_key())
    if demo.compute.find_server_group(EXTRAS["server_group"]) is None:
        demo.compute.create_server_group(name=EXTRAS["server_group"], policy="anti-affinity")
    if admin.compute.find_aggregate(EXTRAS["aggregate"]) is None:
        aggregate = admin.compute.create_aggregate(name=EXTRAS["aggregate"])
        admin.compute.add_host_to_aggregate(aggregate, "compute1")
        admin.compute.set_aggregate_metadata(aggregate, {"ssd": "true"})
    group = admin.identity.find_group(EXTRAS["group"], domain_id="default")
    if group is None:
        group = admin.identity.create_group(name=EXTRAS["group"], domain_id="default")
        alt = admin.identity.find_project("alt", domain_id="default")
        admin.identity.assign_project_role_to_group(alt, group, admin.identity.find_role("reader"))
    return dict(EXTRAS)


@pytest.fixture(scope="session")
def real_run(stack, extras, tmp_path_factory) -> Path:
    """The data dir of one `pf9wb collect` of the whole stack (extras included), shared by read-only tests."""
    data = tmp_path_factory.mktemp("real-run") / "data"
    result = stack.pf9wb("collect", "--data-dir", str(data), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    return data
