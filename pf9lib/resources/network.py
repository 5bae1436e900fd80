"""Neutron types: limit + marker paging when a limit is sent."""

from __future__ import annotations

from typing import Any

from pf9lib.normalize.enrich import SECURITY_GROUP_COLUMNS, enrich_security_groups
from pf9lib.resources import Column, Resource
from pf9lib.resources.extract import count, g
from pf9lib.store.schema import INT, LS, TS, B, S


def _port_owner(raw: dict[str, Any], lookups: Any) -> tuple[str | None, None]:
    # A port without a project (router interfaces, DHCP) belongs to its network's project.
    project_id = raw.get("project_id") or raw.get("tenant_id")
    if not project_id:
        project_id = (lookups.networks.get(raw.get("network_id")) or {}).get("project_id")
    return project_id or None, None


def _rules(direction: str):
    return lambda raw: sum(
        1 for r in raw.get("security_group_rules") or [] if r.get("direction") == direction
    )


def _rule_name(raw: dict[str, Any]) -> str:
    ports = raw.get("port_range_min")
    port_text = f"/{ports}" if ports is not None else ""
    if ports is not None and raw.get("port_range_max") not in (None, ports):
        port_text += f"-{raw.get('port_range_max')}"
    remote = raw.get("remote_ip_prefix") or ""
    return f"{raw.get('direction')} {raw.get('protocol') or 'any'}{port_text} {remote}".strip()


def _rules_in_id_order(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Real Neutron embeds a group's rules in database order, which differs from one call to the next (seen on
    # the realos tier): unsorted, an untouched group would be recorded as changed in every run.
    for group in groups:
        rules = group.get("security_group_rules")
        if isinstance(rules, list):
            group["security_group_rules"] = sorted(rules, key=lambda rule: str(rule.get("id")))
    return groups


_CREATED = Column("created_at", TS, g("created_at"))
_UPDATED = Column("updated_at", TS, g("updated_at"))

RESOURCES = (
    Resource(
        "networks",
        "network",
        "/v2.0/networks",
        "networks",
        (
            Column("status", S, g("status")),
            Column("admin_state_up", B, g("admin_state_up")),
            Column("shared", B, g("shared")),
            Column("external", B, g("router:external")),
            Column("mtu", INT, g("mtu")),
            Column("network_type", S, g("provider:network_type")),
            Column("subnet_ids", LS, g("subnets", default=[])),
            _CREATED,
            _UPDATED,
        ),
    ),
    Resource(
        "subnets",
        "network",
        "/v2.0/subnets",
        "subnets",
        (
            Column("network_id", S, g("network_id")),
            Column("cidr", S, g("cidr")),
            Column("gateway_ip", S, g("gateway_ip")),
            Column("enable_dhcp", B, g("enable_dhcp")),
            Column("ip_version", INT, g("ip_version")),
            _CREATED,
            _UPDATED,
        ),
    ),
    Resource(
        "ports",
        "network",
        "/v2.0/ports",
        "ports",
        (
            Column("status", S, g("status")),
            Column("network_id", S, g("network_id")),
            Column("device_id", S, g("device_id")),
            Column("device_owner", S, g("device_owner")),
            Column("mac_address", S, g("mac_address")),
            Column("ip_addresses", LS, lambda r: [f.get("ip_address") for f in r.get("fixed_ips") or []]),
            Column("subnet_ids", LS, lambda r: [f.get("subnet_id") for f in r.get("fixed_ips") or []]),
            Column("security_group_ids", LS, g("security_groups", default=[])),
            Column("binding_host", S, g("binding:host_id")),
            _CREATED,
            _UPDATED,
        ),
        owner=_port_owner,
        needs=("networks",),
    ),
    Resource(
        "routers",
        "network",
        "/v2.0/routers",
        "routers",
        (
            Column("status", S, g("status")),
            Column("admin_state_up", B, g("admin_state_up")),
            Column("external_network_id", S, g("external_gateway_info", "network_id")),
            _CREATED,
            _UPDATED,
        ),
    ),
    Resource(
        "floating_ips",
        "network",
        "/v2.0/floatingips",
        "floatingips",
        (
            Column("status", S, g("status")),
            Column("floating_ip_address", S, g("floating_ip_address")),
            Column("fixed_ip_address", S, g("fixed_ip_address")),
            Column("floating_network_id", S, g("floating_network_id")),
            Column("port_id", S, g("port_id")),
            Column("router_id", S, g("router_id")),
            _CREATED,
            _UPDATED,
        ),
        name_of=lambda raw: raw.get("floating_ip_address"),
    ),
    Resource(
        "security_groups",
        "network",
        "/v2.0/security-groups",
        "security_groups",
        (
            Column("description", S, g("description")),
            Column("rule_count", INT, count("security_group_rules")),
            Column("ingress_rules", INT, _rules("ingress")),
            Column("egress_rules", INT, _rules("egress")),
            _CREATED,
            _UPDATED,
        ),
        needs=("ports", "servers"),
        clean=_rules_in_id_order,
        enrich=enrich_security_groups,
        enriched=SECURITY_GROUP_COLUMNS,
    ),
    Resource(
        "security_group_rules",
        "network",
        "/v2.0/security-group-rules",
        "security_group_rules",
        (
            Column("security_group_id", S, g("security_group_id")),
            Column("direction", S, g("direction")),
            Column("ethertype", S, g("ethertype")),
            Column("protocol", S, g("protocol")),
            Column("port_range_min", INT, g("port_range_min")),
            Column("port_range_max", INT, g("port_range_max")),
            Column("remote_ip_prefix", S, g("remote_ip_prefix")),
            Column("remote_group_id", S, g("remote_group_id")),
            _CREATED,
        ),
        name_of=_rule_name,
    ),
)
