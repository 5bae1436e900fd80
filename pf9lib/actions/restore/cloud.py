"""The live reads a restore relies on, through a Writer (counted calls): the VM, its attachments and ports,
snapshots and images, flavors, networks and subnets, who holds an address, and the project's quotas."""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import quote, urlencode

from pf9lib.actions.client import Writer
from pf9lib.errors import Pf9Error

SHOW_MV = "2.96"  # the newest body (user data is shown to admins from 2.3)
CREATE_MV = "2.67"  # networks required (2.37), block_device_mapping_v2 with volume_type (2.67)
VOLUME_MV = "3.70"


def server(w: Writer, server_id: str) -> dict[str, Any] | None:
    body = w.request("GET", "compute", f"/servers/{server_id}", f"server {server_id}", None, SHOW_MV, True)
    return body.get("server")


def attachments(w: Writer, server_id: str) -> list[dict[str, Any]]:
    body = w.get("compute", f"/servers/{server_id}/os-volume_attachments", f"volumes of server {server_id}")
    return body.get("volumeAttachments") or []


def volume(w: Writer, volume_id: str) -> dict[str, Any] | None:
    what = f"volume {volume_id}"
    return w.request("GET", "block-storage", f"/volumes/{volume_id}", what, None, VOLUME_MV, True).get(
        "volume"
    )


def volumes_tagged(w: Writer, metadata: dict[str, str]) -> list[dict[str, Any]]:
    """Volumes (all projects) whose metadata holds these keys: how a resumed restore finds its own."""
    query = urlencode({"all_tenants": "1", "metadata": json.dumps(metadata, sort_keys=True)})
    return w.get("block-storage", f"/volumes/detail?{query}", "volumes", VOLUME_MV).get("volumes") or []


def snapshot(w: Writer, snapshot_id: str) -> dict[str, Any] | None:
    what = f"snapshot {snapshot_id}"
    body = w.request("GET", "block-storage", f"/snapshots/{snapshot_id}", what, None, VOLUME_MV, True)
    return body.get("snapshot")


def snapshots_tagged(w: Writer, metadata: dict[str, str]) -> list[dict[str, Any]]:
    query = urlencode({"all_tenants": "1", "metadata": json.dumps(metadata, sort_keys=True)})
    return w.get("block-storage", f"/snapshots/detail?{query}", "snapshots", VOLUME_MV).get("snapshots") or []


def image(w: Writer, image_id: str) -> dict[str, Any] | None:
    body = w.request("GET", "image", f"/images/{image_id}", f"image {image_id}", ok_missing=True)
    return body or None


def images_of(w: Writer, server_id: str) -> list[dict[str, Any]]:
    """Image snapshots of a server (Glance filters on any property)."""
    query = urlencode({"instance_uuid": server_id, "limit": "1000"})
    return w.get("image", f"/images?{query}", f"images of server {server_id}").get("images") or []


def flavor_named(w: Writer, name: str) -> dict[str, Any] | None:
    """The flavor of that name (servers name their flavor, not its id, from microversion 2.47)."""
    body = w.get("compute", "/flavors/detail?is_public=None", "flavors")
    return next((f for f in body.get("flavors") or [] if f.get("name") == name), None)


def ports(w: Writer, **filters: str) -> list[dict[str, Any]]:
    return w.get("network", f"/ports?{urlencode(filters)}", "ports").get("ports") or []


def port(w: Writer, port_id: str) -> dict[str, Any] | None:
    return w.request("GET", "network", f"/ports/{port_id}", f"port {port_id}", ok_missing=True).get("port")


def floating_ips(w: Writer, port_id: str) -> list[dict[str, Any]]:
    query = urlencode({"port_id": port_id})
    return (
        w.get("network", f"/floatingips?{query}", f"floating IPs of port {port_id}").get("floatingips") or []
    )


def network(w: Writer, ref: str, project_id: str) -> dict[str, Any]:
    """A network the project may use (its own or shared), by id or name; one line naming the fix otherwise."""
    hits = w.get("network", f"/networks?{urlencode({'id': ref})}", "networks").get("networks") or []
    if not hits:
        found = w.get("network", f"/networks?{urlencode({'name': ref})}", "networks").get("networks") or []
        hits = [n for n in found if n.get("project_id") == project_id or n.get("shared")]
    if len(hits) != 1:
        state = "ambiguous" if hits else "not found"
        raise Pf9Error(f"network {ref!r} is {state} for this project: give its id (`openstack network list`)")
    return hits[0]


def subnets(w: Writer, network_id: str) -> list[dict[str, Any]]:
    query = urlencode({"network_id": network_id})
    return w.get("network", f"/subnets?{query}", f"subnets of {network_id}").get("subnets") or []


def subnet_for(subnets_: list[dict[str, Any]], address: str) -> dict[str, Any] | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise Pf9Error(f"{address!r} is not an IP address: give e.g. 10.0.2.15") from None
    return next((s for s in subnets_ if ip in ipaddress.ip_network(s["cidr"], strict=False)), None)


def ip_holders(w: Writer, network_id: str, address: str) -> list[dict[str, Any]]:
    """Ports on the network that hold this fixed address."""
    query = f"network_id={quote(network_id)}&fixed_ips=ip_address%3D{quote(address)}"
    return w.get("network", f"/ports?{query}", f"ports holding {address}").get("ports") or []


def security_groups(w: Writer, refs: list[str], project_id: str) -> list[str]:
    """Ids of the project's security groups named or identified by `refs`."""
    groups = w.get("network", f"/security-groups?{urlencode({'project_id': project_id})}", "security groups")
    own = groups.get("security_groups") or []
    out = []
    for ref in refs:
        hits = [g for g in own if ref in (g["id"], g.get("name"))]
        if len(hits) != 1:
            state = "ambiguous" if hits else "not in the VM's project"
            raise Pf9Error(f"security group {ref!r} is {state}: give the id of one of the project's groups")
        out.append(hits[0]["id"])
    return out


# --------------------------------------------------------------------------------------------- quotas

QUOTA_SOURCES = (
    ("compute", "instances"),
    ("compute", "cores"),
    ("compute", "ram"),
    ("block-storage", "volumes"),
    ("block-storage", "gigabytes"),
    ("network", "ports"),
)


def quotas(w: Writer, project_id: str) -> dict[str, dict[str, int | None]]:
    """{resource: {limit (None: unlimited), used}} for the resources a restore consumes, from Nova, Cinder
    and Neutron (in use plus reserved)."""
    nova = w.get("compute", f"/os-quota-sets/{project_id}/detail", f"compute quota of {project_id}")
    cinder = w.get(
        "block-storage", f"/os-quota-sets/{project_id}?usage=true", f"volume quota of {project_id}"
    )
    neutron = w.get("network", f"/quotas/{project_id}/details", f"network quota of {project_id}")
    sets = {
        "compute": nova.get("quota_set") or {},
        "block-storage": cinder.get("quota_set") or {},
        "network": {"ports": (neutron.get("quota") or {}).get("port") or {}},
    }
    out: dict[str, dict[str, int | None]] = {}
    for service, key in QUOTA_SOURCES:
        item = sets[service].get(key) or {}
        limit = item.get("limit", -1)
        used = (item.get("in_use", item.get("used")) or 0) + (item.get("reserved") or 0)
        out[key] = {"limit": None if limit is None or limit < 0 else int(limit), "used": int(used)}
    return out


def shortfalls(quota: dict[str, dict[str, int | None]], needs: dict[str, int]) -> list[str]:
    """One text per resource the needs do not fit in, with the numbers."""
    out = []
    for key, need in needs.items():
        limit, used = quota[key]["limit"], quota[key]["used"]
        if need > 0 and limit is not None and used + need > limit:
            left = max(0, limit - used)
            out.append(f"{key}: {need} needed, {left} left (limit {limit}, in use {used})")
    return out
