"""One small history per test session, shared by tests/ui, tests/notebooks and tests/scheduling.

A `tiny` simulated cloud, three simulated days (advance 24 h + the policy snapshot run + collect + drift +
metrics, as the demo does),
then one server renamed to an HTML payload with a status change (so a drift event names it) and a fourth
collect.
The simulated cloud is stopped once the history is built: everything after reads the store only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pf9lib.demo import build_history, collect_day, settings_for, snapshot_day
from pf9sim.client import SimProcess

XSS_NAME = "<img src=x onerror=alert(1)>"
VIEWER = "alice@example.test"  # the dashboards' viewer in the UI tests (X-Forwarded-User)
DAYS = 3
_CACHE: dict = {}


@dataclass(frozen=True)
class History:
    data_dir: Path
    run_ids: list[str]
    xss_server_id: str
    counts: dict[str, int]  # the simulated cloud's own object counts at the last collect


def shared_history(tmp_path_factory) -> History:
    """Build the history on first use in this session; later callers get the same directory."""
    if "history" not in _CACHE:
        root = tmp_path_factory.mktemp("workbench-history")
        data_dir = root / "data"
        sim = SimProcess(size="tiny", seed=42, port=0, log_path=root / "simcloud.log").start()
        try:
            result = build_history(sim, data_dir, days=DAYS)
            target = _an_active_server(data_dir)
            sim.client.mutate("servers", target, {"name": XSS_NAME, "status": "PAUSED"})
            clock = sim.client.advance(24)["clock"]
            at = datetime.fromisoformat(clock.replace("Z", "+00:00"))
            snapshot_day(settings_for(sim, data_dir), at)  # the day's policy run, as every demo day has
            last = collect_day(sim, data_dir, offset=datetime.now(UTC) - at)
            counts = sim.client.summary()["counts"]
        finally:
            sim.stop()
        _CACHE["history"] = History(data_dir, [*result.run_ids, last], target, counts)
    return _CACHE["history"]


def _an_active_server(data_dir: Path) -> str:
    from pf9lib.store.reader import open_store

    store = open_store(data_dir)
    try:
        return str(store.sql("SELECT id FROM servers WHERE status = 'ACTIVE' ORDER BY id LIMIT 1")["id"][0])
    finally:
        store.close()


def shared_job_runs(tmp_path_factory) -> dict:
    """The shipped notebook jobs, run once per session on the shared history: {job name: RunRecord}."""
    if "jobs" not in _CACHE:
        from pf9lib import scheduling

        history = shared_history(tmp_path_factory)
        jobs = [job for job in scheduling.load_jobs() if job.notebook is not None]
        _CACHE["jobs"] = {job.name: scheduling.run_job(job, history.data_dir) for job in jobs}
    return _CACHE["jobs"]
