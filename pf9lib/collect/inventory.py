"""Collect a cloud's inventory: every descriptor, every region, in parallel, into one store run per cloud."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import openstack

from pf9lib.collect.descriptors import BY_TYPE, QUOTA_CALLS, Descriptor
from pf9lib.collect.pager import ListingError, RetryPolicy, get_json, iter_pages
from pf9lib.normalize.rows import Lookups, normalize
from pf9lib.store.writer import RunWriter, TypeStats

GLOBAL_REGION = "global"  # Keystone objects belong to the cloud, not to a region
PER_SERVICE_CONCURRENCY = 4
CHUNK = 40  # per-project / per-user calls handed to one worker at a time
_PROXIES = {
    "identity": "identity",
    "compute": "compute",
    "block-storage": "block_storage",
    "image": "image",
    "network": "network",
}
# Descriptor paths are relative to the versioned endpoint the SDK discovers (…/v2.0, …/v2, …/v3).
_STRIP_PREFIX = {"identity": "/v3", "network": "/v2.0", "image": "/v2"}


@dataclass
class Listing:
    type: str
    region: str
    objects: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = True
    error: str | None = None
    duration_s: float = 0.0


@dataclass
class RunResult:
    cloud: str
    run_id: str
    status: str
    stats: list[TypeStats]
    fetch_s: float = 0.0  # wall time of the listings
    store_s: float = 0.0  # wall time of normalize + change detection + writing

    @property
    def exit_code(self) -> int:
        return {"success": 0, "partial": 3}.get(self.status, 1)


class _Fetcher:
    """Pages listings through one connection per region, bounded per service."""

    def __init__(self, conns: dict[str, openstack.connection.Connection], policy: RetryPolicy) -> None:
        self.conns = conns
        self.policy = policy
        self.limits = {service: threading.BoundedSemaphore(PER_SERVICE_CONCURRENCY) for service in _PROXIES}

    def proxy(self, region: str, service: str) -> Any:
        conn = self.conns[region] if region != GLOBAL_REGION else next(iter(self.conns.values()))
        return getattr(conn, _PROXIES[service])

    def listing(
        self, desc: Descriptor, region: str, calls: list[tuple[str, dict[str, str]]] | None = None
    ) -> Listing:
        result = Listing(desc.type, region)
        started = time.monotonic()
        path = desc.path.removeprefix(_STRIP_PREFIX.get(desc.service, ""))
        with self.limits[desc.service]:
            try:
                for call_path, params in calls or [(path, dict(desc.params))]:
                    for page in iter_pages(
                        self.proxy(region, desc.service), desc, call_path, params, self.policy
                    ):
                        result.objects.extend(page)
            except ListingError as exc:
                result.complete, result.error = False, str(exc)
        result.duration_s = time.monotonic() - started
        return result

    def quotas(self, region: str, service: str, project_ids: list[str]) -> Listing:
        """One service's quotas (with usage) for some projects: one call per project, no bulk API exists."""
        result = Listing("quotas", region)
        started = time.monotonic()
        template, key = QUOTA_CALLS[service]
        path = template.removeprefix(_STRIP_PREFIX.get(service, ""))
        with self.limits[service]:
            for project_id in project_ids:
                call, _, query = path.format(project_id=project_id).partition("?")
                params = dict(p.split("=", 1) for p in query.split("&") if p)
                try:
                    body = get_json(self.proxy(region, service), call, params, None, self.policy)
                except ListingError as exc:
                    result.complete, result.error = False, str(exc)
                    continue
                result.objects.append(_quota_object(service, project_id, body.get(key) or {}))
        result.duration_s = time.monotonic() - started
        return result


def _quota_object(service: str, project_id: str, quota: dict[str, Any]) -> dict[str, Any]:
    """One row per (service, project): limits are configuration, usage is volatile (see normalize.spec)."""
    limits, usage = {}, {}
    for resource, value in sorted(quota.items()):
        if resource == "id":
            continue
        if isinstance(value, dict):
            limits[resource] = value.get("limit")
            usage[resource] = {
                "in_use": value.get("in_use", value.get("used")),
                "reserved": value.get("reserved"),
            }
        else:
            limits[resource] = value
    return {"project_id": project_id, "service": service, "limits": limits, "usage": usage}


def discover_regions(conn: openstack.connection.Connection) -> list[str]:
    access = conn.session.auth.get_access(conn.session)
    regions = {
        ep.get("region_id") or ep.get("region")
        for svc in access.service_catalog.catalog
        for ep in svc.get("endpoints", [])
    }
    return sorted(r for r in regions if r)


def _fetcher_for(settings, policy: RetryPolicy | None) -> tuple[_Fetcher, list[str]]:
    first = openstack.connection.Connection(config=settings.cloud_region())
    regions = list(settings.regions) or discover_regions(first)
    conns = {
        region: openstack.connection.Connection(config=settings.cloud_region(region)) for region in regions
    }
    return _Fetcher(conns, policy or RetryPolicy()), regions


def fetch_only(settings, types: list[str] | None = None, policy: RetryPolicy | None = None) -> list[Listing]:
    """Fetch every listing without normalizing or storing: the floor a full collect is measured against."""
    fetcher, regions = _fetcher_for(settings, policy)
    return _fetch_all(fetcher, regions, list(types or [*BY_TYPE, "quotas"]), None)


def collect_cloud(
    settings,
    data_dir: Path | str,
    types: list[str] | None = None,
    progress: Callable[[str, Listing], None] | None = None,
    policy: RetryPolicy | None = None,
) -> RunResult:
    """One run for one cloud: every region, every type; listings that fail make the run partial."""
    from pf9lib import __version__

    wanted = list(types or [*BY_TYPE, "quotas"])
    unknown = [t for t in wanted if t not in BY_TYPE and t != "quotas"]
    if unknown:
        from pf9lib.errors import ConfigError

        raise ConfigError(
            f"unknown resource type(s) {', '.join(unknown)}: choose from {', '.join(BY_TYPE)}, quotas"
        )
    fetcher, regions = _fetcher_for(settings, policy)
    writer = RunWriter(data_dir, settings.cloud, regions, wanted, tool_version=__version__)
    try:
        started = time.perf_counter()
        listings = _fetch_all(fetcher, regions, wanted, progress)
        fetched = time.perf_counter()
        _store(writer, listings)
        status = writer.finish()
    except BaseException as exc:
        writer.finish("failed", f"{type(exc).__name__}: {exc}")
        raise
    stored = time.perf_counter()
    return RunResult(settings.cloud, writer.run_id, status, writer.stats, fetched - started, stored - fetched)


def _fetch_all(
    fetcher: _Fetcher, regions: list[str], wanted: list[str], progress: Callable[[str, Listing], None] | None
) -> list[Listing]:
    identity_needed = {"domains", "projects", "users", "networks"}
    listings: list[Listing] = []
    with ThreadPoolExecutor(max_workers=12) as pool:
        # Identity first: enrichment, per-project quotas and per-user keypairs need it.
        ident = {
            t: pool.submit(fetcher.listing, BY_TYPE[t], GLOBAL_REGION)
            for t in ("domains", "projects", "users")
        }
        futures: list[Future] = [f for t, f in ident.items() if t in wanted]
        for t in wanted:
            desc = BY_TYPE.get(t)
            if desc is None or t in ident:
                continue
            if desc.scope == "global":
                futures.append(pool.submit(fetcher.listing, desc, GLOBAL_REGION))
            elif desc.scope == "region":
                futures += [pool.submit(fetcher.listing, desc, region) for region in regions]
        projects = ident["projects"].result()
        users = ident["users"].result()
        # Per-project and per-user calls are many small requests: spread them over the pool in chunks.
        if "quotas" in wanted:
            for chunk in _chunks([p["id"] for p in projects.objects], CHUNK):
                futures += [
                    pool.submit(fetcher.quotas, region, service, chunk)
                    for region in regions
                    for service in QUOTA_CALLS
                ]
        if "keypairs" in wanted:
            calls = [(BY_TYPE["keypairs"].path, {"user_id": u["id"]}) for u in users.objects]
            for chunk in _chunks(calls, CHUNK):
                futures += [
                    pool.submit(fetcher.listing, BY_TYPE["keypairs"], region, chunk) for region in regions
                ]
        for future in futures:
            listing = future.result()
            listings.append(listing)
            if progress:
                progress("fetched", listing)
        for t, future in ident.items():
            if t not in wanted and t in identity_needed:
                listings.append(future.result())
    listings = _merge(listings)
    for listing in listings:
        if listing.type == "keypairs":  # keypairs come wrapped: {"keypair": {...}}
            listing.objects = [k.get("keypair", k) for k in listing.objects]
        if listing.type == "availability_zones":  # "internal" holds control-plane services, not placements
            listing.objects = [z for z in listing.objects if z.get("zoneName") != "internal"]
    return listings


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _merge(listings: list[Listing]) -> list[Listing]:
    """One listing per (type, region) out of the chunks it was fetched in."""
    merged: dict[tuple[str, str], Listing] = {}
    for part in listings:
        key = (part.type, part.region)
        if key not in merged:
            merged[key] = Listing(
                part.type, part.region, list(part.objects), part.complete, part.error, part.duration_s
            )
            continue
        whole = merged[key]
        whole.objects.extend(part.objects)
        whole.complete = whole.complete and part.complete
        whole.error = "; ".join(e for e in (whole.error, part.error) if e) or None
        whole.duration_s = max(whole.duration_s, part.duration_s)
    return list(merged.values())


def _store(writer: RunWriter, listings: list[Listing]) -> None:
    by = {(lst.type, lst.region): lst for lst in listings}
    projects = by.get(("projects", GLOBAL_REGION), Listing("projects", GLOBAL_REGION)).objects
    domains = by.get(("domains", GLOBAL_REGION), Listing("domains", GLOBAL_REGION)).objects
    for listing in listings:
        if listing.type not in writer.types:
            continue
        networks = by.get(("networks", listing.region), Listing("networks", listing.region)).objects
        lookups = Lookups.from_raw(projects, domains, networks)
        writer.write_type(
            listing.type,
            listing.region,
            listing.objects,
            listing.complete,
            partial(normalize, listing.type, lookups=lookups),
            listing.duration_s,
            listing.error,
        )
