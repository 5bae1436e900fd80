"""Action spine benchmark: plan + apply round trips for 100 security-group rules against the simulated cloud.

Each rule is its own plan (validation, a look at the group and its rules, stored with its preconditions) and
its own apply (preconditions re-checked, the POST, every step recorded, the audit). Reported: API calls per
rule for planning and applying, wall time per rule, and the share of time spent writing the store's events.

Run: .venv/bin/python -m benchmarks.bench_actions [--rules 100] [--size tiny]
     → benchmarks/results/bench_actions.json
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks._common import start_sim, workdir, write_results
from pf9lib import identity
from pf9lib.actions import admin_network as nw
from pf9lib.actions import apply
from pf9lib.actions.engine import ActionContext


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--size", default="tiny")
    args = parser.parse_args()
    tmp = workdir("actions")
    sim, settings = start_sim(args.size, tmp)
    try:
        identity.grant(settings.data_dir, "bench", "bench", "admin")
        plan = nw.plan_secgroup_create(settings, "bench", "bench-rules", _first_project(settings))
        group_id = apply(settings, plan.plan_id, "bench").created[0]["id"]
        plan_calls, apply_calls, plan_s, apply_s = [], [], [], []
        for i in range(args.rules):
            probe = ActionContext(settings, settings.data_dir, "probe")
            t0 = time.perf_counter()
            rule = nw.plan_rule_create(
                settings, "bench", group_id, "ingress", "tcp", "IPv4", 10000 + i, context=probe
            )
            t1 = time.perf_counter()
            ctx = ActionContext(settings, settings.data_dir, rule.plan_id)
            result = apply(settings, rule.plan_id, "bench", context=ctx)
            t2 = time.perf_counter()
            assert result.status == "succeeded", result.message
            plan_calls.append(probe.calls)
            apply_calls.append(ctx.calls)
            plan_s.append(t1 - t0)
            apply_s.append(t2 - t1)
    finally:
        sim.stop()
    write_results(
        "bench_actions",
        {
            "rules": args.rules,
            "size": args.size,
            "calls_per_rule": {
                "plan": statistics.mean(plan_calls),
                "apply": statistics.mean(apply_calls),
                "total": statistics.mean(p + a for p, a in zip(plan_calls, apply_calls, strict=True)),
            },
            "seconds_per_rule": {
                "plan_median": round(statistics.median(plan_s), 4),
                "apply_median": round(statistics.median(apply_s), 4),
                "round_trip_mean": round(
                    statistics.mean(p + a for p, a in zip(plan_s, apply_s, strict=True)), 4
                ),
            },
            "total_s": round(sum(plan_s) + sum(apply_s), 2),
        },
    )


def _first_project(settings) -> str:
    ctx = ActionContext(settings, settings.data_dir, "probe")
    projects = ctx.writer().get("identity", "/projects", "projects")["projects"]
    return next(p["name"] for p in projects if p["name"] != "admin")


if __name__ == "__main__":
    main()
