"""`pf9wb collect` against real OpenStack: every type's count equals what the openstack CLI lists (as admin,
all projects), and the enrichment is filled from real bodies."""

from __future__ import annotations

import pandas as pd
import pytest

from pf9lib.resources import ALL_TYPES
from pf9lib.store.reader import open_store

pytestmark = pytest.mark.realos

# type → the CLI listing that counts the same objects (admin, every project)
CLI_LISTINGS: dict[str, tuple[str, ...]] = {
    "domains": ("domain", "list"),
    "projects": ("project", "list"),
    "users": ("user", "list"),
    "groups": ("group", "list"),
    "roles": ("role", "list"),
    "role_assignments": ("role", "assignment", "list"),
    "servers": ("server", "list", "--all-projects"),
    "hypervisors": ("hypervisor", "list"),
    "flavors": ("flavor", "list", "--all"),
    "server_groups": ("server", "group", "list", "--all-projects"),
    "aggregates": ("aggregate", "list"),
    "volumes": ("volume", "list", "--all-projects"),
    "snapshots": ("volume", "snapshot", "list", "--all-projects"),
    "volume_types": ("volume", "type", "list"),
    "images": ("image", "list"),
    "networks": ("network", "list"),
    "subnets": ("subnet", "list"),
    "ports": ("port", "list"),
    "routers": ("router", "list"),
    "floating_ips": ("floating", "ip", "list"),
    "security_groups": ("security", "group", "list"),
    "security_group_rules": ("security", "group", "rule", "list"),
}


def _count(store, kind: str) -> int:
    return int(store.sql(f'SELECT count(*) AS n FROM "{kind}"')["n"][0])


def test_every_type_counts_what_the_cli_lists(stack, real_run):
    store = open_store(real_run)
    listings = stack.openstack_many(*CLI_LISTINGS.values(), ("availability", "zone", "list", "--compute"))
    want = {kind: len(answer) for kind, answer in zip(CLI_LISTINGS, listings, strict=False)}
    # Keypairs belong to users: the CLI lists them one user at a time.
    users = [u["ID"] for u in listings[list(CLI_LISTINGS).index("users")]]
    want["keypairs"] = sum(map(len, stack.openstack_many(*(("keypair", "list", "--user", u) for u in users))))
    zones = listings[-1]
    want["availability_zones"] = len({z["Zone Name"] for z in zones} - {"internal"})
    want["quotas"] = 3 * want["projects"]  # compute, block-storage and network, per project
    assert set(want) == set(ALL_TYPES)
    got = {kind: _count(store, kind) for kind in ALL_TYPES}
    assert got == want
    # the seeded estate is there, ERROR and SHUTOFF servers included, and nothing type is empty
    statuses = dict(store.sql("SELECT name, status FROM servers").itertuples(index=False))
    assert {statuses["vm1"], statuses["vm2"], statuses["vm-error"]} == {"ACTIVE", "SHUTOFF", "ERROR"}
    assert all(got[kind] for kind in ALL_TYPES), got
    runs = store.runs()
    assert list(runs["status"]) == ["success"]


def test_every_project_owned_row_names_its_project_and_domain(real_run):
    store = open_store(real_run)
    for kind in ("servers", "volumes", "snapshots", "networks", "subnets", "ports", "routers", "floating_ips",
                 "security_groups", "security_group_rules", "server_groups", "quotas"):  # fmt: skip
        missing = store.sql(
            f'SELECT name FROM "{kind}" '
            "WHERE project_id IS NOT NULL AND (project_name IS NULL OR domain_name IS NULL)"
        )
        assert missing.empty, (kind, list(missing["name"]))
    names = set(store.sql("SELECT DISTINCT project_name FROM servers")["project_name"])
    assert names == {"demo", "admin"}


def test_servers_carry_flavor_networks_volumes_and_security_groups(admin, real_run):
    store = open_store(real_run)
    rows = {r.name: r for r in store.sql("SELECT * FROM servers").itertuples(index=False)}
    vm1, vm2, error = rows["vm1"], rows["vm2"], rows["vm-error"]
    assert (vm1.flavor_name, vm1.vcpus, vm1.ram_mb, vm1.disk_gb) == ("m1.tiny", 1, 512, 1)
    assert (vm2.flavor_name, vm2.vcpus, vm2.ram_mb) == ("m1.small", 2, 2048)
    assert list(vm1.networks) == ["private"] and list(vm1.security_groups) == ["web"]
    ports = [p.id for p in admin.network.ports(device_id=vm1.id)]
    assert sorted(vm1.port_ids) == sorted(ports)
    # Nova lists the port's fixed IP; the floating IP reaches Nova's cache only through Neutron's
    # notifications, which the agentless stack turns off.
    assert list(vm1.ip_addresses) == [ip["ip_address"] for ip in admin.network.get_port(ports[0]).fixed_ips]
    vol2 = admin.block_storage.find_volume("vol2", all_projects=True)
    assert list(vm1.volume_ids) == [vol2.id]
    assert vm1.hypervisor_hostname in ("compute1", "compute2") and vm1.vm_state == "active"
    assert (vm2.vm_state, vm2.power_state) == ("stopped", 4)
    assert error.vm_state == "error" and pd.isna(error.host) and pd.isna(error.hypervisor_hostname)
    assert rows["vm-admin-nonet"].project_name == "admin" and list(rows["vm-admin-nonet"].networks) == []


def test_security_group_rules_are_summarised_and_attached_vms_named(real_run):
    store = open_store(real_run)
    web = store.sql("SELECT * FROM security_groups WHERE name = 'web'").iloc[0]
    assert (web.rule_count, web.ingress_rules, web.egress_rules) == (4, 2, 2)
    assert "Allow TCP/22 (SSH) ingress from 0.0.0.0/0 (IPv4)" in web.rule_summary
    assert "TCP/443" in web.rule_summary
    assert list(web.attached_vm_names) == ["vm1"]


def test_volumes_snapshots_and_identity_are_enriched(real_run):
    store = open_store(real_run)
    vols = {r.name: r for r in store.sql("SELECT * FROM volumes").itertuples(index=False)}
    assert (vols["vol2"].status, vols["vol1"].status) == ("in-use", "available")
    vm1 = store.sql("SELECT id FROM servers WHERE name = 'vm1'")["id"][0]
    assert vols["vol2"].attached_server_id == vm1 and vols["vol2"].size_gb == 2
    snap = store.sql("SELECT * FROM snapshots").iloc[0]
    assert (snap["name"], snap["project_name"]) == ("snap1", "demo")
    grants = store.sql("SELECT role_name, coalesce(user_name, group_name), scope_name FROM role_assignments")
    pairs = set(grants.itertuples(index=False, name=None))
    assert {("member", "demo", "demo"), ("reader", "demo", "alt"), ("reader", "realos-ops", "alt")} <= pairs
    zones = store.sql("SELECT name, host_count FROM availability_zones")
    assert list(zones.itertuples(index=False, name=None)) == [("nova", 2)]
