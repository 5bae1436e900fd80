"""Neutron routers (with add/remove_router_interface) and floating IPs over the API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pf9sim.model import network as mn
from pf9sim.neutron.l2 import NETWORK_NOT_FOUND, PORT_NOT_FOUND, SUBNET_NOT_FOUND
from pf9sim.neutron.resources import (
    V2,
    Ctx,
    Resource,
    admin_only,
    apply_simple,
    check_type,
    ctx_of,
    not_found,
    owner_of,
)
from pf9sim.plumbing import SimError, json_response, read_json

ROUTER_NOT_FOUND = not_found("RouterNotFound", "Router {id} could not be found.")
FIP_NOT_FOUND = not_found("FloatingIPNotFound", "Floating IP {id} could not be found.")


def _external_network(ctx: Ctx, network_id: Any, what: str) -> dict[str, Any]:
    net = ctx.est.get("networks", network_id) if isinstance(network_id, str) else None
    if net is None or net.get("_region") != ctx.region:
        raise NETWORK_NOT_FOUND(str(network_id))
    if not net["router:external"]:
        raise SimError(
            400,
            f"Bad {what} request: Network {net['id']} is not a valid external network.",
            kind="BadRequest",
        )
    return net


# -- routers -----------------------------------------------------------------------------------
_ROUTER_ADMIN = ("distributed", "ha")
_ROUTER_SIMPLE = ("description", "availability_zone_hints", "flavor_id", "enable_ndp_proxy", *_ROUTER_ADMIN)


def _gateway(ctx: Ctx, router: dict[str, Any], info: Any) -> None:
    """Set, change or clear (None / {}) the router's external gateway."""
    if info is not None and not isinstance(info, dict):
        raise SimError(
            400, "Invalid input for external_gateway_info: must be an object.", kind="HTTPBadRequest"
        )
    if not info or not info.get("network_id"):
        if router["external_gateway_info"] and ctx.est.index("floating_ips", "router_id", ctx.region).get(
            router["id"]
        ):
            raise SimError(
                409,
                f"Gateway cannot be updated for router {router['id']}, since a gateway to "
                "external network is required by one or more floating IPs.",
                kind="RouterExternalGatewayInUseByFloatingIp",
            )
        if router["external_gateway_info"]:
            mn.set_router_gateway(ctx.est, router, None)
        return
    net = _external_network(ctx, info["network_id"], "router")
    snat = info.get("enable_snat", True)
    check_type(info, "enable_snat", bool)
    current = router["external_gateway_info"]
    if current and current["network_id"] == net["id"] and "external_fixed_ips" not in info:
        current["enable_snat"] = snat  # same network: no new gateway port
        return
    mn.set_router_gateway(ctx.est, router, net, snat, info.get("external_fixed_ips"))


def create_router(ctx: Ctx, attrs: dict[str, Any]) -> dict[str, Any]:
    admin_only(ctx, attrs, _ROUTER_ADMIN, "create_router")
    check_type(attrs, "name", str)
    check_type(attrs, "admin_state_up", bool)
    router = mn.make_router(
        ctx.est,
        name=attrs.get("name", ""),
        project_id=owner_of(ctx, attrs),
        region=ctx.region,
        admin_state_up=attrs.get("admin_state_up", True),
    )
    apply_simple(router, attrs, _ROUTER_SIMPLE)
    router["tags"] = sorted(set(attrs.get("tags", [])))
    try:
        _gateway(ctx, router, attrs.get("external_gateway_info"))
    except SimError:
        ctx.est.remove("routers", router["id"])  # a failed create leaves nothing behind
        raise
    return router


def update_router(ctx: Ctx, router: dict[str, Any], attrs: dict[str, Any]) -> None:
    admin_only(ctx, attrs, _ROUTER_ADMIN, "update_router")
    check_type(attrs, "name", str)
    check_type(attrs, "admin_state_up", bool)
    if "routes" in attrs:
        routes = attrs["routes"] or []
        if not isinstance(routes, list) or not all(
            isinstance(r, dict) and {"destination", "nexthop"} <= set(r) for r in routes
        ):
            raise SimError(
                400, "Invalid input for routes: each needs destination and nexthop.", kind="HTTPBadRequest"
            )
        router["routes"] = [{"destination": r["destination"], "nexthop": r["nexthop"]} for r in routes]
    if "external_gateway_info" in attrs:
        _gateway(ctx, router, attrs["external_gateway_info"])
    apply_simple(router, attrs, ("name", "admin_state_up", *_ROUTER_SIMPLE))


def delete_router(ctx: Ctx, router: dict[str, Any]) -> None:
    mn.delete_router(ctx.est, router)


ROUTERS = Resource(
    kind="routers",
    singular="router",
    collection="routers",
    path="routers",
    not_found=ROUTER_NOT_FOUND,
    create=create_router,
    update=update_router,
    delete=delete_router,
    quota_key="router",
    create_keys=frozenset({"name", "admin_state_up", "external_gateway_info", "tags", *_ROUTER_SIMPLE}),
    update_keys=frozenset({"name", "admin_state_up", "external_gateway_info", "routes", *_ROUTER_SIMPLE}),
)


def _interface_body(router: dict[str, Any], port: dict[str, Any]) -> dict[str, Any]:
    subnet_ids = [f["subnet_id"] for f in port["fixed_ips"]]
    return {
        "id": router["id"],
        "tenant_id": router["project_id"],
        "project_id": router["project_id"],
        "port_id": port["id"],
        "network_id": port["network_id"],
        "subnet_id": subnet_ids[0] if subnet_ids else None,
        "subnet_ids": subnet_ids,
        "tags": [],
    }


async def add_interface(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    router = ROUTERS.lookup(ctx, request.match_info["id"])
    body = await read_json(request)
    if bool(body.get("subnet_id")) == bool(body.get("port_id")):
        raise SimError(
            400, "Bad router request: Either subnet_id or port_id must be specified.", kind="BadRequest"
        )
    if body.get("subnet_id"):
        subnet = ctx.est.get("subnets", body["subnet_id"])
        if subnet is None or subnet.get("_region") != ctx.region:
            raise SUBNET_NOT_FOUND(body["subnet_id"])
        if not subnet["gateway_ip"]:
            raise SimError(
                400,
                f"Bad router request: Subnet {subnet['id']} does not have a gateway IP.",
                kind="BadRequest",
            )
        port = mn.add_router_interface(ctx.est, router, subnet)
    else:
        port = ctx.est.get("ports", body["port_id"])
        if port is None or port.get("_region") != ctx.region or not ctx.owns(port):
            raise PORT_NOT_FOUND(body["port_id"])
        if port["device_id"] or port["device_owner"]:
            raise SimError(
                409, f"Port {port['id']} is in use by device {port['device_id'] or '?'}.", kind="PortInUse"
            )
        if not port["fixed_ips"]:
            raise SimError(
                400, "Bad router request: Router port must have at least one fixed IP.", kind="BadRequest"
            )
        port.update(
            device_id=router["id"],
            device_owner="network:router_interface",
            security_groups=[],
            status="ACTIVE",
        )
        mn.stamp_change(ctx.est, "ports", port)
        mn.stamp_change(ctx.est, "routers", router)
    return json_response(_interface_body(router, port))


async def remove_interface(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    router = ROUTERS.lookup(ctx, request.match_info["id"])
    body = await read_json(request)
    if not body.get("subnet_id") and not body.get("port_id"):
        raise SimError(
            400, "Bad router request: Either subnet_id or port_id must be specified.", kind="BadRequest"
        )
    port = mn.remove_router_interface(
        ctx.est, router, subnet_id=body.get("subnet_id"), port_id=body.get("port_id")
    )
    return json_response(_interface_body(router, port))


# -- floating IPs ------------------------------------------------------------------------------
def _target_port(
    ctx: Ctx, fip: dict[str, Any] | None, port_id: Any, fixed_ip: Any
) -> tuple[dict, str | None]:
    port = ctx.est.get("ports", port_id) if isinstance(port_id, str) else None
    if port is None or port.get("_region") != ctx.region or not ctx.owns(port):
        raise PORT_NOT_FOUND(str(port_id))
    if fixed_ip is not None and fixed_ip not in [f["ip_address"] for f in port["fixed_ips"]]:
        raise SimError(
            400,
            f"Bad floatingip request: Port {port['id']} does not have fixed ip {fixed_ip}.",
            kind="BadRequest",
        )
    effective = fixed_ip or next(
        (f["ip_address"] for f in port["fixed_ips"] if ":" not in f["ip_address"]), None
    )
    for other in ctx.est.index("floating_ips", "port_id", ctx.region).get(port["id"], ()):
        if (fip is None or other["id"] != fip["id"]) and other["fixed_ip_address"] == effective:
            raise SimError(
                409,
                f"Cannot associate floating IP {other['floating_ip_address']} ({other['id']}) "
                f"with port {port['id']} using fixed IP {effective}, as that fixed IP already has a "
                f"floating IP on external network {other['floating_network_id']}.",
                kind="FloatingIPPortAlreadyAssociated",
            )
    return port, fixed_ip


def create_floating_ip(ctx: Ctx, attrs: dict[str, Any]) -> dict[str, Any]:
    admin_only(ctx, attrs, ("floating_ip_address",), "create_floatingip")
    net = _external_network(ctx, attrs.get("floating_network_id"), "floatingip")
    port = None
    if attrs.get("port_id"):
        port, _ = _target_port(ctx, None, attrs["port_id"], attrs.get("fixed_ip_address"))
    subnet_id = attrs.get("subnet_id")
    if subnet_id and subnet_id not in net["subnets"]:
        raise SUBNET_NOT_FOUND(subnet_id)
    fip = mn.make_floating_ip(
        ctx.est,
        external_network=net,
        project_id=owner_of(ctx, attrs),
        floating_ip_address=attrs.get("floating_ip_address"),
        subnet_id=subnet_id,
        description=attrs.get("description", ""),
    )
    apply_simple(fip, attrs, ("dns_name", "dns_domain", "qos_policy_id"))
    fip["tags"] = sorted(set(attrs.get("tags", [])))
    if port is not None:
        try:
            mn.associate_floating_ip(ctx.est, fip, port, None, attrs.get("fixed_ip_address"))
        except SimError:
            mn.delete_floating_ip(ctx.est, fip)  # Neutron creates nothing when the association fails
            raise
    return fip


def update_floating_ip(ctx: Ctx, fip: dict[str, Any], attrs: dict[str, Any]) -> None:
    apply_simple(fip, attrs, ("description", "qos_policy_id"))
    if "port_id" not in attrs:
        return
    if attrs["port_id"] is None:
        if fip["port_id"]:
            mn.disassociate_floating_ip(ctx.est, fip)
        return
    port, fixed_ip = _target_port(ctx, fip, attrs["port_id"], attrs.get("fixed_ip_address"))
    mn.associate_floating_ip(ctx.est, fip, port, None, fixed_ip)


def delete_floating_ip(ctx: Ctx, fip: dict[str, Any]) -> None:
    mn.delete_floating_ip(ctx.est, fip)


FLOATING_IPS = Resource(
    kind="floating_ips",
    singular="floatingip",
    collection="floatingips",
    path="floatingips",
    not_found=FIP_NOT_FOUND,
    create=create_floating_ip,
    update=update_floating_ip,
    delete=delete_floating_ip,
    quota_key="floatingip",
    create_keys=frozenset(
        {
            "floating_network_id",
            "port_id",
            "fixed_ip_address",
            "floating_ip_address",
            "subnet_id",
            "description",
            "dns_name",
            "dns_domain",
            "qos_policy_id",
            "tags",
        }
    ),
    update_keys=frozenset({"port_id", "fixed_ip_address", "description", "qos_policy_id"}),
)


def register_router_actions(app: web.Application) -> None:
    app.router.add_put(f"{V2}/routers/{{id}}/add_router_interface", add_interface)
    app.router.add_put(f"{V2}/routers/{{id}}/remove_router_interface", remove_interface)
