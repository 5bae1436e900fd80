"""Neutron routers (gateway and interface ports) and floating IPs (each with its network:floatingip port)."""

from __future__ import annotations

from typing import Any

from pf9sim.model.network_base import DEFAULT_AZ, stamp_change, standard_attrs, subnet_for_address
from pf9sim.model.network_l2 import delete_port, make_port, port_details
from pf9sim.plumbing import SimError
from pf9sim.state import Estate


# -- routers -----------------------------------------------------------------------------------
def make_router(
    est: Estate,
    *,
    name: str,
    project_id: str,
    region: str,
    external_network: dict[str, Any] | None = None,
    admin_state_up: bool = True,
    status: str = "ACTIVE",
) -> dict[str, Any]:
    """A router; with an external network it gets a gateway port and external_gateway_info with SNAT."""
    obj = {
        "id": est.new_uuid(),
        "name": name,
        "admin_state_up": admin_state_up,
        "status": status,
        "external_gateway_info": None,
        "availability_zone_hints": [],
        "availability_zones": [DEFAULT_AZ],
        "distributed": False,
        "ha": False,
        "flavor_id": None,
        "routes": [],
        "description": "",
        "conntrack_helpers": [],
        "enable_ndp_proxy": None,
        **standard_attrs(est, project_id, region),
    }
    obj["revision_number"] = 1
    est.add("routers", obj)
    if external_network is not None:
        set_router_gateway(est, obj, external_network)
    return obj


def set_router_gateway(
    est: Estate,
    router: dict[str, Any],
    external_network: dict[str, Any] | None,
    enable_snat: bool = True,
    fixed_ips: list[dict[str, str]] | None = None,
) -> None:
    """Replace the router's gateway: the old gateway port goes, a new one (project "") is made."""
    if router["external_gateway_info"]:
        for port in list(est.index("ports", "device_id", router["_region"]).get(router["id"], [])):
            if port["device_owner"] == "network:router_gateway":
                delete_port(est, port, force=True)
    if external_network is None:
        router["external_gateway_info"] = None
    else:
        if not external_network["router:external"]:
            raise SimError(
                400,
                f"Bad router request: Network {external_network['id']} is not an external network.",
                kind="BadRequest",
            )
        gw_port = make_port(
            est,
            network=external_network,
            project_id="",
            device_id=router["id"],
            device_owner="network:router_gateway",
            fixed_ips=fixed_ips,
            security_group_ids=[],
        )
        router["external_gateway_info"] = {
            "network_id": external_network["id"],
            "enable_snat": enable_snat,
            "external_fixed_ips": [dict(f) for f in gw_port["fixed_ips"]],
        }
    stamp_change(est, "routers", router)


def router_interface_ports(est: Estate, router: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p
        for p in est.index("ports", "device_id", router["_region"]).get(router["id"], [])
        if p["device_owner"] == "network:router_interface"
    ]


def add_router_interface(est: Estate, router: dict[str, Any], subnet: dict[str, Any]) -> dict[str, Any]:
    """Attach a subnet: a port owned by the router holding the subnet's gateway address."""
    # Look through the subnet's owners rather than an index of all ports: the generator calls this in a loop.
    for owner in set(subnet.get("_used", {}).values()):
        port = est.get("ports", owner)
        if port and port["device_id"] == router["id"] and port["device_owner"] == "network:router_interface":
            raise SimError(400, f"Router already has a port on subnet {subnet['id']}.", kind="BadRequest")
    network = est.get("networks", subnet["network_id"])
    want = {"subnet_id": subnet["id"]}
    if subnet["gateway_ip"]:
        want["ip_address"] = subnet["gateway_ip"]
    port = make_port(
        est,
        network=network,
        project_id=router["project_id"],
        device_id=router["id"],
        device_owner="network:router_interface",
        fixed_ips=[want],
        security_group_ids=[],
    )
    stamp_change(est, "routers", router)
    return port


def remove_router_interface(
    est: Estate, router: dict[str, Any], subnet_id: str | None = None, port_id: str | None = None
) -> dict[str, Any]:
    """Detach by subnet or port; 404 RouterInterfaceNotFound when the router has no such interface.

    A floating IP that routes through this subnet blocks it (409 RouterInterfaceInUseByFloatingIP).
    """
    for port in router_interface_ports(est, router):
        if port_id is not None and port["id"] != port_id:
            continue
        if subnet_id is not None and not any(f["subnet_id"] == subnet_id for f in port["fixed_ips"]):
            continue
        for fip in est.index("floating_ips", "router_id", router["_region"]).get(router["id"], []):
            inner = est.get("ports", fip["port_id"] or "")
            if inner and inner["network_id"] == port["network_id"]:
                raise SimError(
                    409,
                    f"Router interface for subnet {port['fixed_ips'][0]['subnet_id']} on router "
                    f"{router['id']} cannot be deleted, as it is required by one or more floating "
                    "IPs.",
                    kind="RouterInterfaceInUseByFloatingIP",
                )
        delete_port(est, port, force=True)
        stamp_change(est, "routers", router)
        return port
    what = f"port {port_id}" if port_id else f"subnet {subnet_id}"
    raise SimError(
        404,
        f"Router {router['id']} does not have an interface with id {what}",
        kind="RouterInterfaceNotFound",
    )


def delete_router(est: Estate, router: dict[str, Any]) -> None:
    """Delete a router; 409 RouterInUse while it has interfaces or floating IPs."""
    if router_interface_ports(est, router):
        raise SimError(409, f"Router {router['id']} still has ports", kind="RouterInUse")
    if est.index("floating_ips", "router_id", router["_region"]).get(router["id"]):
        raise SimError(409, f"Router {router['id']} still has floating IPs associated", kind="RouterInUse")
    set_router_gateway(est, router, None)
    est.remove("routers", router["id"])


# -- floating IPs ------------------------------------------------------------------------------
def make_floating_ip(
    est: Estate,
    *,
    external_network: dict[str, Any],
    project_id: str,
    port: dict[str, Any] | None = None,
    router_id: str | None = None,
    floating_ip_address: str | None = None,
    subnet_id: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    """A floating IP from the external network's first subnet, with a network:floatingip port (project "")."""
    if not external_network["router:external"]:
        raise SimError(
            400,
            f"Bad floatingip request: Network {external_network['id']} is not a valid external network.",
            kind="BadRequest",
        )
    fip_id = est.new_uuid()
    want = None
    if floating_ip_address or subnet_id:
        want = [{k: v for k, v in (("ip_address", floating_ip_address), ("subnet_id", subnet_id)) if v}]
    fip_port = make_port(
        est,
        network=external_network,
        project_id="",
        device_id=fip_id,
        device_owner="network:floatingip",
        fixed_ips=want,
        security_group_ids=[],
        status="N/A",
    )
    if not fip_port["fixed_ips"]:
        est.remove("ports", fip_port["id"])
        raise SimError(
            400, f"Network {external_network['id']} has no subnet for floating IPs.", kind="BadRequest"
        )
    obj = {
        "id": fip_id,
        "floating_ip_address": fip_port["fixed_ips"][0]["ip_address"],
        "floating_network_id": external_network["id"],
        "fixed_ip_address": None,
        "port_id": None,
        "router_id": None,
        "status": "DOWN",
        "port_details": None,
        "port_forwardings": [],
        "description": description,
        "dns_domain": "",
        "dns_name": "",
        "qos_policy_id": None,
        "qos_network_policy_id": None,
        **standard_attrs(est, project_id, external_network["_region"]),
    }
    obj["revision_number"] = 0
    est.add("floating_ips", obj)
    if port is not None:
        associate_floating_ip(est, obj, port, router_id)
    return obj


def associate_floating_ip(
    est: Estate,
    fip: dict[str, Any],
    port: dict[str, Any],
    router_id: str | None,
    fixed_ip_address: str | None = None,
) -> None:
    """Point a floating IP at a port's (first IPv4) fixed address through a router."""
    if fixed_ip_address is None:
        v4 = [f["ip_address"] for f in port["fixed_ips"] if ":" not in f["ip_address"]]
        if not v4:
            raise SimError(400, f"Port {port['id']} does not have any IPv4 address.", kind="BadRequest")
        fixed_ip_address = v4[0]
    if router_id is None:
        router_id = _router_for(est, port, fip["floating_network_id"])
    fip.update(
        port_id=port["id"],
        fixed_ip_address=fixed_ip_address,
        router_id=router_id,
        status="ACTIVE",
        port_details=port_details(port),
    )
    stamp_change(est, "floating_ips", fip)


def _router_for(est: Estate, port: dict[str, Any], external_network_id: str) -> str:
    """Router joining the port's network to the external one (404 ExternalGatewayForFloatingIPNotFound)."""
    for router in est.all("routers", port["_region"]):
        gateway = router["external_gateway_info"]
        if not gateway or gateway["network_id"] != external_network_id:
            continue
        if any(p["network_id"] == port["network_id"] for p in router_interface_ports(est, router)):
            return router["id"]
    raise SimError(
        404,
        f"External network {external_network_id} is not reachable from subnet of port "
        f"{port['id']}. Therefore, cannot associate Port {port['id']} with a Floating IP.",
        kind="ExternalGatewayForFloatingIPNotFound",
    )


def delete_floating_ip(est: Estate, fip: dict[str, Any]) -> None:
    """Delete a floating IP and its network:floatingip port (found through the address's owner)."""
    network = est.get("networks", fip["floating_network_id"])
    if network is not None:
        subnet = subnet_for_address(est, network, fip["floating_ip_address"])
        port = est.get("ports", subnet.get("_used", {}).get(fip["floating_ip_address"], ""))
        if port is not None and port["device_id"] == fip["id"]:
            delete_port(est, port, force=True)
    est.remove("floating_ips", fip["id"])
