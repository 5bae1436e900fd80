"""Shared parts of the Neutron model: standard attributes, subnets and IP address management.

A subnet's hidden "_used" maps each address in use to its owner (a port id) and "_cursor" is the last address
handed out: allocation is deterministic and needs no index of all ports.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from pf9sim.plumbing import SimError
from pf9sim.state import Estate, stamp_updated

DEFAULT_AZ = "nova"
# Neutron's default network quotas (neutron.conf [quotas]).
DEFAULT_QUOTAS = {
    "network": 100,
    "subnet": 100,
    "subnetpool": -1,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
    "rbac_policy": 10,
    "router_route": 30,  # extra routes per router (extraroute-atomic)
}
# Ports Neutron deletes by itself with their network (AUTO_DELETE_PORT_OWNERS); any other port blocks it.
NETWORK_OWNED = frozenset({"network:dhcp", "network:distributed"})


def stamp_change(est: Estate, kind: str, obj: dict[str, Any]) -> None:
    """A change: bump revision_number and updated_at as Neutron does on every update."""
    obj["revision_number"] = obj.get("revision_number", 0) + 1
    stamp_updated(est, kind, obj)


def standard_attrs(est: Estate, project_id: str, region: str) -> dict[str, Any]:
    now = est.now_iso()
    return {
        "tenant_id": project_id,
        "project_id": project_id,
        "created_at": now,
        "updated_at": now,
        "revision_number": 0,
        "tags": [],
        "_region": region,
    }


# -- subnets -----------------------------------------------------------------------------------
def make_subnet(
    est: Estate,
    *,
    network: dict[str, Any],
    name: str,
    cidr: str,
    gateway_ip: str | None = "auto",
    enable_dhcp: bool = True,
    ip_version: int = 4,
    allocation_pools: list[dict[str, str]] | None = None,
    dns_nameservers: Iterable[str] = (),
) -> dict[str, Any]:
    """A subnet; gateway "auto" is the first host address, the default pool is every other host address."""
    net = ipaddress.ip_network(cidr, strict=False)
    if net.version != ip_version:
        raise SimError(400, f"Invalid input for operation: cidr {cidr} is not IPv{ip_version}.")
    first = int(net.network_address) + 1
    last = int(net.broadcast_address) - (1 if net.version == 4 else 0)
    if gateway_ip == "auto":
        gateway_ip = str(ipaddress.ip_address(first))
    if allocation_pools is None:
        gw = int(ipaddress.ip_address(gateway_ip)) if gateway_ip else None
        allocation_pools = _pools_without(first, last, gw, net.version)
    obj = {
        "id": est.new_uuid(),
        "name": name,
        "network_id": network["id"],
        "ip_version": ip_version,
        "cidr": str(net),
        "gateway_ip": gateway_ip,
        "enable_dhcp": enable_dhcp,
        "allocation_pools": [dict(p) for p in allocation_pools],
        "dns_nameservers": list(dns_nameservers),
        "dns_publish_fixed_ip": False,
        "host_routes": [],
        "ipv6_address_mode": None,
        "ipv6_ra_mode": None,
        "segment_id": None,
        "subnetpool_id": None,
        "service_types": [],
        "description": "",
        "router:external": network["router:external"],
        **standard_attrs(est, network["project_id"], network["_region"]),
        "_used": {},
        "_cursor": None,
    }
    obj["revision_number"] = 1
    est.add("subnets", obj)
    network["subnets"].append(obj["id"])
    stamp_change(est, "networks", network)
    return obj


def _pools_without(first: int, last: int, gw: int | None, version: int) -> list[dict[str, str]]:
    def pool(a: int, b: int) -> dict[str, str]:
        return {"start": str(ipaddress.ip_address(a)), "end": str(ipaddress.ip_address(b))}

    if gw is None or not first <= gw <= last:
        return [pool(first, last)]
    pools = []
    if gw > first:
        pools.append(pool(first, gw - 1))
    if gw < last:
        pools.append(pool(gw + 1, last))
    return pools


def _pool_ranges(subnet: dict[str, Any]) -> list[tuple[int, int]]:
    return [
        (int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
        for p in subnet["allocation_pools"]
    ]


def allocate_ip(est: Estate, subnet: dict[str, Any], owner: str = "") -> str:
    """The next free address after the last one handed out, wrapping once over the pools (deterministic).

    The address is recorded as used by `owner` (a port or floating IP id); 409 IpAddressGenerationFailure when
    the pools are full.
    """
    used: dict[str, str] = subnet.setdefault("_used", {})
    cursor = subnet.get("_cursor")
    after, before = [], []  # pool pieces after the cursor, then (wrapping) up to it
    for lo, hi in _pool_ranges(subnet):
        if cursor is None or lo > cursor:
            after.append((lo, hi))
        elif hi <= cursor:
            before.append((lo, hi))
        else:
            after.append((cursor + 1, hi))
            before.append((lo, cursor))
    for lo, hi in after + before:
        for value in range(lo, hi + 1):
            text = str(ipaddress.ip_address(value))
            if text not in used and text != subnet.get("gateway_ip"):
                used[text] = owner
                subnet["_cursor"] = value
                est.touch()
                return text
    raise SimError(
        409, f"No more IP addresses available for subnet {subnet['id']}.", kind="IpAddressGenerationFailure"
    )


def reserve_ip(est: Estate, subnet: dict[str, Any], address: str, owner: str = "") -> str:
    """Take a given address in a subnet; 409 IpAddressAlreadyAllocated when someone has it."""
    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        raise SimError(400, f"Invalid input for operation: '{address}' is not a valid IP address.") from None
    if addr not in ipaddress.ip_network(subnet["cidr"]):
        raise SimError(
            400,
            f"IP address {address} is not a valid IP for the specified subnet.",
            kind="InvalidIpForSubnet",
        )
    used: dict[str, str] = subnet.setdefault("_used", {})
    text = str(addr)
    if text in used and used[text] != owner:
        raise SimError(
            409,
            f"IP address {text} already allocated in subnet {subnet['id']}",
            kind="IpAddressAlreadyAllocated",
        )
    used[text] = owner
    est.touch()
    return text


def release_ip(est: Estate, subnet_id: str, address: str) -> None:
    subnet = est.get("subnets", subnet_id)
    if subnet is not None:
        subnet.get("_used", {}).pop(address, None)
        est.touch()


def subnet_for_address(est: Estate, network: dict[str, Any], address: str) -> dict[str, Any]:
    addr = ipaddress.ip_address(address)
    for subnet_id in network["subnets"]:
        subnet = est.get("subnets", subnet_id)
        if subnet is not None and addr in ipaddress.ip_network(subnet["cidr"]):
            return subnet
    raise SimError(
        400,
        f"IP address {address} is not in any subnet of network {network['id']}.",
        kind="InvalidIpForNetwork",
    )


def delete_subnet(est: Estate, subnet: dict[str, Any]) -> None:
    """Delete a subnet; 409 SubnetInUse while any port has an address in it."""
    owners = set(subnet.get("_used", {}).values())
    for owner in owners:
        port = est.get("ports", owner)
        if port is not None and port["device_owner"] != "network:dhcp":
            raise SimError(
                409,
                f"Unable to complete operation on subnet {subnet['id']}: One or more ports have "
                "an IP allocation from this subnet.",
                kind="SubnetInUse",
            )
    network = est.get("networks", subnet["network_id"])
    if network is not None and subnet["id"] in network["subnets"]:
        network["subnets"].remove(subnet["id"])
        stamp_change(est, "networks", network)
    est.remove("subnets", subnet["id"])
