"""Snapshot benchmark (issue targets in brackets):
(a) planning a policy run over the `xl` estate (~15k volumes, ~40k snapshots), from live listings [≤ 10 s]
(b) applying a run: API calls per snapshot created or pruned, and seconds per snapshot (`small` estate)
(c) SLA analytics on a long history: median of each function over repeated calls [≤ 200 ms], on the
    history given with --history (e.g. 365 days of `large`, as bench_analytics builds), else 30 days of
    `small` built here with the workbench's own snapshot runs

Run: .venv/bin/python -m benchmarks.bench_snapshots [--xl-size xl] [--history DIR]
     → benchmarks/results/bench_snapshots.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime
from pathlib import Path

from benchmarks._common import peak_rss_mb, start_sim, workdir, write_results
from pf9lib import identity
from pf9lib.actions import apply
from pf9lib.actions.engine import ActionContext
from pf9lib.actions.snapshot_run import plan_run
from pf9lib.analytics import sla
from pf9lib.store.reader import open_store

SERVICE = {
    "SNAPSHOT_SERVICE_USER_EMAIL": "snapshot-svc@pf9sim.local",
    "SNAPSHOT_SERVICE_USER_PASSWORD": "pf9sim-snapshots",
}
REPEAT = 7


def _service_settings(settings):
    from dataclasses import replace

    from pf9lib.config import Secret

    return replace(
        settings,
        snapshot_service_user_email=SERVICE["SNAPSHOT_SERVICE_USER_EMAIL"],
        snapshot_service_user_password=Secret(SERVICE["SNAPSHOT_SERVICE_USER_PASSWORD"]),
    )


def _clock(sim) -> datetime:
    return datetime.fromisoformat(sim.client.summary()["clock"].replace("Z", "+00:00"))


def plan_xl(size: str) -> dict:
    tmp = workdir("snapshots-xl")
    sim, settings = start_sim(size, tmp)
    try:
        settings = _service_settings(settings)
        identity.grant(settings.data_dir, "bench", "bench", "admin")
        sim.client.options(nightly_snapshots=False)
        times, plan = [], None
        for _ in range(3):
            t = time.perf_counter()
            plan = plan_run(settings, "bench", now=_clock(sim))
            times.append(time.perf_counter() - t)
        counts = sim.client.summary()["counts"]
    finally:
        sim.stop()
    return {
        "size": size,
        "volumes": counts["volumes"],
        "snapshots": counts["snapshots"],
        "plan_steps": len(plan.steps),
        "plan_summary": plan.summary,
        "plan_s_median": round(statistics.median(times), 2),
        "plan_s_runs": [round(t, 2) for t in times],
        "target_s": 10.0,
        "peak_rss_mb": round(peak_rss_mb()),
    }


def apply_small() -> dict:
    tmp = workdir("snapshots-apply")
    sim, settings = start_sim("small", tmp)
    try:
        settings = _service_settings(settings)
        identity.grant(settings.data_dir, "bench", "bench", "admin")
        sim.client.options(nightly_snapshots=False)
        plan = plan_run(settings, "bench", now=_clock(sim))
        ctx = ActionContext(settings, settings.data_dir, plan.plan_id)
        t = time.perf_counter()
        result = apply(settings, plan.plan_id, "bench", context=ctx)
        seconds = time.perf_counter() - t
    finally:
        sim.stop()
    creates = sum(1 for s in plan.steps if s.action == "snapshot.create")
    prunes = sum(1 for s in plan.steps if s.action == "snapshot.prune")
    done = max(1, creates + prunes)
    return {
        "size": "small",
        "result": result.message,
        "creates": creates,
        "prunes": prunes,
        "admin_calls": ctx.calls,
        "calls_per_snapshot": round(result.calls / done, 2),
        "seconds_per_snapshot": round(seconds / done, 4),
        "apply_s": round(seconds, 2),
    }


def sla_history(history: Path | None) -> dict:
    if history is None:
        from pf9lib.demo import build_history

        tmp = workdir("snapshots-history")
        sim, _ = start_sim("small", tmp)
        try:
            build_history(sim, tmp / "data", days=30)
        finally:
            sim.stop()
        history = tmp / "data"
    store = open_store(history)
    functions = {
        "status": lambda: sla.status(store),
        "compliance_by_tenant": lambda: sla.compliance(store, "tenant"),
        "compliance_by_policy": lambda: sla.compliance(store, "policy"),
        "coverage": lambda: sla.coverage(store),
        "rpo_30d": lambda: sla.rpo(store, 30),
        "trend_30d": lambda: sla.trend(store, 30),
    }
    out = {}
    for name, fn in functions.items():
        fn()  # warm: the first call pays the views' first binding
        runs = []
        for _ in range(REPEAT):
            t = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t)
        out[name] = round(statistics.median(runs) * 1000, 1)
    return {
        "history": str(history),
        "runs": int(store.scalar("SELECT count(*) FROM runs")),
        "median_ms": out,
        "target_ms": 200,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--xl-size", default="xl")
    parser.add_argument("--history", type=Path)
    parser.add_argument("--skip-xl", action="store_true")
    args = parser.parse_args()
    results = {}
    if not args.skip_xl:
        results["plan_xl"] = plan_xl(args.xl_size)
    results["apply"] = apply_small()
    results["sla"] = sla_history(args.history)
    write_results("bench_snapshots", results)


if __name__ == "__main__":
    main()
