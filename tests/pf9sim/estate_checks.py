"""Referential integrity of an estate: every reference points at an existing object of the right region.

Shared by the generator tests (fresh estates) and the evolution tests (estates after weeks of changes).
"""

from __future__ import annotations

import ipaddress
from collections import Counter

from pf9sim.model.identity import group_members
from pf9sim.state import Estate, public


def check_integrity(est: Estate) -> None:
    objs = est.objects
    projects, users, groups, roles = objs["projects"], objs["users"], objs["groups"], objs["roles"]
    for p in projects.values():
        assert p["domain_id"] in objs["domains"]
    for u in users.values():
        assert u["domain_id"] in objs["domains"]
    for a in objs["role_assignments"].values():
        assert a["role"]["id"] in roles
        assert ("user" in a and a["user"]["id"] in users) or ("group" in a and a["group"]["id"] in groups)
        scope = a["scope"]
        assert (
            ("project" in scope and scope["project"]["id"] in projects)
            or ("domain" in scope and scope["domain"]["id"] in objs["domains"])
            or scope.get("system") == {"all": True}
        )
    for gid in groups:
        assert all(uid in users for uid in group_members(est, gid))
    flavors_by_region = {(f["_region"], f["id"]) for f in objs["flavors"].values()}
    hosts = {h["hypervisor_hostname"]: h for h in objs["hypervisors"].values()}
    ports_by_device: dict[str, list] = {}
    for port in objs["ports"].values():
        ports_by_device.setdefault(port["device_id"], []).append(port)
    keypairs = set(objs["keypairs"])
    used = Counter()
    for s in objs["servers"].values():
        assert s["tenant_id"] in projects and s["user_id"] in users
        assert (s["_region"], s["_flavor_id"]) in flavors_by_region
        if s["image"]:
            image = objs["images"][s["image"]["id"]]
            assert image["_region"] == s["_region"]
        if s["key_name"]:
            assert f"{s['user_id']}/{s['_region']}/{s['key_name']}" in keypairs
        host = s["OS-EXT-SRV-ATTR:hypervisor_hostname"]
        if host is None:
            assert s["status"] == "ERROR" and not ports_by_device.get(s["id"])
            continue
        assert hosts[host]["_region"] == s["_region"] and hosts[host]["status"] == "enabled"
        assert s["OS-EXT-AZ:availability_zone"] == hosts[host]["_az"]
        ports = ports_by_device.get(s["id"], [])
        assert ports and all(
            p["device_owner"] == f"compute:{s['OS-EXT-AZ:availability_zone']}" for p in ports
        )
        used[host, "vcpus"] += s["flavor"]["vcpus"]
        used[host, "ram"] += s["flavor"]["ram"]
        used[host, "disk"] += s["flavor"]["disk"] if s["image"] else 0
        for gid in s["server_groups"]:
            assert s["id"] in objs["server_groups"][gid]["members"]
    for name, h in hosts.items():
        assert used[name, "vcpus"] <= h["vcpus"] and used[name, "ram"] <= h["memory_mb"]
        assert used[name, "disk"] <= h["local_gb"]
    for g in objs["server_groups"].values():
        members = [objs["servers"][m] for m in g["members"]]
        if g["policy"] == "anti-affinity":
            placed = [m["OS-EXT-SRV-ATTR:hypervisor_hostname"] for m in members]
            assert len(placed) == len(set(placed))
    for port in objs["ports"].values():
        net = objs["networks"][port["network_id"]]
        assert net["_region"] == port["_region"]
        for fixed in port["fixed_ips"]:
            subnet = objs["subnets"][fixed["subnet_id"]]
            assert subnet["network_id"] == net["id"]
            assert ipaddress.ip_address(fixed["ip_address"]) in ipaddress.ip_network(subnet["cidr"])
        for sg in port["security_groups"]:
            assert sg in objs["security_groups"]
        if port["device_owner"].startswith("compute:"):
            assert port["device_id"] in objs["servers"]
    addresses = Counter(
        (f["subnet_id"], f["ip_address"]) for p in objs["ports"].values() for f in p["fixed_ips"]
    )
    assert max(addresses.values()) == 1
    for net in objs["networks"].values():
        assert all(objs["subnets"][sid]["network_id"] == net["id"] for sid in net["subnets"])
    for fip in objs["floating_ips"].values():
        assert objs["networks"][fip["floating_network_id"]]["router:external"]
        if fip["port_id"]:
            assert fip["port_id"] in objs["ports"] and fip["router_id"] in objs["routers"]
    for router in objs["routers"].values():
        gateway = router["external_gateway_info"]
        assert gateway is None or gateway["network_id"] in objs["networks"]
    for group in objs["security_groups"].values():
        rules = {r["id"] for r in group["security_group_rules"]}
        assert rules == {
            r["id"] for r in objs["security_group_rules"].values() if r["security_group_id"] == group["id"]
        }
    for rule in objs["security_group_rules"].values():
        assert rule["remote_group_id"] is None or rule["remote_group_id"] in objs["security_groups"]
        # The group embeds each rule as Neutron renders it from its rows: with standard_attr_id and tags, and
        # a null belongs_to_default_sg; everything else equals the rule.
        embedded = {
            r["id"]: r for r in objs["security_groups"][rule["security_group_id"]]["security_group_rules"]
        }[rule["id"]]
        assert embedded["belongs_to_default_sg"] is None and embedded["tags"] == []
        assert isinstance(embedded["standard_attr_id"], int) and embedded["standard_attr_id"] > 0
        same = {k: v for k, v in embedded.items() if k not in ("standard_attr_id", "tags")}
        assert same == {**public(rule), "belongs_to_default_sg": None}
    for v in objs["volumes"].values():
        assert v["os-vol-tenant-attr:tenant_id"] in projects
        assert objs["volume_types"][v["volume_type_id"]]["name"] == v["volume_type"]
        for att in v["attachments"]:
            server = objs["servers"][att["server_id"]]
            assert (
                server["_region"] == v["_region"] and server["tenant_id"] == v["os-vol-tenant-attr:tenant_id"]
            )
        if v["status"] == "in-use":
            assert v["attachments"]
        if v["attachments"]:
            assert v["status"] in ("in-use", "error_extending")
    for snap in objs["snapshots"].values():
        volume = objs["volumes"][snap["volume_id"]]
        assert snap["os-extended-snapshot-attributes:project_id"] == volume["os-vol-tenant-attr:tenant_id"]
        assert snap["created_at"] >= volume["created_at"]
    for q in objs["quotas"].values():
        assert q["project_id"] in projects
