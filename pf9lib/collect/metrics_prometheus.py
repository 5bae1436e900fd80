"""Prometheus as the source: read exporter series through /api/v1/query_range instead of scraping.

For operators who already run Prometheus over node_exporter and the libvirt exporter. The raw series the
scraper would have read (same metric names) are fetched per step and fed through the same derivation, storage
and alert evaluation as scrapes, one step after another. Each series is timed by its own scrape
(`timestamp(up)` of its instance), so a step that reuses the previous scrape's sample says "no time elapsed"
instead of a rate of zero. Instances map to hosts by address (the `instance` label without its port), through
the inventory or PF9_HOST_MAP.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from pf9lib.collect.metrics import TargetResult, run_async
from pf9lib.collect.metrics_parse import LIBVIRT_METRICS, NODE_METRICS, libvirt_readings, node_reading
from pf9lib.collect.metrics_targets import LIBVIRT, NODE, Host, Target
from pf9lib.errors import Pf9Error

MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series in one query
CHUNK = timedelta(hours=1)  # steps processed and written per chunk: memory stays bounded on long imports
SCRAPE_TIME = "timestamp(up)"


class PrometheusError(Pf9Error):
    """Prometheus could not be queried (unreachable, or it answered an error)."""


@dataclass
class _Series:
    kind: str
    instance: str
    name: str
    labels: dict[str, str]
    values: dict[float, float]


async def query_range(
    session: aiohttp.ClientSession, base_url: str, query: str, start: float, end: float, step: float
) -> list[dict[str, Any]]:
    """The `result` matrix of one /api/v1/query_range call; PrometheusError on any failure."""
    url = base_url.rstrip("/") + "/api/v1/query_range"
    params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    try:
        async with session.get(url, params=params) as resp:
            body = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise PrometheusError(
            f"cannot query Prometheus at {base_url} ({exc or type(exc).__name__}); check --prometheus-url"
        ) from None
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else str(body)[:200]
        raise PrometheusError(f"Prometheus at {base_url} answered an error for {query!r}: {error}")
    data = body.get("data") or {}
    if data.get("resultType") != "matrix":
        raise PrometheusError(f"Prometheus at {base_url} did not answer a matrix for {query!r}")
    return data.get("result") or []


async def _fetch(base_url: str, start: float, end: float, step: float, timeout_s: float) -> list[_Series]:
    queries = sorted(NODE_METRICS | LIBVIRT_METRICS) + [SCRAPE_TIME]
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    limit = asyncio.Semaphore(8)

    async def one(session: aiohttp.ClientSession, query: str) -> list[dict[str, Any]]:
        async with limit:
            return await query_range(session, base_url, query, start, end, step)

    async with aiohttp.ClientSession(timeout=timeout) as session:
        answers = await asyncio.gather(*(one(session, q) for q in queries))
    out = []
    for query, result in zip(queries, answers, strict=True):
        for item in result:
            labels = dict(item.get("metric") or {})
            name = "up_time" if query == SCRAPE_TIME else labels.pop("__name__", query)
            instance = labels.get("instance", "")
            kind = NODE if name.startswith("node_") else LIBVIRT if name.startswith("libvirt_") else ""
            values = {float(t): float(v) for t, v in item.get("values") or []}
            out.append(_Series(kind, instance, name, labels, values))
    return out


@dataclass
class PrometheusChunk:
    """One chunk of an import: the readings of every step (time, one result per instance), in order."""

    steps: list[tuple[datetime, list[TargetResult]]]
    samples: int
    fetch_s: float
    base_url: str


def fetch_range(
    base_url: str,
    start: datetime,
    end: datetime,
    step_s: float = 60.0,
    hosts: Iterable[Host] = (),
    host_map: dict[str, str] | None = None,
    timeout_s: float = 60.0,
) -> Iterator[PrometheusChunk]:
    """[start, end] at `step_s`, an hour of steps at a time (memory stays bounded on long imports)."""
    if end <= start or step_s <= 0:
        raise PrometheusError("the import range is empty: give --since before now and a positive --step")
    resolver = _Resolver(hosts, host_map or {})
    per_chunk = max(1, min(MAX_POINTS, int(CHUNK.total_seconds() // step_s)))
    total = int((end - start).total_seconds() // step_s) + 1
    for first in range(0, total, per_chunk):
        last = min(total, first + per_chunk) - 1
        t0 = time.monotonic()
        a, b = start.timestamp() + first * step_s, start.timestamp() + last * step_s
        series = run_async(_fetch(base_url, a, b, step_s, timeout_s))
        fetch_s = time.monotonic() - t0
        yield PrometheusChunk(
            _steps(series, resolver, base_url), sum(len(s.values) for s in series), fetch_s, base_url
        )


def _steps(
    series: list[_Series], resolver: _Resolver, base_url: str
) -> list[tuple[datetime, list[TargetResult]]]:
    scrape_times: dict[str, dict[float, float]] = {}
    by_instance: dict[tuple[str, str], list[_Series]] = defaultdict(list)
    steps: set[float] = set()
    for s in series:
        if s.name == "up_time":
            scrape_times[s.instance] = s.values
        elif s.kind:
            by_instance[(s.kind, s.instance)].append(s)
            steps.update(s.values)
    out = []
    for step in sorted(steps):
        ts = datetime.fromtimestamp(step, UTC)
        out.append(
            (
                ts,
                [
                    _result(
                        kind,
                        inst,
                        members,
                        step,
                        ts,
                        scrape_times.get(inst, {}).get(step),
                        resolver,
                        base_url,
                    )
                    for (kind, inst), members in sorted(by_instance.items())
                ],
            )
        )
    return out


class _Resolver:
    """instance label → Target: by address (instance without port) against the known hosts."""

    def __init__(self, hosts: Iterable[Host], host_map: dict[str, str]) -> None:
        self.by_address = {}
        for h in hosts:
            self.by_address[h.address] = h
            if h.hypervisor_hostname:
                self.by_address.setdefault(h.hypervisor_hostname, h)
        self.host_map = host_map

    def target(self, kind: str, instance: str, base_url: str) -> Target:
        address = instance.rsplit(":", 1)[0].strip("[]") if ":" in instance else instance
        host = self.by_address.get(address) or Host(self.host_map.get(address, address), address)
        url = f"{base_url.rstrip('/')}/api/v1/query_range#instance={instance}"
        return Target(kind, host.name, host.address, url, host.hypervisor_hostname)


def _result(
    kind: str,
    instance: str,
    members: list[_Series],
    step: float,
    ts: datetime,
    scraped: float | None,
    resolver: _Resolver,
    base_url: str,
) -> TargetResult:
    target = resolver.target(kind, instance, base_url)
    samples = [(s.name, s.labels, s.values[step]) for s in members if step in s.values]
    if not samples:
        return TargetResult(target, False, ts, 0.0, error=f"no samples in Prometheus at {ts.isoformat()}")
    result = TargetResult(target, True, ts, 0.0, samples=len(samples))
    if kind == NODE:
        result.node = node_reading(samples)
        # The scrape's own time (Prometheus' sample timestamp) is this host's clock for rates.
        result.node.node_time = scraped if scraped is not None else result.node.node_time
    else:
        result.domains, _ = libvirt_readings(samples)
        result.clock = scraped
    return result
