"""The fetch floor: a full sweep of the xl estate's raw pages (GET + JSON decode), paged and parallelised
the way the collector pages them. The simulated cloud must not be the bottleneck: target >= 20k objects/s.

Run: .venv/bin/python -m benchmarks.bench_simcloud [--size xl]  → benchmarks/results/bench_simcloud.json
"""

from __future__ import annotations

import argparse
import time

from benchmarks._common import start_sim, workdir, write_results
from pf9lib.collect.inventory import fetch_only
from pf9lib.resources import RESOURCES


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="xl")
    args = parser.parse_args()
    tmp = workdir("simcloud")
    sim, settings = start_sim(args.size, tmp)
    paged = [t for t, r in RESOURCES.items() if r.scope in ("global", "region")]
    try:
        fetch_only(settings, types=["flavors"])  # warm-up: auth, discovery
        started = time.perf_counter()
        listings = fetch_only(settings, types=paged)
        paged_s = time.perf_counter() - started
        started = time.perf_counter()
        fetch_only(settings, types=["quotas", "keypairs"])
        per_project_s = time.perf_counter() - started
    finally:
        sim.stop()
    objects = sum(len(lst.objects) for lst in listings)
    projects = sum(1 for lst in listings if lst.type == "projects" for _ in lst.objects)
    users = sum(1 for lst in listings if lst.type == "users" for _ in lst.objects)
    regions = len({lst.region for lst in listings} - {"global"})
    requests = regions * (3 * projects + users)
    write_results(
        "bench_simcloud",
        {
            "size": args.size,
            "paged_listings": {
                "objects": objects,
                "seconds": round(paged_s, 3),
                "objects_per_s": round(objects / paged_s),
                "target_objects_per_s": 20000,
            },
            "per_project_calls": {
                "what": "quotas (3 services) per project and keypairs per user, every region",
                "requests": requests,
                "seconds": round(per_project_s, 3),
                "requests_per_s": round(requests / per_project_s),
            },
            "slowest_listings": {
                f"{lst.type}@{lst.region}": {"objects": len(lst.objects), "seconds": round(lst.duration_s, 3)}
                for lst in sorted(listings, key=lambda x: -x.duration_s)[:6]
            },
        },
    )


if __name__ == "__main__":
    main()
