"""Regional infrastructure of the generated estate and each project's network footprint.

Per region: flavors, public images, volume types, hypervisors (sized to the planned load) in availability
zones and aggregates, the shared external network and a shared services network. Per project and region
("tenancy", made when the project is onboarded): networks with subnets and DHCP ports, a router to the
external network, security groups (some with risky rules open to the world on 22 and 3389), keypairs and
private images.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from pf9sim.generator.base import Ctx, Host, Tenancy, stable_fraction, stable_uuid
from pf9sim.generator.catalog import FLAVORS, IMAGES, VOLUME_TYPES
from pf9sim.model.compute import (
    make_aggregate,
    make_availability_zone,
    make_flavor,
    make_hypervisor,
    make_keypair,
    make_server_group,
)
from pf9sim.model.image import make_image, uploaded_by_sdk
from pf9sim.model.network import (
    add_router_interface,
    make_network,
    make_port,
    make_router,
    make_security_group,
    make_security_group_rule,
    make_subnet,
)
from pf9sim.model.volume import make_volume_type

GIB = 1024**3
# (threads, GiB of RAM per thread, local disk GB): compute node shapes seen in the field.
HOST_CLASSES = ((32, 8, 1800), (48, 8, 1800), (64, 6, 3600), (96, 5, 3600), (128, 4, 7200), (192, 4, 7200))
FILL_TARGET = 0.6  # planned load / schedulable capacity per region
WORLD4, WORLD6 = "0.0.0.0/0", "::/0"


def region_code(ctx: Ctx, region: str) -> str:
    return f"r{ctx.spec.regions.index(region) + 1}"


def build_region(ctx: Ctx, region: str, demand_vcpus: int, demand_ram_mb: int) -> None:
    est, rng = ctx.est, ctx.rng
    admin_id = ctx.admin_project.id
    ctx.flavors[region] = {
        name: make_flavor(est, name, vcpus, ram, disk, region) for name, vcpus, ram, disk, _ in FLAVORS
    }
    ctx.step(600)
    ctx.images[region] = []
    for name, distro, version, size_gb, min_disk, _ in IMAGES:
        windows = distro == "windows"
        props = {
            "hw_disk_bus": "virtio",
            "hw_qemu_guest_agent": "yes",
            "os_type": "windows" if windows else "linux",
            **uploaded_by_sdk(name),
        }
        image = make_image(
            est,
            name=name,
            owner=admin_id,
            region=region,
            os_distro=distro,
            os_version=version,
            size=int(size_gb * GIB),
            min_disk=min_disk,
            min_ram=2048 if windows else 0,
            properties=props,
        )
        ctx.images[region].append(image)
        ctx.step(rng.randint(60, 900))
    ctx.volume_types[region] = {
        name: make_volume_type(est, name, region, description, extra_specs={"volume_backend_name": backend})
        for name, description, backend, _ in VOLUME_TYPES
    }
    ctx.step(1800)
    _hypervisors(ctx, region, demand_vcpus, demand_ram_mb)
    _shared_networks(ctx, region)


def _hypervisors(ctx: Ctx, region: str, demand_vcpus: int, demand_ram_mb: int) -> None:
    est, rng, spec = ctx.est, ctx.rng, ctx.spec
    count = spec.hypervisors_per_region
    spare = (1 if count >= 6 else 0) + (1 if count >= 20 else 0)  # hosts out of service: no VMs on them
    usable = count - spare
    per_host = (
        demand_vcpus / max(1, usable) / FILL_TARGET,
        demand_ram_mb / 1024 / max(1, usable) / FILL_TARGET,
    )
    base = next(
        (i for i, c in enumerate(HOST_CLASSES) if c[0] >= per_host[0] and c[0] * c[1] >= per_host[1]),
        len(HOST_CLASSES) - 1,
    )
    code = region_code(ctx, region)
    rindex = spec.regions.index(region)
    by_az: dict[str, list[str]] = {az: [] for az in spec.azs}
    ctx.hosts[region] = []
    for n in range(1, count + 1):
        cls = HOST_CLASSES[min(len(HOST_CLASSES) - 1, base + (1 if rng.random() < 0.35 else 0))]
        threads, ram_per_thread, disk = cls
        az = spec.azs[(n - 1) % len(spec.azs)]
        hostname = f"{code}-kvm-{n:03d}.pf9sim.local"
        state, status = "up", "enabled"
        if n > usable:
            state, status = ("down", "enabled") if n == count and spare == 2 else ("up", "disabled")
        ip = f"10.{10 + rindex}.{n // 200}.{n % 200 + 20}"
        obj = make_hypervisor(
            est,
            hostname,
            ip,
            region,
            threads,
            threads * ram_per_thread * 1024,
            disk,
            az=az,
            state=state,
            status=status,
        )
        hot = stable_fraction(est.seed, hostname, "hot") < 0.2
        host = Host(
            obj,
            region,
            az,
            threads if n <= usable else 0,
            threads * ram_per_thread * 1024,
            disk,
            weight=3.0 if hot else 1.0,
        )
        ctx.hosts[region].append(host)
        by_az[az].append(obj["service"]["host"])
        ctx.step(rng.randint(60, 600))
    if spec.azs == ("nova",):
        make_aggregate(est, f"{code}-general", region, hosts=by_az["nova"])
        make_availability_zone(est, "nova", region, hosts=by_az["nova"])
    else:
        for az, hosts in by_az.items():
            make_aggregate(est, f"{code}-{az}", region, az=az, hosts=hosts)
            make_availability_zone(est, az, region, hosts=hosts)
    big = sorted(ctx.hosts[region], key=lambda h: (-h.ram, h.obj["hypervisor_hostname"]))[
        : max(1, count // 5)
    ]
    make_aggregate(
        est,
        f"{code}-highmem",
        region,
        hosts=[h.obj["service"]["host"] for h in big],
        metadata={"memory": "high"},
    )


def _shared_networks(ctx: Ctx, region: str) -> None:
    est, spec = ctx.est, ctx.spec
    admin_id = ctx.admin_project.id
    rindex = spec.regions.index(region)
    ext = make_network(
        est,
        name="public",
        project_id=admin_id,
        region=region,
        external=True,
        network_type="flat",
        description="Provider network for floating IPs",
    )
    ext_cidr = _nth_subnet("198.18.0.0/15", spec.external_prefix, rindex)
    make_subnet(
        est,
        network=ext,
        name="public-subnet",
        cidr=ext_cidr,
        enable_dhcp=False,
        dns_nameservers=("8.8.8.8", "1.1.1.1"),
    )
    ctx.external[region] = ext
    if len(spec.regions) > 1 or spec.servers > 50:
        shared = make_network(
            est,
            name="shared-services",
            project_id=admin_id,
            region=region,
            shared=True,
            description="Shared services (DNS, NTP, backup) reachable from every project",
        )
        subnet = make_subnet(
            est,
            network=shared,
            name="shared-services-subnet",
            cidr=_nth_subnet("100.64.0.0/14", 20, rindex),
            dns_nameservers=("100.64.0.2",),
        )
        _dhcp_port(ctx, shared, subnet)
        ctx.shared_net[region] = shared
    ctx.step(900)


def _nth_subnet(supernet: str, prefix: int, index: int) -> str:
    net = ipaddress.ip_network(supernet)
    size = 2 ** (32 - prefix)
    return f"{ipaddress.ip_address(int(net.network_address) + index * size)}/{prefix}"


def _dhcp_port(ctx: Ctx, network: dict[str, Any], subnet: dict[str, Any]) -> None:
    """DHCP ports as Neutron's agents make them (from `large` on, two agents per network)."""
    for n in range(1, 2 + (ctx.spec.servers >= 1000)):
        agent = stable_uuid(ctx.est.seed, network["_region"], "dhcp-agent", n)
        make_port(
            ctx.est,
            network=network,
            project_id=network["project_id"],
            device_id=f"dhcp{agent}-{network['id']}",
            device_owner="network:dhcp",
            fixed_ips=[{"subnet_id": subnet["id"]}],
            security_group_ids=[],
            binding_host_id=f"{region_code(ctx, network['_region'])}-net-{n:02d}",
        )


def onboard(ctx: Ctx, ten: Tenancy, block: int, windows: bool) -> None:
    """A project's first day in a region: networks, router, security groups, keypairs, golden images."""
    est, rng, spec = ctx.est, ctx.rng, ctx.spec
    project, region = ten.project, ten.region
    pid, short = project.id, project.short
    names = [f"{short}-net"]
    if project.kind in ("prod", "team", "admin"):
        names.append(f"{short}-backend")
    ten.router = make_router(
        est, name=f"{short}-router", project_id=pid, region=region, external_network=ctx.external[region]
    )
    for offset, name in enumerate(names):
        net = make_network(est, name=name, project_id=pid, region=region)
        cidr = _nth_subnet("10.0.0.0/8", spec.project_net_prefix, block * 2 + offset)
        subnet = make_subnet(
            est, network=net, name=f"{name}-subnet", cidr=cidr, dns_nameservers=("10.0.0.2",)
        )
        _dhcp_port(ctx, net, subnet)
        add_router_interface(est, ten.router, subnet)
        ten.networks.append(net)
        ten.subnets.append(subnet)
        ctx.step(rng.randint(5, 120))
    _security_groups(ctx, ten, windows)
    if project.kind in ("prod", "team"):
        ten.server_groups["app-tier"] = make_server_group(
            est, "app-tier", pid, project.members[0], "soft-anti-affinity", region
        )
    for uid in project.members:
        known = ctx.keypairs.get((uid, region))
        if known is None:
            device = rng.choice(("laptop", "ci", "ops", "key"))
            known = ctx.keypairs[(uid, region)] = f"{est.get('users', uid)['name']}-{device}"
            make_keypair(est, known, uid, region)
        ten.keypairs[uid] = known
    if project.kind in ("prod", "team") and rng.random() < 0.5:
        base = rng.choice([i for i in IMAGES if i[1] in ("ubuntu", "rhel", "debian")])
        golden = f"{short}-golden-{base[1]}{base[2]}-2026.{rng.randint(3, 9):02d}"
        image = make_image(
            est,
            name=golden,
            owner=pid,
            region=region,
            os_distro=base[1],
            os_version=base[2],
            visibility="private",
            size=int(base[3] * 1.6 * GIB),
            min_disk=base[4],
            properties=uploaded_by_sdk(golden),
        )
        ten.private_images.append(image)
    ten.ready = True


def _rule(
    est,
    group,
    direction="ingress",
    protocol=None,
    port=None,
    prefix=None,
    ethertype="IPv4",
    remote_group=None,
    port_max=None,
    description="",
):
    return make_security_group_rule(
        est,
        security_group=group,
        direction=direction,
        ethertype=ethertype,
        protocol=protocol,
        port_range_min=port,
        port_range_max=port_max if port_max is not None else port,
        remote_ip_prefix=prefix,
        remote_group_id=remote_group,
        description=description,
    )


def _security_groups(ctx: Ctx, ten: Tenancy, windows: bool) -> None:
    est, rng = ctx.est, ctx.rng
    pid, region = ten.project.id, ten.region
    risky_ssh = rng.random() < 0.3
    risky_rdp = rng.random() < 0.4
    groups = ten.groups

    def group(name: str, description: str) -> dict[str, Any]:
        groups[name] = make_security_group(
            est, name=name, project_id=pid, region=region, description=description
        )
        return groups[name]

    group("default", "")
    web = group("web", "HTTP and HTTPS from anywhere")
    for port in (80, 443):
        _rule(est, web, protocol="tcp", port=port, prefix=WORLD4)
    _rule(est, web, protocol="tcp", port=443, prefix=WORLD6, ethertype="IPv6")
    ssh = group("ssh", "SSH for administrators")
    _rule(
        est,
        ssh,
        protocol="tcp",
        port=22,
        prefix=WORLD4 if risky_ssh else "10.0.0.0/8",
        description="temporary: vendor access" if risky_ssh else "",
    )
    _rule(est, ssh, protocol="icmp", prefix="10.0.0.0/8")
    app = group("app", "Application tier")
    _rule(est, app, protocol="tcp", port=8080, port_max=8090, remote_group=web["id"])
    db = group("db", "Databases: only from the application tier")
    for port in (5432, 3306):
        _rule(est, db, protocol="tcp", port=port, remote_group=app["id"])
    if windows:
        rdp = group("rdp", "Remote desktop")
        _rule(est, rdp, protocol="tcp", port=3389, prefix=WORLD4 if risky_rdp else "10.20.0.0/16")
    if rng.random() < 0.06:
        wide = group("allow-all-debug", "DEBUG - remove after troubleshooting")
        _rule(est, wide, prefix=WORLD4)
