"""The restore wizard's time to first interactive page, on a data directory collected from a simulated cloud
(its own process) and served by Voilà as the demo serves it, with that cloud's clouds.yaml:

- in process: building pf9lib.ui.restore_wizard.RestoreWizard (store opened, the projects listed);
- in Chromium, from navigation: the first stage drawn (`rendered_s`), and the first answer of the kernel to
  a click (`interactive_s`: Next → the VM list drawn; under a preheated kernel this also waits for the page
  request to reach the kernel); warm (the page takes the preheated kernel of Voilà's pool) and cold (a
  kernel per visit);
- in Chromium, each later step of a walk up to the review: VM → restore points, point → options, options →
  the plan (live checks against the cloud). A visit not done within 90 s is recorded as null.

    .venv/bin/python -m benchmarks.bench_wizard [--size tiny] [--repeats 3]
    → benchmarks/results/bench_wizard.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from benchmarks._common import start_sim, workdir, write_results
from pf9lib import identity, pipeline
from pf9lib.actions import restore
from pf9lib.demo import dashboard_url, start_voila, stop_process
from pf9lib.store.reader import Store
from pf9lib.ui.restore_wizard import RestoreWizard

USER = "bench"
SETTLE_S = 10.0  # before a warm visit: the pool's kernel has run the notebook and waits for a page
TIMEOUT_MS = 90_000


def _target(data_dir: Path) -> tuple[str, str]:
    """(project name, VM name) of the first boot-from-volume VM with a restore point in the store."""
    store = Store(data_dir)
    for project in restore.projects_with_vms(store).itertuples():
        for vm in restore.vms_of_project(store, project.project_id).itertuples():
            if vm.boot == "volume" and len(restore.points(store, vm.id)):
                return project.project_name, vm.name
    raise SystemExit("no boot-from-volume VM with a restore point in this estate")


def build_times(settings, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        RestoreWizard(settings.data_dir, settings, viewer=lambda: USER)
        out.append(round(time.perf_counter() - started, 3))
    return out


def _option(page, widget: str, starts: str) -> str:
    """The label of the option of `widget` starting with `starts` (ipywidgets puts non-breaking spaces)."""
    for text in page.locator(f".{widget} option").all_inner_texts():
        if text.replace("\xa0", " ").startswith(starts):
            return text
    raise AssertionError(f"no option {starts!r} in .{widget}")


def visit(browser, url: str, token: str, project: str, vm: str) -> dict[str, float | None]:
    """One walk from navigation to the review: seconds of each stage (None from the first that timed out)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = browser.new_page(extra_http_headers={"X-Forwarded-User": USER})
    times: dict[str, float | None] = dict.fromkeys(
        ("rendered_s", "interactive_s", "points_s", "options_s", "plan_s")
    )
    try:
        started = time.perf_counter()
        page.goto(dashboard_url(url, token, "restore_wizard.ipynb"), timeout=TIMEOUT_MS)
        page.wait_for_selector(".restore-next-project", timeout=TIMEOUT_MS)
        times["rendered_s"] = time.perf_counter() - started
        page.select_option(".restore-project select", label=_option(page, "restore-project", f"{project} ("))
        page.click(".restore-next-project")
        page.wait_for_selector(".restore-vm select", timeout=TIMEOUT_MS)
        times["interactive_s"] = time.perf_counter() - started
        page.select_option(".restore-vm select", label=_option(page, "restore-vm", f"{vm} ·"))
        for key, button, selector in (
            ("points_s", ".restore-next-vm", ".restore-point select"),
            ("options_s", ".restore-next-point", ".restore-name input"),
            ("plan_s", ".restore-next-options", ".restore-plan-steps li"),
        ):
            t = time.perf_counter()
            page.click(button)
            page.wait_for_selector(selector, timeout=TIMEOUT_MS)
            times[key] = time.perf_counter() - t
    except PlaywrightTimeout:
        pass
    finally:
        page.close()
    return {k: None if v is None else round(v, 2) for k, v in times.items()}


def browser_figures(settings, clouds: Path, work: Path, repeats: int, warm: bool) -> list[dict]:
    from playwright.sync_api import sync_playwright

    project, vm = _target(Path(settings.data_dir))
    env = {"OS_CLIENT_CONFIG_FILE": str(clouds), "OS_CLOUD": settings.cloud, "PF9WB_USER": ""}
    proc, url, token = start_voila(
        settings.data_dir,
        preheat=warm,
        log_path=work / f"voila-{'warm' if warm else 'cold'}.log",
        extra_env=env,
    )
    visits = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            for _ in range(repeats):
                if warm:
                    time.sleep(SETTLE_S)
                visits.append(visit(browser, url, token, project, vm))
            browser.close()
    finally:
        stop_process(proc.pid)
    return visits


def _medians(visits: list[dict]) -> dict[str, float | None]:
    out = {}
    for key in visits[0]:
        done = [v[key] for v in visits if v[key] is not None]
        out[key] = round(statistics.median(done), 2) if done else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = workdir("wizard")
    load_before = os.getloadavg()
    sim, settings = start_sim(args.size, work)
    try:
        pipeline.collect(settings, settings.data_dir)
        identity.grant(settings.data_dir, USER, USER, "admin")
        build = build_times(settings, args.repeats)
        clouds = work / "clouds.yaml"
        warm = browser_figures(settings, clouds, work, args.repeats, warm=True)
        cold = browser_figures(settings, clouds, work, args.repeats, warm=False)
    finally:
        sim.stop()
    write_results(
        "bench_wizard",
        {
            "size": args.size,
            "build_s": build,
            "build_median_s": round(statistics.median(build), 3),
            "warm": {"visits": warm, "median": _medians(warm)},
            "cold": {"visits": cold, "median": _medians(cold)},
            "load_average": {
                "before": [round(x, 2) for x in load_before],
                "after": [round(x, 2) for x in os.getloadavg()],
            },
        },
    )


if __name__ == "__main__":
    main()
