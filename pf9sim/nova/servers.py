"""Simulated Nova servers: rendering per microversion and caller, listing with filters, show, delete."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from pf9sim.model.compute import delete_server, volumes_by_server
from pf9sim.nova.base import Ctx, big_json, cached, empty, nova_api, nova_page, query_bool
from pf9sim.plumbing import SimError, json_response
from pf9sim.state import iso

# Nova shows `progress` only while a server is in one of these states, and a fault only in these.
_PROGRESS_STATUSES = frozenset({"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"})
_FAULT_STATUSES = frozenset({"ERROR", "DELETED"})
# The image properties Nova copies into an instance and shows from 2.98: its ImageMetaProps fields (hw_*,
# img_*, os_distro …) plus their legacy names; Glance's own fields (disk_format, min_ram …) and free-form
# properties such as os_version are left out.
_IMAGE_META_PREFIXES = ("hw_", "img_", "traits_")
_IMAGE_META_KEYS = frozenset(
    {
        "os_admin_user",
        "os_command_line",
        "os_distro",
        "os_require_quiesce",
        "os_secure_boot",
        "os_skip_agent_inject_files_at_boot",
        "os_skip_agent_inject_ssh",
        "os_type",
        "architecture",
        "auto_disk_config",
        "hypervisor_type",
        "hypervisor_version_requires",
        "vm_mode",
    }
)
# Keys shown only from a microversion on (2.<n>).
_GATED = {
    "locked": 9,
    "host_status": 16,
    "description": 19,
    "tags": 26,
    "trusted_image_certificates": 63,
    "server_groups": 71,
    "locked_reason": 73,
    "pinned_availability_zone": 96,
    "scheduler_hints": 100,
}
_ADMIN_ATTRS = (
    "OS-EXT-SRV-ATTR:host",
    "OS-EXT-SRV-ATTR:hypervisor_hostname",
    "OS-EXT-SRV-ATTR:instance_name",
    "host_status",
)
# The extended server attributes added in 2.3 (admin only; hostname for everyone from 2.90).
_V23_ATTRS = (
    "OS-EXT-SRV-ATTR:reservation_id",
    "OS-EXT-SRV-ATTR:launch_index",
    "OS-EXT-SRV-ATTR:hostname",
    "OS-EXT-SRV-ATTR:kernel_id",
    "OS-EXT-SRV-ATTR:ramdisk_id",
    "OS-EXT-SRV-ATTR:root_device_name",
    "OS-EXT-SRV-ATTR:user_data",
)
# sort_key values Nova accepts -> our stored field.
_SORT_KEYS = {
    "created_at": "created",
    "updated_at": "updated",
    "display_name": "name",
    "uuid": "id",
    "id": "id",
    "host": "OS-EXT-SRV-ATTR:host",
    "node": "OS-EXT-SRV-ATTR:hypervisor_hostname",
    "hostname": "OS-EXT-SRV-ATTR:hostname",
    "vm_state": "OS-EXT-STS:vm_state",
    "task_state": "OS-EXT-STS:task_state",
    "power_state": "OS-EXT-STS:power_state",
    "launched_at": "OS-SRV-USG:launched_at",
    "terminated_at": "OS-SRV-USG:terminated_at",
    "availability_zone": "OS-EXT-AZ:availability_zone",
    "project_id": "tenant_id",
    "user_id": "user_id",
    "key_name": "key_name",
    "locked": "locked",
    "progress": "progress",
    "display_description": "description",
    "instance_type_id": "_flavor_id",
    "image_ref": "image",
    "launch_index": "OS-EXT-SRV-ATTR:launch_index",
    "reservation_id": "OS-EXT-SRV-ATTR:reservation_id",
    "kernel_id": "OS-EXT-SRV-ATTR:kernel_id",
    "ramdisk_id": "OS-EXT-SRV-ATTR:ramdisk_id",
    "root_device_name": "OS-EXT-SRV-ATTR:root_device_name",
    "config_drive": "config_drive",
    "access_ip_v4": "accessIPv4",
    "access_ip_v6": "accessIPv6",
}


class ServerRenderer:
    """Renders stored servers for one request; joins (ports, floating IPs, volumes) are looked up once."""

    def __init__(self, ctx: Ctx, detail: bool = True, show: bool = False) -> None:
        self.ctx = ctx
        est, region = ctx.est, ctx.region
        self.ports = est.index("ports", "device_id", region)
        self.fips = est.index("floating_ips", "port_id", region)
        self.volumes = volumes_by_server(est, region)
        self.networks = est.objects["networks"]
        self.groups = est.objects["security_groups"]
        drop = {key for key, minor in _GATED.items() if not ctx.since(minor)}
        if not show:
            drop.add("server_groups")  # only GET /servers/{id} (and update/rebuild) carry it
        if not ctx.since(3):
            drop.update(_V23_ATTRS)
        if not ctx.admin:
            drop.update(_ADMIN_ATTRS)
            drop.update(a for a in _V23_ATTRS if not (a == "OS-EXT-SRV-ATTR:hostname" and ctx.since(90)))
        self.drop = frozenset(drop)
        self.embed_flavor = ctx.since(47)
        self.delete_flag = ctx.since(3)
        self.image_properties = ctx.since(98)
        self.images = est.objects["images"]

    def network_view(
        self, server: dict[str, Any]
    ) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, str]]]:
        """ "addresses" and "security_groups" from the server's ports, in one pass over them."""
        addresses: dict[str, list[dict[str, Any]]] = {}
        names: list[str] = []
        ports = self.ports.get(server["id"])
        if not ports:
            return addresses, [{"name": n} for n in server.get("_security_groups") or ()]
        networks, groups, fips = self.networks, self.groups, self.fips
        for port in ports:
            net = networks.get(port["network_id"])
            entries = addresses.setdefault(net["name"] if net else port["network_id"], [])
            mac = port["mac_address"]
            for fixed in port["fixed_ips"]:
                addr = fixed["ip_address"]
                entries.append(
                    {
                        "version": 6 if ":" in addr else 4,
                        "addr": addr,
                        "OS-EXT-IPS:type": "fixed",
                        "OS-EXT-IPS-MAC:mac_addr": mac,
                    }
                )
            for fip in fips.get(port["id"], ()):
                entries.append(
                    {
                        "version": 4,
                        "addr": fip["floating_ip_address"],
                        "OS-EXT-IPS:type": "floating",
                        "OS-EXT-IPS-MAC:mac_addr": mac,
                    }
                )
            for group_id in port.get("security_groups") or ():
                group = groups.get(group_id)
                name = group["name"] if group else group_id
                if name not in names:
                    names.append(name)
        return addresses, [{"name": n} for n in names]

    def addresses(self, server: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        return self.network_view(server)[0]

    def volumes_attached(self, server_id: str) -> list[dict[str, Any]]:
        if self.delete_flag:
            return [
                {"id": v["id"], "delete_on_termination": bool(v.get("_delete_on_termination", False))}
                for v in self.volumes.get(server_id, ())
            ]
        return [{"id": v["id"]} for v in self.volumes.get(server_id, ())]

    def render(self, server: dict[str, Any]) -> dict[str, Any]:
        ctx, drop, base = self.ctx, self.drop, self.ctx.base
        out = {k: v for k, v in server.items() if k[0] != "_" and k not in drop}
        out["links"] = [{"rel": link["rel"], "href": base + link["href"]} for link in server["links"]]
        image = server["image"]
        if image:
            out["image"] = {"id": image["id"], "links": ctx.links(image["links"])}
            if self.image_properties:
                out["image"]["properties"] = self.instance_image_properties(image["id"])
        if not self.embed_flavor:
            fid = server["_flavor_id"]
            href = f"{base}/{ctx.region}/compute/flavors/{fid}"
            out["flavor"] = {"id": fid, "links": [{"rel": "bookmark", "href": href}]}
        out["addresses"], groups = self.network_view(server)
        if groups:  # Nova reads them from the server's ports: a server without any shows no key
            out["security_groups"] = groups
        out["os-extended-volumes:volumes_attached"] = self.volumes_attached(server["id"])
        if server["status"] not in _PROGRESS_STATUSES:
            out.pop("progress", None)
        out.pop("fault", None)
        fault = server.get("_fault") or server.get("fault")
        if fault and server["status"] in _FAULT_STATUSES:
            out["fault"] = self.fault_view(fault)
        if "scheduler_hints" not in drop:
            out["scheduler_hints"] = server.get("_scheduler_hints") or (
                {"group": list(server["server_groups"][:1])} if server.get("server_groups") else {}
            )
        return out

    def fault_view(self, fault: dict[str, Any]) -> dict[str, Any]:
        """Nova's fault: `details` (the traceback of a 500) for admins; other callers see it only for
        faults that are not 500s."""
        out = {"code": fault["code"], "created": fault["created"], "message": fault["message"]}
        details = fault.get("details") or _traceback_of(fault["message"])
        if self.ctx.admin or fault["code"] != 500:
            out["details"] = details
        return out

    def instance_image_properties(self, image_id: str) -> dict[str, str]:
        image = self.images.get(image_id) or {}
        return {
            key: str(value)
            for key, value in image.items()
            if value is not None and (key in _IMAGE_META_KEYS or key.startswith(_IMAGE_META_PREFIXES))
        }

    def summary(self, server: dict[str, Any]) -> dict[str, Any]:
        return {"id": server["id"], "name": server["name"], "links": self.ctx.links(server["links"])}


def _traceback_of(message: str) -> str:
    """What Nova stores as a fault's details: the conductor's traceback ending in the exception raised."""
    exception = "NoValidHost" if message.startswith("No valid host") else "BuildAbortException"
    return (
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3/dist-packages/nova/conductor/manager.py", line 1683, '
        "in schedule_and_build_instances\n"
        "    host_lists = self._schedule_instances(context, request_specs[0],\n"
        f"nova.exception.{exception}: {message}\n"
    )


def visible_server(ctx: Ctx, server_id: str) -> dict[str, Any]:
    """The server if this caller may see it in this region, else Nova's 404."""
    server = ctx.est.get("servers", server_id)
    if (
        server is None
        or server["_region"] != ctx.region
        or (not ctx.admin and server["tenant_id"] != ctx.project_id)
    ):
        raise SimError(404, f"Instance {server_id} could not be found.")
    return server


# -- listing ------------------------------------------------------------------------------------
def _parse_time(raw: str, name: str) -> str:
    try:
        when = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        raise SimError(400, f"Invalid filter field: {name}.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return iso(when)


def _sorted_servers(ctx: Ctx) -> list[dict[str, Any]]:
    keys = ctx.request.query.getall("sort_key", [])
    dirs = ctx.request.query.getall("sort_dir", [])
    key = keys[0] if keys else "created_at"
    direction = (dirs[0] if dirs else "desc").lower()
    if key not in _SORT_KEYS:
        raise SimError(400, f"Invalid input for query parameters sort_key. Value: {key}.")
    if direction not in ("asc", "desc"):
        raise SimError(400, f"Invalid input for query parameters sort_dir. Value: {direction}.")
    field = _SORT_KEYS[key]

    def build() -> list[dict[str, Any]]:
        def sort_key(s: dict[str, Any]) -> tuple:
            value = s.get(field)
            if isinstance(value, dict):
                value = value.get("id", "")
            return (value is not None, value if value is not None else "", s["created"], s["id"])

        return sorted(ctx.est.all("servers", ctx.region), key=sort_key, reverse=direction == "desc")

    return cached(ctx.est, ("nova", "servers_sorted", ctx.region, field, direction), build)


# The query parameters GET /servers(/detail) accepts; from 2.75 any other (not starting with "_") is a 400.
_QUERY_PARAMS = frozenset(
    """access_ip_v4 access_ip_v6 all_tenants auto_disk_config availability_zone changes-before changes-since
    config_drive created_at deleted description display_description display_name flavor host hostname image
    image_ref ip ip6 kernel_id key_name launch_index launched_at limit locked locked_by marker name node
    not-tags not-tags-any power_state progress project_id ramdisk_id reservation_id root_device_name
    sort_dir sort_key status tags tags-any task_state tenant_id terminated_at updated_at user_id uuid
    vm_state""".split()
)


def _server_filters(ctx: Ctx, renderer: ServerRenderer) -> list[Callable[[dict[str, Any]], bool]]:
    q = ctx.request.query
    if ctx.since(75):
        unknown = next((k for k in q if k not in _QUERY_PARAMS and not k.startswith("_")), None)
        if unknown is not None:
            raise SimError(400, f"'{unknown}' does not match any of the regexes: '^_'")
    tests: list[Callable[[dict[str, Any]], bool]] = []
    all_tenants = bool(query_bool(ctx, "all_tenants")) or bool(query_bool(ctx, "all_projects"))
    if all_tenants:
        ctx.require_admin()
        project = q.get("project_id") or q.get("tenant_id")
        if project:
            tests.append(lambda s: s["tenant_id"] == project)
    else:
        own = ctx.project_id
        tests.append(lambda s: s["tenant_id"] == own)

    def equals(param: str, field: str, transform: Callable[[str], Any] = str) -> None:
        if param in q:
            want = transform(q[param])
            tests.append(lambda s: s.get(field) == want)

    if "name" in q:
        try:
            pattern = re.compile(q["name"], re.IGNORECASE)
        except re.error:
            raise SimError(400, f"Invalid filter value for name: {q['name']}") from None
        tests.append(lambda s: pattern.search(s["name"] or "") is not None)
    statuses = [v.upper() for v in q.getall("status", []) if v]
    if statuses:
        tests.append(lambda s: s["status"] in statuses)
    if ctx.admin:
        equals("host", "OS-EXT-SRV-ATTR:host")
        equals("node", "OS-EXT-SRV-ATTR:hypervisor_hostname")
    equals("user_id", "user_id")
    equals("flavor", "_flavor_id")
    equals("availability_zone", "OS-EXT-AZ:availability_zone")
    equals("key_name", "key_name")
    equals("vm_state", "OS-EXT-STS:vm_state")
    equals("task_state", "OS-EXT-STS:task_state")
    equals("power_state", "OS-EXT-STS:power_state", int)
    equals("reservation_id", "OS-EXT-SRV-ATTR:reservation_id")
    equals("hostname", "OS-EXT-SRV-ATTR:hostname")
    equals("uuid", "id")
    if "locked" in q:
        locked = query_bool(ctx, "locked")
        tests.append(lambda s: s["locked"] == locked)
    if "image" in q:
        image = q["image"]
        tests.append(lambda s: (s["image"]["id"] if s["image"] else "") == image)
    for param, op in (("changes-since", "ge"), ("changes-before", "le")):
        if param in q:
            bound = _parse_time(q[param], param)
            if op == "ge":
                tests.append(lambda s, b=bound: s["updated"] >= b)
            else:
                tests.append(lambda s, b=bound: s["updated"] <= b)
    if query_bool(ctx, "deleted"):
        tests.append(lambda s: False)  # deleted servers are not kept
    for param in ("ip", "ip6"):
        if param in q:
            pattern = re.compile(re.escape(q[param]) if param == "ip6" else q[param])
            version = 6 if param == "ip6" else 4
            tests.append(
                lambda s, p=pattern, v=version: any(
                    a["version"] == v and p.search(a["addr"])
                    for addrs in renderer.addresses(s).values()
                    for a in addrs
                )
            )
    if "tags" in q:
        want = set(q["tags"].split(","))
        tests.append(lambda s: want <= set(s.get("tags") or ()))
    if "tags-any" in q:
        any_of = set(q["tags-any"].split(","))
        tests.append(lambda s: bool(any_of & set(s.get("tags") or ())))
    return tests


async def _list(ctx: Ctx, detail: bool) -> web.Response:
    renderer = ServerRenderer(ctx, detail=detail)
    tests = _server_filters(ctx, renderer)
    items = [s for s in _sorted_servers(ctx) if all(t(s) for t in tests)]
    page, extra = nova_page(ctx, items, "servers_links")
    render = renderer.render if detail else renderer.summary
    return big_json({"servers": [render(s) for s in page], **extra})


@nova_api
async def list_servers(ctx: Ctx) -> web.Response:
    return await _list(ctx, detail=False)


@nova_api
async def list_servers_detail(ctx: Ctx) -> web.Response:
    return await _list(ctx, detail=True)


@nova_api
async def show_server(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    return json_response({"server": ServerRenderer(ctx, show=True).render(server)})


@nova_api
async def delete_server_handler(ctx: Ctx) -> web.Response:
    server = visible_server(ctx, ctx.request.match_info["server_id"])
    if server.get("locked") and not ctx.admin:
        raise SimError(409, f"Instance {server['id']} is locked")
    delete_server(ctx.est, server["id"])
    return empty(204)


def register(app: web.Application) -> None:
    base = "/{region}/compute/v2.1"
    app.router.add_get(f"{base}/servers", list_servers)
    app.router.add_get(f"{base}/servers/detail", list_servers_detail)
    app.router.add_get(f"{base}/servers/{{server_id}}", show_server)
    app.router.add_delete(f"{base}/servers/{{server_id}}", delete_server_handler)
