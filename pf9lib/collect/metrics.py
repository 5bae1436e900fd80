"""Metrics cycle: scrape every exporter target at once (aiohttp), derive host/VM values, store them, alert.

One cycle = every target scraped with bounded concurrency and a per-target timeout; each target's outcome
(up, error, duration, samples, bytes) is stored. A target that cannot be reached never fails the cycle: its
host's last values stay in the latest state, marked stale with the reason. Previous raw counters come from the
store's latest state, so rates survive a restart of the process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from pf9lib.analytics import monitoring
from pf9lib.analytics.monitoring_alerts import ALERTS_KIND, AlertRule, evaluate, load_rules
from pf9lib.collect.metrics_parse import (
    LIBVIRT_METRICS,
    NODE_METRICS,
    DomainReading,
    NodeReading,
    libvirt_readings,
    node_reading,
    parse_samples,
)
from pf9lib.collect.metrics_targets import LIBVIRT, NODE, Target
from pf9lib.store import metrics_store as ms
from pf9lib.store.events import append_events

USER_AGENT = "pf9wb-metrics/1"


@dataclass
class MetricsOptions:
    timeout_s: float = 10.0
    concurrency: int = 64
    retention: ms.Retention = field(default_factory=ms.Retention)
    rules: list[AlertRule] | None = None  # None: the packaged default rules
    keep_text: bool = False  # keep each page's text on the result (tests compare against raw scrapes)
    # Where times come from: a simulated history stamps its scrapes with the simulated clock.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


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


@dataclass
class CycleResult:
    batch_id: str
    started_at: datetime
    ended_at: datetime
    targets: list[TargetResult]
    hosts: list[dict[str, Any]]  # series rows written this cycle
    vms: list[dict[str, Any]]
    latest_hosts: list[dict[str, Any]]
    latest_vms: list[dict[str, Any]]
    alert_events: list[dict[str, Any]]
    fetch_s: float = 0.0
    store_s: float = 0.0

    @property
    def up(self) -> int:
        return sum(1 for t in self.targets if t.up)

    @property
    def down(self) -> int:
        return len(self.targets) - self.up

    @property
    def samples(self) -> int:
        return sum(t.samples for t in self.targets)


# --------------------------------------------------------------------------------------------- scraping


async def scrape_all(targets: list[Target], options: MetricsOptions) -> list[TargetResult]:
    """Fetch and parse every target; results in target order, failures recorded, never raised."""
    timeout = aiohttp.ClientTimeout(total=options.timeout_s)
    connector = aiohttp.TCPConnector(limit=options.concurrency, limit_per_host=0, force_close=False)
    limit = asyncio.Semaphore(options.concurrency)
    headers = {"User-Agent": USER_AGENT, "Accept": "text/plain;version=0.0.4"}
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=headers) as session:
        return list(await asyncio.gather(*(_scrape(session, limit, t, options) for t in targets)))


async def _scrape(
    session: aiohttp.ClientSession, limit: asyncio.Semaphore, target: Target, options: MetricsOptions
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


# --------------------------------------------------------------------------------------------- one cycle


def run_cycle(
    data_dir: Path | str,
    targets: list[Target],
    options: MetricsOptions | None = None,
    now: datetime | None = None,
) -> CycleResult:
    """Scrape, derive, store and evaluate alerts once; then roll up and prune. Never fails for a target."""
    options = options or MetricsOptions()
    started = now or options.clock()
    batch_id = ms.new_batch_id(started)
    t0 = time.monotonic()
    results = run_async(scrape_all(targets, options))
    fetch_s = time.monotonic() - t0
    t1 = time.monotonic()
    result = store_results(data_dir, results, batch_id, started, options, source="scrape", fetch_s=fetch_s)
    result.store_s = time.monotonic() - t1
    return result


def store_results(
    data_dir: Path | str,
    results: list[TargetResult],
    batch_id: str,
    started: datetime,
    options: MetricsOptions,
    source: str,
    fetch_s: float = 0.0,
) -> CycleResult:
    """Derive rows from target results against the stored latest state, write them, append alert events."""
    _, prev_hosts_t, prev_vms_t, prev_alerts_t = ms.read_latest(data_dir)
    merged = merge_latest(results, prev_hosts_t.to_pylist(), prev_vms_t.to_pylist(), batch_id)
    hosts, vms, latest_hosts, latest_vms, checked = merged
    ended = options.clock()
    rules = options.rules if options.rules is not None else load_rules()
    alert_state, events = evaluate(
        rules, latest_hosts, latest_vms, prev_alerts_t.to_pylist(), ended, batch_id, checked
    )
    if events:
        # Events before the state that records them: a crash in between re-appends the same event ids.
        append_events(data_dir, ALERTS_KIND, events)
    cycle = {
        "batch_id": batch_id,
        "source": source,
        "started_at": started,
        "ended_at": ended,
        "targets": len(results),
        "up": sum(1 for r in results if r.up),
        "down": sum(1 for r in results if not r.up),
        "hosts": len(hosts),
        "vms": len(vms),
        "samples": sum(r.samples for r in results),
        "fetch_s": fetch_s,
        "error": None if any(r.up for r in results) or not results else "no target reachable",
    }
    ms.write_batch(
        data_dir,
        batch_id,
        ms.table(hosts, ms.HOST_SCHEMA),
        ms.table(vms, ms.VM_SCHEMA),
        ms.table([_target_row(r, batch_id) for r in results], ms.TARGET_SCHEMA),
        cycle,
        (
            ms.table(latest_hosts, ms.LATEST_HOST_SCHEMA),
            ms.table(latest_vms, ms.LATEST_VM_SCHEMA),
            ms.table(alert_state, ms.ALERT_STATE_SCHEMA),
        ),
    )
    ms.maintain(data_dir, ended, options.retention)
    return CycleResult(
        batch_id, started, ended, results, hosts, vms, latest_hosts, latest_vms, events, fetch_s=fetch_s
    )


def _target_row(r: TargetResult, batch_id: str) -> dict[str, Any]:
    t = r.target
    return {
        "ts": r.ts,
        "batch_id": batch_id,
        "kind": t.kind,
        "host": t.host,
        "address": t.address,
        "url": t.url,
        "up": r.up,
        "error": r.error,
        "duration_s": r.duration_s,
        "samples": r.samples,
        "bytes": r.bytes,
    }


def merge_latest(
    results: Iterable[TargetResult],
    prev_hosts: list[dict[str, Any]],
    prev_vms: list[dict[str, Any]],
    batch_id: str,
) -> tuple[list[dict], list[dict], list[dict], list[dict], set[str]]:
    """(host series rows, VM series rows, latest hosts, latest VMs, hosts whose libvirt page was read).

    Fresh rows replace a host's or VM's previous ones; an unreachable target keeps its host's previous rows,
    marked stale with the error; a VM absent from a page that was read is gone.
    """
    hosts_by = {r["host"]: r for r in prev_hosts}
    vms_by = {r["vm_key"]: r for r in prev_vms}
    host_rows: list[dict] = []
    vm_rows: list[dict] = []
    fresh_hosts: dict[str, dict] = {}
    fresh_vms: dict[str, dict] = {}
    stale_hosts: dict[str, tuple[str, Target]] = {}
    stale_vm_hosts: dict[str, str] = {}
    checked: set[str] = set()
    # Node pages first: their clock (node_time_seconds) times the VM counters of the same host.
    ordered = sorted(results, key=lambda r: r.target.kind != NODE)
    clocks: dict[str, float] = {}
    for r in ordered:
        t = r.target
        ident = {"batch_id": batch_id, "host": t.host, "hypervisor_hostname": t.hypervisor_hostname}
        if not r.up:
            if t.kind == NODE:
                stale_hosts[t.host] = (r.error or "down", t)
            else:
                stale_vm_hosts[t.host] = r.error or "down"
            continue
        extra = {"stale": False, "stale_reason": None, "checked_at": r.ts}
        if t.kind == NODE and r.node is not None:
            row = monitoring.host_row(r.node, r.ts, hosts_by.get(t.host), {**ident, "address": t.address})
            host_rows.append(row)
            fresh_hosts[t.host] = {**row, **extra}
            if r.node.node_time is not None:
                clocks[t.host] = r.node.node_time
        elif t.kind == LIBVIRT and r.domains is not None:
            checked.add(t.host)
            clock = r.clock if r.clock is not None else clocks.get(t.host)
            for d in r.domains:
                row = monitoring.vm_row(d, r.ts, vms_by.get(monitoring.vm_key(t.host, d)), ident, clock)
                vm_rows.append(row)
                fresh_vms[row["vm_key"]] = {**row, **extra}
    now = datetime.now(UTC)
    latest_hosts = dict(hosts_by)
    for host, (reason, t) in stale_hosts.items():
        # A host never reached still gets a row: no values, stale, and why.
        never = {"host": host, "hypervisor_hostname": t.hypervisor_hostname, "address": t.address, "ts": None}
        before = latest_hosts.get(host) or {**never, "batch_id": batch_id}
        latest_hosts[host] = {**before, "stale": True, "stale_reason": reason, "checked_at": now}
    latest_hosts.update(fresh_hosts)
    latest_vms = {k: v for k, v in vms_by.items() if v.get("host") not in checked}
    for key, row in latest_vms.items():
        if row.get("host") in stale_vm_hosts:
            reason = stale_vm_hosts[row["host"]]
            latest_vms[key] = {**row, "stale": True, "stale_reason": reason, "checked_at": now}
    latest_vms.update(fresh_vms)
    return host_rows, vm_rows, list(latest_hosts.values()), list(latest_vms.values()), checked
