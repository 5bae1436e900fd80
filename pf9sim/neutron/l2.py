"""Neutron networks and subnets over the API: validation and Neutron's rules, then the model factories."""

from __future__ import annotations

import ipaddress
from typing import Any

from pf9sim.model import network as mn
from pf9sim.neutron.resources import (
    Ctx,
    Resource,
    admin_only,
    apply_simple,
    check_type,
    not_found,
    owner_of,
)
from pf9sim.plumbing import SimError

NETWORK_NOT_FOUND = not_found("NetworkNotFound", "Network {id} could not be found.")
SUBNET_NOT_FOUND = not_found("SubnetNotFound", "Subnet {id} could not be found.")
PORT_NOT_FOUND = not_found("PortNotFound", "Port {id} could not be found.")
SG_NOT_FOUND = not_found("SecurityGroupNotFound", "Security group {id} does not exist")


# -- networks ----------------------------------------------------------------------------------
_NET_ADMIN = (
    "shared",
    "router:external",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "is_default",
)
_NET_SIMPLE = (
    "port_security_enabled",
    "dns_domain",
    "qos_policy_id",
    "is_default",
    "availability_zone_hints",
    "description",
    "vlan_transparent",
    "qinq",
)


def create_network(ctx: Ctx, attrs: dict[str, Any]) -> dict[str, Any]:
    admin_only(ctx, attrs, _NET_ADMIN, "create_network")
    for name in ("shared", "router:external", "admin_state_up", "port_security_enabled"):
        check_type(attrs, name, bool)
    check_type(attrs, "name", str)
    check_type(attrs, "mtu", int)
    check_type(attrs, "provider:segmentation_id", int, nullable=True)
    external = attrs.get("router:external", False)
    net = mn.make_network(
        ctx.est,
        name=attrs.get("name", ""),
        project_id=owner_of(ctx, attrs),
        region=ctx.region,
        shared=attrs.get("shared", False),
        external=external,
        admin_state_up=attrs.get("admin_state_up", True),
        mtu=attrs.get("mtu", 1500),
        network_type=attrs.get("provider:network_type") or ("flat" if external else "vxlan"),
        segmentation_id=attrs.get("provider:segmentation_id"),
    )
    if attrs.get("provider:physical_network"):
        net["provider:physical_network"] = attrs["provider:physical_network"]
    apply_simple(net, attrs, _NET_SIMPLE)
    net["tags"] = sorted(set(attrs.get("tags", [])))
    return net


def update_network(ctx: Ctx, net: dict[str, Any], attrs: dict[str, Any]) -> None:
    admin_only(ctx, attrs, _NET_ADMIN, "update_network")
    for name in ("shared", "router:external", "admin_state_up", "port_security_enabled"):
        check_type(attrs, name, bool)
    check_type(attrs, "name", str)
    check_type(attrs, "mtu", int)
    if attrs.get("router:external") is False and net["router:external"]:
        if ctx.est.index("floating_ips", "floating_network_id", ctx.region).get(net["id"]):
            raise SimError(
                409,
                f"Unable to complete operation on network {net['id']}. There are one or more "
                "floating IPs in use on the network.",
                kind="NetworkInUse",
            )
    apply_simple(
        net,
        attrs,
        (
            "name",
            "admin_state_up",
            "shared",
            "router:external",
            "mtu",
            "provider:network_type",
            "provider:physical_network",
            "provider:segmentation_id",
            *_NET_SIMPLE,
        ),
    )
    if "router:external" in attrs:
        for subnet_id in net["subnets"]:
            subnet = ctx.est.get("subnets", subnet_id)
            if subnet is not None:
                subnet["router:external"] = net["router:external"]


def delete_network(ctx: Ctx, net: dict[str, Any]) -> None:
    mn.delete_network(ctx.est, net)


def network_visible(ctx: Ctx, net: dict[str, Any]) -> bool:
    return bool(net.get("shared") or net.get("router:external"))


NETWORKS = Resource(
    kind="networks",
    singular="network",
    collection="networks",
    path="networks",
    not_found=NETWORK_NOT_FOUND,
    create=create_network,
    update=update_network,
    delete=delete_network,
    quota_key="network",
    create_keys=frozenset({"name", "admin_state_up", "mtu", "tags", *_NET_ADMIN, *_NET_SIMPLE}),
    update_keys=frozenset({"name", "admin_state_up", "mtu", *_NET_ADMIN, *_NET_SIMPLE}),
    visible=network_visible,
)


# -- subnets -----------------------------------------------------------------------------------
_SUBNET_SIMPLE = (
    "description",
    "host_routes",
    "service_types",
    "dns_publish_fixed_ip",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "segment_id",
)


def usable_network(ctx: Ctx, network_id: Any) -> dict[str, Any]:
    net = ctx.est.get("networks", network_id) if isinstance(network_id, str) else None
    if net is None or net.get("_region") != ctx.region or not (ctx.owns(net) or network_visible(ctx, net)):
        raise NETWORK_NOT_FOUND(str(network_id))
    return net


def _check_pools(cidr: ipaddress._BaseNetwork, pools: Any, gateway: str | None) -> None:
    if not isinstance(pools, list):
        raise SimError(400, "Invalid input for allocation_pools: must be a list.", kind="HTTPBadRequest")
    for pool in pools:
        try:
            start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        except (KeyError, TypeError, ValueError):
            raise SimError(
                400, f"Invalid input for allocation_pools: {pool!r}.", kind="HTTPBadRequest"
            ) from None
        if start not in cidr or end not in cidr or start > end:
            raise SimError(
                400,
                f"The allocation pool {pool['start']}-{pool['end']} spans beyond the subnet cidr {cidr}.",
                kind="OutOfBoundsAllocationPool",
            )
        if gateway and start <= ipaddress.ip_address(gateway) <= end:
            raise SimError(
                409,
                f"Gateway ip {gateway} conflicts with allocation pool {pool['start']}-{pool['end']}.",
                kind="GatewayConflictWithAllocationPools",
            )


def create_subnet(ctx: Ctx, attrs: dict[str, Any]) -> dict[str, Any]:
    net = usable_network(ctx, attrs.get("network_id"))
    if not ctx.owns(net):
        raise SimError(403, "(rule:create_subnet) is disallowed by policy", kind="PolicyNotAuthorized")
    if attrs.get("subnetpool_id") or attrs.get("use_default_subnetpool"):
        raise SimError(400, "Subnet pools are not available in this cloud: give a cidr.", kind="BadRequest")
    if not isinstance(attrs.get("cidr"), str):
        raise SimError(
            400,
            "Bad subnets request: a cidr must be specified in the absence of a subnet pool.",
            kind="BadRequest",
        )
    try:
        cidr = ipaddress.ip_network(attrs["cidr"], strict=False)
    except ValueError:
        raise SimError(
            400,
            f"Invalid input for cidr. Reason: '{attrs['cidr']}' is not a valid IP subnet.",
            kind="HTTPBadRequest",
        ) from None
    version = attrs.get("ip_version", 4)
    if version not in (4, 6) or version != cidr.version:
        raise SimError(
            400,
            f"Invalid input for operation: cidr {cidr} does not match ip_version {version}.",
            kind="InvalidInput",
        )
    for other_id in net["subnets"]:
        other = ctx.est.get("subnets", other_id)
        if other is not None and ipaddress.ip_network(other["cidr"]).overlaps(cidr):
            raise SimError(
                400,
                f"Invalid input for operation: Requested subnet with cidr: {cidr} for network: "
                f"{net['id']} overlaps with another subnet.",
                kind="InvalidInput",
            )
    gateway = attrs.get("gateway_ip", "auto")
    if gateway not in ("auto", None):
        try:
            if ipaddress.ip_address(gateway) not in cidr:
                raise ValueError
        except ValueError:
            raise SimError(
                400,
                f"Invalid input for operation: Gateway IP {gateway} is not in subnet {cidr}.",
                kind="InvalidInput",
            ) from None
    pools = attrs.get("allocation_pools")
    if pools is not None:
        first_host = str(ipaddress.ip_address(int(cidr.network_address) + 1))
        _check_pools(cidr, pools, first_host if gateway == "auto" else gateway)
    check_type(attrs, "enable_dhcp", bool)
    check_type(attrs, "dns_nameservers", list)
    subnet = mn.make_subnet(
        ctx.est,
        network=net,
        name=attrs.get("name", ""),
        cidr=str(cidr),
        gateway_ip=gateway,
        enable_dhcp=attrs.get("enable_dhcp", True),
        ip_version=version,
        allocation_pools=pools,
        dns_nameservers=attrs.get("dns_nameservers", ()),
    )
    project = owner_of(ctx, attrs)
    subnet["project_id"] = subnet["tenant_id"] = project
    apply_simple(subnet, attrs, _SUBNET_SIMPLE)
    subnet["tags"] = sorted(set(attrs.get("tags", [])))
    return subnet


def update_subnet(ctx: Ctx, subnet: dict[str, Any], attrs: dict[str, Any]) -> None:
    for name in ("cidr", "ip_version", "network_id"):
        if name in attrs and attrs[name] != subnet[name]:
            raise SimError(400, f"Cannot update read-only attribute {name}", kind="HTTPBadRequest")
    cidr = ipaddress.ip_network(subnet["cidr"])
    if attrs.get("gateway_ip") is not None:
        try:
            if ipaddress.ip_address(attrs["gateway_ip"]) not in cidr:
                raise ValueError
        except ValueError:
            raise SimError(
                400,
                f"Invalid input for operation: Gateway IP {attrs['gateway_ip']} is not in subnet {cidr}.",
                kind="InvalidInput",
            ) from None
    if "allocation_pools" in attrs or attrs.get("gateway_ip"):
        pools = attrs.get("allocation_pools", subnet["allocation_pools"])
        _check_pools(cidr, pools, attrs.get("gateway_ip", subnet["gateway_ip"]))
    holder = ctx.est.get("ports", subnet.get("_used", {}).get(attrs.get("gateway_ip") or "", ""))
    if holder is not None and holder["device_owner"] != "network:router_interface":
        raise SimError(
            409,
            f"Gateway ip {attrs['gateway_ip']} conflicts with port {holder['id']}: it is in use.",
            kind="GatewayIpInUse",
        )
    check_type(attrs, "enable_dhcp", bool)
    apply_simple(
        subnet,
        attrs,
        ("name", "gateway_ip", "enable_dhcp", "dns_nameservers", "allocation_pools", *_SUBNET_SIMPLE),
    )


def delete_subnet(ctx: Ctx, subnet: dict[str, Any]) -> None:
    mn.delete_subnet(ctx.est, subnet)


def subnet_visible(ctx: Ctx, subnet: dict[str, Any]) -> bool:
    net = ctx.est.get("networks", subnet["network_id"])
    return net is not None and network_visible(ctx, net)


SUBNETS = Resource(
    kind="subnets",
    singular="subnet",
    collection="subnets",
    path="subnets",
    not_found=SUBNET_NOT_FOUND,
    create=create_subnet,
    update=update_subnet,
    delete=delete_subnet,
    quota_key="subnet",
    create_keys=frozenset(
        {
            "network_id",
            "cidr",
            "ip_version",
            "name",
            "gateway_ip",
            "enable_dhcp",
            "allocation_pools",
            "dns_nameservers",
            "subnetpool_id",
            "use_default_subnetpool",
            "prefixlen",
            "tags",
            *_SUBNET_SIMPLE,
        }
    ),
    update_keys=frozenset(
        {
            "name",
            "gateway_ip",
            "enable_dhcp",
            "dns_nameservers",
            "allocation_pools",
            "cidr",
            "ip_version",
            "network_id",
            *_SUBNET_SIMPLE,
        }
    ),
    visible=subnet_visible,
)
