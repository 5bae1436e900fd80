"""One run pipeline: a collect or a metrics cycle, then its after-run hooks, in one place.

The CLI, the scheduler, the demo and the tests all call `collect()` and `metrics_cycle()`, so the steps after
a run (drift evaluation, the workbench's textfile, later the SLA refresh) are registered once here instead of
being wired by hand in each caller. A hook that fails never fails the run it follows: the run is already
stored; the failure is reported in the outcome (and by the CLI as a warning).

Collecting never computes analytics: collect/ fetches, normalize/ derives, store/ persists; the pipeline runs
them in order and hands the result to the hooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pf9lib.errors import Pf9Error

log = logging.getLogger(__name__)
JOBS = ("collect", "metrics")


@dataclass
class RunContext:
    """What a hook is told about the run it follows."""

    job: str  # collect | metrics
    data_dir: Path
    run_id: str | None  # the collect run id, or the metrics batch id
    status: str  # success | partial | failed
    cloud: str | None = None
    result: Any = None  # the collect RunResult or the metrics CycleResult


@dataclass
class HookOutcome:
    name: str
    ok: bool
    message: str = ""


Hook = Callable[[RunContext], str | None]
_HOOKS: dict[str, dict[str, Hook]] = {job: {} for job in JOBS}


def register_hook(job: str, name: str, hook: Hook) -> None:
    """Run `hook` after every `job` run, after the hooks registered before it (same name: replaced)."""
    if job not in _HOOKS:
        raise ValueError(f"unknown job {job!r}: hooks follow one of {', '.join(JOBS)}")
    _HOOKS[job][name] = hook


def hook_names(job: str) -> list[str]:
    return list(_HOOKS[job])


def run_hooks(context: RunContext, skip: tuple[str, ...] = ()) -> list[HookOutcome]:
    outcomes = []
    for name, hook in _HOOKS[context.job].items():
        if name in skip:
            continue
        try:
            outcomes.append(HookOutcome(name, True, hook(context) or ""))
        except Pf9Error as exc:
            outcomes.append(HookOutcome(name, False, str(exc)))
        except Exception as exc:  # a hook's bug must not lose the run that is already stored
            log.exception("after-%s hook %s failed", context.job, name)
            outcomes.append(HookOutcome(name, False, f"{type(exc).__name__}: {exc}"))
    return outcomes


# --------------------------------------------------------------------------------------------- collect


@dataclass
class CollectOutcome:
    result: Any  # pf9lib.collect.inventory.RunResult
    hooks: list[HookOutcome] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.result.run_id

    @property
    def status(self) -> str:
        return self.result.status

    @property
    def exit_code(self) -> int:
        return self.result.exit_code


def collect(
    settings,
    data_dir: Path | str | None = None,
    types: list[str] | None = None,
    progress: Callable[[str, Any], None] | None = None,
    started_at: datetime | None = None,
    policy=None,
    skip_hooks: tuple[str, ...] = (),
) -> CollectOutcome:
    """Collect one cloud into the store (a run), then run the collect hooks on it (but `skip_hooks`)."""
    from pf9lib.collect.inventory import collect_cloud

    data_dir = Path(data_dir or settings.data_dir)
    result = collect_cloud(settings, data_dir, types, progress=progress, policy=policy, started_at=started_at)
    context = RunContext("collect", data_dir, result.run_id, result.status, settings.cloud, result)
    return CollectOutcome(result, run_hooks(context, skip_hooks))


# --------------------------------------------------------------------------------------------- metrics


@dataclass
class MetricsOutcome:
    results: list[Any]  # pf9lib.pipeline_metrics.CycleResult per batch (one for a scrape)
    hooks: list[HookOutcome] = field(default_factory=list)

    @property
    def result(self) -> Any:
        return self.results[-1]


def metrics_cycle(
    data_dir: Path | str,
    targets: list,
    options=None,
    now: datetime | None = None,
    skip_hooks: tuple[str, ...] = (),
) -> MetricsOutcome:
    """Scrape every target once, derive and store the values with their alerts, then run the metrics hooks."""
    from pf9lib.pipeline_metrics import run_cycle

    result = run_cycle(data_dir, targets, options, now)
    status = "success" if result.up or not result.targets else "failed"
    context = RunContext("metrics", Path(data_dir), result.batch_id, status, None, result)
    return MetricsOutcome([result], run_hooks(context, skip_hooks))


def metrics_import(
    data_dir: Path | str,
    base_url: str,
    start: datetime,
    end: datetime,
    step_s: float,
    hosts=(),
    host_map: dict[str, str] | None = None,
    options=None,
    skip_hooks: tuple[str, ...] = (),
) -> MetricsOutcome:
    """Read [start, end] from an existing Prometheus instead of scraping, store it, then run the hooks."""
    from pf9lib.pipeline_metrics import import_range

    results = import_range(data_dir, base_url, start, end, step_s, hosts, host_map, options)
    last = results[-1].batch_id if results else None
    context = RunContext("metrics", Path(data_dir), last, "success", None, results)
    return MetricsOutcome(results, run_hooks(context, skip_hooks))


# --------------------------------------------------------------------------------------------- hooks


def _evaluate_drift(context: RunContext) -> str | None:
    if context.status == "failed":
        return "skipped: the run failed"
    from pf9lib.analytics.drift_events import evaluate_run

    events = evaluate_run(context.data_dir, context.run_id)
    if not len(events):
        return "no drift"
    counts = events["severity"].value_counts().to_dict()
    return ", ".join(f"{n} {sev}" for sev, n in sorted(counts.items())) + " (pf9wb drift events)"


def _write_textfile(context: RunContext) -> str | None:
    from pf9lib.reports.textfile import write_workbench_textfile

    return f"wrote {write_workbench_textfile(context.data_dir)}"


register_hook("collect", "drift", _evaluate_drift)
register_hook("collect", "textfile", _write_textfile)
register_hook("metrics", "textfile", _write_textfile)
