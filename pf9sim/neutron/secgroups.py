"""Neutron security groups and security group rules over the API."""

from __future__ import annotations

from typing import Any

from pf9sim.model import network as mn
from pf9sim.neutron.l2 import SG_NOT_FOUND
from pf9sim.neutron.resources import Ctx, Resource, apply_simple, check_type, not_found, owner_of
from pf9sim.plumbing import SimError

RULE_NOT_FOUND = not_found("SecurityGroupRuleNotFound", "Security group rule {id} does not exist")


# -- groups ------------------------------------------------------------------------------------
def create_group(ctx: Ctx, attrs: dict[str, Any]) -> dict[str, Any]:
    check_type(attrs, "name", str)
    check_type(attrs, "description", str)
    check_type(attrs, "stateful", bool)
    if attrs.get("name") == "default":
        raise SimError(
            409, "Default security group already exists.", kind="SecurityGroupDefaultAlreadyExists"
        )
    group = mn.make_security_group(
        ctx.est,
        name=attrs.get("name", ""),
        project_id=owner_of(ctx, attrs),
        region=ctx.region,
        description=attrs.get("description", ""),
        stateful=attrs.get("stateful", True),
    )
    group["tags"] = sorted(set(attrs.get("tags", [])))
    return group


def update_group(ctx: Ctx, group: dict[str, Any], attrs: dict[str, Any]) -> None:
    check_type(attrs, "name", str)
    check_type(attrs, "description", str)
    check_type(attrs, "stateful", bool)
    if group["name"] == "default" and attrs.get("name", "default") != "default":
        raise SimError(
            409, "Updating default security group not allowed.", kind="SecurityGroupCannotUpdateDefault"
        )
    if attrs.get("name") == "default" and group["name"] != "default":
        raise SimError(
            409, "Default security group already exists.", kind="SecurityGroupDefaultAlreadyExists"
        )
    if (
        "stateful" in attrs
        and attrs["stateful"] != group["stateful"]
        and mn.ports_using_group(ctx.est, group)
    ):
        raise SimError(409, f"Security Group {group['id']} in use.", kind="SecurityGroupInUse")
    apply_simple(group, attrs, ("name", "description", "stateful"))


def delete_group(ctx: Ctx, group: dict[str, Any]) -> None:
    mn.delete_security_group(ctx.est, group, is_admin=ctx.is_admin)


SECURITY_GROUPS = Resource(
    kind="security_groups",
    singular="security_group",
    collection="security_groups",
    path="security-groups",
    not_found=SG_NOT_FOUND,
    create=create_group,
    update=update_group,
    delete=delete_group,
    quota_key="security_group",
    create_keys=frozenset({"name", "description", "stateful", "tags"}),
    update_keys=frozenset({"name", "description", "stateful"}),
    visible=lambda ctx, group: bool(group.get("shared")),
)


# -- rules -------------------------------------------------------------------------------------
def _int_or_none(attrs: dict[str, Any], name: str) -> int | None:
    value = attrs.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SimError(
            400, f"Invalid input for {name}. Reason: '{value}' is not an integer.", kind="HTTPBadRequest"
        ) from None
    return number


def _check_ports(protocol: str | None, low: int | None, high: int | None) -> None:
    if protocol is None and (low is not None or high is not None):
        raise SimError(
            400,
            "Must also specify protocol if port range is given.",
            kind="SecurityGroupProtocolRequiredWithPorts",
        )
    name = str(protocol).lower() if protocol is not None else ""
    if name in ("tcp", "udp", "sctp", "6", "17", "132"):
        for value in (low, high):
            if value is not None and not 1 <= value <= 65535:
                raise SimError(400, f"Invalid value for port {value}.", kind="SecurityGroupInvalidPortValue")
        if (low is None) != (high is None) or (low is not None and low > high):
            raise SimError(
                400,
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                kind="SecurityGroupInvalidPortRange",
            )
    elif name in ("icmp", "icmpv6", "ipv6-icmp", "1", "58"):
        for field_name, value, end in (("type", low, "min"), ("code", high, "max")):
            if value is not None and not 0 <= value <= 255:
                raise SimError(
                    400,
                    f"Invalid value for ICMP {field_name} (port-range-{end}) {value}. It must be 0 to 255.",
                    kind="SecurityGroupInvalidIcmpValue",
                )
        if low is None and high is not None:
            raise SimError(
                400,
                f"ICMP code (port-range-max) {high} is provided but ICMP type (port-range-min) is missing.",
                kind="SecurityGroupMissingIcmpType",
            )


def create_rule(ctx: Ctx, attrs: dict[str, Any]) -> dict[str, Any]:
    gid = attrs.get("security_group_id")
    group = ctx.est.get("security_groups", gid) if isinstance(gid, str) else None
    if group is None or group.get("_region") != ctx.region or not ctx.owns(group):
        raise SG_NOT_FOUND(str(gid))
    if attrs.get("remote_ip_prefix") and attrs.get("remote_group_id"):
        raise SimError(
            400,
            "Only remote_ip_prefix or remote_group_id may be provided.",
            kind="SecurityGroupRemoteGroupAndRemoteIpPrefix",
        )
    remote = attrs.get("remote_group_id")
    if remote is not None:
        other = ctx.est.get("security_groups", remote) if isinstance(remote, str) else None
        if other is None or other.get("_region") != ctx.region:
            raise SG_NOT_FOUND(str(remote))
    if attrs.get("remote_address_group_id"):
        raise SimError(
            404,
            f"Address group {attrs['remote_address_group_id']} could not be found.",
            kind="AddressGroupNotFound",
        )
    protocol = attrs.get("protocol")
    if protocol is not None:
        protocol = str(protocol).lower()
    low, high = _int_or_none(attrs, "port_range_min"), _int_or_none(attrs, "port_range_max")
    _check_ports(protocol, low, high)
    check_type(attrs, "description", str)
    return mn.make_security_group_rule(
        ctx.est,
        security_group=group,
        direction=attrs.get("direction"),
        ethertype=attrs.get("ethertype", "IPv4"),
        protocol=protocol,
        port_range_min=low,
        port_range_max=high,
        remote_ip_prefix=attrs.get("remote_ip_prefix"),
        remote_group_id=remote,
        description=attrs.get("description", ""),
        project_id=owner_of(ctx, attrs),
    )


def update_rule(ctx: Ctx, rule: dict[str, Any], attrs: dict[str, Any]) -> None:
    check_type(attrs, "description", str)
    apply_simple(rule, attrs, ("description",))


def _resync_rule(ctx: Ctx, rule: dict[str, Any]) -> None:
    group = ctx.est.get("security_groups", rule["security_group_id"])
    if group is not None:
        mn.sync_group_rule(group, rule)


def delete_rule(ctx: Ctx, rule: dict[str, Any]) -> None:
    mn.delete_security_group_rule(ctx.est, rule)


def _rule_visible(ctx: Ctx, rule: dict[str, Any]) -> bool:
    group = ctx.est.get("security_groups", rule["security_group_id"])
    return group is not None and (group.get("project_id") == ctx.project_id or bool(group.get("shared")))


SECURITY_GROUP_RULES = Resource(
    kind="security_group_rules",
    singular="security_group_rule",
    collection="security_group_rules",
    path="security-group-rules",
    not_found=RULE_NOT_FOUND,
    create=create_rule,
    update=update_rule,
    delete=delete_rule,
    quota_key="security_group_rule",
    create_keys=frozenset(
        {
            "security_group_id",
            "direction",
            "ethertype",
            "protocol",
            "port_range_min",
            "port_range_max",
            "remote_ip_prefix",
            "remote_group_id",
            "remote_address_group_id",
            "description",
        }
    ),
    update_keys=frozenset({"description"}),
    visible=_rule_visible,
    after_update=_resync_rule,
    taggable=False,
)
