"""Factories for Nova objects: flavors, hypervisors, servers, keypairs, server groups, aggregates, AZs.

Objects are stored as Nova's v2.1 bodies at the newest microversion we advertise (2.96), admin view, with
these conventions (pf9sim.nova renders them per microversion and per caller):
- "links" hrefs are stored relative to the server ("/{region}/compute/v2.1/...");
  pf9sim.nova makes them absolute.
- Derived data is never stored, so it cannot go stale: a server's "addresses" (from ports and floating IPs),
  "os-extended-volumes:volumes_attached" (from volumes' attachments) and "security_groups" (from its ports'
  security groups, else the hidden "_security_groups" names); a hypervisor's usage (vcpus_used,
  memory_mb_used, local_gb_used, running_vms, free_*) from the servers on it.
- Hypervisors keep their capacities as "vcpus", "memory_mb", "local_gb" and "cpu_info" (the pre-2.88 body);
  pf9sim.nova drops them from 2.88 on. "_int_id" is the id shown before 2.53 (UUIDs from 2.53).
- Keypairs use the estate key "{user_id}/{region}/{name}"; aggregates and keypairs carry an "_int_id" shown as
  their integer "id". Servers keep "_flavor_id" (the flavor "id" shown before 2.47).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

from pf9sim.model import network as model_network
from pf9sim.model import volume as model_volume
from pf9sim.state import Estate, stamp_updated

# Nova's power states (nova.compute.power_state).
NOSTATE, RUNNING, PAUSED, SHUTDOWN, CRASHED, SUSPENDED = 0, 1, 3, 4, 6, 7

# status -> (vm_state, power_state, task_state)
STATUS_STATES: dict[str, tuple[str, int, str | None]] = {
    "ACTIVE": ("active", RUNNING, None),
    "BUILD": ("building", NOSTATE, "spawning"),
    "SHUTOFF": ("stopped", SHUTDOWN, None),
    "ERROR": ("error", NOSTATE, None),
    "PAUSED": ("paused", PAUSED, None),
    "SUSPENDED": ("suspended", SUSPENDED, None),
    "SHELVED_OFFLOADED": ("shelved_offloaded", SHUTDOWN, None),
    "VERIFY_RESIZE": ("resized", RUNNING, None),
    "RESCUE": ("rescued", RUNNING, None),
}


def compute_path(region: str, path: str) -> str:
    return f"/{region}/compute/v2.1/{path}"


def _links(region: str, path: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": compute_path(region, path)},
        {"rel": "bookmark", "href": f"/{region}/compute/{path}"},
    ]


def _next_counter(est: Estate, name: str) -> int:
    """A per-estate sequence (Nova's integer ids), kept in secrets so it survives save/load."""
    counters = est.secrets.setdefault("nova_counters", {})
    counters[name] = counters.get(name, 0) + 1
    return counters[name]


def host_id(project_id: str, host: str | None) -> str:
    """Nova's hostId: sha224 of project id + host, so one host looks different to each project."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


# -- flavors ---------------------------------------------------------------------------------------
def make_flavor(
    est: Estate,
    name: str,
    vcpus: int,
    ram: int,
    disk: int,
    region: str,
    ephemeral: int = 0,
    swap: int = 0,
    is_public: bool = True,
    extra_specs: dict[str, str] | None = None,
    description: str | None = None,
    flavor_id: str | None = None,
) -> dict[str, Any]:
    """A flavor as GET /flavors/{id} returns it at 2.75+ (swap is 0, not "", when none)."""
    fid = flavor_id or est.new_uuid()
    obj = {
        "id": fid,
        "name": name,
        "vcpus": vcpus,
        "ram": ram,
        "disk": disk,
        "OS-FLV-EXT-DATA:ephemeral": ephemeral,
        "swap": swap,
        "OS-FLV-DISABLED:disabled": False,
        "os-flavor-access:is_public": is_public,
        "rxtx_factor": 1.0,
        "description": description,
        "extra_specs": dict(extra_specs or {}),
        "links": _links(region, f"flavors/{fid}"),
        "_region": region,
    }
    return est.add("flavors", obj)


# -- hypervisors -----------------------------------------------------------------------------------
_CPU_MODELS = ("Cascadelake-Server", "Icelake-Server", "Skylake-Server-IBRS", "EPYC-Rome")


def make_hypervisor(
    est: Estate,
    hostname: str,
    host_ip: str,
    region: str,
    vcpus: int,
    memory_mb: int,
    local_gb: int,
    az: str = "nova",
    state: str = "up",
    status: str = "enabled",
    hypervisor_type: str = "QEMU",
) -> dict[str, Any]:
    """A compute node. `hostname` is the hypervisor_hostname (FQDN); its first label is the service host."""
    hid = est.new_uuid()
    host = hostname.split(".")[0]
    model = _CPU_MODELS[est.rng.randrange(len(_CPU_MODELS))]
    sockets = 2 if vcpus >= 16 else 1
    obj = {
        "id": hid,
        "hypervisor_hostname": hostname,
        "hypervisor_type": hypervisor_type,
        "hypervisor_version": 8002000,
        "host_ip": host_ip,
        "state": state,
        "status": status,
        "uptime": None,
        "service": {
            "host": host,
            "id": est.new_uuid(),
            "disabled_reason": None if status == "enabled" else "maintenance",
        },
        # Capacities: part of the body before 2.88 (and what usage is measured against).
        "vcpus": vcpus,
        "memory_mb": memory_mb,
        "local_gb": local_gb,
        "cpu_info": {
            "arch": "x86_64",
            "model": model,
            "vendor": "AMD" if model.startswith("EPYC") else "Intel",
            "features": ["pge", "avx", "clflush", "sse4.2", "vmx", "avx2", "aes"],
            "topology": {"cores": max(1, vcpus // (2 * sockets)), "threads": 2, "sockets": sockets},
        },
        "_region": region,
        "_az": az,
        "_int_id": _next_counter(est, "hypervisors"),
        "_created": est.now_iso(),
    }
    return est.add("hypervisors", obj)


# -- servers ---------------------------------------------------------------------------------------
def _flavor_embed(flavor: dict[str, Any]) -> dict[str, Any]:
    return {
        "vcpus": flavor["vcpus"],
        "ram": flavor["ram"],
        "disk": flavor["disk"],
        "ephemeral": flavor.get("OS-FLV-EXT-DATA:ephemeral", 0),
        "swap": flavor.get("swap", 0) or 0,
        "original_name": flavor["name"],
        "extra_specs": dict(flavor.get("extra_specs") or {}),
    }


def _place(server: dict[str, Any], hypervisor: dict[str, Any] | None) -> None:
    host = hypervisor["service"]["host"] if hypervisor else None
    server["OS-EXT-SRV-ATTR:host"] = host
    server["OS-EXT-SRV-ATTR:hypervisor_hostname"] = hypervisor["hypervisor_hostname"] if hypervisor else None
    server["hostId"] = host_id(server["tenant_id"], host)


def make_server(
    est: Estate,
    *,
    name: str,
    project_id: str,
    user_id: str,
    flavor: dict[str, Any],
    region: str,
    hypervisor: dict[str, Any] | None,
    image: dict[str, Any] | None = None,
    key_name: str | None = None,
    security_groups: Iterable[str] = ("default",),
    status: str = "ACTIVE",
    metadata: dict[str, str] | None = None,
    az: str = "nova",
    boot_from_volume: bool = False,
    description: str | None = None,
    user_data: str | None = None,
) -> dict[str, Any]:
    """A server (admin view of GET /servers/{id} at 2.96, without the derived fields; see module doc)."""
    sid = est.new_uuid()
    now = est.now_iso()
    seq = _next_counter(est, "instances")
    if boot_from_volume or image is None:
        image_ref: Any = ""
    else:
        bookmark = f"/{region}/compute/images/{image['id']}"
        image_ref = {"id": image["id"], "links": [{"rel": "bookmark", "href": bookmark}]}
    hostname = "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower()).strip("-")[:63]
    if user_data is not None and user_data != "":
        # Nova returns user_data base64-encoded; accept plain text from the generator.
        try:
            base64.b64decode(user_data, validate=True)
        except ValueError:
            user_data = base64.b64encode(user_data.encode()).decode()
    obj: dict[str, Any] = {
        "id": sid,
        "name": name,
        "status": status,
        "tenant_id": project_id,
        "user_id": user_id,
        "metadata": dict(metadata or {}),
        "hostId": "",
        "image": image_ref,
        "flavor": _flavor_embed(flavor),
        "created": now,
        "updated": now,
        "accessIPv4": "",
        "accessIPv6": "",
        "progress": 0,
        "links": _links(region, f"servers/{sid}"),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": az,
        "config_drive": "",
        "key_name": key_name,
        "OS-SRV-USG:launched_at": est.now_micro() if status not in ("BUILD", "ERROR") else None,
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-SRV-ATTR:host": None,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": None,
        "OS-EXT-SRV-ATTR:instance_name": f"instance-{seq:08x}",
        "OS-EXT-SRV-ATTR:hostname": hostname or "server",
        "OS-EXT-SRV-ATTR:reservation_id": f"r-{est.rng.getrandbits(40):010x}"[:10],
        "OS-EXT-SRV-ATTR:launch_index": 0,
        "OS-EXT-SRV-ATTR:kernel_id": "",
        "OS-EXT-SRV-ATTR:ramdisk_id": "",
        "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
        "OS-EXT-SRV-ATTR:user_data": user_data or None,
        "OS-EXT-STS:task_state": None,
        "OS-EXT-STS:vm_state": "active",
        "OS-EXT-STS:power_state": RUNNING,
        "description": description,
        "host_status": "UP",
        "locked": False,
        "locked_reason": None,
        "tags": [],
        "trusted_image_certificates": None,
        "server_groups": [],
        "pinned_availability_zone": None,
        "_region": region,
        "_flavor_id": flavor["id"],
        "_security_groups": list(security_groups),
    }
    _place(obj, hypervisor)
    _apply_status(obj, status)
    est.add("servers", obj)
    return obj


def _apply_status(server: dict[str, Any], status: str) -> None:
    if status not in STATUS_STATES:
        raise ValueError(f"unknown server status {status!r}; known: {', '.join(STATUS_STATES)}")
    vm_state, power_state, task_state = STATUS_STATES[status]
    server["status"] = status
    server["OS-EXT-STS:vm_state"] = vm_state
    server["OS-EXT-STS:power_state"] = power_state
    server["OS-EXT-STS:task_state"] = task_state
    server["progress"] = 0


def set_server_status(est: Estate, server: dict[str, Any], status: str) -> None:
    """Move a server to ACTIVE, SHUTOFF, ERROR, PAUSED, SUSPENDED (or BUILD, ...) with the matching states."""
    _apply_status(server, status)
    if status == "ACTIVE" and server.get("OS-SRV-USG:launched_at") is None:
        server["OS-SRV-USG:launched_at"] = est.now_micro()
    stamp_updated(est, "servers", server)


def resize_server(est: Estate, server: dict[str, Any], flavor: dict[str, Any]) -> None:
    """A completed (confirmed) resize: the embedded flavor changes."""
    server["flavor"] = _flavor_embed(flavor)
    server["_flavor_id"] = flavor["id"]
    stamp_updated(est, "servers", server)


def migrate_server(est: Estate, server: dict[str, Any], hypervisor: dict[str, Any]) -> None:
    """A completed live or cold migration to another hypervisor."""
    _place(server, hypervisor)
    stamp_updated(est, "servers", server)


def delete_server(est: Estate, server_id: str) -> dict[str, Any] | None:
    """Delete a server as Nova does: its ports go with their addresses (ports the user passed in are only
    unbound), its volumes are detached (those marked "_delete_on_termination" are deleted unless they have
    snapshots) and it leaves server groups."""
    server = est.remove("servers", server_id)
    if server is None:
        return None
    region = server["_region"]
    user_ports = set(server.get("_user_ports", ()))
    for port in list(est.index("ports", "device_id", region).get(server_id, [])):
        if port["id"] in user_ports:
            # A port the user brought survives the server, unbound (as Nova leaves it).
            port.update(device_id="", device_owner="", status="DOWN")
            model_network.set_binding(port, "")
            model_network.stamp_change(est, "ports", port)
        else:
            model_network.delete_port(est, port, force=True)
    snapshots = est.index("snapshots", "volume_id", region)
    for volume in list(volumes_by_server(est, region).get(server_id, [])):
        # Cinder refuses to delete a volume that has snapshots; Nova then leaves it behind, detached.
        if volume.get("_delete_on_termination") and not snapshots.get(volume["id"]):
            est.remove("volumes", volume["id"])
        else:
            model_volume.detach_volume(est, volume, server_id)
    for group in est.all("server_groups", region):
        if server_id in group.get("members", []):
            group["members"] = [m for m in group["members"] if m != server_id]
    est.touch()
    return server


def volumes_by_server(est: Estate, region: str) -> dict[str, list[dict[str, Any]]]:
    """Volumes of a region grouped by the servers they are attached to; cached until the estate changes."""
    cache_key = ("volumes", "@attachments.server_id", region)
    hit = est._index_cache.get(cache_key)  # noqa: SLF001 - same cache and invalidation as Estate.index
    if hit is not None and hit[0] == est.version:
        return hit[1]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for volume in est.all("volumes", region):
        seen: set[str] = set()
        for att in volume.get("attachments") or ():
            sid = att.get("server_id")
            if sid and sid not in seen:
                seen.add(sid)
                grouped.setdefault(sid, []).append(volume)
    est._index_cache[cache_key] = (est.version, grouped)  # noqa: SLF001
    return grouped


# -- keypairs --------------------------------------------------------------------------------------
def _fake_ssh_key(est: Estate, key_type: str, name: str) -> tuple[str, str]:
    blob = bytes(est.rng.getrandbits(8) for _ in range(51))
    if key_type == "x509":
        body = base64.b64encode(blob * 8).decode()
        public = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
        digest = hashlib.sha1(blob).hexdigest()
    else:
        # An ed25519-shaped key: the wire layout is prefix + 32-byte key, base64'd.
        raw = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + blob[:32]
        public = f"ssh-ed25519 {base64.b64encode(raw).decode()} {name}"
        digest = hashlib.md5(raw).hexdigest()  # noqa: S324 - Nova's legacy fingerprint format is MD5
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    return public, fingerprint


def make_keypair(est: Estate, name: str, user_id: str, region: str, key_type: str = "ssh") -> dict[str, Any]:
    """A keypair as GET /os-keypairs/{name} returns it (2.10+); estate key "{user_id}/{region}/{name}"."""
    public_key, fingerprint = _fake_ssh_key(est, key_type, name)
    obj = {
        "id": f"{user_id}/{region}/{name}",
        "name": name,
        "user_id": user_id,
        "type": key_type,
        "public_key": public_key,
        "fingerprint": fingerprint,
        "created_at": est.now_micro(),
        "updated_at": None,
        "deleted": False,
        "deleted_at": None,
        "_int_id": _next_counter(est, "keypairs"),
        "_region": region,
    }
    return est.add("keypairs", obj)


# -- server groups, aggregates, availability zones -------------------------------------------------
def make_server_group(
    est: Estate,
    name: str,
    project_id: str,
    user_id: str,
    policy: str,
    region: str,
    members: Iterable[str] = (),
) -> dict[str, Any]:
    """A server group (2.64+ body: one "policy" and "rules"); members' "server_groups" are updated."""
    gid = est.new_uuid()
    obj = {
        "id": gid,
        "name": name,
        "policy": policy,
        "rules": {},
        "members": list(members),
        "project_id": project_id,
        "user_id": user_id,
        "_region": region,
    }
    for member in obj["members"]:
        server = est.get("servers", member)
        if server is not None and gid not in server["server_groups"]:
            server["server_groups"].append(gid)
    return est.add("server_groups", obj)


def make_aggregate(
    est: Estate,
    name: str,
    region: str,
    az: str | None = None,
    hosts: Iterable[str] = (),
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A host aggregate; the estate key is its "uuid", its integer id is "_int_id"."""
    uid = est.new_uuid()
    meta = dict(metadata or {})
    if az:
        meta["availability_zone"] = az
    obj = {
        "id": uid,
        "uuid": uid,
        "name": name,
        "availability_zone": az,
        "hosts": list(hosts),
        "metadata": meta,
        "created_at": est.now_micro(),
        "updated_at": None,
        "deleted": False,
        "deleted_at": None,
        "_int_id": _next_counter(est, "aggregates"),
        "_region": region,
    }
    return est.add("aggregates", obj)


def make_availability_zone(est: Estate, name: str, region: str, hosts: Iterable[str] = ()) -> dict[str, Any]:
    """An availability zone; detail listings also include the hosts of hypervisors placed in it."""
    obj = {
        "id": f"{region}/{name}",
        "zoneName": name,
        "zoneState": {"available": True},
        "_hosts": list(hosts),
        "_region": region,
    }
    return est.add("availability_zones", obj)
