"""A metrics cycle's steps after the fetch: derive the series rows, evaluate the alert rules, store both.

A scrape (pf9lib.collect.metrics) or an import from Prometheus (pf9lib.collect.metrics_prometheus) fetches;
this module turns the readings into rows against the stored latest state (pf9lib.normalize.metrics), runs the
alert rules over them (pf9lib.analytics.monitoring_alerts) and writes one batch (pf9lib.store.metrics_store).
A target that cannot be reached never fails the cycle: its host's last values stay in the latest state,
marked stale with the reason. Previous raw counters come from the store, so rates survive a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pf9lib.analytics.monitoring_alerts import ALERTS_KIND, AlertRule, evaluate, load_rules
from pf9lib.collect.metrics import TargetResult, run_async, scrape_all
from pf9lib.collect.metrics_prometheus import PrometheusChunk, fetch_range
from pf9lib.collect.metrics_targets import Host, Target
from pf9lib.normalize.metrics import merge_latest
from pf9lib.store import metrics_store as ms
from pf9lib.store.events import append_events


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
    results = run_async(scrape_all(targets, options))  # collect: fetch only
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


def import_range(
    data_dir: Path | str,
    base_url: str,
    start: datetime,
    end: datetime,
    step_s: float = 60.0,
    hosts: Iterable[Host] = (),
    host_map: dict[str, str] | None = None,
    options: MetricsOptions | None = None,
) -> list[CycleResult]:
    """Import [start, end] at `step_s` from Prometheus into the store (one batch per hour of steps)."""
    options = options or MetricsOptions()
    chunks = fetch_range(base_url, start, end, step_s, hosts, host_map, options.timeout_s * 6)
    return [store_chunk(data_dir, chunk, options) for chunk in chunks]


def store_chunk(data_dir: Path | str, chunk: PrometheusChunk, options: MetricsOptions) -> CycleResult:
    """Derive, alert on and store every step of an imported chunk, one step after another."""
    started = datetime.now(UTC)
    batch_id = ms.new_batch_id(started)
    _, prev_hosts_t, prev_vms_t, prev_alerts_t = ms.read_latest(data_dir)
    prev_hosts, prev_vms, alert_state = (
        prev_hosts_t.to_pylist(),
        prev_vms_t.to_pylist(),
        prev_alerts_t.to_pylist(),
    )
    first = chunk.steps[0][0] if chunk.steps else started
    # History older than what the store already holds is a backfill: series only; the latest state and the
    # alerts describe the present and stay as they are.
    backfill = any(r["ts"] is not None and r["ts"] >= first for r in prev_hosts + prev_vms)
    if backfill:
        prev_hosts, prev_vms = [], []
    rules = options.rules if options.rules is not None else load_rules()
    host_rows: list[dict] = []
    vm_rows: list[dict] = []
    events: list[dict] = []
    last: list[TargetResult] = []
    for ts, step_results in chunk.steps:
        h, v, prev_hosts, prev_vms, checked = merge_latest(step_results, prev_hosts, prev_vms, batch_id)
        host_rows += h
        vm_rows += v
        if not backfill:
            alert_state, new_events = evaluate(
                rules, prev_hosts, prev_vms, alert_state, ts, batch_id, checked
            )
            events += new_events
        last = step_results
    if events:
        append_events(data_dir, ALERTS_KIND, events)
    ended = datetime.now(UTC)
    cycle = {
        "batch_id": batch_id,
        "source": "prometheus",
        "started_at": started,
        "ended_at": ended,
        "targets": len(last),
        "up": sum(r.up for r in last),
        "down": sum(not r.up for r in last),
        "hosts": len(host_rows),
        "vms": len(vm_rows),
        "samples": chunk.samples,
        "fetch_s": chunk.fetch_s,
        "error": None
        if chunk.steps
        else f"no exporter series in Prometheus at {chunk.base_url} for this range",
    }
    latest = None
    if not backfill and chunk.steps:
        latest = (
            ms.table(prev_hosts, ms.LATEST_HOST_SCHEMA),
            ms.table(prev_vms, ms.LATEST_VM_SCHEMA),
            ms.table(alert_state, ms.ALERT_STATE_SCHEMA),
        )
    ms.write_batch(
        data_dir,
        batch_id,
        ms.table(host_rows, ms.HOST_SCHEMA),
        ms.table(vm_rows, ms.VM_SCHEMA),
        ms.table([_target_row(r, batch_id) for r in last], ms.TARGET_SCHEMA),
        cycle,
        latest,
    )
    ms.maintain(data_dir, ended, options.retention)
    return CycleResult(
        batch_id,
        started,
        ended,
        last,
        host_rows,
        vm_rows,
        prev_hosts,
        prev_vms,
        events,
        fetch_s=chunk.fetch_s,
    )
