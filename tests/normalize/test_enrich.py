"""Enrichment on its own: a server's OS from metadata, image or name; its ports; a security group's attached
VMs, networks and rule summary; a port's project from its network; identity scopes named."""

from __future__ import annotations

from pf9lib.normalize.enrich import rule_text, server_os
from pf9lib.normalize.rows import Lookups, normalize

IMAGES = {"img-u": {"id": "img-u", "name": "ubuntu-22.04", "os_distro": "ubuntu", "os_version": 22.04}}


def lookups(**extra) -> Lookups:
    projects = [{"id": "p1", "name": "prod", "domain_id": "d1"}]
    return Lookups.from_raw(projects, [{"id": "d1", "name": "acme"}], **extra)


def test_server_os_prefers_metadata_then_image_properties_then_names():
    assert server_os(
        {"metadata": {"os_distro": "rhel", "os_version": "9"}, "image": {"id": "img-u"}}, IMAGES
    ) == (
        "rhel",
        "9",
        "server metadata",
    )
    assert server_os({"image": {"id": "img-u"}}, IMAGES) == ("ubuntu", "22.04", "image properties")
    assert server_os({"name": "win-Windows-Server-2019-ad", "image": ""}, {}) == (
        "windows",
        "2019",
        "name pattern",
    )
    assert server_os({"name": "db01", "image": ""}, {}) == (None, None, "unknown")


def test_servers_carry_their_ports_and_security_groups_their_vms_networks_and_rules():
    ports = [
        {
            "id": "pt1",
            "device_id": "s1",
            "device_owner": "compute:nova",
            "network_id": "n1",
            "security_groups": ["g1"],
        },
        {
            "id": "pt2",
            "device_id": "s1",
            "device_owner": "compute:nova",
            "network_id": "n2",
            "security_groups": ["g1"],
        },
        {
            "id": "pt3",
            "device_id": "r1",
            "device_owner": "network:router_interface",
            "network_id": "n1",
            "security_groups": ["g1"],
        },
    ]
    servers = [{"id": "s1", "name": "web-1", "tenant_id": "p1", "image": {"id": "img-u"}}]
    lk = lookups(images=list(IMAGES.values()), ports=ports, servers=servers)
    row = normalize("servers", servers, lk)[0]
    assert (row["port_ids"], row["os_distro"], row["project_name"], row["domain_name"]) == (
        ["pt1", "pt2"],
        "ubuntu",
        "prod",
        "acme",
    )
    group = {
        "id": "g1",
        "project_id": "p1",
        "security_group_rules": [
            {
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 22,
                "port_range_max": 22,
                "remote_ip_prefix": "0.0.0.0/0",
                "ethertype": "IPv4",
            },
            {"direction": "egress", "ethertype": "IPv6"},
        ],
    }
    row = normalize("security_groups", [group], lk)[0]
    assert (row["attached_vm_count"], row["attached_vm_names"], row["network_ids"]) == (
        1,
        ["web-1"],
        ["n1", "n2"],
    )
    assert (row["ingress_rules"], row["egress_rules"]) == (1, 1)
    assert (
        row["rule_summary"]
        == "Allow TCP/22 (SSH) ingress from 0.0.0.0/0 (IPv4); Allow ANY egress to anywhere (IPv6)"
    )


def test_rule_text_names_ranges_and_remote_groups():
    rule = {
        "direction": "ingress",
        "protocol": "udp",
        "port_range_min": 1000,
        "port_range_max": 2000,
        "remote_group_id": "0123456789abcdef",
        "ethertype": "IPv4",
    }
    assert rule_text(rule) == "Allow UDP/1000-2000 ingress from group 01234567 (IPv4)"


def test_a_port_without_a_project_belongs_to_its_networks_project():
    lk = lookups(networks=[{"id": "n1", "project_id": "p1"}])
    row = normalize("ports", [{"id": "pt", "network_id": "n1", "project_id": ""}], lk)[0]
    assert (row["project_id"], row["project_name"], row["domain_name"]) == ("p1", "prod", "acme")


def test_role_assignments_name_their_scope_system_included():
    lk = lookups()
    system = {
        "role": {"id": "r", "name": "admin"},
        "user": {"id": "u", "name": "ops"},
        "scope": {"system": {"all": True}},
    }
    project = {
        "role": {"id": "r", "name": "member"},
        "user": {"id": "u", "name": "ops"},
        "scope": {"project": {"id": "p1", "name": "prod"}},
    }
    rows = normalize("role_assignments", [system, project], lk)
    assert [(r["scope_type"], r["scope_id"], r["scope_name"]) for r in rows] == [
        ("system", "all", "all (system)"),
        ("project", "p1", "prod"),
    ]
    assert [r["id"] for r in rows] == ["r:user:u:system:all", "r:user:u:project:p1"]
    assert (rows[1]["project_name"], rows[1]["domain_name"], rows[0]["name"]) == (
        "prod",
        "acme",
        "admin → ops",
    )
