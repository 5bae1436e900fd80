"""Network changes of an advancing estate: security-group rules added and removed, floating IPs moved, and the
rare critical changes drift detection exists for (a port's MAC, a subnet's gateway, a network's shared flag).
"""

from __future__ import annotations

import ipaddress

from pf9sim.evolution.world import World
from pf9sim.model.network import (
    associate_floating_ip,
    delete_security_group_rule,
    disassociate_floating_ip,
    make_security_group_rule,
    random_mac,
    stamp_change,
)
from pf9sim.plumbing import SimError

# protocol, port, remote prefix: what operators open (and sometimes should not)
RULES = (
    ("tcp", 8443, "0.0.0.0/0"),
    ("tcp", 22, "0.0.0.0/0"),
    ("tcp", 3389, "0.0.0.0/0"),
    ("tcp", 5432, "10.0.0.0/8"),
    ("tcp", 6379, "10.0.0.0/8"),
    ("udp", 53, "10.0.0.0/8"),
    ("tcp", 9100, "10.0.0.0/8"),
    ("icmp", None, "0.0.0.0/0"),
    ("tcp", 443, "0.0.0.0/0"),
    ("tcp", 8080, "192.168.0.0/16"),
)


def add_rule(w: World) -> None:
    group = w.pick(w.groups, "security_groups")
    if group is None:
        return
    protocol, port, prefix = w.rng.choice(RULES)
    w.track.touch("security_groups", group["id"])
    try:
        rule = make_security_group_rule(
            w.est,
            security_group=group,
            direction="ingress",
            protocol=protocol,
            port_range_min=port,
            port_range_max=port,
            remote_ip_prefix=prefix,
            description="added by operator" if w.rng.random() < 0.5 else "",
        )
    except SimError:
        return  # the same rule already exists
    w.track.created("security_group_rules", rule["id"])
    w.rules.append(rule["id"])


def remove_rule(w: World) -> None:
    est = w.est

    def removable(rule: dict) -> bool:
        group = est.get("security_groups", rule["security_group_id"])
        return group is not None and group["name"] != "default" and rule["direction"] == "ingress"

    rule = w.pick(w.rules, "security_group_rules", removable)
    if rule is None:
        return
    w.track.touch("security_group_rules", rule["id"])
    w.track.touch("security_groups", rule["security_group_id"])
    delete_security_group_rule(est, rule)


def release_fip(w: World) -> None:
    fip = w.pick(w.fips, "floating_ips", lambda f: f["port_id"] is not None)
    if fip is not None:
        w.track.touch("floating_ips", fip["id"])
        w.fip_of_port.pop(fip["port_id"], None)
        disassociate_floating_ip(w.est, fip)


def assign_fip(w: World) -> None:
    est, rng = w.est, w.rng
    fip = w.pick(w.fips, "floating_ips", lambda f: f["port_id"] is None)
    if fip is None:
        return
    servers = w.by_tenancy.get((fip["project_id"], fip["_region"]), [])
    for _ in range(8 if servers else 0):
        server = est.get("servers", servers[rng.randrange(len(servers))])
        ports = w.ports_of.get(server["id"], []) if server and server["status"] == "ACTIVE" else []
        free = [est.get("ports", p) for p in ports if p not in w.fip_of_port and est.get("ports", p)]
        routed = [p for p in free if p["network_id"] in w.router_of_net]
        if not routed:
            continue
        w.track.touch("floating_ips", fip["id"])
        associate_floating_ip(est, fip, routed[0], w.router_of_net[routed[0]["network_id"]])
        w.fip_of_port[routed[0]["id"]] = fip["id"]
        return


def change_mac(w: World) -> None:
    port = w.pick(w.ports, "ports", lambda p: p["device_owner"].startswith("compute:"))
    if port is not None:
        w.track.touch("ports", port["id"])
        port["mac_address"] = random_mac(w.est)
        stamp_change(w.est, "ports", port)


def change_gateway(w: World) -> None:
    subnet = w.pick(w.subnets, "subnets", lambda s: s["gateway_ip"] is not None)
    if subnet is None:
        return
    net = ipaddress.ip_network(subnet["cidr"])
    candidate = str(net.broadcast_address - 1)
    if candidate == subnet["gateway_ip"]:
        candidate = str(net.network_address + 1)
    if candidate in subnet.get("_used", {}):
        return
    w.track.touch("subnets", subnet["id"])
    subnet["gateway_ip"] = candidate
    stamp_change(w.est, "subnets", subnet)


def toggle_shared(w: World) -> None:
    network = w.pick(w.networks, "networks")
    if network is not None:
        w.track.touch("networks", network["id"])
        network["shared"] = not network["shared"]
        stamp_change(w.est, "networks", network)
