"""The managers' dashboards (home, tenant health, capacity, monitoring, history): navigation → fully rendered
in Chromium through Voilà with a preheated kernel (the page takes the kernel the pool ran the notebook in).

One Voilà serves a directory holding only these notebooks (so only their kernels are preheated); each visit
waits until the page's cards and its charts are drawn. Between rounds the pools get SETTLE_S to preheat the
next kernels. A visit not rendered within 90 s is recorded as null. The machine's load is recorded too.

    .venv/bin/python -m benchmarks.bench_pages [--history DIR] [--size tiny] [--days 7] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

from benchmarks._common import workdir, write_results
from pf9lib.demo import build_history, dashboard_url, start_voila, stop_process
from pf9sim.client import SimProcess

SETTLE_S = 20.0  # the pool's kernels run their notebook and wait for a page
RENDER_TIMEOUT_MS = 90_000
REPO = Path(__file__).resolve().parents[1]
PAGES = {
    "home.ipynb": (".pf9-home-tiles .pf9-card-value",),
    "tenant_health.ipynb": (".pf9-card-value", ".pf9-heatmap .main-svg", ".pf9-trends .main-svg"),
    "capacity.ipynb": (".pf9-card-value", ".pf9-allocation .main-svg", ".pf9-forecast-chart .main-svg"),
    "monitoring.ipynb": (".pf9-card-value", ".pf9-series .main-svg", ".pf9-alerts"),
    "history.ipynb": (".pf9-card-value", ".js-plotly-plot .main-svg", ".pf9-most-changed"),
}


def visits(data_dir: Path, work: Path, repeats: int) -> dict[str, list[float | None]]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    folder = work / "dashboards"
    folder.mkdir()
    for name in PAGES:
        shutil.copy(REPO / "dashboards" / name, folder / name)
    proc, url, token = start_voila(
        data_dir,
        dashboards=folder,
        preheat=True,
        log_path=work / "voila.log",
        extra_env={"PF9WB_USER": "bench"},
    )
    times: dict[str, list[float | None]] = {name: [] for name in PAGES}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            for _ in range(repeats):
                time.sleep(SETTLE_S)
                for name, selectors in PAGES.items():
                    page = browser.new_page(viewport={"width": 1400, "height": 1800})
                    started = time.perf_counter()
                    try:
                        page.goto(dashboard_url(url, token, name), timeout=RENDER_TIMEOUT_MS)
                        for selector in selectors:
                            page.wait_for_selector(selector, timeout=RENDER_TIMEOUT_MS)
                        times[name].append(round(time.perf_counter() - started, 2))
                    except PlaywrightTimeout:
                        times[name].append(None)
                    page.close()
            browser.close()
    finally:
        stop_process(proc.pid)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=Path, help="reuse this data directory instead of building one")
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = workdir("pages")
    if args.history:
        data_dir = args.history
    else:
        data_dir = work / "data"
        sim = SimProcess(size=args.size, port=0, log_path=work / "simcloud.log").start(timeout=600)
        try:
            build_history(sim, data_dir, days=args.days)
        finally:
            sim.stop()
    load_before = os.getloadavg()
    times = visits(data_dir, work, args.repeats)
    medians = {
        name: (round(statistics.median(done), 2) if (done := [t for t in ts if t is not None]) else None)
        for name, ts in times.items()
    }
    write_results(
        "bench_pages",
        {
            "history": str(args.history) if args.history else f"{args.size}, {args.days} days",
            "repeats": args.repeats,
            "settle_s": SETTLE_S,
            "navigation_to_rendered_s": times,
            "median_s": medians,
            "hung": sum(t is None for ts in times.values() for t in ts),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
    )


if __name__ == "__main__":
    main()
