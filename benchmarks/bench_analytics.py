"""Tenant, landing and capacity analytics benchmark (issue 13; target in brackets):
every analytic of pf9lib.analytics.tenants, landing and capacity, median of repeated calls on one open store,
over `--days` daily runs of the `large` estate (default 365)                                  [<= 200 ms each]
plus what a newly opened store pays once (opening it, the first call of each derived table).

The history is the demo's: each simulated day the cloud advances 24 h, is collected through the pipeline (so
drift is evaluated) and its simulated exporters are scraped once (so metric roll-ups exist), every run dated
with the simulated cloud's clock, so snapshots' created_at and the runs agree.

Run: .venv/bin/python -m benchmarks.bench_analytics [--days 365] [--history DIR] [--build-only]
     → benchmarks/results/bench_analytics.json
`--history DIR` reuses (or, when missing, builds and keeps) the data directory: building 365 days of `large`
takes about half an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from pathlib import Path

from benchmarks._common import peak_rss_mb, workdir, write_results

REPEAT = 7
METRIC_DAYS = 45


def build_history(data: Path, days: int, metric_days: int = METRIC_DAYS) -> None:
    """`days` + 1 collects of `large`, a simulated day apart, each through the pipeline (drift evaluated),
    dated with the simulated cloud's clock; the exporters are scraped after each of the last `metric_days`
    collects only (the metric analytics read 30-day windows; scraping all year would double the build)."""
    import os
    from datetime import UTC, datetime

    from pf9lib.config import load_settings
    from pf9lib.demo import collect_day
    from pf9sim.client import SimProcess

    data.mkdir(parents=True, exist_ok=True)
    sim = SimProcess(size="large", port=0, log_path=data.parent / "simcloud.log").start(timeout=600)
    clouds = sim.write_clouds_yaml(data.parent / "clouds.yaml", "pf9sim")
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds)}
    settings = load_settings(cloud="pf9sim", data_dir=str(data), env=env)
    t0 = time.monotonic()
    try:
        for day in range(days + 1):
            clock = sim.client.advance(24)["clock"] if day else sim.client.summary()["clock"]
            offset = datetime.now(UTC) - datetime.fromisoformat(clock.replace("Z", "+00:00"))
            collect_day(sim, data, settings, metrics=day > days - metric_days, offset=offset)
            if day % 10 == 0 or day == days:
                print(f"history day {day}/{days} ({time.monotonic() - t0:.0f} s)", flush=True)
    finally:
        sim.stop()


def backfill_metrics(data: Path, days: int) -> None:
    """`days` daily metric cycles over a fresh `large` cloud's exporters, dated on the store's last days (for
    a history whose build stopped before its metric days: the metric analytics then have roll-ups to read).
    The cloud advances a day between cycles so every counter has a rate."""
    from datetime import timedelta

    from pf9lib import pipeline
    from pf9lib.collect.metrics_targets import build_targets, hosts_from_inventory
    from pf9lib.demo import TARGET_TEMPLATE
    from pf9lib.pipeline_metrics import MetricsOptions
    from pf9lib.store.reader import open_store
    from pf9sim.client import SimProcess

    store = open_store(data)
    end, hosts = store.now, hosts_from_inventory(store)
    store.close()
    sim = SimProcess(size="large", port=0, log_path=data.parent / "simcloud-metrics.log").start(timeout=600)
    try:
        targets = build_targets(hosts, template=TARGET_TEMPLATE.replace("{base_url}", sim.base_url))
        for day in range(days):
            if day:
                sim.client.advance(24)
            when = end - timedelta(days=days - 1 - day)
            options = MetricsOptions(timeout_s=30, clock=lambda when=when: when)
            pipeline.metrics_cycle(data, targets, options, skip_hooks=("textfile",))
            print(f"metrics day {day + 1}/{days}", flush=True)
    finally:
        sim.stop()


def _calls(store) -> dict[str, functools.partial]:
    from pf9lib.analytics import capacity, landing, tenants

    p = functools.partial
    project = store.scalar("SELECT project_id FROM servers GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    return {
        "tenants.tenant_health": p(tenants.tenant_health, store),
        "tenants.tenant_risk": p(tenants.tenant_risk, store),
        "tenants.utilisation": p(tenants.utilisation, store),
        "tenants.utilisation_matrix": p(tenants.utilisation_matrix, store),
        "tenants.quota_usage": p(tenants.quota_usage, store),
        "tenants.tenant_summary": p(tenants.tenant_summary, store),
        "tenants.drift_trend(30d)": p(tenants.drift_trend, store, 30),
        "tenants.snapshot_trend(30d)": p(tenants.snapshot_trend, store, 30),
        "tenants.usage_trend(30d)": p(tenants.usage_trend, store, 30),
        "tenants.usage_trend(90d, one tenant)": p(tenants.usage_trend, store, 90, project=project),
        "landing.health_summary": p(landing.health_summary, store),
        "landing.sla_compliance": p(landing.sla_compliance, store),
        "landing.top_hosts": p(landing.top_hosts, store),
        "landing.recent_changes(24h)": p(landing.recent_changes, store),
        "landing.coverage_risks": p(landing.coverage_risks, store),
        "landing.capacity_pressure": p(landing.capacity_pressure, store),
        "landing.vm_hotspots": p(landing.vm_hotspots, store),
        "landing.tenant_risk": p(landing.tenant_risk, store),
        "landing.compliance_drift(7d)": p(landing.compliance_drift, store),
        "landing.capacity_trends(30d)": p(landing.capacity_trends, store),
        "landing.trendlines(30d)": p(landing.trendlines, store),
        "landing.change_compliance(7d)": p(landing.change_compliance, store),
        "landing.risk_heatmap": p(landing.risk_heatmap, store),
        "landing.tenant_summary": p(landing.tenant_summary, store),
        "capacity.hypervisor_allocation": p(capacity.hypervisor_allocation, store),
        "capacity.aggregate_allocation": p(capacity.aggregate_allocation, store),
        "capacity.quota_forecast(90d)": p(capacity.quota_forecast, store),
        "capacity.capacity_forecast(90d)": p(capacity.capacity_forecast, store),
        "capacity.idle_vms": p(capacity.idle_vms, store),
        "capacity.oversized_vms": p(capacity.oversized_vms, store),
        "capacity.unattached_volumes": p(capacity.unattached_volumes, store),
        "capacity.stale_snapshots": p(capacity.stale_snapshots, store),
        "capacity.unused_floating_ips": p(capacity.unused_floating_ips, store),
        "capacity.waste_candidates": p(capacity.waste_candidates, store),
    }


def analytics_timings(data: Path) -> dict:
    from pf9lib.store.reader import open_store

    t = time.perf_counter()
    store = open_store(data)
    open_s = time.perf_counter() - t
    calls = _calls(store)
    first, out = {}, {}
    for name, call in calls.items():
        t = time.perf_counter()
        call()  # the first call pays for the derived tables it builds (store.cached)
        first[name] = round((time.perf_counter() - t) * 1000, 1)
    for name, call in calls.items():
        times = []
        for _ in range(REPEAT):
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        out[name] = {
            "median_ms": round(statistics.median(times) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
            "first_call_ms": first[name],
        }
    counts = store.sql(
        """SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM servers) AS servers,
                  (SELECT count(*) FROM volumes) AS volumes, (SELECT count(*) FROM snapshots) AS snapshots,
                  (SELECT count(*) FROM changes) AS changes, (SELECT count(*) FROM drift_events) AS drift,
                  (SELECT count(*) FROM metric_vms_daily) AS vm_daily_rows,
                  (SELECT date_diff('day', min(started_at), max(started_at)) FROM runs) AS days_spanned"""
    ).iloc[0]
    return {
        **{k: int(v) for k, v in counts.items()},
        "now": store.now.isoformat(),
        "open_store_s": round(open_s, 3),
        "functions": out,
        "slowest_median_ms": max(v["median_ms"] for v in out.values()),
        "over_target": sorted(k for k, v in out.items() if v["median_ms"] > 200),
        "target_ms": 200,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365, help="simulated days of history (default 365)")
    parser.add_argument("--history", type=Path, help="data directory of the history (reused when present)")
    parser.add_argument("--build-only", action="store_true", help="build the history and stop")
    parser.add_argument(
        "--backfill-metrics",
        type=int,
        metavar="N",
        help="first scrape N days of metrics onto the history's end",
    )
    args = parser.parse_args()
    data = args.history or workdir("analytics-history") / "data"
    if not (data / "store").exists():
        build_history(data, args.days)
    if args.backfill_metrics:
        backfill_metrics(data, args.backfill_metrics)
    if args.build_only:
        return
    # days_spanned (in the timings) is what the store holds, whatever --days asked for
    results = {"history_dir": str(data), "analytics_large_history": analytics_timings(data)}
    results["peak_rss_mb"] = round(peak_rss_mb())
    write_results("bench_analytics", results)


if __name__ == "__main__":
    main()
