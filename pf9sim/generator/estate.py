"""Deterministic estate generator: `generate(seed, size)` builds a realistic cloud with ~120 days of history.

The same (seed, size) always gives byte-identical `json.dumps(estate.objects)`. Sizes (see
catalog.SIZES): tiny (one region, ~12 servers; what tests use), small (the demo: two regions,
~200 VMs), large (~1k VMs) and xl (~10k servers, ~15k volumes, ~40k snapshots, ~30k ports).

The clock starts 120 days before state.EPOCH and moves forward as things are made, so created/updated times
spread over that history; the estate is returned with its clock at EPOCH. Steps, in order:
  identity.py    domains, projects, users, groups, roles, grants
  workload.py    plan of every server (needed to size the hypervisors)
  infra.py       per region: flavors, images, volume types, hypervisors, AZs, aggregates, shared
                 networks; per project and region, when it is onboarded: networks, router, security
                 groups, keypairs
  workload.py    servers in time order with ports, volumes, floating IPs, server groups, later events
  snapshots.py   automatic snapshots at their policy times, manual snapshots
  quotas.py      limits per project, service and region
"""

from __future__ import annotations

from pf9sim.generator.base import START, Ctx, stable_fraction
from pf9sim.generator.catalog import SIZES
from pf9sim.generator.identity import build_identity
from pf9sim.generator.infra import build_region
from pf9sim.generator.quotas import build_quotas
from pf9sim.generator.workload import demand, plan, schedule
from pf9sim.state import EPOCH, Estate

__all__ = ["SIZES", "generate"]


def generate(
    seed: int = 42,
    size: str = "small",
    admin_password: str = "pf9sim-admin",
    service_user_email: str = "snapshot-svc@pf9sim.local",
    service_user_password: str = "pf9sim-snapshots",
) -> Estate:
    """Build the estate for (seed, size); deterministic (only the estate's own RNG is used)."""
    if size not in SIZES:
        raise ValueError(f"unknown estate size {size!r}: use one of {', '.join(SIZES)}")
    spec = SIZES[size]
    est = Estate(seed=seed, size=size, regions=list(spec.regions), clock=START)
    ctx = Ctx(est, spec, admin_password, service_user_email, service_user_password)
    build_identity(ctx)
    plans = plan(ctx)
    for region in spec.regions:
        build_region(ctx, region, *demand(plans, region))
    schedule(ctx, plans)
    ctx.run_events()
    _ensure_failed_snapshot(est)
    build_quotas(ctx)
    _host_load_levels(est)
    est.clock = EPOCH
    est.touch()
    return est


def _ensure_failed_snapshot(est: Estate) -> None:
    """Even the smallest estate shows a failed snapshot (a run that went wrong at creation)."""
    snaps = list(est.objects["snapshots"].values())
    if snaps and not any(s["status"] == "error" for s in snaps):
        snap = snaps[est.rng.randrange(len(snaps))]
        snap["status"] = "error"
        snap["os-extended-snapshot-attributes:progress"] = "0%"


def _host_load_levels(est: Estate) -> None:
    """Each hypervisor's CPU load level for the exporters ("_cpu_level", hidden): from the vCPUs of the
    running VMs placed on it, times how busy its guests are; hot hosts run above 85 %. Fixed from here on so
    that the exporters' counters stay monotonic while VMs come and go."""
    allocated: dict[str, int] = {}
    for server in est.all("servers"):
        host = server.get("OS-EXT-SRV-ATTR:hypervisor_hostname")
        if host and server["status"] == "ACTIVE":
            allocated[host] = allocated.get(host, 0) + server["flavor"]["vcpus"]
    for hyp in est.all("hypervisors"):
        name = hyp["hypervisor_hostname"]
        share = allocated.get(name, 0) / max(1, hyp["vcpus"])
        if stable_fraction(est.seed, name, "hot") < 0.2:
            busy = 0.95 + 0.25 * stable_fraction(est.seed, name, "busy")
        else:
            busy = 0.25 + 0.5 * stable_fraction(est.seed, name, "busy")
        hyp["_cpu_level"] = round(min(0.93, 0.04 + share * busy), 4)
