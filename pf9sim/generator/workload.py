"""Workloads of the generated estate: servers with their ports, volumes, floating IPs and server groups.

Servers are planned first (so that hypervisors can be sized to the load), then created in time order by the
event loop of base.Ctx, each placed on a hypervisor of its availability zone within capacity.
Later events (shut-offs, errors, volume extensions) and snapshots (snapshots.py) are scheduled as
things are made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pf9sim.generator.base import START, Ctx, Host, Tenancy, growth_time, share_pick, weighted
from pf9sim.generator.catalog import FLAVORS, IMAGES, ROLES, VOLUME_TYPES
from pf9sim.generator.infra import onboard
from pf9sim.generator.snapshots import enrol, schedule_snapshots
from pf9sim.model.compute import make_server, make_server_group, set_server_status
from pf9sim.model.network import make_floating_ip, make_port, stamp_change
from pf9sim.model.volume import attach_volume, extend_volume, make_volume
from pf9sim.state import EPOCH

KIND_WEIGHT = {"prod": 3.0, "team": 2.0, "dev": 1.4, "lab": 0.6, "admin": 0.15}
FLAVOR_SPECS = {name: (vcpus, ram, disk) for name, vcpus, ram, disk, _ in FLAVORS}
ROLE_GROUPS = {
    "web": ("web", "ssh"),
    "api": ("web", "app", "ssh"),
    "app": ("app", "ssh"),
    "worker": ("app", "ssh"),
    "mq": ("app", "ssh"),
    "db": ("db", "ssh"),
    "cache": ("db", "ssh"),
    "k8s-node": ("web", "app", "ssh"),
    "jenkins": ("ssh",),
    "bastion": ("ssh",),
    "win-app": ("app", "rdp"),
    "win-sql": ("db", "rdp"),
    "win-ad": ("rdp",),
}
LATER_STATUS = (("SHUTOFF", 0.08), ("ERROR", 0.015), ("PAUSED", 0.008), ("SUSPENDED", 0.005))
FAULTS = (
    "No valid host was found. There are not enough hosts available.",
    "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures.",
    "Build of instance aborted: Volume did not finish being created even after we waited 190 seconds.",
)


@dataclass
class Plan:
    key: tuple[str, str]  # (project id, region)
    role: str
    windows: bool
    flavor: str
    bfv: bool
    nics: int
    data: int
    az: str
    when: datetime
    build_error: bool
    later: str | None  # a status the server moves to some time after launch


def plan(ctx: Ctx) -> list[Plan]:
    """Decide every server up front: tenancy, role, flavor, boot mode, NICs, volumes, az and creation time."""
    rng, spec = ctx.rng, ctx.spec
    tenancies = []
    for project in ctx.projects:
        for region in project.regions:
            ten = Tenancy(project, region)
            ctx.tenancies[(project.id, region)] = ten
            tenancies.append(ten)
    windows_domains = {p.domain["id"] for p in ctx.projects if rng.random() < 0.5}
    weights = [KIND_WEIGHT.get(t.project.kind, 1.0) / len(t.project.regions) for t in tenancies]
    plans = []
    for _ in range(spec.servers):
        ten = weighted(rng, tenancies, weights)
        allowed = [r for r in ROLES if not r[1] or ten.project.domain["id"] in windows_domains]
        role, windows, flavors, _ = rng.choice(allowed)
        nets = 2 if ten.project.kind in ("prod", "team", "admin") else 1
        nets += 1 if ten.region in ctx.shared_net or len(spec.regions) > 1 or spec.servers > 50 else 0
        nics = min(nets, share_pick(rng, spec.nics) + 1)
        plans.append(
            Plan(
                key=(ten.project.id, ten.region),
                role=role,
                windows=windows,
                flavor=rng.choice(flavors),
                bfv=rng.random() < (0.6 if windows else 0.4),
                nics=nics,
                data=share_pick(rng, spec.data_volumes),
                az=rng.choice(spec.azs),
                when=growth_time(rng, ten.project.onboard + timedelta(days=1), EPOCH - timedelta(hours=2)),
                build_error=rng.random() < 0.015,
                later=_later_status(rng),
            )
        )
    # Even the smallest estate shows each failure mode at least once.
    if plans and not any(p.build_error for p in plans):
        plans[rng.randrange(len(plans))].build_error = True
    for status in ("SHUTOFF", "ERROR"):
        if plans and not any(p.later == status and not p.build_error for p in plans):
            candidates = [p for p in plans if p.later is None and not p.build_error]
            if candidates:
                rng.choice(candidates).later = status
    return plans


def _later_status(rng) -> str | None:
    draw = rng.random()
    for status, share in LATER_STATUS:
        if draw < share:
            return status
        draw -= share
    return None


def demand(plans: list[Plan], region: str) -> tuple[int, int]:
    vcpus = sum(FLAVOR_SPECS[p.flavor][0] for p in plans if p.key[1] == region)
    ram = sum(FLAVOR_SPECS[p.flavor][1] for p in plans if p.key[1] == region)
    return vcpus, ram


def schedule(ctx: Ctx, plans: list[Plan]) -> None:
    """Queue onboarding, servers and the unattached leftovers every real project accumulates."""
    rng, spec = ctx.rng, ctx.spec
    per_tenancy: dict[tuple[str, str], int] = {}
    windows_keys = set()
    for p in plans:
        per_tenancy[p.key] = per_tenancy.get(p.key, 0) + 1
        if p.windows:
            windows_keys.add(p.key)
    spares: list[str] = []  # status of each spare volume, by scheduling order
    for block, (key, ten) in enumerate(ctx.tenancies.items()):
        start = max(START, ten.project.onboard) + timedelta(hours=spec.regions.index(ten.region) * 5)
        ctx.at(start, onboard, ctx, ten, block, key in windows_keys)
        count = per_tenancy.get(key, 0)
        for n in range(_count(rng, spec.spare_volumes * count)):
            status = "error" if rng.random() < 0.08 else "available"
            spares.append(status)
            when = growth_time(rng, start + timedelta(days=1), EPOCH - timedelta(hours=1))
            ctx.at(when, _spare_volume, ctx, ten, n, spares, len(spares) - 1)
        for _ in range(_count(rng, spec.spare_ports * count)):
            ctx.at(
                growth_time(rng, start + timedelta(days=1), EPOCH - timedelta(hours=1)), _spare_port, ctx, ten
            )
        for _ in range(_count(rng, spec.fip_share * count * 0.15)):
            ctx.at(
                growth_time(rng, start + timedelta(days=1), EPOCH - timedelta(hours=1)), _idle_fip, ctx, ten
            )
    if spares and "error" not in spares:
        spares[rng.randrange(len(spares))] = "error"
    for p in plans:
        ctx.at(p.when, _create_server, ctx, p)


def _count(rng, expected: float) -> int:
    whole = int(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


def _place(ctx: Ctx, region: str, az: str, need: tuple[int, int, int], avoid: set[str]) -> Host | None:
    rng = ctx.rng
    hosts = [h for h in ctx.hosts[region] if h.az == az and h.vcpus]
    for candidates in (hosts, [h for h in ctx.hosts[region] if h.vcpus]):
        if not candidates:
            continue
        weights = [h.weight for h in candidates]
        for _ in range(6):
            host = weighted(rng, candidates, weights)
            if host.fits(*need) and host.obj["hypervisor_hostname"] not in avoid:
                return host
        fitting = [h for h in candidates if h.fits(*need) and h.obj["hypervisor_hostname"] not in avoid]
        if fitting:
            return rng.choice(fitting)
    return None


def _image(ctx: Ctx, ten: Tenancy, windows: bool) -> dict[str, Any]:
    rng = ctx.rng
    images = ctx.images[ten.region]
    if windows:
        return rng.choice([i for i in images if i["os_distro"] == "windows"])
    if ten.private_images and rng.random() < 0.35:
        return rng.choice(ten.private_images)
    linux = [(i, w) for i, (_, distro, _, _, _, w) in zip(images, IMAGES, strict=True) if distro != "windows"]
    return weighted(rng, [i for i, _ in linux], [w for _, w in linux])


def _volume_type(ctx: Ctx, region: str) -> dict[str, Any]:
    names = [v[0] for v in VOLUME_TYPES]
    return ctx.volume_types[region][weighted(ctx.rng, names, [v[3] for v in VOLUME_TYPES])]


def _create_server(ctx: Ctx, p: Plan) -> None:
    est, rng = ctx.est, ctx.rng
    ten = ctx.tenancies[p.key]
    project, region = ten.project, ten.region
    flavor = ctx.flavors[region][p.flavor]
    user_id = rng.choice(project.members)
    name = f"{project.short}-{p.role}-{ten.next(p.role):02d}"
    image = _image(ctx, ten, p.windows)
    group = _server_group_for(ctx, ten, p.role)
    avoid = set()
    if group is not None and group["policy"] == "anti-affinity":
        avoid = {est.get("servers", m)["OS-EXT-SRV-ATTR:hypervisor_hostname"] for m in group["members"]}
    vcpus, ram, disk = FLAVOR_SPECS[p.flavor]
    host = None if p.build_error else _place(ctx, region, p.az, (vcpus, ram, 0 if p.bfv else disk), avoid)
    boot = None
    if host is not None and p.bfv:
        size = max(disk, image.get("min_disk") or 0, 20)
        boot_name = "" if rng.random() < 0.6 else f"{name}-root"
        boot = make_volume(
            est,
            name=boot_name,
            project_id=project.id,
            user_id=user_id,
            size=size,
            region=region,
            volume_type=_volume_type(ctx, region),
            az=host.az,
            image=image,
            metadata=enrol(ctx, ten, boot_name or name),
        )
        boot["_delete_on_termination"] = boot_name == ""
        ctx.step(rng.randint(20, 90))
    metadata = {"environment": project.kind, "role": p.role} if rng.random() < 0.7 else {}
    names = ["default"] + [g for g in ROLE_GROUPS[p.role] if g in ten.groups]
    if "allow-all-debug" in ten.groups and rng.random() < 0.3:
        names.append("allow-all-debug")
    server = make_server(
        est,
        name=name,
        project_id=project.id,
        user_id=user_id,
        flavor=flavor,
        region=region,
        hypervisor=host.obj if host else None,
        image=None if p.bfv else image,
        key_name=None if p.windows else ten.keypairs.get(user_id),
        security_groups=names,
        status="ACTIVE" if host else "ERROR",
        metadata=metadata,
        az=host.az if host else p.az,
        boot_from_volume=p.bfv,
    )
    if host is None:
        server["fault"] = {"code": 500, "created": est.now_iso(), "message": FAULTS[0]}
        return
    host.take(vcpus, ram, 0 if p.bfv else disk)
    ctx.servers_of.setdefault(p.key, []).append(server)
    _ports(ctx, ten, server, host, p, [ten.groups[g]["id"] for g in names])
    ctx.step(rng.randint(10, 60))
    if boot is not None:
        attach_volume(est, boot, server, "/dev/vda")
        schedule_snapshots(ctx, boot)
    for n in range(p.data):
        _data_volume(ctx, ten, server, user_id, host.az, p.role, n)
    if group is not None:
        group["members"].append(server["id"])
        server["server_groups"].append(group["id"])
    if p.later is not None:
        when = growth_time(rng, est.clock + timedelta(hours=2), EPOCH - timedelta(minutes=30))
        ctx.at(when, _set_status, ctx, server, p.later)


def _ports(ctx: Ctx, ten: Tenancy, server: dict[str, Any], host: Host, p: Plan, group_ids: list[str]) -> None:
    est, rng = ctx.est, ctx.rng
    networks = list(ten.networks)
    if ten.region in ctx.shared_net:
        networks.append(ctx.shared_net[ten.region])
    first = None
    ports = ctx.ports_of.setdefault(server["id"], [])
    for k in range(p.nics):
        port = make_port(
            est,
            network=networks[min(k, len(networks) - 1)],
            project_id=ten.project.id,
            device_id=server["id"],
            device_owner=f"compute:{host.az}",
            security_group_ids=group_ids,
            binding_host_id=host.obj["service"]["host"],
        )
        ports.append(port)
        first = first or port
    share = ctx.spec.fip_share * (2.0 if p.role in ("web", "bastion", "api", "win-app") else 0.5)
    if first is not None and rng.random() < share:
        make_floating_ip(
            est,
            external_network=ctx.external[ten.region],
            project_id=ten.project.id,
            port=first,
            router_id=ten.router["id"],
        )


def _data_volume(
    ctx: Ctx, ten: Tenancy, server: dict[str, Any], user_id: str, az: str, role: str, n: int
) -> None:
    est, rng = ctx.est, ctx.rng
    sizes = next(r[3] for r in ROLES if r[0] == role)
    name = (
        f"{server['name']}-data{n + 1}"
        if rng.random() < 0.8
        else f"{server['name']}-{rng.choice(('logs', 'db', 'backup', 'home'))}"
    )
    volume = make_volume(
        est,
        name=name,
        project_id=ten.project.id,
        user_id=user_id,
        size=rng.choice(sizes),
        region=ten.region,
        volume_type=_volume_type(ctx, ten.region),
        az=az,
        metadata=enrol(ctx, ten, name),
    )
    ctx.step(rng.randint(5, 40))
    attach_volume(est, volume, server, f"/dev/vd{chr(ord('b') + n)}")
    schedule_snapshots(ctx, volume)
    if rng.random() < 0.05:
        ctx.at(
            growth_time(rng, est.clock + timedelta(hours=1), EPOCH - timedelta(hours=1)), _extend, ctx, volume
        )


GROUP_OF_ROLE = {
    "db": ("db-ha", "anti-affinity"),
    "k8s-node": ("k8s-workers", "soft-anti-affinity"),
    "app": ("app-tier", "soft-anti-affinity"),
    "api": ("app-tier", "soft-anti-affinity"),
}


def _server_group_for(ctx: Ctx, ten: Tenancy, role: str) -> dict[str, Any] | None:
    if ten.project.kind not in ("prod", "team") or role not in GROUP_OF_ROLE:
        return None
    name, policy = GROUP_OF_ROLE[role]
    group = ten.server_groups.get(name)
    if group is None:
        group = make_server_group(ctx.est, name, ten.project.id, ten.project.members[0], policy, ten.region)
        ten.server_groups[name] = group
    return group if len(group["members"]) < 3 else None


def _set_status(ctx: Ctx, server: dict[str, Any], status: str) -> None:
    est = ctx.est
    set_server_status(est, server, status)
    if status == "ERROR":
        server["fault"] = {
            "code": 500,
            "created": est.now_iso(),
            "message": "Unexpected error while running command.",
        }
    if status in ("SHUTOFF", "SUSPENDED"):
        for port in ctx.ports_of.get(server["id"], []):
            port["status"] = "DOWN"
            stamp_change(est, "ports", port)


def _extend(ctx: Ctx, volume: dict[str, Any]) -> None:
    extend_volume(ctx.est, volume, volume["size"] * 2)


def _spare_volume(ctx: Ctx, ten: Tenancy, n: int, statuses: list[str], index: int) -> None:
    est, rng = ctx.est, ctx.rng
    if not ten.ready:
        return
    status = statuses[index]
    label = rng.choice(
        ("scratch", "backup", "archive", "migration", "shared-data", "old-root", "restore-test")
    )
    name = f"{ten.project.short}-{label}-{n + 1:02d}"
    image = _image(ctx, ten, False) if label == "old-root" else None
    volume = make_volume(
        est,
        name=name,
        project_id=ten.project.id,
        user_id=rng.choice(ten.project.members),
        size=rng.choice((10, 20, 50, 100, 200, 500)),
        region=ten.region,
        volume_type=_volume_type(ctx, ten.region),
        az=rng.choice(ctx.spec.azs),
        image=image,
        status=status,
        metadata={} if status == "error" else enrol(ctx, ten, name),
    )
    if status == "available":
        schedule_snapshots(ctx, volume)


def _spare_port(ctx: Ctx, ten: Tenancy) -> None:
    if ten.ready:
        make_port(
            ctx.est,
            network=ten.networks[0],
            project_id=ten.project.id,
            status="DOWN",
            name=f"{ten.project.short}-vip-{ten.next('vip'):02d}",
            security_group_ids=[ten.groups["default"]["id"]],
        )


def _idle_fip(ctx: Ctx, ten: Tenancy) -> None:
    if ten.ready:
        make_floating_ip(ctx.est, external_network=ctx.external[ten.region], project_id=ten.project.id)
