"""Drift and change-history benchmark (issue targets in brackets):
(a) drift evaluation of one run of the xl estate after advance 24h                         [<= 1 s]
(b) every drift and history analytics function, median of repeated calls on one open store,
    over 90 daily runs of the `large` estate (runs dated one simulated day apart)            [<= 200 ms each]
    plus what a newly opened store pays once: opening it, materialising the change log and the drift state

Run: .venv/bin/python -m benchmarks.bench_drift [--xl-size xl] [--days 90] [--history DIR]
     → benchmarks/results/bench_drift.json
`--history DIR` reuses (or, when missing, keeps) the 90-day data directory: building it collects `large`
91 times.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks._common import peak_rss_mb, start_sim, workdir, write_results
from pf9lib.analytics import drift, history
from pf9lib.analytics.change_log import change_log
from pf9lib.analytics.drift_events import evaluate_run, state_view
from pf9lib.collect import inventory
from pf9lib.store.reader import Store, open_store

REPEAT = 7


def xl_evaluation(size: str) -> dict:
    tmp = workdir("drift-xl")
    sim, settings = start_sim(size, tmp)
    data = tmp / "data"
    try:
        inventory.collect_cloud(settings, data)
        changes = len(sim.client.advance(24)["changes"])
        run = inventory.collect_cloud(settings, data)
    finally:
        sim.stop()
    t = time.perf_counter()
    first = evaluate_run(data, run.run_id)  # writes the events
    first_s = time.perf_counter() - t
    again = []
    for _ in range(3):  # the same run again: everything is read and compared, nothing is written
        t = time.perf_counter()
        evaluate_run(data, run.run_id)
        again.append(time.perf_counter() - t)
    updated = sum(s.updated for s in run.stats)
    deleted = sum(s.deleted for s in run.stats)
    return {
        "size": size,
        "sim_changes_reported": changes,
        "run_updated_rows": updated,
        "run_deleted_rows": deleted,
        "events": len(first),
        "evaluate_s": round(first_s, 3),
        "evaluate_again_median_s": round(statistics.median(again), 3),
        "target_s": 1.0,
    }


def build_history(data: Path, days: int) -> None:
    """`days` + 1 runs of `large`, a simulated day apart, dated so the newest is now; drift evaluated after
    each run as `pf9wb collect` does."""
    tmp = data.parent
    tmp.mkdir(parents=True, exist_ok=True)
    sim, settings = start_sim("large", tmp)
    first = datetime.now(UTC) - timedelta(days=days)
    try:
        for day in range(days + 1):
            if day:
                sim.client.advance(24)
            result = inventory.collect_cloud(settings, data, started_at=first + timedelta(days=day))
            evaluate_run(data, result.run_id)
            print(f"history day {day}/{days}: {result.status}", flush=True)
    finally:
        sim.stop()


def _calls(store: Store) -> dict[str, functools.partial]:
    busy = history.most_changed(store, limit=1).iloc[0]
    event_id = drift.events(store, limit=1)["event_id"][0]
    now = store.latest_run()["started_at"]
    export = store.data_dir.parent / "bench-export.csv"
    p = functools.partial
    return {
        "drift.summary": p(drift.summary, store),
        "drift.totals": p(drift.totals, store),
        "drift.open_by_severity": p(drift.open_by_severity, store),
        "drift.open_by_type": p(drift.open_by_type, store),
        "drift.daily_trend": p(drift.daily_trend, store, 7),
        "drift.events(page 1)": p(drift.events, store, limit=50),
        "drift.events(filters, page 3)": p(
            drift.events, store, min_severity="warning", search="prod", days=30, sort="severity", offset=100
        ),
        "drift.event_detail": p(drift.event_detail, store, event_id),
        "drift.rules": p(drift.rules, store),
        "drift.export_events(csv, critical)": p(drift.export_events, store, export, severity="critical"),
        "history.recent_changes(24h)": p(history.recent_changes, store, 24, now=now),
        "history.most_changed(90d)": p(history.most_changed, store, 90, now=now),
        "history.changes_by_timeframe(day, 90d)": p(history.changes_by_timeframe, store, "day", 90, now=now),
        "history.resource_history": p(history.resource_history, store, busy["type"], busy["id"]),
        "history.compare_states": p(history.compare_states, store, busy["type"], busy["id"]),
        "history.raw_diff": p(history.raw_diff, store, busy["type"], busy["id"]),
        "history.change_patterns(30d)": p(history.change_patterns, store, 30, now=now),
        "history.change_velocity(30d)": p(history.change_velocity, store, 30, now=now),
        "history.compliance_report(7d)": p(history.compliance_report, store, 7, now=now),
    }


def analytics_timings(data: Path) -> dict:
    t = time.perf_counter()
    store = open_store(data)
    open_s = time.perf_counter() - t
    # What the first analytics call on a newly opened store pays once: materialising the change log and the
    # drift state (later calls reuse them until a run or an event is added).
    t = time.perf_counter()
    change_log(store)
    log_s = time.perf_counter() - t
    t = time.perf_counter()
    state_view(store)
    state_s = time.perf_counter() - t
    out = {}
    for name, call in _calls(store).items():
        times = []
        for _ in range(REPEAT):
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        out[name] = {
            "median_ms": round(statistics.median(times) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
        }
    counts = store.sql(
        """SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM changes) AS changes,
                  (SELECT count(*) FROM servers) AS servers"""
    ).iloc[0]
    events = int(drift.totals(store)["events"][0])
    return {
        "runs": int(counts["runs"]),
        "changes": int(counts["changes"]),
        "servers": int(counts["servers"]),
        "drift_events": events,
        "open_store_s": round(open_s, 3),
        "first_call_change_log_s": round(log_s, 3),
        "first_call_drift_state_s": round(state_s, 3),
        "functions": out,
        "slowest_median_ms": max(v["median_ms"] for v in out.values()),
        "target_ms": 200,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--xl-size", default="xl")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--history", type=Path, help="data directory of the 90-day history (reused when present)"
    )
    parser.add_argument("--skip-xl", action="store_true")
    parser.add_argument("--skip-history", action="store_true")
    args = parser.parse_args()
    results = {}
    if not args.skip_history:
        data = args.history or workdir("drift-history") / "data"
        if not (data / "store").exists():
            build_history(data, args.days)
        results = {"history_dir": str(data), "analytics_large_history": analytics_timings(data)}
    if not args.skip_xl:
        results["evaluate_xl"] = xl_evaluation(args.xl_size)
    results["peak_rss_mb"] = round(peak_rss_mb())
    write_results("bench_drift", results)


if __name__ == "__main__":
    main()
