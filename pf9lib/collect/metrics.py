"""Scraping: every exporter target at once (aiohttp), with bounded concurrency and a per-target timeout.

Each target's outcome (up, error, duration, samples, bytes, the parsed readings) is returned, never raised:
a target that cannot be reached is a result too. What happens to the readings (derivation, storage, alerts)
is pf9lib.pipeline's business.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from pf9lib.collect.metrics_parse import (
    LIBVIRT_METRICS,
    NODE_METRICS,
    DomainReading,
    NodeReading,
    libvirt_readings,
    node_reading,
    parse_samples,
)
from pf9lib.collect.metrics_targets import NODE, Target

USER_AGENT = "pf9wb-metrics/1"


@dataclass
class TargetResult:
    target: Target
    up: bool
    ts: datetime
    duration_s: float
    error: str | None = None
    samples: int = 0
    bytes: int = 0
    node: NodeReading | None = None
    domains: list[DomainReading] | None = None
    text: str | None = None
    clock: float | None = None  # when the page's own time is known otherwise (Prometheus' sample time)


# --------------------------------------------------------------------------------------------- scraping


async def scrape_all(targets: list[Target], options: Any) -> list[TargetResult]:
    """Fetch and parse every target; results in target order, failures recorded, never raised."""
    timeout = aiohttp.ClientTimeout(total=options.timeout_s)
    connector = aiohttp.TCPConnector(limit=options.concurrency, limit_per_host=0, force_close=False)
    limit = asyncio.Semaphore(options.concurrency)
    headers = {"User-Agent": USER_AGENT, "Accept": "text/plain;version=0.0.4"}
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=headers) as session:
        return list(await asyncio.gather(*(_scrape(session, limit, t, options) for t in targets)))


async def _scrape(
    session: aiohttp.ClientSession, limit: asyncio.Semaphore, target: Target, options: Any
) -> TargetResult:
    async with limit:
        started = time.monotonic()
        try:
            async with session.get(target.url) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise _TargetError(f"HTTP {resp.status} from {target.url}")
            ts = options.clock()
            text = body.decode("utf-8", errors="replace")
            result = TargetResult(target, True, ts, time.monotonic() - started, bytes=len(body))
            _parse_into(result, text)
            if options.keep_text:
                result.text = text
            return result
        except TimeoutError:
            error = f"timeout after {options.timeout_s:g} s"
        except aiohttp.ClientConnectorError as exc:
            error = f"cannot connect to {target.url}: {exc.os_error.strerror or exc.os_error}"
        except (aiohttp.ClientError, _TargetError, ValueError, UnicodeError) as exc:
            error = str(exc) or type(exc).__name__
        return TargetResult(target, False, options.clock(), time.monotonic() - started, error=error)


class _TargetError(Exception):
    pass


def run_async(coro):
    """asyncio.run, also from inside a running loop (a notebook's): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _parse_into(result: TargetResult, text: str) -> None:
    try:
        if result.target.kind == NODE:
            samples = parse_samples(text, NODE_METRICS)
            result.node = node_reading(samples)
            if result.node.cpu_total_s is None and result.node.mem_total_bytes is None:
                raise _TargetError(f"{result.target.url} is not a node_exporter page (no node_cpu/memory)")
        else:
            samples = parse_samples(text, LIBVIRT_METRICS)
            result.domains, libvirt_up = libvirt_readings(samples)
            if libvirt_up is False:
                raise _TargetError(f"libvirt_up=0 at {result.target.url}: the exporter cannot reach libvirt")
    except ValueError as exc:
        raise _TargetError(f"unparseable page at {result.target.url}: {exc}") from None
    result.samples = len(samples)
