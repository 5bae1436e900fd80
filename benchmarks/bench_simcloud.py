"""The fetch floor: a full sweep of the xl estate's raw pages (GET + JSON decode), paged and parallelised
the way the collector pages them. The simulated cloud must not be the bottleneck: target >= 20k objects/s.

Run: .venv/bin/python benchmarks/bench_simcloud.py [--size xl]  → benchmarks/results/bench_simcloud.json
"""

from __future__ import annotations

import argparse
import time

from _common import start_sim, workdir, write_results

from pf9lib.collect.inventory import fetch_only


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="xl")
    args = parser.parse_args()
    tmp = workdir("simcloud")
    sim, settings = start_sim(args.size, tmp)
    try:
        fetch_only(settings, types=["flavors"])  # warm-up: auth, discovery
        started = time.perf_counter()
        listings = fetch_only(settings)
        seconds = time.perf_counter() - started
    finally:
        sim.stop()
    objects = sum(len(lst.objects) for lst in listings)
    write_results(
        "bench_simcloud",
        {
            "size": args.size,
            "objects": objects,
            "seconds": round(seconds, 3),
            "objects_per_s": round(objects / seconds),
            "target_objects_per_s": 20000,
            "per_type": {
                f"{lst.type}@{lst.region}": {"objects": len(lst.objects), "seconds": round(lst.duration_s, 3)}
                for lst in sorted(listings, key=lambda x: -x.duration_s)[:10]
            },
        },
    )


if __name__ == "__main__":
    main()
