"""Server changes of an advancing estate: created (with ports, volumes, floating IPs), deleted, resized,
migrated, stopped, started, errored and recovered. Each touches what it is about to change (world.py).
"""

from __future__ import annotations

from typing import Any

from pf9sim.evolution.world import World
from pf9sim.model.compute import (
    delete_server,
    make_server,
    migrate_server,
    resize_server,
    set_server_status,
    volumes_by_server,
)
from pf9sim.model.network import (
    make_floating_ip,
    make_port,
    release_fixed_ips,
    set_binding,
    stamp_change,
    subnet_for_address,
)
from pf9sim.model.volume import attach_volume, make_volume
from pf9sim.state import Estate, stamp_updated

RUNNING = ("ACTIVE", "SHUTOFF")
DATA_SIZES = (20, 50, 100, 200)


def placed(s: dict[str, Any]) -> bool:
    return bool(s.get("OS-EXT-SRV-ATTR:hypervisor_hostname"))


def find_host(
    w: World, region: str, az: str, need: tuple[int, int, int], exclude: set[str] = frozenset()
) -> dict | None:
    hosts = [
        h
        for h in w.est.all("hypervisors", region)
        if h["_az"] == az and h["hypervisor_hostname"] not in exclude and w.host_fits(h, *need)
    ]
    return w.rng.choice(hosts) if hosts else None


def avoid_hosts(est: Estate, server: dict[str, Any]) -> set[str]:
    """The server's own host and those of its anti-affinity peers: where a move must not go."""
    hosts = {server["OS-EXT-SRV-ATTR:hypervisor_hostname"]}
    for gid in server.get("server_groups", []):
        group = est.get("server_groups", gid)
        if group is not None and group["policy"] == "anti-affinity":
            for member in group["members"]:
                peer = est.get("servers", member)
                if peer is not None:
                    hosts.add(peer["OS-EXT-SRV-ATTR:hypervisor_hostname"])
    return hosts


def fip_port_id(est: Estate, fip: dict[str, Any]) -> str | None:
    """The network:floatingip port holding a floating IP's address."""
    network = est.get("networks", fip["floating_network_id"])
    subnet = subnet_for_address(est, network, fip["floating_ip_address"])
    return subnet.get("_used", {}).get(fip["floating_ip_address"])


def next_device(est: Estate, w: World, server_id: str) -> str:
    used = set()
    for vid in w.vols_of.get(server_id, []):
        volume = est.get("volumes", vid)
        for att in volume["attachments"] if volume else ():
            if att["server_id"] == server_id:
                used.add(att["device"])
    letter = "b"
    while f"/dev/vd{letter}" in used:
        letter = chr(ord(letter) + 1)
    return f"/dev/vd{letter}"


def create_server(w: World) -> None:
    """A new server modelled on an existing one of the same project (name series, networks, groups, AZ)."""
    est, rng, track = w.est, w.rng, w.track
    template = w.pick(w.servers, "servers", lambda s: s["status"] in RUNNING and placed(s))
    if template is None:
        return
    pid, region, az = template["tenant_id"], template["_region"], template["OS-EXT-AZ:availability_zone"]
    flavor = est.get("flavors", template["_flavor_id"])
    bfv = template["image"] == ""
    if flavor is None or not w.room(
        pid, region, "compute", instances=1, cores=flavor["vcpus"], ram=flavor["ram"]
    ):
        return
    host = find_host(w, region, az, (flavor["vcpus"], flavor["ram"], 0 if bfv else flavor["disk"]))
    if host is None:
        return
    image = _image_of(w, template, region)
    stem, n = template["name"].rsplit("-", 1)[0], 1
    while f"{stem}-{n:02d}" in w.names:
        n += 1
    name = f"{stem}-{n:02d}"
    boot = None
    if bfv:
        if not w.room(pid, region, "volume", volumes=1, gigabytes=max(flavor["disk"], 20)):
            return
        boot = _volume(
            w, template, name="", size=max(flavor["disk"], image.get("min_disk") or 0, 20), image=image
        )
        boot["_delete_on_termination"] = True
    server = make_server(
        est,
        name=name,
        project_id=pid,
        user_id=template["user_id"],
        flavor=flavor,
        region=region,
        hypervisor=host,
        image=None if bfv else image,
        key_name=template["key_name"],
        security_groups=list(template.get("_security_groups", ["default"])),
        metadata=dict(template["metadata"]),
        az=az,
        boot_from_volume=bfv,
    )
    track.created("servers", server["id"])
    w.add_server(server)
    first = None
    for port_id in w.ports_of.get(template["id"], []):
        model = est.get("ports", port_id)
        if model is None:
            continue
        port = make_port(
            est,
            network=est.get("networks", model["network_id"]),
            project_id=pid,
            device_id=server["id"],
            device_owner=f"compute:{az}",
            security_group_ids=list(model["security_groups"]),
            binding_host_id=host["service"]["host"],
        )
        track.created("ports", port["id"])
        w.ports.append(port["id"])
        w.ports_of.setdefault(server["id"], []).append(port["id"])
        first = first or (model, port)
    if boot is not None:
        attach(w, boot, server, "/dev/vda")
    if rng.random() < 0.4 and w.room(pid, region, "volume", volumes=1, gigabytes=100):
        data = _volume(w, template, name=f"{name}-data1", size=rng.choice(DATA_SIZES), image=None)
        attach(w, data, server, "/dev/vdb")
    if first is not None and rng.random() < 0.5:
        model_fip = w.est.get("floating_ips", w.fip_of_port.get(first[0]["id"], ""))
        if model_fip is not None and model_fip["router_id"]:
            fip = make_floating_ip(
                est,
                external_network=est.get("networks", model_fip["floating_network_id"]),
                project_id=pid,
                port=first[1],
                router_id=model_fip["router_id"],
            )
            track.created("floating_ips", fip["id"])
            track.created("ports", fip_port_id(est, fip))
            w.fips.append(fip["id"])
            w.fip_of_port[first[1]["id"]] = fip["id"]


def _image_of(w: World, template: dict[str, Any], region: str) -> dict[str, Any]:
    est = w.est
    image_id = template["image"]["id"] if template["image"] else None
    if image_id is None:
        for vid in w.vols_of.get(template["id"], []):
            volume = est.get("volumes", vid) or {}
            image_id = image_id or (volume.get("volume_image_metadata") or {}).get("image_id")
    image = est.get("images", image_id) if image_id else None
    if image is None or image["status"] != "active":
        image = next(i for i in est.all("images", region) if i["visibility"] == "public")
    return image


def _volume(
    w: World, template: dict[str, Any], *, name: str, size: int, image: dict | None
) -> dict[str, Any]:
    est, rng = w.est, w.rng
    region, pid = template["_region"], template["tenant_id"]
    vtypes = list(est.all("volume_types", region))
    volume = make_volume(
        est,
        name=name,
        project_id=pid,
        user_id=template["user_id"],
        size=size,
        region=region,
        volume_type=vtypes[rng.randrange(len(vtypes))],
        az=template["OS-EXT-AZ:availability_zone"],
        image=image,
        metadata=policy_metadata(rng) if rng.random() < 0.45 else {},
    )
    w.track.created("volumes", volume["id"])
    w.volumes.append(volume["id"])
    w.use(pid, region, volumes=1, gigabytes=size)
    return volume


def policy_metadata(rng) -> dict[str, str]:
    policies = rng.choice((("daily_5",), ("daily_7",), ("daily_3",), ("daily_5", "monthly_1st")))
    meta = {"auto_snapshot": "true", "snapshot_policies": ",".join(policies)}
    for policy in policies:
        meta[f"retention_{policy}"] = policy.split("_")[1] if policy.startswith("daily_") else "1"
    return meta


def attach(w: World, volume: dict[str, Any], server: dict[str, Any], device: str) -> None:
    w.track.touch("volumes", volume["id"])
    w.track.touch("servers", server["id"])
    attach_volume(w.est, volume, server, device)
    w.vols_of.setdefault(server["id"], []).append(volume["id"])


def prepare_teardown(
    est: Estate,
    server: dict[str, Any],
    ports: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    snapped: set[str] | None = None,
) -> None:
    """What delete_server leaves to its caller: free the addresses of the ports that go, and keep boot volumes
    that have snapshots (Cinder refuses to delete those, so Nova leaves them behind). The server's ports,
    volumes and the ids of volumes with snapshots are looked up when not given."""
    region = server["_region"]
    keep = set(server.get("_user_ports", ()))
    if ports is None:
        ports = est.index("ports", "device_id", region).get(server["id"], [])
    if volumes is None:
        volumes = volumes_by_server(est, region).get(server["id"], [])
    if snapped is None:
        by_volume = est.index("snapshots", "volume_id", region)
        snapped = {v["id"] for v in volumes if by_volume.get(v["id"])}
    for port in ports:
        if port["id"] not in keep:
            release_fixed_ips(est, port)
    for volume in volumes:
        if volume.get("_delete_on_termination") and volume["id"] in snapped:
            volume["_delete_on_termination"] = False


def remove_server(w: World, server: dict[str, Any]) -> None:
    est, track = w.est, w.track
    sid, region = server["id"], server["_region"]
    ports = [p for p in map(lambda i: est.get("ports", i), w.ports_of.get(sid, [])) if p is not None]
    volumes = [v for v in map(lambda i: est.get("volumes", i), w.vols_of.get(sid, [])) if v is not None]
    for port in ports:
        track.touch("ports", port["id"])
        fip_id = w.fip_of_port.pop(port["id"], None)
        if fip_id is not None:
            track.touch("floating_ips", fip_id)
    prepare_teardown(est, server, ports, volumes, {v["id"] for v in volumes if w.snaps_of.get(v["id"])})
    for volume in volumes:
        track.touch("volumes", volume["id"])
        if volume.get("_delete_on_termination"):
            w.use(volume["os-vol-tenant-attr:tenant_id"], region, volumes=-1, gigabytes=-volume["size"])
    for gid in server.get("server_groups", []):
        track.touch("server_groups", gid)
    track.touch("servers", sid)
    w.place(server, -1)
    w.use(
        server["tenant_id"],
        region,
        instances=-1,
        cores=-server["flavor"]["vcpus"],
        ram=-server["flavor"]["ram"],
    )
    delete_server(est, sid)
    w.names.discard(server["name"])
    w.ports_of.pop(sid, None)
    w.vols_of.pop(sid, None)


def delete_random_server(w: World) -> None:
    server = w.pick(w.servers, "servers")
    if server is not None:
        remove_server(w, server)


def _move(w: World, server: dict[str, Any], host: dict[str, Any]) -> None:
    """Move a server (already touched) to `host`: its port bindings and volume attachments follow."""
    est, track = w.est, w.track
    migrate_server(est, server, host)
    for port_id in w.ports_of.get(server["id"], []):
        port = est.get("ports", port_id)
        if port is not None:
            track.touch("ports", port_id)
            set_binding(port, host["service"]["host"])
            stamp_change(est, "ports", port)
    for vid in w.vols_of.get(server["id"], []):
        volume = est.get("volumes", vid)
        if volume is not None:
            track.touch("volumes", vid)
            for att in volume["attachments"]:
                if att["server_id"] == server["id"]:
                    att["host_name"] = host["service"]["host"]
            stamp_updated(est, "volumes", volume)


def resize(w: World) -> None:
    est, rng, track = w.est, w.rng, w.track
    server = w.pick(w.servers, "servers", lambda s: s["status"] in RUNNING and placed(s))
    if server is None:
        return
    region, pid = server["_region"], server["tenant_id"]
    family = server["flavor"]["original_name"].split(".")[0]
    choices = [
        f
        for f in est.all("flavors", region)
        if f["name"].split(".")[0] == family and f["id"] != server["_flavor_id"]
    ]
    if not choices:
        return
    flavor = rng.choice(choices)
    old = server["flavor"]
    if not w.room(
        pid, region, "compute", cores=flavor["vcpus"] - old["vcpus"], ram=flavor["ram"] - old["ram"]
    ):
        return
    need = (flavor["vcpus"], flavor["ram"], flavor["disk"] if server["image"] else 0)
    current = server["OS-EXT-SRV-ATTR:hypervisor_hostname"]
    w.place(server, -1)
    host = next((h for h in est.all("hypervisors", region) if h["hypervisor_hostname"] == current), None)
    if host is None or not w.host_fits(host, *need):
        host = find_host(w, region, server["OS-EXT-AZ:availability_zone"], need, avoid_hosts(est, server))
    if host is None:
        w.place(server, +1)
        return
    track.touch("servers", server["id"])
    resize_server(est, server, flavor)
    if host["hypervisor_hostname"] != current:
        _move(w, server, host)
    # Nova sets launched_at when a resize finishes (the guest was restarted on the new flavor).
    server["OS-SRV-USG:launched_at"] = est.now_micro()
    w.place(server, +1)
    w.use(pid, region, cores=flavor["vcpus"] - old["vcpus"], ram=flavor["ram"] - old["ram"])


def migrate(w: World) -> None:
    server = w.pick(w.servers, "servers", lambda s: s["status"] == "ACTIVE" and placed(s))
    if server is None:
        return
    f = server["flavor"]
    need = (f["vcpus"], f["ram"], f["disk"] if server["image"] else 0)
    host = find_host(
        w, server["_region"], server["OS-EXT-AZ:availability_zone"], need, avoid_hosts(w.est, server)
    )
    if host is None:
        return
    w.track.touch("servers", server["id"])
    w.place(server, -1)
    _move(w, server, host)
    w.place(server, +1)


def _set_status(w: World, server: dict[str, Any], status: str, port_status: str | None) -> None:
    est, track = w.est, w.track
    track.touch("servers", server["id"])
    set_server_status(est, server, status)
    if status == "ERROR":
        server["fault"] = {
            "code": 500,
            "created": est.now_iso(),
            "message": "Unexpected error while running command.",
        }
    else:
        server.pop("fault", None)
    for port_id in w.ports_of.get(server["id"], []) if port_status else ():
        port = est.get("ports", port_id)
        if port is not None and port["status"] != port_status:
            track.touch("ports", port_id)
            port["status"] = port_status
            stamp_change(est, "ports", port)


def stop(w: World) -> None:
    server = w.pick(w.servers, "servers", lambda s: s["status"] == "ACTIVE")
    if server is not None:
        _set_status(w, server, "SHUTOFF", "DOWN")


def start(w: World) -> None:
    server = w.pick(w.servers, "servers", lambda s: s["status"] == "SHUTOFF")
    if server is not None:
        _set_status(w, server, "ACTIVE", "ACTIVE")


def fail(w: World) -> None:
    server = w.pick(w.servers, "servers", lambda s: s["status"] == "ACTIVE")
    if server is not None:
        _set_status(w, server, "ERROR", None)


def recover(w: World) -> None:
    server = w.pick(w.servers, "servers", lambda s: s["status"] == "ERROR" and placed(s))
    if server is not None:
        _set_status(w, server, "ACTIVE", "ACTIVE")
