"""Neutron networks and ports (with the floating-IP bookkeeping a port deletion needs)."""

from __future__ import annotations

from typing import Any

from pf9sim.model.network_base import (
    DEFAULT_AZ,
    NETWORK_OWNED,
    allocate_ip,
    release_ip,
    reserve_ip,
    stamp_change,
    standard_attrs,
    subnet_for_address,
)
from pf9sim.model.network_secgroups import default_security_group
from pf9sim.plumbing import SimError
from pf9sim.state import Estate


# -- networks ----------------------------------------------------------------------------------
def make_network(
    est: Estate,
    *,
    name: str,
    project_id: str,
    region: str,
    shared: bool = False,
    external: bool = False,
    admin_state_up: bool = True,
    status: str = "ACTIVE",
    mtu: int = 1500,
    description: str = "",
    network_type: str = "vxlan",
    segmentation_id: int | None = None,
) -> dict[str, Any]:
    """A network; vxlan/vlan get a segmentation id from est.rng when none is given."""
    physical = None
    if network_type in ("vlan", "flat"):
        physical = "external" if external else "physnet1"
    if segmentation_id is None and network_type == "vxlan":
        segmentation_id = est.rng.randint(1000, 16_000_000)
    elif segmentation_id is None and network_type == "vlan":
        segmentation_id = est.rng.randint(100, 4000)
    obj = {
        "id": est.new_uuid(),
        "name": name,
        "admin_state_up": admin_state_up,
        "status": status,
        "subnets": [],
        "shared": shared,
        "router:external": external,
        "availability_zone_hints": [],
        "availability_zones": [DEFAULT_AZ],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "mtu": mtu,
        "port_security_enabled": True,
        "provider:network_type": network_type,
        "provider:physical_network": physical,
        "provider:segmentation_id": segmentation_id,
        "qos_policy_id": None,
        "description": description,
        "dns_domain": "",
        "is_default": False,
        "l2_adjacency": True,
        # Neutron 2025.2+ shows both flags (vlan-transparent, qinq extensions), false unless asked for.
        "vlan_transparent": False,
        "qinq": False,
        **standard_attrs(est, project_id, region),
    }
    obj["revision_number"] = 1
    return est.add("networks", obj)


def ports_of_network(est: Estate, network_id: str, region: str | None = None) -> list[dict[str, Any]]:
    return est.index("ports", "network_id", region).get(network_id, [])


def delete_network(est: Estate, network: dict[str, Any]) -> None:
    """Delete a network and its subnets; 409 NetworkInUse while it has ports other than its own."""
    ports = ports_of_network(est, network["id"], network["_region"])
    busy = [p for p in ports if p["device_owner"] not in NETWORK_OWNED]
    if busy:
        raise SimError(
            409,
            f"Unable to complete operation on network {network['id']}. There are one or more "
            "ports still in use on the network.",
            kind="NetworkInUse",
        )
    for port in list(ports):
        delete_port(est, port, force=True)
    for subnet_id in list(network["subnets"]):
        est.remove("subnets", subnet_id)
    est.remove("networks", network["id"])


# -- ports -------------------------------------------------------------------------------------
def random_mac(est: Estate) -> str:
    return "fa:16:3e:" + ":".join(f"{est.rng.randrange(256):02x}" for _ in range(3))


def assign_fixed_ips(
    est: Estate, network: dict[str, Any], port_id: str, fixed_ips: list[dict[str, str]] | None
) -> list[dict[str, str]]:
    """Resolve requested fixed IPs ({subnet_id}, {ip_address}, or both) into allocated ones."""
    if fixed_ips is None:
        if not network["subnets"]:
            return []
        subnet = est.get("subnets", network["subnets"][0])
        return [{"subnet_id": subnet["id"], "ip_address": allocate_ip(est, subnet, port_id)}]
    result = []
    for want in fixed_ips:
        address = want.get("ip_address")
        if want.get("subnet_id"):
            subnet = est.get("subnets", want["subnet_id"])
            if subnet is None or subnet["network_id"] != network["id"]:
                raise SimError(
                    400,
                    f"Invalid input for operation: Failed to lookup subnet {want['subnet_id']} "
                    f"on network {network['id']}.",
                    kind="InvalidInput",
                )
        elif address:
            subnet = subnet_for_address(est, network, address)
        else:
            raise SimError(400, "Invalid input for fixed_ips: each entry needs subnet_id or ip_address.")
        address = reserve_ip(est, subnet, address, port_id) if address else allocate_ip(est, subnet, port_id)
        result.append({"subnet_id": subnet["id"], "ip_address": address})
    return result


def release_fixed_ips(est: Estate, port: dict[str, Any]) -> None:
    for fixed in port["fixed_ips"]:
        release_ip(est, fixed["subnet_id"], fixed["ip_address"])


def dns_assignment(fixed_ips: list[dict[str, str]]) -> list[dict[str, str]]:
    out = []
    for fixed in fixed_ips:
        host = "host-" + fixed["ip_address"].replace(".", "-").replace(":", "-")
        out.append({"ip_address": fixed["ip_address"], "hostname": host, "fqdn": f"{host}.openstacklocal."})
    return out


def set_binding(port: dict[str, Any], host: str) -> None:
    """Bind (or unbind with "") a port to a host as the ML2/OVS mechanism driver reports it."""
    port["binding:host_id"] = host
    port["binding:vif_type"] = "ovs" if host else "unbound"
    # Platform9 runs ML2 with Open vSwitch agents: the openvswitch driver reports whether a hybrid (iptables)
    # bridge is plugged in between, which OVN's driver would not.
    port["binding:vif_details"] = (
        {
            "port_filter": True,
            "connectivity": "l2",
            "ovs_hybrid_plug": False,
            "bridge_name": "br-int",
            "datapath_type": "system",
            "bound_drivers": {"0": "openvswitch"},
        }
        if host
        else {}
    )


def make_port(
    est: Estate,
    *,
    network: dict[str, Any],
    project_id: str,
    device_id: str = "",
    device_owner: str = "",
    fixed_ips: list[dict[str, str]] | None = None,
    security_group_ids: list[str] | None = None,
    mac_address: str | None = None,
    name: str = "",
    status: str = "ACTIVE",
    admin_state_up: bool = True,
    binding_host_id: str = "",
    description: str = "",
) -> dict[str, Any]:
    """A port; fixed_ips None takes one address from the network's first subnet, security groups None the
    project's "default" group (ports owned by network:* devices get none, as in Neutron)."""
    port_id = est.new_uuid()
    region = network["_region"]
    ips = assign_fixed_ips(est, network, port_id, fixed_ips)
    if security_group_ids is None:
        group = (
            None if device_owner.startswith("network:") else default_security_group(est, project_id, region)
        )
        security_group_ids = [group["id"]] if group else []
    obj = {
        "id": port_id,
        "name": name,
        "network_id": network["id"],
        "admin_state_up": admin_state_up,
        "status": status,
        "mac_address": mac_address or random_mac(est),
        "fixed_ips": ips,
        "device_id": device_id,
        "device_owner": device_owner,
        "security_groups": list(security_group_ids),
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "port_security_enabled": network.get("port_security_enabled", True),
        "binding:vnic_type": "normal",
        "binding:profile": {},
        "description": description,
        "dns_name": "",
        "dns_domain": "",
        "dns_assignment": dns_assignment(ips),
        "ip_allocation": "immediate",
        "data_plane_status": None,
        "propagate_uplink_status": False,
        "qos_policy_id": None,
        "qos_network_policy_id": None,
        "resource_request": None,
        **standard_attrs(est, project_id, region),
    }
    obj["revision_number"] = 1
    set_binding(obj, binding_host_id)
    return est.add("ports", obj)


def delete_port(est: Estate, port: dict[str, Any], force: bool = False) -> None:
    """Delete a port: release its addresses and disassociate floating IPs pointing at it.

    Without `force`, router/floating-IP ports are refused (Neutron: detach them from the router instead).
    """
    if not force and port["device_owner"] in (
        "network:router_interface",
        "network:router_gateway",
        "network:floatingip",
        "network:router_interface_distributed",
    ):
        raise SimError(
            409,
            f"Port {port['id']} cannot be deleted directly via the port API: has device owner "
            f"{port['device_owner']}.",
            kind="ServicePortInUse",
        )
    for fip in est.index("floating_ips", "port_id", port["_region"]).get(port["id"], []):
        disassociate_floating_ip(est, fip)
    release_fixed_ips(est, port)
    est.remove("ports", port["id"])


def port_details(port: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "network_id", "mac_address", "admin_state_up", "status", "device_id", "device_owner")
    return {k: port[k] for k in keys}


def disassociate_floating_ip(est: Estate, fip: dict[str, Any]) -> None:
    fip.update(port_id=None, fixed_ip_address=None, router_id=None, status="DOWN", port_details=None)
    stamp_change(est, "floating_ips", fip)
