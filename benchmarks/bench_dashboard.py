"""The demo's numbers: building ~30 simulated days of history on `small`, the overview notebook's execution
time after its kernel starts (the ≤ 3 s target), and the time to a rendered page in Chromium through Voilà
with a preheated kernel.

    .venv/bin/python -m benchmarks.bench_dashboard [--days 30] [--size small]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from benchmarks._common import workdir, write_results
from pf9lib.demo import REPO, build_history, dashboard_url, start_voila, stop_process
from pf9sim.client import SimProcess


def notebook_seconds(data_dir: Path, repeats: int = 3) -> list[float]:
    """Execution of every cell of dashboards/overview.ipynb in an already started kernel."""
    import nbformat
    from nbclient import NotebookClient

    os.environ["PF9WB_DATA_DIR"] = str(data_dir)
    times = []
    for _ in range(repeats):
        nb = nbformat.read(REPO / "dashboards" / "overview.ipynb", as_version=4)
        client = NotebookClient(nb, timeout=120, kernel_name="python3")
        with client.setup_kernel():
            started = time.perf_counter()
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, i)
            times.append(time.perf_counter() - started)
    return times


def browser_seconds(data_dir: Path, work: Path, repeats: int = 3) -> list[float]:
    """Navigation → health cards, drift rows and plots drawn, each visit on a preheated kernel."""
    from playwright.sync_api import sync_playwright

    proc, url, token = start_voila(data_dir, log_path=work / "voila.log", extra_env={"PF9WB_USER": "bench"})
    times = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            for _ in range(repeats):
                time.sleep(15)  # let the pool's kernel finish preheating
                page = browser.new_page()
                started = time.perf_counter()
                page.goto(dashboard_url(url, token))
                for selector in (".pf9-card-value", ".drift-row", ".js-plotly-plot .main-svg"):
                    page.wait_for_selector(selector, timeout=120_000)
                times.append(time.perf_counter() - started)
                page.close()
            browser.close()
    finally:
        stop_process(proc.pid)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="small")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    work = workdir("dashboard")
    data_dir = work / "data"
    sim = SimProcess(size=args.size, port=0, log_path=work / "simcloud.log").start(timeout=600)
    try:
        history = build_history(sim, data_dir, days=args.days)
    finally:
        sim.stop()
    nb = notebook_seconds(data_dir)
    page = browser_seconds(data_dir, work)
    write_results(
        "dashboard",
        {
            "size": args.size,
            "days": args.days,
            "history_build_s": round(history.seconds, 1),
            "overview_notebook_s": [round(t, 2) for t in nb],
            "overview_notebook_median_s": round(statistics.median(nb), 2),
            "overview_browser_preheated_s": [round(t, 2) for t in page],
            "overview_browser_preheated_median_s": round(statistics.median(page), 2),
        },
    )


if __name__ == "__main__":
    main()
