"""Simulated Nova server sub-resources: actions, volume attachments, interfaces, metadata, server update."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from pf9sim.model import compute as model_compute
from pf9sim.model import network as model_network
from pf9sim.model import volume as model_volume
from pf9sim.model.compute import volumes_by_server
from pf9sim.nova.base import Ctx, empty, nova_api
from pf9sim.nova.boot import check_quota, pick_hypervisor, ref_id, regional
from pf9sim.nova.server_image import create_image
from pf9sim.nova.servers import ServerRenderer, visible_server
from pf9sim.plumbing import SimError, json_response, read_json
from pf9sim.state import stamp_updated

# -- actions ------------------------------------------------------------------------------------
_ACTION_NAMES = {"os-stop": "stop", "os-start": "start"}  # Nova's 409 names the method, not the body key


def _conflict(server: dict[str, Any], action: str) -> SimError:
    name = _ACTION_NAMES.get(action, action)
    return SimError(
        409,
        f"Cannot '{name}' instance {server['id']} while it is in vm_state {server['OS-EXT-STS:vm_state']}",
    )


def _transition(allowed: tuple[str, ...], target: str) -> Callable[[Ctx, dict, Any, str], None]:
    def act(ctx: Ctx, server: dict[str, Any], _arg: Any, action: str) -> None:
        if server["status"] not in allowed:
            raise _conflict(server, action)
        model_compute.set_server_status(ctx.est, server, target)

    return act


def _reboot(ctx: Ctx, server: dict[str, Any], arg: Any, action: str) -> None:
    kind = str((arg or {}).get("type", "SOFT")).upper()
    if kind not in ("SOFT", "HARD"):
        raise SimError(400, f"Invalid input for field/attribute type. Value: {kind}.")
    allowed = ("ACTIVE",) if kind == "SOFT" else ("ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED", "ERROR")
    _transition(allowed, "ACTIVE")(ctx, server, arg, action)


def _resize(ctx: Ctx, server: dict[str, Any], arg: Any, action: str) -> None:
    if server["status"] not in ("ACTIVE", "SHUTOFF"):
        raise _conflict(server, action)
    flavor = regional(ctx, "flavors", ref_id((arg or {}).get("flavorRef")))
    if flavor is None:
        raise SimError(400, "Unable to find flavor: invalid flavorRef provided.")
    if flavor["id"] == server["_flavor_id"]:
        raise SimError(400, "When resizing, instances must change flavor!")
    old = server["flavor"]
    check_quota(
        ctx, server["tenant_id"], {"cores": flavor["vcpus"] - old["vcpus"], "ram": flavor["ram"] - old["ram"]}
    )
    server["_resize_from"] = {
        "flavor": dict(old),
        "flavor_id": server["_flavor_id"],
        "status": server["status"],
    }
    model_compute.resize_server(ctx.est, server, flavor)
    model_compute.set_server_status(ctx.est, server, "VERIFY_RESIZE")


def _migrate(ctx: Ctx, server: dict[str, Any], arg: Any, action: str) -> None:
    ctx.require_admin()
    if server["status"] not in (("ACTIVE",) if action == "os-migrateLive" else ("ACTIVE", "SHUTOFF")):
        raise _conflict(server, action)
    host = (arg or {}).get("host")
    current = server["OS-EXT-SRV-ATTR:hypervisor_hostname"]
    flavor = {"vcpus": server["flavor"]["vcpus"], "ram": server["flavor"]["ram"]}
    target = pick_hypervisor(ctx, flavor, None, host, exclude=current)
    if target is None:
        raise SimError(
            400,
            f"No valid host was found. Compute host {host} could not be found."
            if host
            else "No valid host was found. There are not enough hosts available.",
        )
    model_compute.migrate_server(ctx.est, server, target)
    if action == "migrate":
        server["_resize_from"] = {
            "flavor": dict(server["flavor"]),
            "flavor_id": server["_flavor_id"],
            "status": server["status"],
        }
        model_compute.set_server_status(ctx.est, server, "VERIFY_RESIZE")


def _confirm(ctx: Ctx, server: dict[str, Any], _arg: Any, action: str) -> None:
    if server["status"] != "VERIFY_RESIZE":
        raise _conflict(server, action)
    previous = server.pop("_resize_from", {}) or {}
    model_compute.set_server_status(ctx.est, server, previous.get("status", "ACTIVE"))


def _revert(ctx: Ctx, server: dict[str, Any], _arg: Any, action: str) -> None:
    if server["status"] != "VERIFY_RESIZE":
        raise _conflict(server, action)
    previous = server.pop("_resize_from", {}) or {}
    if previous:
        server["flavor"] = previous["flavor"]
        server["_flavor_id"] = previous["flavor_id"]
    model_compute.set_server_status(ctx.est, server, previous.get("status", "ACTIVE"))


def _lock(ctx: Ctx, server: dict[str, Any], arg: Any, action: str) -> None:
    server["locked"] = action == "lock"
    server["locked_reason"] = (arg or {}).get("locked_reason") if action == "lock" else None
    stamp_updated(ctx.est, "servers", server)


# An action answers 202 with no body unless its handler returns a response of its own (createImage).
ACTIONS: dict[str, Callable[[Ctx, dict, Any, str], web.Response | None]] = {
    "os-stop": _transition(("ACTIVE", "ERROR", "RESCUE"), "SHUTOFF"),
    "os-start": _transition(("SHUTOFF",), "ACTIVE"),
    "reboot": _reboot,
    "pause": _transition(("ACTIVE",), "PAUSED"),
    "unpause": _transition(("PAUSED",), "ACTIVE"),
    "suspend": _transition(("ACTIVE", "SHUTOFF"), "SUSPENDED"),
    "resume": _transition(("SUSPENDED",), "ACTIVE"),
    "resize": _resize,
    "confirmResize": _confirm,
    "revertResize": _revert,
    "migrate": _migrate,
    "os-migrateLive": _migrate,
    "lock": _lock,
    "unlock": _lock,
    "createImage": create_image,
}


@nova_api
async def server_action(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    body = await read_json(ctx.request)
    if len(body) != 1:
        raise SimError(400, "Malformed request body: expected exactly one action")
    action, arg = next(iter(body.items()))
    handler = ACTIONS.get(action)
    if handler is None:
        raise SimError(400, f"There is no such action: {action}")
    if server.get("locked") and not ctx.admin and action not in ("lock", "unlock"):
        raise SimError(409, f"Instance {server['id']} is locked")
    return handler(ctx, server, arg, action) or empty(202)


@nova_api
async def update_server(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    spec = (await read_json(ctx.request)).get("server")
    if not isinstance(spec, dict):
        raise SimError(400, "Invalid input for field/attribute server.")
    for key in ("name", "description", "accessIPv4", "accessIPv6"):
        if key in spec:
            server[key] = spec[key]
    stamp_updated(ctx.est, "servers", server)
    return json_response({"server": ServerRenderer(ctx, show=True).render(server)})


# -- volume attachments -------------------------------------------------------------------------
def _attachment_view(ctx: Ctx, server: dict[str, Any], volume: dict[str, Any]) -> dict[str, Any]:
    att = next(a for a in volume["attachments"] if a["server_id"] == server["id"])
    out: dict[str, Any] = {"device": att.get("device"), "serverId": server["id"], "volumeId": volume["id"]}
    if not ctx.since(89):
        out["id"] = volume["id"]
    if ctx.since(70):
        out["tag"] = None
    if ctx.since(79):
        out["delete_on_termination"] = bool(volume.get("_delete_on_termination", False))
    if ctx.since(89):
        out["attachment_id"] = att.get("attachment_id")
        out["bdm_uuid"] = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{server['id']}/{volume['id']}"))
    return out


def _attached(ctx: Ctx, server: dict[str, Any]) -> list[dict[str, Any]]:
    return volumes_by_server(ctx.est, ctx.region).get(server["id"], [])


@nova_api
async def list_volume_attachments(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    views = [_attachment_view(ctx, server, v) for v in _attached(ctx, server)]
    return json_response({"volumeAttachments": views})


def _attached_volume(ctx: Ctx, server: dict[str, Any]) -> dict[str, Any]:
    volume_id = ctx.request.match_info["volume_id"]
    for volume in _attached(ctx, server):
        if volume["id"] == volume_id:
            return volume
    raise SimError(404, f"Volume {volume_id} is not attached to the instance {server['id']}.")


@nova_api
async def show_volume_attachment(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    return json_response({"volumeAttachment": _attachment_view(ctx, server, _attached_volume(ctx, server))})


@nova_api
async def attach_volume(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    spec = (await read_json(ctx.request)).get("volumeAttachment") or {}
    volume = regional(ctx, "volumes", spec.get("volumeId") or "")
    if volume is None or (not ctx.admin and volume["os-vol-tenant-attr:tenant_id"] != server["tenant_id"]):
        raise SimError(404, f"Volume {spec.get('volumeId')} could not be found.")
    if server["status"] not in ("ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED"):
        raise _conflict(server, "attach_volume")
    if volume["status"] != "available" and not (volume.get("multiattach") and volume["status"] == "in-use"):
        raise SimError(
            400,
            f"Invalid volume: volume '{volume['id']}' status must be 'available'. "
            f"Currently in '{volume['status']}'",
        )
    used = {
        a.get("device")
        for v in _attached(ctx, server)
        for a in v["attachments"]
        if a["server_id"] == server["id"]
    }
    device = spec.get("device") or next(
        f"/dev/vd{c}" for c in "bcdefghijklmnopqrstuvwxyz" if f"/dev/vd{c}" not in used
    )
    model_volume.attach_volume(ctx.est, volume, server, device=device)
    if ctx.since(79) and spec.get("delete_on_termination"):
        volume["_delete_on_termination"] = True
    if ctx.since(101):  # 2.101: accepted without a body; clients watch the volume's status
        return empty(202)
    return json_response({"volumeAttachment": _attachment_view(ctx, server, volume)})


@nova_api
async def detach_volume(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    volume = _attached_volume(ctx, server)
    att = next(a for a in volume["attachments"] if a["server_id"] == server["id"])
    if att.get("device") == "/dev/vda" and not server["image"]:
        raise SimError(400, "Cannot detach a root device volume")
    model_volume.detach_volume(ctx.est, volume, server["id"])
    return empty(202)


# -- interfaces ---------------------------------------------------------------------------------
def _interface_view(ctx: Ctx, port: dict[str, Any]) -> dict[str, Any]:
    out = {
        "port_id": port["id"],
        "net_id": port["network_id"],
        "mac_addr": port["mac_address"],
        "port_state": port["status"],
        "fixed_ips": [
            {"subnet_id": f["subnet_id"], "ip_address": f["ip_address"]} for f in port["fixed_ips"]
        ],
    }
    if ctx.since(70):
        out["tag"] = None
    return out


@nova_api
async def list_interfaces(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    ports = ctx.est.index("ports", "device_id", ctx.region).get(server["id"], [])
    return json_response({"interfaceAttachments": [_interface_view(ctx, p) for p in ports]})


def _server_port(ctx: Ctx, server: dict[str, Any]) -> dict[str, Any]:
    port_id = ctx.request.match_info["port_id"]
    port = regional(ctx, "ports", port_id)
    if port is None or port.get("device_id") != server["id"]:
        raise SimError(404, f"Port {port_id} is not attached")
    return port


@nova_api
async def show_interface(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    return json_response({"interfaceAttachment": _interface_view(ctx, _server_port(ctx, server))})


@nova_api
async def attach_interface(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    spec = (await read_json(ctx.request)).get("interfaceAttachment") or {}
    host = server["OS-EXT-SRV-ATTR:host"] or ""
    owner = f"compute:{server['OS-EXT-AZ:availability_zone']}"
    if spec.get("port_id"):
        port = regional(ctx, "ports", spec["port_id"])
        if port is None:
            raise SimError(404, f"Port {spec['port_id']} could not be found.")
        if port.get("device_id"):
            raise SimError(409, f"Port {port['id']} is still in use.")
        port.update(device_id=server["id"], device_owner=owner, status="ACTIVE")
        model_network.set_binding(port, host)
        model_network.stamp_change(ctx.est, "ports", port)
        server.setdefault("_user_ports", []).append(port["id"])
    else:
        net = regional(ctx, "networks", spec.get("net_id") or "")
        if net is None or not (ctx.admin or net["project_id"] == server["tenant_id"] or net.get("shared")):
            raise SimError(404, f"Network {spec.get('net_id')} could not be found.")
        fixed = [{"ip_address": f["ip_address"]} for f in spec.get("fixed_ips") or [] if f.get("ip_address")]
        port = model_network.make_port(
            ctx.est,
            network=net,
            project_id=server["tenant_id"],
            device_id=server["id"],
            device_owner=owner,
            fixed_ips=fixed or None,
            binding_host_id=host,
        )
    return json_response({"interfaceAttachment": _interface_view(ctx, port)})


@nova_api
async def detach_interface(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    port = _server_port(ctx, server)
    if port["id"] in server.get("_user_ports", ()):
        server["_user_ports"].remove(port["id"])
        port.update(device_id="", device_owner="", status="DOWN")
        model_network.set_binding(port, "")
        model_network.stamp_change(ctx.est, "ports", port)
    else:
        model_network.delete_port(ctx.est, port, force=True)
    return empty(202)


# -- metadata -----------------------------------------------------------------------------------
@nova_api
async def metadata(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    method = ctx.request.method
    if method in ("POST", "PUT"):
        new = (await read_json(ctx.request)).get("metadata")
        if not isinstance(new, dict):
            raise SimError(400, "Malformed request body: 'metadata' must be an object")
        new = {str(k): str(v) for k, v in new.items()}
        server["metadata"] = new if method == "PUT" else {**server["metadata"], **new}
        stamp_updated(ctx.est, "servers", server)
    return json_response({"metadata": server["metadata"]})


@nova_api
async def metadata_item(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    key = ctx.request.match_info["key"]
    method = ctx.request.method
    if method == "PUT":
        meta = (await read_json(ctx.request)).get("meta")
        if not isinstance(meta, dict) or list(meta) != [key]:
            raise SimError(400, "Request body and URI mismatch")
        server["metadata"][key] = str(meta[key])
        stamp_updated(ctx.est, "servers", server)
        return json_response({"meta": {key: server["metadata"][key]}})
    if key not in server["metadata"]:
        raise SimError(404, "Metadata item was not found")
    if method == "DELETE":
        del server["metadata"][key]
        stamp_updated(ctx.est, "servers", server)
        return empty(204)
    return json_response({"meta": {key: server["metadata"][key]}})


def register(app: web.Application) -> None:
    base = "/{region}/compute/v2.1/servers/{server_id}"
    app.router.add_post(f"{base}/action", server_action)
    app.router.add_put(base, update_server)
    app.router.add_get(f"{base}/os-volume_attachments", list_volume_attachments)
    app.router.add_post(f"{base}/os-volume_attachments", attach_volume)
    app.router.add_get(f"{base}/os-volume_attachments/{{volume_id}}", show_volume_attachment)
    app.router.add_delete(f"{base}/os-volume_attachments/{{volume_id}}", detach_volume)
    app.router.add_get(f"{base}/os-interface", list_interfaces)
    app.router.add_post(f"{base}/os-interface", attach_interface)
    app.router.add_get(f"{base}/os-interface/{{port_id}}", show_interface)
    app.router.add_delete(f"{base}/os-interface/{{port_id}}", detach_interface)
    for method in ("GET", "POST", "PUT"):
        app.router.add_route(method, f"{base}/metadata", metadata)
    for method in ("GET", "PUT", "DELETE"):
        app.router.add_route(method, f"{base}/metadata/{{key}}", metadata_item)
