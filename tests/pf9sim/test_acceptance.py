"""Issue 2 acceptance against the real `python -m pf9sim serve` process: unmodified openstacksdk and
python-openstackclient see exactly the estate the simulator reports; faults reach the client;
advance is exact."""

from __future__ import annotations

import json

import openstack
import pytest

pytestmark = pytest.mark.integration


def sdk_counts(conn: openstack.connection.Connection) -> dict[str, int]:
    """Every DOMAIN.md §1 type through the SDK's own Resource listings, paged smaller than the collections."""
    small = {"limit": 3}
    users = list(conn.identity.users())
    projects = list(conn.identity.projects())
    counts = {
        "domains": len(list(conn.identity.domains())),
        "projects": len(projects),
        "users": len(users),
        "groups": len(list(conn.identity.groups())),
        "roles": len(list(conn.identity.roles())),
        "role_assignments": len(list(conn.identity.role_assignments())),
        "servers": len(list(conn.compute.servers(all_projects=True, details=True, **small))),
        "hypervisors": len(list(conn.compute.hypervisors(details=True))),
        "flavors": len(list(conn.compute.flavors(is_public=None))),
        "keypairs": sum(len(list(conn.compute.keypairs(user_id=u.id))) for u in users),
        "server_groups": len(list(conn.compute.server_groups(all_projects=True))),
        "aggregates": len(list(conn.compute.aggregates())),
        "availability_zones": len(
            [z for z in conn.compute.availability_zones(details=True) if z.name != "internal"]
        ),
        "volumes": len(list(conn.block_storage.volumes(all_projects=True, **small))),
        "snapshots": len(list(conn.block_storage.snapshots(all_projects=True, **small))),
        "volume_types": len(list(conn.block_storage.types(is_public=None))),
        "images": len(list(conn.image.images(**small))),
        "networks": len(list(conn.network.networks(**small))),
        "subnets": len(list(conn.network.subnets(**small))),
        "ports": len(list(conn.network.ports(**small))),
        "routers": len(list(conn.network.routers(**small))),
        "floating_ips": len(list(conn.network.ips(**small))),
        "security_groups": len(list(conn.network.security_groups(**small))),
        "security_group_rules": len(list(conn.network.security_group_rules(**small))),
    }
    quota_calls = 0
    for project in projects:
        assert conn.compute.get_quota_set(project.id, usage=True).instances is not None
        assert conn.block_storage.get_quota_set(project.id, usage=True).volumes is not None
        assert conn.network.get_quota(project.id, details=True).networks is not None
        quota_calls += 3
    counts["quotas"] = quota_calls
    return counts


def test_sdk_lists_every_type_with_the_simulators_counts(sim):
    expected = sim.summary()["counts"]
    for region in sim.regions:
        conn = sim.connect(region)
        got = sdk_counts(conn)
        assert set(got) == set(expected)
        # One region here (tiny); per-region types equal the summary, which counts the whole estate.
        assert got == expected


def cli_json(sim, *args: str) -> list | dict:
    done = sim.openstack_cli(*args, "-f", "json")
    assert done.returncode == 0, f"openstack {' '.join(args)}: {done.stderr[-800:]}"
    return json.loads(done.stdout)


CLI_LISTS = [
    (("server", "list", "--all-projects", "--long"), "servers"),
    (("volume", "list", "--all-projects"), "volumes"),
    (("volume", "snapshot", "list", "--all-projects"), "snapshots"),
    (("image", "list"), "images"),
    (("network", "list"), "networks"),
    (("subnet", "list"), "subnets"),
    (("port", "list"), "ports"),
    (("router", "list"), "routers"),
    (("floating", "ip", "list"), "floating_ips"),
    (("security", "group", "list"), "security_groups"),
    (("security", "group", "rule", "list"), "security_group_rules"),
    (("flavor", "list", "--all"), "flavors"),
    (("hypervisor", "list"), "hypervisors"),
    (("project", "list"), "projects"),
    (("user", "list"), "users"),
    (("role", "list"), "roles"),
    (("domain", "list"), "domains"),
    (("role", "assignment", "list", "--names"), "role_assignments"),
    (("aggregate", "list"), "aggregates"),
    (("server", "group", "list", "--all-projects"), "server_groups"),
]


@pytest.mark.parametrize("args,kind", CLI_LISTS, ids=[" ".join(a) for a, _ in CLI_LISTS])
def test_openstackclient_lists_match_the_estate(sim, args, kind):
    rows = cli_json(sim, *args)
    assert len(rows) == sim.summary()["counts"][kind]


def test_openstackclient_other_commands(sim):
    project = cli_json(sim, "project", "list")[0]["ID"]
    quota = cli_json(sim, "quota", "show", project)
    assert isinstance(quota, (dict, list)) and quota
    zones = cli_json(sim, "availability", "zone", "list")
    assert any(z["Zone Name"] == "nova" for z in zones)
    cli_json(sim, "keypair", "list")


def test_injected_503_and_429_reach_the_client(fresh_sim):
    conn = fresh_sim.connect()
    fresh_sim.faults(
        {"path": "/servers/detail", "status": 503, "times": 1},
        {"path": "/v2.0/networks", "status": 429, "times": 1, "retry_after": 7},
    )
    conn.compute.default_microversion = None
    resp = conn.compute.get(
        "/servers/detail", raise_exc=False, retriable_status_codes=[], status_code_retries=0
    )
    assert resp.status_code == 503
    assert "computeFault" in resp.json() or "serviceUnavailable" in resp.json()
    resp = conn.network.get("/networks", raise_exc=False, retriable_status_codes=[], status_code_retries=0)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    assert "NeutronError" in resp.json()
    assert conn.compute.get("/servers/detail").status_code == 200  # `times` used up: healthy again


def test_create_server_from_volume_and_volume_from_snapshot(fresh_sim):
    conn = fresh_sim.connect()
    project = next(p for p in conn.identity.projects() if p.name == "admin")
    snapshot = next(s for s in conn.block_storage.snapshots(all_projects=True) if s.status == "available")
    volume = conn.block_storage.create_volume(size=snapshot.size, snapshot_id=snapshot.id, name="from-snap")
    volume = conn.block_storage.wait_for_status(volume, "available", wait=30)
    assert volume.snapshot_id == snapshot.id and volume.size == snapshot.size
    flavor = next(f for f in conn.compute.flavors() if f.disk <= volume.size or f.disk == 0)
    network = next(n for n in conn.network.networks() if n.project_id == project.id or n.is_shared)
    server = conn.compute.create_server(
        name="bfv",
        flavor_id=flavor.id,
        networks=[{"uuid": network.id}],
        block_device_mapping=[
            {
                "boot_index": 0,
                "uuid": volume.id,
                "source_type": "volume",
                "destination_type": "volume",
                "delete_on_termination": False,
            }
        ],
    )
    server = conn.compute.wait_for_server(server, wait=30)
    image = server.image if isinstance(server.image, dict) else server.image.to_dict()
    assert server.status == "ACTIVE" and not image.get("id")  # booted from volume: no image
    assert [a["id"] for a in server.attached_volumes] == [volume.id]
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=30)
    assert conn.block_storage.get_volume(volume.id).status == "available"


def _snapshot(conn) -> dict[tuple[str, str], str]:
    state = {}
    for s in conn.compute.servers(all_projects=True, details=True):
        state[("servers", s.id)] = s.status
    for v in conn.block_storage.volumes(all_projects=True):
        state[("volumes", v.id)] = v.status
    for p in conn.network.ports():
        state[("ports", p.id)] = p.mac_address
    return state


def test_after_advance_listings_show_exactly_the_reported_changes(fresh_sim):
    conn = fresh_sim.connect()
    before = _snapshot(conn)
    changes = fresh_sim.advance(48)["changes"]
    after = _snapshot(conn)
    watched = {"servers", "volumes", "ports"}
    created = {(c["type"], c["id"]) for c in changes if c["kind"] == "created" and c["type"] in watched}
    deleted = {(c["type"], c["id"]) for c in changes if c["kind"] == "deleted" and c["type"] in watched}
    assert set(after) - set(before) == created
    assert set(before) - set(after) == deleted
    moved = {k for k in set(before) & set(after) if before[k] != after[k]}
    updated = {(c["type"], c["id"]) for c in changes if c["kind"] == "updated" and c["type"] in watched}
    assert moved <= updated  # every visible change was reported


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({"hours": 0}, "0 < N"),
        ({"hours": "x"}, "0 < N"),
    ],
)
def test_control_api_rejects_bad_advance(sim, body, fragment):
    from pf9lib.errors import CloudError

    with pytest.raises(CloudError, match="400"):
        sim.client._call("POST", "/_sim/advance", body)


def test_control_api_mutate_unknown_type_and_id(sim):
    from pf9lib.errors import CloudError

    with pytest.raises(CloudError, match="Unknown resource type"):
        sim.mutate("vms", "x", {"name": "y"})
    with pytest.raises(CloudError, match="404"):
        sim.mutate("servers", "no-such-id", {"name": "y"})
