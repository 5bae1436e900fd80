"""Collector benchmark on the xl estate (issue targets in brackets):
(a) fetch floor: GET + JSON decode of every page, paged and parallel as the collector does
(b) full collect: fetch + normalize + store                                  [b <= 1.5 a]
(c) the same listings through openstacksdk Resource objects                  [b at least 10x faster than c]
(d) ingest + change detection of a second run after advance 24h              [<= 2 s]
(e) peak RSS of this process                                                  [<= 1 GB]
(f) bytes on disk per run, and a year of daily runs extrapolated             [<= 2 GB/year]
(g) the xl workbook export                                                    [<= 60 s]

Run: .venv/bin/python benchmarks/bench_collect.py [--size xl]  → benchmarks/results/bench_collect.json
"""

from __future__ import annotations

import argparse
import time

import openstack
from _common import dir_bytes, peak_rss_mb, start_sim, workdir, write_results

from pf9lib.collect.inventory import collect_cloud, fetch_only
from pf9lib.reports.rvtools import export_rvtools
from pf9lib.store.reader import open_store


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
    data = tmp / "data"
    try:
        fetch_only(settings, types=["flavors"])  # warm-up: auth and discovery
        t = time.perf_counter()
        listings = fetch_only(settings)
        fetch_floor = time.perf_counter() - t
        objects = sum(len(lst.objects) for lst in listings)
        big = {"servers", "volumes", "snapshots", "ports", "security_group_rules", "floating_ips"}
        big_objects = sum(len(lst.objects) for lst in listings if lst.type in big)
        big_floor = sum(lst.duration_s for lst in listings if lst.type in big)

        t = time.perf_counter()
        first = collect_cloud(settings, data)
        full = time.perf_counter() - t
        first_bytes = dir_bytes(data / "store")

        changes = len(sim.client.advance(24)["changes"])
        second = collect_cloud(settings, data)
        second_bytes = dir_bytes(data / "store") - first_bytes
        rss_collect_mb = peak_rss_mb()

        t = time.perf_counter()
        workbook = export_rvtools(open_store(data), tmp / "out")
        export_s = time.perf_counter() - t
        rss_mb = peak_rss_mb()  # before (c): Resource objects are the comparison, not our footprint

        sdk_s, sdk_count = sdk_objects(settings)
    finally:
        sim.stop()
    write_results(
        "bench_collect",
        {
            "size": args.size,
            "objects": objects,
            "a_fetch_floor_s": round(fetch_floor, 2),
            "b_full_collect_s": round(full, 2),
            "b_fetch_s": round(first.fetch_s, 2),
            "b_store_s": round(first.store_s, 2),
            "ratio_b_over_a": round(full / fetch_floor, 2),
            "c_sdk_resource_objects_s": round(sdk_s, 2),
            "c_sdk_objects": sdk_count,
            "c_same_listings_raw_pages_s": round(big_floor, 2),
            "c_same_listings_objects": big_objects,
            "ratio_c_over_b_per_object": round((sdk_s / sdk_count) / (full / objects), 1),
            "d_second_run_changes_reported": changes,
            "d_second_run_fetch_s": round(second.fetch_s, 2),
            "d_second_run_ingest_and_change_detection_s": round(second.store_s, 2),
            "e_peak_rss_mb": round(rss_mb),
        "e_peak_rss_mb_after_collects_before_export": round(rss_collect_mb),
        "e_peak_rss_mb_incl_sdk_comparison": round(peak_rss_mb()),
            "f_first_run_bytes": first_bytes,
            "f_change_run_bytes": second_bytes,
            "f_year_of_daily_runs_gb": round((first_bytes + 365 * second_bytes) / 1e9, 3),
            "g_workbook_export_s": round(export_s, 2),
            "g_workbook_bytes": workbook.stat().st_size,
            "targets": {"b_over_a": 1.5, "c_over_b": 10, "d_s": 2, "rss_mb": 1024, "year_gb": 2, "g_s": 60},
            "statuses": [first.status, second.status],
        },
    )


if __name__ == "__main__":
    main()
