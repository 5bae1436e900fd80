"""Collector benchmark on the xl estate (issue targets in brackets):
(a) fetch floor: GET + JSON decode of every page, paged and parallel as the collector does
(b) full collect: fetch + normalize + store                                  [b <= 1.5 a]
(c) the big listings through openstacksdk Resource objects                   [b >= 10x faster per object]
(d) ingest + change detection of a second run after advance 24h              [<= 2 s]
(e) peak RSS of the collecting process                                        [<= 1 GB]
(f) bytes on disk per run, and a year of daily runs extrapolated             [<= 2 GB/year]
(g) the xl workbook export                                                    [<= 60 s]
(b) and (d) run in a fresh child process each, so (e) is the collector's own peak, not this script's.

Run: .venv/bin/python -m benchmarks.bench_collect [--size xl]  → benchmarks/results/bench_collect.json
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

import openstack

from benchmarks._common import dir_bytes, start_sim, workdir, write_results
from pf9lib.collect.inventory import fetch_only
from pf9lib.reports.rvtools import export_rvtools
from pf9lib.store.reader import open_store

CHILD = Path(__file__).resolve().parent / "_collect_child.py"
BIG = ("servers", "volumes", "snapshots", "ports", "security_group_rules", "floating_ips")


def collect_in_child(clouds: Path, data: Path) -> dict:
    done = subprocess.run(
        [sys.executable, str(CHILD), str(clouds), str(data)],
        capture_output=True,
        text=True,
        check=True,
        timeout=1200,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def sdk_objects(settings) -> tuple[float, int]:
    """The big listings through Resource objects, every region, as an SDK user would write them."""
    started, count = time.perf_counter(), 0
    for region in settings.regions or [None]:
        conn = openstack.connection.Connection(config=settings.cloud_region(region))
        for listing in (
            conn.compute.servers(all_projects=True, details=True),
            conn.block_storage.volumes(all_projects=True, details=True),
            conn.block_storage.snapshots(all_projects=True, details=True),
            conn.network.ports(),
            conn.network.security_group_rules(),
            conn.network.ips(),
        ):
            count += sum(1 for _ in listing)
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="xl")
    args = parser.parse_args()
    tmp = workdir("collect")
    sim, settings = start_sim(args.size, tmp)
    clouds, data = tmp / "clouds.yaml", tmp / "data"
    try:
        fetch_only(settings)  # warm-up: auth, discovery, and the simulator's first-sweep caches
        gc.collect()
        t = time.perf_counter()
        listings = fetch_only(settings)
        fetch_floor = time.perf_counter() - t
        objects = sum(len(lst.objects) for lst in listings)
        big_floor_objects = sum(len(lst.objects) for lst in listings if lst.type in BIG)
        del listings

        first = collect_in_child(clouds, data)
        first_bytes = dir_bytes(data / "store")
        changes = len(sim.client.advance(24)["changes"])
        second = collect_in_child(clouds, data)
        second_bytes = dir_bytes(data / "store") - first_bytes

        t = time.perf_counter()
        workbook = export_rvtools(open_store(data), tmp / "out")
        export_s = time.perf_counter() - t

        sdk_s, sdk_count = sdk_objects(settings)
    finally:
        sim.stop()
    per_object_ours = first["seconds"] / objects
    write_results(
        "bench_collect",
        {
            "size": args.size,
            "objects": objects,
            "a_fetch_floor_s": round(fetch_floor, 2),
            "b_full_collect_s": round(first["seconds"], 2),
            "b_ingest_s": round(first["ingest_s"], 2),
            "ratio_b_over_a": round(first["seconds"] / fetch_floor, 2),
            "c_sdk_resource_objects_s": round(sdk_s, 2),
            "c_sdk_objects": sdk_count,
            "c_same_listings_objects_in_our_collect": big_floor_objects,
            "ratio_c_over_b_per_object": round((sdk_s / sdk_count) / per_object_ours, 1),
            "d_second_run_changes_reported": changes,
            "d_second_run_total_s": round(second["seconds"], 2),
            "d_second_run_ingest_and_change_detection_s": round(second["ingest_s"], 2),
            "e_peak_rss_mb_first_run": round(first["peak_rss_mb"]),
            "e_peak_rss_mb_second_run": round(second["peak_rss_mb"]),
            "f_first_run_bytes": first_bytes,
            "f_change_run_bytes": second_bytes,
            "f_year_of_daily_runs_gb": round((first_bytes + 365 * second_bytes) / 1e9, 3),
            "g_workbook_export_s": round(export_s, 2),
            "g_workbook_bytes": workbook.stat().st_size,
            "targets": {"b_over_a": 1.5, "c_over_b": 10, "d_s": 2, "rss_mb": 1024, "year_gb": 2, "g_s": 60},
            "statuses": [first["status"], second["status"]],
        },
    )


if __name__ == "__main__":
    main()
