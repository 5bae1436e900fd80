"""Neutron security groups and their rules (the group embeds its rules; both are kept in sync here)."""

from __future__ import annotations

import ipaddress
from typing import Any

from pf9sim.model.network_base import stamp_change, standard_attrs
from pf9sim.plumbing import SimError
from pf9sim.state import Estate, public


def default_security_group(est: Estate, project_id: str, region: str) -> dict[str, Any] | None:
    """The project's "default" group in the region, or None.

    Remembered in the estate's cache dict: the generator makes tens of thousands of ports, and rebuilding an
    index of all groups after every port would make that quadratic.
    """
    key = ("default_security_group", region, project_id)
    known = est._index_cache.get(key)  # noqa: SLF001
    group = est.get("security_groups", known) if known else None
    if group is not None and group["name"] == "default" and group["project_id"] == project_id:
        return group
    for group in est.index("security_groups", "project_id", region).get(project_id, []):
        if group["name"] == "default":
            est._index_cache[key] = group["id"]  # noqa: SLF001
            return group
    return None


def next_standard_attr_id(est: Estate) -> int:
    """Neutron's standard attribute id: one integer sequence (kept in secrets so it survives save/load)."""
    counters = est.secrets.setdefault("neutron_counters", {})
    counters["standard_attr_id"] = counters.get("standard_attr_id", 0) + 1
    return counters["standard_attr_id"]


# -- security groups ---------------------------------------------------------------------------
def make_security_group(
    est: Estate,
    *,
    name: str,
    project_id: str,
    region: str,
    description: str = "",
    default_rules: bool = True,
    stateful: bool = True,
) -> dict[str, Any]:
    """A group; default_rules adds Neutron's egress rules, and for "default" ingress from the group itself."""
    obj = {
        "id": est.new_uuid(),
        "name": name,
        "description": description or ("Default security group" if name == "default" else ""),
        "security_group_rules": [],
        "stateful": stateful,
        "shared": False,
        **standard_attrs(est, project_id, region),
    }
    obj["revision_number"] = 1
    est.add("security_groups", obj)
    if default_rules:
        for ethertype in ("IPv4", "IPv6"):
            make_security_group_rule(est, security_group=obj, direction="egress", ethertype=ethertype)
        if name == "default":
            for ethertype in ("IPv4", "IPv6"):
                make_security_group_rule(
                    est,
                    security_group=obj,
                    direction="ingress",
                    ethertype=ethertype,
                    remote_group_id=obj["id"],
                )
    obj["revision_number"] = 1  # Neutron shows a new group at revision 1, its default rules included
    return obj


def sync_group_rule(group: dict[str, Any], rule: dict[str, Any], removed: bool = False) -> None:
    """Keep the group's embedded "security_group_rules" equal to its rules (incrementally, no index).

    Neutron renders the embedded copies from its database rows, not through the rules API: they carry the
    rule's `standard_attr_id` and `tags` (which GET /security-group-rules does not show) and a null
    `belongs_to_default_sg`.
    """
    embedded = [r for r in group["security_group_rules"] if r["id"] != rule["id"]]
    if not removed:
        embedded.append(
            {
                **public(rule),
                "belongs_to_default_sg": None,
                "standard_attr_id": rule.get("_standard_attr_id", 0),
                "tags": [],
            }
        )
    group["security_group_rules"] = embedded


_PROTOCOLS = {"tcp", "udp", "icmp", "icmpv6", "ipv6-icmp", "sctp", "gre", "esp", "ah", "vrrp", "any", "all"}


def make_security_group_rule(
    est: Estate,
    *,
    security_group: dict[str, Any],
    direction: str,
    ethertype: str = "IPv4",
    protocol: str | None = None,
    port_range_min: int | None = None,
    port_range_max: int | None = None,
    remote_ip_prefix: str | None = None,
    remote_group_id: str | None = None,
    description: str = "",
    project_id: str | None = None,
) -> dict[str, Any]:
    """A rule; validated as Neutron does (direction, ethertype, port range, duplicate -> 409)."""
    if direction not in ("ingress", "egress"):
        raise SimError(
            400,
            f"Invalid input for direction. Reason: {direction!r} is not in ['ingress', 'egress'].",
            kind="InvalidInput",
        )
    if ethertype not in ("IPv4", "IPv6"):
        raise SimError(
            400,
            f"Invalid input for ethertype. Reason: {ethertype!r} is not in ['IPv4', 'IPv6'].",
            kind="InvalidInput",
        )
    if protocol is not None and str(protocol).lower() not in _PROTOCOLS and not str(protocol).isdigit():
        raise SimError(
            400,
            f"Security group rule protocol {protocol} not supported.",
            kind="SecurityGroupRuleInvalidProtocol",
        )
    if protocol in ("any", "all"):
        protocol = None
    if port_range_min is not None and port_range_max is not None and port_range_min > port_range_max:
        raise SimError(
            400,
            "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            kind="SecurityGroupInvalidPortRange",
        )
    if remote_ip_prefix is not None:
        try:
            net = ipaddress.ip_network(remote_ip_prefix, strict=False)
        except ValueError:
            raise SimError(400, f"Invalid input for remote_ip_prefix: {remote_ip_prefix!r}.") from None
        if f"IPv{net.version}" != ethertype:
            raise SimError(
                400,
                f"Conflicting value ethertype {ethertype} for CIDR {remote_ip_prefix}",
                kind="SecurityGroupRuleParameterConflict",
            )
        remote_ip_prefix = str(net)
    fields = {
        "direction": direction,
        "ethertype": ethertype,
        "protocol": protocol,
        "port_range_min": port_range_min,
        "port_range_max": port_range_max,
        "remote_ip_prefix": remote_ip_prefix,
        "remote_group_id": remote_group_id,
    }
    region = security_group["_region"]
    for rule in security_group["security_group_rules"]:
        if all(rule[k] == v for k, v in fields.items()):
            raise SimError(
                409,
                f"Security group rule already exists. Rule id is {rule['id']}.",
                kind="SecurityGroupRuleExists",
            )
    obj = {
        "id": est.new_uuid(),
        "security_group_id": security_group["id"],
        **fields,
        "remote_address_group_id": None,
        "normalized_cidr": remote_ip_prefix,
        "belongs_to_default_sg": security_group["name"] == "default",
        "description": description,
        **standard_attrs(est, project_id or security_group["project_id"], region),
    }
    del obj["tags"]  # rules carry no tags in Neutron
    obj["_standard_attr_id"] = next_standard_attr_id(est)
    est.add("security_group_rules", obj)
    sync_group_rule(security_group, obj)
    stamp_change(est, "security_groups", security_group)
    return obj


def delete_security_group_rule(est: Estate, rule: dict[str, Any]) -> None:
    est.remove("security_group_rules", rule["id"])
    group = est.get("security_groups", rule["security_group_id"])
    if group is not None:
        sync_group_rule(group, rule, removed=True)
        stamp_change(est, "security_groups", group)


def ports_using_group(est: Estate, group: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in est.all("ports", group["_region"]) if group["id"] in p["security_groups"]]


def delete_security_group(est: Estate, group: dict[str, Any], is_admin: bool = False) -> None:
    """Delete a group and its rules; 409 while ports use it, or for a project's "default" group.

    Neutron lets an admin delete a project's default group only when the project is gone; we refuse it always
    unless `is_admin` and the project no longer exists.
    """
    if group["name"] == "default" and not (is_admin and est.get("projects", group["project_id"]) is None):
        raise SimError(
            409,
            "Insufficient rights for removing default security group.",
            kind="SecurityGroupCannotRemoveDefault",
        )
    in_use = ports_using_group(est, group)
    if in_use:
        raise SimError(409, f"Security Group {group['id']} in use.", kind="SecurityGroupInUse")
    for rule in group["security_group_rules"]:
        est.remove("security_group_rules", rule["id"])
    est.remove("security_groups", group["id"])
