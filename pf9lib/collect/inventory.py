"""Collect a cloud's inventory: every descriptor, every region, in parallel, into one store run per cloud."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import openstack

from pf9lib.collect.pager import ListingError, RetryPolicy, get_json, iter_pages
from pf9lib.normalize.rows import Lookups, normalize_columns
from pf9lib.resources import ALL_TYPES, RESOURCES, Resource
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
    fetch_s: float = 0.0  # wall time until the last listing arrived (storing overlaps it)
    store_s: float = 0.0  # wall time of storing what was left after the last listing arrived
    ingest_s: float = 0.0  # CPU time spent in normalize + change detection + writing

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
        self, desc: Resource, region: str, calls: list[tuple[str, dict[str, str]]] | None = None
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
        template, key = RESOURCES["quotas"].calls[service]
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
    """One row per (service, project): limits are configuration, usage is volatile (pf9lib.resources)."""
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
    return fetch_all(fetcher, regions, list(types or ALL_TYPES))


def collect_cloud(
    settings,
    data_dir: Path | str,
    types: list[str] | None = None,
    progress: Callable[[str, Listing], None] | None = None,
    policy: RetryPolicy | None = None,
    started_at: datetime | None = None,
) -> RunResult:
    """One run for one cloud: every region, every type; listings that fail make the run partial.

    `started_at` dates the run (default now): simulated histories use the simulated clock.
    """
    from pf9lib import __version__

    wanted = list(types or ALL_TYPES)
    unknown = [t for t in wanted if t not in RESOURCES]
    if unknown:
        from pf9lib.errors import ConfigError

        known = ", ".join(ALL_TYPES)
        raise ConfigError(f"unknown resource type(s) {', '.join(unknown)}: choose from {known}")
    fetcher, regions = _fetcher_for(settings, policy)
    writer = RunWriter(
        data_dir, settings.cloud, regions, wanted, started_at=started_at, tool_version=__version__
    )
    store = _IncrementalStore(writer)
    try:
        started = time.perf_counter()
        # Each listing is stored as soon as it is complete, while the others are still being fetched.
        for listing in _iter_listings(fetcher, regions, wanted):
            if progress:
                progress("fetched", listing)
            store.add(listing)
        fetched = time.perf_counter()
        store.flush()
        status = writer.finish()
    except BaseException as exc:
        writer.finish("failed", f"{type(exc).__name__}: {exc}")
        raise
    stored = time.perf_counter()
    return RunResult(
        settings.cloud,
        writer.run_id,
        status,
        writer.stats,
        fetched - started,
        stored - fetched,
        store.ingest_s,
    )


def _iter_listings(fetcher: _Fetcher, regions: list[str], wanted: list[str]) -> Iterator[Listing]:
    """Each wanted listing (and the identity ones enrichment needs) per (type, region), as it completes."""
    parts: dict[tuple[str, str], int] = {}  # how many chunks each (type, region) is fetched in
    futures: list[Future] = []

    with ThreadPoolExecutor(max_workers=12) as pool:

        def submit(kind: str, region: str, fn: Callable[..., Listing], *args: Any) -> Future:
            parts[(kind, region)] = parts.get((kind, region), 0) + 1
            futures.append(pool.submit(fn, *args))
            return futures[-1]

        # Identity first: enrichment, per-project quotas and per-user keypairs need it.
        ident = {
            t: submit(t, GLOBAL_REGION, fetcher.listing, RESOURCES[t], GLOBAL_REGION)
            for t in ("domains", "projects", "users")
        }
        for t in wanted:
            desc = RESOURCES[t]
            if t in ident or desc.scope in ("per_project", "per_user"):
                continue
            for region in (
                [GLOBAL_REGION] if desc.scope == "global" else regions if desc.scope == "region" else []
            ):
                submit(t, region, fetcher.listing, desc, region)
        projects = ident["projects"].result()
        users = ident["users"].result()
        # Per-project and per-user calls are many small requests: spread them over the pool in chunks.
        if "quotas" in wanted:
            for chunk in _chunks([p["id"] for p in projects.objects], CHUNK):
                for region in regions:
                    for service in RESOURCES["quotas"].calls:
                        submit("quotas", region, fetcher.quotas, region, service, chunk)
        if "keypairs" in wanted:
            calls = [(RESOURCES["keypairs"].path, {"user_id": u["id"]}) for u in users.objects]
            for chunk in _chunks(calls, CHUNK):
                for region in regions:
                    submit("keypairs", region, fetcher.listing, RESOURCES["keypairs"], region, chunk)
        arrived: dict[tuple[str, str], list[Listing]] = {}
        for future in as_completed(futures):
            part = future.result()
            key = (part.type, part.region)
            arrived.setdefault(key, []).append(part)
            if len(arrived[key]) == parts[key]:
                yield _cleaned(_merge(arrived.pop(key)))


def fetch_all(fetcher: _Fetcher, regions: list[str], wanted: list[str]) -> list[Listing]:
    return list(_iter_listings(fetcher, regions, wanted))


def _cleaned(listing: Listing) -> Listing:
    clean = RESOURCES[listing.type].clean
    if clean is not None:
        listing.objects = clean(listing.objects)
    return listing


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _merge(parts: list[Listing]) -> Listing:
    """One listing out of the chunks of one (type, region)."""
    whole = Listing(parts[0].type, parts[0].region, [], True, None, 0.0)
    for part in parts:
        whole.objects.extend(part.objects)
        whole.complete = whole.complete and part.complete
        whole.error = "; ".join(e for e in (whole.error, part.error) if e) or None
        whole.duration_s = max(whole.duration_s, part.duration_s)
    return whole


_LOOKUP_TYPES = frozenset(Lookups.SOURCES)


class _IncrementalStore:
    """Stores listings as they arrive, holding back those whose enrichment needs a listing not yet here."""

    def __init__(self, writer: RunWriter) -> None:
        self.writer = writer
        self.ingest_s = 0.0
        self._lookups: dict[str, tuple[tuple[int, ...], Lookups]] = {}
        self.seen: dict[tuple[str, str], Listing] = {}
        self.waiting: list[Listing] = []

    def _ready(self, listing: Listing) -> bool:
        needs = [("projects", GLOBAL_REGION), ("domains", GLOBAL_REGION)]
        wanted = set(self.writer.types)
        needs += [(kind, listing.region) for kind in RESOURCES[listing.type].needs if kind in wanted]
        return all(key in self.seen for key in needs)

    def add(self, listing: Listing) -> None:
        self.seen[(listing.type, listing.region)] = listing
        self.waiting.append(listing)
        still = []
        for item in self.waiting:
            if self._ready(item):
                self._write(item)
            else:
                still.append(item)
        self.waiting = still

    def flush(self) -> None:
        for item in self.waiting:
            self._write(item)
        self.waiting = []

    def _write(self, listing: Listing) -> None:
        if listing.type not in self.writer.types:
            return

        def objects(kind: str, region: str = GLOBAL_REGION) -> list[dict[str, Any]]:
            found = self.seen.get((kind, region))
            return found.objects if found else []

        started = time.thread_time()  # CPU time of this thread: storing overlaps fetching
        region = listing.region
        sources = [("projects", GLOBAL_REGION), ("domains", GLOBAL_REGION)] + [
            (kind, region) for kind in Lookups.SOURCES[2:]
        ]
        # Rebuilt only when one of its listings has arrived since: indexing 30k ports per listing adds up.
        key = tuple(id(self.seen.get(source)) for source in sources)
        cached = self._lookups.get(region)
        if cached is None or cached[0] != key:
            cached = (key, Lookups.from_raw(*(objects(*source) for source in sources)))
            self._lookups[region] = cached
        lookups = cached[1]
        self.writer.write_type(
            listing.type,
            listing.region,
            listing.objects,
            listing.complete,
            partial(normalize_columns, listing.type, lookups=lookups),
            listing.duration_s,
            listing.error,
        )
        if listing.type not in _LOOKUP_TYPES:  # free the raw objects: only lookups are needed later
            listing.objects = []
        self.ingest_s += time.thread_time() - started
