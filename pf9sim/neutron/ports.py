"""Neutron ports over the API: fixed IPs, MAC and security group checks, binding and status."""

from __future__ import annotations

from typing import Any

from pf9sim.model import network as mn
from pf9sim.neutron.l2 import PORT_NOT_FOUND, SG_NOT_FOUND, usable_network
from pf9sim.neutron.resources import (
    Ctx,
    Resource,
    admin_only,
    apply_simple,
    check_type,
    owner_of,
)
from pf9sim.plumbing import SimError

# -- ports -------------------------------------------------------------------------------------
_PORT_SIMPLE = (
    "description",
    "dns_name",
    "dns_domain",
    "extra_dhcp_opts",
    "binding:vnic_type",
    "binding:profile",
    "qos_policy_id",
    "propagate_uplink_status",
    "port_security_enabled",
)


def _groups(ctx: Ctx, ids: Any) -> list[str]:
    if not isinstance(ids, list):
        raise SimError(400, "Invalid input for security_groups: must be a list.", kind="HTTPBadRequest")
    for gid in ids:
        group = ctx.est.get("security_groups", gid) if isinstance(gid, str) else None
        if group is None or group.get("_region") != ctx.region or not ctx.owns(group):
            raise SG_NOT_FOUND(str(gid))
    return list(dict.fromkeys(ids))


def _check_mac(ctx: Ctx, network_id: str, mac: Any, port_id: str = "") -> str:
    if not isinstance(mac, str) or len(mac.split(":")) != 6:
        raise SimError(
            400,
            f"Invalid input for mac_address. Reason: '{mac}' is not a valid MAC address.",
            kind="HTTPBadRequest",
        )
    mac = mac.lower()
    for other in ctx.est.index("ports", "mac_address", ctx.region).get(mac, ()):
        if other["network_id"] == network_id and other["id"] != port_id:
            raise SimError(
                409,
                f"Unable to complete operation for network {network_id}. The mac address {mac} is in use.",
                kind="MacAddressInUse",
            )
    return mac


def _fixed_ips(attrs: dict[str, Any]) -> list[dict[str, str]] | None:
    value = attrs.get("fixed_ips")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(f, dict) for f in value):
        raise SimError(400, "Invalid input for fixed_ips: must be a list of objects.", kind="HTTPBadRequest")
    return value


def _status_for(port: dict[str, Any]) -> str:
    # A port goes ACTIVE once bound to a host and plugged by its device; an unbound port stays DOWN.
    if port["binding:host_id"] and port["device_owner"].startswith(("compute:", "network:")):
        return "ACTIVE"
    return "DOWN"


def create_port(ctx: Ctx, attrs: dict[str, Any]) -> dict[str, Any]:
    net = usable_network(ctx, attrs.get("network_id"))
    project = owner_of(ctx, attrs)
    admin_only(ctx, attrs, ("binding:host_id", "binding:profile"), "create_port")
    if not ctx.owns(net) and not net.get("shared"):
        raise SimError(403, "(rule:create_port) is disallowed by policy", kind="PolicyNotAuthorized")
    for name in ("name", "device_id", "device_owner", "binding:host_id"):
        check_type(attrs, name, str)
    check_type(attrs, "admin_state_up", bool)
    mac = _check_mac(ctx, net["id"], attrs["mac_address"]) if "mac_address" in attrs else None
    secure = attrs.get("port_security_enabled", net.get("port_security_enabled", True))
    groups = _groups(ctx, attrs["security_groups"]) if "security_groups" in attrs else None
    if not secure:
        if groups:
            raise SimError(
                409,
                "Port has security group associated. Cannot disable port security or IP address "
                "until security group is removed.",
                kind="PortSecurityAndIPRequiredForSecurityGroups",
            )
        groups = []
    port = mn.make_port(
        ctx.est,
        network=net,
        project_id=project,
        device_id=attrs.get("device_id", ""),
        device_owner=attrs.get("device_owner", ""),
        fixed_ips=_fixed_ips(attrs),
        security_group_ids=groups,
        mac_address=mac,
        name=attrs.get("name", ""),
        admin_state_up=attrs.get("admin_state_up", True),
        binding_host_id=attrs.get("binding:host_id", ""),
    )
    apply_simple(port, attrs, _PORT_SIMPLE)
    port["allowed_address_pairs"] = _address_pairs(port, attrs.get("allowed_address_pairs", []))
    port["tags"] = sorted(set(attrs.get("tags", [])))
    port["status"] = _status_for(port)
    return port


def _address_pairs(port: dict[str, Any], pairs: Any) -> list[dict[str, str]]:
    if not isinstance(pairs, list):
        raise SimError(400, "Invalid input for allowed_address_pairs: must be a list.", kind="HTTPBadRequest")
    out = []
    for pair in pairs:
        if not isinstance(pair, dict) or "ip_address" not in pair:
            raise SimError(
                400, "Allowed address pairs must contain ip_address", kind="AllowedAddressPairsMissingIP"
            )
        out.append(
            {"ip_address": pair["ip_address"], "mac_address": pair.get("mac_address", port["mac_address"])}
        )
    return out


def update_port(ctx: Ctx, port: dict[str, Any], attrs: dict[str, Any]) -> None:
    admin_only(ctx, attrs, ("binding:host_id", "binding:profile", "mac_address"), "update_port")
    for name in ("name", "device_id", "device_owner", "binding:host_id"):
        check_type(attrs, name, str)
    check_type(attrs, "admin_state_up", bool)
    net = ctx.est.get("networks", port["network_id"])
    if "mac_address" in attrs:
        if port["binding:host_id"] and attrs["mac_address"].lower() != port["mac_address"]:
            raise SimError(
                409,
                f"Unable to complete operation on port {port['id']}, port is already bound, "
                "port type: ovs, old_mac "
                f"{port['mac_address']}, new_mac {attrs['mac_address']}.",
                kind="PortBound",
            )
        port["mac_address"] = _check_mac(ctx, port["network_id"], attrs["mac_address"], port["id"])
    if "fixed_ips" in attrs:
        old = port["fixed_ips"]
        new = mn.assign_fixed_ips(ctx.est, net, port["id"], _fixed_ips(attrs) or [])
        kept = {(f["subnet_id"], f["ip_address"]) for f in new}
        for fixed in old:
            if (fixed["subnet_id"], fixed["ip_address"]) not in kept:
                mn.release_ip(ctx.est, fixed["subnet_id"], fixed["ip_address"])
        port["fixed_ips"] = new
        port["dns_assignment"] = mn.dns_assignment(new)
    if "security_groups" in attrs:
        port["security_groups"] = _groups(ctx, attrs["security_groups"] or [])
    if (
        attrs.get("port_security_enabled") is False
        and port["security_groups"]
        and "security_groups" not in attrs
    ):
        raise SimError(
            409,
            "Port has security group associated. Cannot disable port security or IP address "
            "until security group is removed.",
            kind="PortSecurityAndIPRequiredForSecurityGroups",
        )
    if "allowed_address_pairs" in attrs:
        port["allowed_address_pairs"] = _address_pairs(port, attrs["allowed_address_pairs"] or [])
    apply_simple(port, attrs, ("name", "admin_state_up", "device_id", "device_owner", *_PORT_SIMPLE))
    if "binding:host_id" in attrs:
        mn.set_binding(port, attrs["binding:host_id"])
    if {"binding:host_id", "device_owner", "device_id"} & set(attrs):
        port["status"] = _status_for(port)


def delete_port(ctx: Ctx, port: dict[str, Any]) -> None:
    mn.delete_port(ctx.est, port)


def _security_group_filter(values: list[str]):
    wanted = set(values)
    return lambda port: bool(wanted.intersection(port["security_groups"]))


def _fixed_ip_part(key: str):
    def make(values: list[str]):
        wanted = set(values)
        return lambda port: any(f[key] in wanted for f in port["fixed_ips"])

    return make


PORTS = Resource(
    kind="ports",
    singular="port",
    collection="ports",
    path="ports",
    not_found=PORT_NOT_FOUND,
    create=create_port,
    update=update_port,
    delete=delete_port,
    quota_key="port",
    create_keys=frozenset(
        {
            "network_id",
            "name",
            "admin_state_up",
            "mac_address",
            "fixed_ips",
            "device_id",
            "device_owner",
            "security_groups",
            "allowed_address_pairs",
            "binding:host_id",
            "tags",
            *_PORT_SIMPLE,
        }
    ),
    update_keys=frozenset(
        {
            "name",
            "admin_state_up",
            "mac_address",
            "fixed_ips",
            "device_id",
            "device_owner",
            "security_groups",
            "allowed_address_pairs",
            "binding:host_id",
            *_PORT_SIMPLE,
        }
    ),
    extra_filters={
        "security_groups": _security_group_filter,
        "security_group_ids": _security_group_filter,
        "ip_address": _fixed_ip_part("ip_address"),
        "subnet_id": _fixed_ip_part("subnet_id"),
    },
)
