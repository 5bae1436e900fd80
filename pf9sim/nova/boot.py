"""Simulated Nova POST /servers: validation, quota, scheduling, boot volumes and ports, as Nova does them.

The server goes ACTIVE at once (no BUILD phase): clients that wait for ACTIVE see it on the first poll.
"""

from __future__ import annotations

import math
import string
from typing import Any

from aiohttp import web

from pf9sim.model import compute as model_compute
from pf9sim.model import network as model_network
from pf9sim.model import volume as model_volume
from pf9sim.nova.base import (
    CPU_ALLOCATION_RATIO,
    RAM_ALLOCATION_RATIO,
    Ctx,
    hypervisor_usage,
    nova_api,
    project_usage,
    quota_limits,
)
from pf9sim.plumbing import SimError, json_response, read_json


def ref_id(ref: Any) -> str:
    """flavorRef / imageRef may be an id or a URL ending in the id."""
    text = str(ref or "").strip()
    return text.rstrip("/").rsplit("/", 1)[-1] if "/" in text else text


def regional(ctx: Ctx, kind: str, obj_id: str) -> dict[str, Any] | None:
    obj = ctx.est.get(kind, obj_id) if obj_id else None
    return obj if obj is not None and obj.get("_region") == ctx.region else None


def check_quota(ctx: Ctx, project_id: str, deltas: dict[str, int]) -> None:
    """403 with Nova's "Quota exceeded for ..." message when the deltas do not fit."""
    limits = quota_limits(ctx.est, project_id, ctx.region)
    used = project_usage(ctx.est, project_id, ctx.region)
    overs = sorted(
        r for r, d in deltas.items() if d > 0 and limits.get(r, -1) >= 0 and used.get(r, 0) + d > limits[r]
    )
    if overs:
        req = ", ".join(str(deltas[r]) for r in overs)
        usd = ", ".join(str(used.get(r, 0)) for r in overs)
        allowed = ", ".join(str(limits[r]) for r in overs)
        names = ", ".join(overs)
        raise SimError(
            403, f"Quota exceeded for {names}: Requested {req}, but already used {usd} of {allowed} {names}"
        )


def pick_hypervisor(
    ctx: Ctx, flavor: dict[str, Any], az: str | None, host: str | None, exclude: str | None = None
) -> dict[str, Any] | None:
    """The enabled, up hypervisor with room for the flavor and the most free RAM (None: no valid host)."""
    best, best_free = None, None
    for hyp in sorted(ctx.est.all("hypervisors", ctx.region), key=lambda h: h["_int_id"]):
        if hyp["state"] != "up" or hyp["status"] != "enabled" or hyp["hypervisor_hostname"] == exclude:
            continue
        if az and hyp.get("_az", "nova") != az:
            continue
        if host and host not in (hyp["service"]["host"], hyp["hypervisor_hostname"]):
            continue
        use = hypervisor_usage(ctx.est, hyp)
        free_cpu = hyp["vcpus"] * CPU_ALLOCATION_RATIO - use["vcpus_used"]
        free_ram = hyp["memory_mb"] * RAM_ALLOCATION_RATIO - use["memory_mb_used"]
        if free_cpu < flavor["vcpus"] or free_ram < flavor["ram"]:
            continue
        if best_free is None or free_ram > best_free:
            best, best_free = hyp, free_ram
    return best


def _known_azs(ctx: Ctx) -> set[str]:
    zones = {z["zoneName"] for z in ctx.est.all("availability_zones", ctx.region)}
    zones.update(h.get("_az", "nova") for h in ctx.est.all("hypervisors", ctx.region))
    return zones


def _default_volume_type(ctx: Ctx, wanted: str | None) -> dict[str, Any]:
    types = sorted(ctx.est.all("volume_types", ctx.region), key=lambda t: t["name"])
    if wanted:
        for vtype in types:
            if wanted in (vtype["id"], vtype["name"]):
                return vtype
        raise SimError(400, f"Volume type {wanted} could not be found.")
    for vtype in types:
        if vtype["name"] == "__DEFAULT__" or vtype.get("_default"):
            return vtype
    if not types:
        raise SimError(400, "Block Device Mapping is Invalid: no volume type is defined in this region.")
    return types[0]


def _image_visible(ctx: Ctx, image: dict[str, Any], project_id: str) -> bool:
    return (
        ctx.admin
        or image.get("visibility") in ("public", "community", "shared")
        or image.get("owner") == project_id
    )


class BootPlan:
    """Everything validated before anything is created, so a bad request leaves no trace."""

    def __init__(self, ctx: Ctx, spec: dict[str, Any]) -> None:
        self.ctx = ctx
        est, region = ctx.est, ctx.region
        self.project_id = ctx.project_id or ""
        self.user_id = ctx.token.user_id
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise SimError(400, f"Invalid input for field/attribute name. Value: {name!r}.")
        self.name = name
        self.flavor = regional(ctx, "flavors", ref_id(spec.get("flavorRef")))
        if self.flavor is None:
            raise SimError(400, "Invalid flavorRef provided.")
        self.bdms = [b for b in spec.get("block_device_mapping_v2") or [] if isinstance(b, dict)]
        self.boot_bdm = next((b for b in self.bdms if str(b.get("boot_index", "")) == "0"), None)
        image_id = ref_id(spec.get("imageRef"))
        self.image = None
        if image_id and not (self.boot_bdm and self.boot_bdm.get("source_type") in ("volume", "snapshot")):
            self.image = regional(ctx, "images", image_id)
            if self.image is None or not _image_visible(ctx, self.image, self.project_id):
                raise SimError(400, f"Image {image_id} could not be found.")
            if self.image.get("status") != "active":
                raise SimError(400, f"Image {image_id} is not active.")
        if self.image is None and self.boot_bdm is None:
            raise SimError(400, "Missing imageRef attribute")
        self.boot_from_volume = (
            self.boot_bdm is not None and self.boot_bdm.get("destination_type") == "volume"
        )
        self._check_bdms()
        self.key_name = spec.get("key_name")
        if self.key_name and est.get("keypairs", f"{self.user_id}/{region}/{self.key_name}") is None:
            raise SimError(400, "Invalid key_name provided.")
        self.az, self.host = self._zone(spec.get("availability_zone"))
        self.count = int(spec.get("max_count") or spec.get("min_count") or 1)
        if not 1 <= self.count <= 100:
            raise SimError(400, "Invalid input for field/attribute max_count.")
        self.group_names = [
            g.get("name")
            for g in spec.get("security_groups") or [{"name": "default"}]
            if isinstance(g, dict) and g.get("name")
        ]
        self.security_group_ids = self._security_groups()
        self.networks = self._networks(spec.get("networks"))
        self.metadata = {str(k): str(v) for k, v in (spec.get("metadata") or {}).items()}
        self.user_data = spec.get("user_data")
        self.description = spec.get("description") if ctx.since(19) else None
        self.tags = list(spec.get("tags") or []) if ctx.since(52) else []
        self.hints: dict[str, list[str]] = {}  # set from the request body, beside "server"

    def _check_bdms(self) -> None:
        for bdm in self.bdms:
            source, dest = bdm.get("source_type"), bdm.get("destination_type", "volume")
            if dest != "volume":
                continue
            uuid = bdm.get("uuid")
            if source == "volume":
                volume = regional(self.ctx, "volumes", uuid)
                if volume is None:
                    raise SimError(400, f"Block Device Mapping is Invalid: failed to get volume {uuid}.")
                if volume["status"] != "available":
                    raise SimError(
                        400,
                        f"Invalid volume: volume '{uuid}' status must be 'available'. "
                        f"Currently in '{volume['status']}'",
                    )
            elif source == "snapshot":
                if regional(self.ctx, "snapshots", uuid) is None:
                    raise SimError(400, f"Block Device Mapping is Invalid: failed to get snapshot {uuid}.")
            elif source == "image":
                image = regional(self.ctx, "images", uuid)
                if image is None:
                    raise SimError(400, f"Image {uuid} could not be found.")
            elif source != "blank":
                raise SimError(400, f"Block Device Mapping is Invalid: unknown source_type {source!r}.")

    def _zone(self, raw: Any) -> tuple[str | None, str | None]:
        if not raw:
            return None, None
        zone, _, rest = str(raw).partition(":")
        host = rest.split(":")[0] or None
        if host and not self.ctx.admin:
            raise SimError(
                403, "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed."
            )
        if zone and zone not in _known_azs(self.ctx):
            raise SimError(400, f"The requested availability zone is not available: {zone}")
        return zone or None, host

    def _security_groups(self) -> list[str] | None:
        """Neutron ids of the named groups; None (the port factory's default) when only "default" is asked."""
        own = self.ctx.est.index("security_groups", "project_id", self.ctx.region).get(self.project_id, [])
        by_name = {g["name"]: g["id"] for g in own}
        by_id = {g["id"] for g in own}
        ids = []
        for name in self.group_names:
            if name in by_id:
                ids.append(name)
            elif name in by_name:
                ids.append(by_name[name])
            elif name == "default":
                return None if self.group_names == ["default"] else ids
            else:
                raise SimError(400, f"Security group {name} not found for project {self.project_id}.")
        return ids

    def _networks(self, raw: Any) -> list[dict[str, Any]]:
        """[(network, port or None, fixed_ip or None)] as dicts; "none" gives no port."""
        ctx = self.ctx
        if raw is None and ctx.since(37):
            raise SimError(
                400,
                "Invalid input for field/attribute networks. Value: None. 'networks' is a required property",
            )
        if raw == "none":
            return []
        if raw is None or raw == "auto":
            candidates = [n for n in ctx.est.all("networks", ctx.region) if not n.get("router:external")]
            own = sorted((n for n in candidates if n["project_id"] == self.project_id), key=lambda n: n["id"])
            shared = sorted((n for n in candidates if n.get("shared")), key=lambda n: n["id"])
            if raw is None and len(own) + len(shared) > 1:
                raise SimError(409, "Multiple possible networks found, use a Network ID to be more specific.")
            pick = (own or shared)[:1]
            if not pick and raw == "auto":
                raise SimError(
                    400, f"Unable to automatically allocate a network for project {self.project_id}"
                )
            return [{"network": n, "port": None, "fixed_ip": None} for n in pick]
        if not isinstance(raw, list):
            raise SimError(400, f"Invalid input for field/attribute networks. Value: {raw!r}.")
        out = []
        for entry in raw:
            if not isinstance(entry, dict):
                raise SimError(400, f"Invalid input for field/attribute networks. Value: {raw!r}.")
            if entry.get("port"):
                port = regional(ctx, "ports", entry["port"])
                if port is None:
                    raise SimError(400, f"Port {entry['port']} could not be found.")
                if port.get("device_id"):
                    raise SimError(409, f"Port {port['id']} is still in use.")
                out.append(
                    {"network": ctx.est.get("networks", port["network_id"]), "port": port, "fixed_ip": None}
                )
                continue
            net = regional(ctx, "networks", entry.get("uuid") or "")
            if net is None or not (ctx.admin or net["project_id"] == self.project_id or net.get("shared")):
                raise SimError(400, f"Network {entry.get('uuid')} could not be found.")
            out.append({"network": net, "port": None, "fixed_ip": entry.get("fixed_ip")})
        return out


def _admin_pass(ctx: Ctx) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(alphabet[ctx.est.rng.randrange(len(alphabet))] for _ in range(12))


def _boot_volumes(plan: BootPlan, server: dict[str, Any]) -> None:
    """Create/attach the volumes of the block device mapping (the boot one as /dev/vda)."""
    est, ctx = plan.ctx.est, plan.ctx
    letters = iter("bcdefghijklmnopqrstuvwxyz")
    for bdm in sorted(plan.bdms, key=lambda b: str(b.get("boot_index", "")) != "0"):
        if bdm.get("destination_type", "volume") != "volume":
            continue
        source, uuid = bdm.get("source_type"), bdm.get("uuid")
        is_boot = bdm is plan.boot_bdm
        size = int(bdm.get("volume_size") or 0)
        common = {
            "name": "",
            "project_id": plan.project_id,
            "user_id": plan.user_id,
            "region": ctx.region,
            "az": server["OS-EXT-AZ:availability_zone"],
            "description": "",
        }
        if source == "volume":
            volume = est.get("volumes", uuid)
        elif source == "snapshot":
            snap = est.get("snapshots", uuid)
            parent = est.get("volumes", snap["volume_id"])
            vtype = _default_volume_type(ctx, bdm.get("volume_type") or (parent or {}).get("volume_type"))
            volume = model_volume.make_volume(
                est,
                size=max(size, snap["size"]),
                volume_type=vtype,
                snapshot_id=snap["id"],
                bootable=is_boot,
                **common,
            )
            if parent and parent.get("volume_image_metadata"):
                volume["volume_image_metadata"] = dict(parent["volume_image_metadata"])
        elif source == "image":
            image = est.get("images", uuid)
            image_gb = math.ceil((image.get("size") or 0) / 1024**3)
            size = size or max(plan.flavor["disk"], image.get("min_disk") or 0, image_gb, 1)
            vtype = _default_volume_type(ctx, bdm.get("volume_type"))
            volume = model_volume.make_volume(est, size=size, volume_type=vtype, image=image, **common)
        else:  # blank
            vtype = _default_volume_type(ctx, bdm.get("volume_type"))
            volume = model_volume.make_volume(est, size=max(size, 1), volume_type=vtype, **common)
        if bdm.get("delete_on_termination"):
            volume["_delete_on_termination"] = True
        device = "/dev/vda" if is_boot else f"/dev/vd{next(letters)}"
        model_volume.attach_volume(est, volume, server, device=device)


def _ports(plan: BootPlan, server: dict[str, Any]) -> None:
    est = plan.ctx.est
    host = server["OS-EXT-SRV-ATTR:host"] or ""
    owner = f"compute:{server['OS-EXT-AZ:availability_zone']}"
    user_ports = []
    for net in plan.networks:
        port = net["port"]
        if port is not None:
            port.update(device_id=server["id"], device_owner=owner, status="ACTIVE" if host else "DOWN")
            model_network.set_binding(port, host)
            model_network.stamp_change(est, "ports", port)
            user_ports.append(port["id"])
            continue
        fixed = [{"ip_address": net["fixed_ip"]}] if net["fixed_ip"] else None
        model_network.make_port(
            est,
            network=net["network"],
            project_id=plan.project_id,
            device_id=server["id"],
            device_owner=owner,
            fixed_ips=fixed,
            security_group_ids=plan.security_group_ids,
            status="ACTIVE" if host else "DOWN",
            binding_host_id=host,
        )
    if user_ports:
        server["_user_ports"] = user_ports


def boot(plan: BootPlan, name: str) -> dict[str, Any]:
    """Create one server of the plan (rolled back on failure)."""
    ctx, est = plan.ctx, plan.ctx.est
    hyp = pick_hypervisor(ctx, plan.flavor, plan.az, plan.host)
    server = model_compute.make_server(
        est,
        name=name,
        project_id=plan.project_id,
        user_id=plan.user_id,
        flavor=plan.flavor,
        region=ctx.region,
        hypervisor=hyp,
        image=plan.image,
        key_name=plan.key_name,
        security_groups=plan.group_names,
        status="ACTIVE" if hyp else "ERROR",
        metadata=plan.metadata,
        az=plan.az or (hyp or {}).get("_az", "nova"),
        boot_from_volume=plan.boot_from_volume,
        description=plan.description,
        user_data=plan.user_data,
    )
    server["tags"] = plan.tags
    if plan.hints:
        server["_scheduler_hints"] = plan.hints
    if hyp is None:
        server["_fault"] = {
            "code": 500,
            "created": est.now_iso(),
            "message": "No valid host was found. ",
            "details": "There are not enough hosts available.",
        }
        return server
    try:
        _boot_volumes(plan, server)
        _ports(plan, server)
    except Exception:
        model_compute.delete_server(est, server["id"])
        raise
    return server


def _scheduler_hints(body: dict[str, Any]) -> dict[str, list[str]]:
    """The request's scheduler hints as Nova keeps them (and shows them from 2.100): every value a list."""
    hints = body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {}
    if not isinstance(hints, dict):
        raise SimError(400, "Invalid input for field/attribute os:scheduler_hints.")
    return {str(k): [str(x) for x in v] if isinstance(v, list) else [str(v)] for k, v in hints.items()}


@nova_api
async def create_server(ctx: Ctx) -> web.Response:
    body = await read_json(ctx.request)
    spec = body.get("server")
    if not isinstance(spec, dict):
        raise SimError(
            400, "Invalid input for field/attribute server. Value: None. 'server' is a required property"
        )
    plan = BootPlan(ctx, spec)
    plan.hints = _scheduler_hints(body)
    check_quota(
        ctx,
        plan.project_id,
        {
            "instances": plan.count,
            "cores": plan.count * plan.flavor["vcpus"],
            "ram": plan.count * plan.flavor["ram"],
        },
    )
    servers = [
        boot(plan, plan.name if plan.count == 1 else f"{plan.name}-{i + 1}") for i in range(plan.count)
    ]
    first = servers[0]
    if spec.get("return_reservation_id"):
        return json_response({"reservation_id": first["OS-EXT-SRV-ATTR:reservation_id"]}, status=202)
    links = ctx.links(first["links"])
    out = {
        "id": first["id"],
        "links": links,
        "OS-DCF:diskConfig": first["OS-DCF:diskConfig"],
        "security_groups": [{"name": n} for n in plan.group_names],
        "adminPass": _admin_pass(ctx),
    }
    return json_response({"server": out}, status=202, headers={"Location": links[0]["href"]})


def register(app: web.Application) -> None:
    app.router.add_post("/{region}/compute/v2.1/servers", create_server)
