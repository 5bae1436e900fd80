"""One run pipeline: a collect through pipeline.collect runs its registered after-run hooks, a hook that fails
never fails the run, the scheduler's built-in collect job runs the same pipeline, and progress off a terminal
is one line per step."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pf9lib import pipeline, scheduling
from pf9lib.config import load_settings
from pf9lib.store.reader import open_store

pytestmark = pytest.mark.integration


def _settings(sim, data_dir):
    return load_settings(cloud=sim.cloud_name, data_dir=str(data_dir), env=sim.env())


def test_collect_runs_its_hooks_in_order_and_a_failing_hook_is_reported_not_raised(
    fresh_sim, tmp_path, monkeypatch
):
    seen = []
    monkeypatch.setitem(pipeline._HOOKS, "collect", dict(pipeline._HOOKS["collect"]))
    pipeline.register_hook(
        "collect", "probe", lambda ctx: seen.append((ctx.job, ctx.run_id, ctx.status)) or "ok"
    )
    first = pipeline.collect(_settings(fresh_sim, tmp_path), tmp_path)
    assert [h.name for h in first.hooks] == ["drift", "textfile", "probe"]
    assert all(h.ok for h in first.hooks), first.hooks
    assert seen == [("collect", first.run_id, "success")]
    assert (tmp_path / "metrics" / "pf9wb.prom").exists()
    # A broken rules file fails the drift hook only: the run is stored and the other hooks still run.
    (tmp_path / "drift").mkdir()
    (tmp_path / "drift" / "rules.yaml").write_text("rules: [{type: nope}]\n")
    fresh_sim.advance(24)
    second = pipeline.collect(_settings(fresh_sim, tmp_path), tmp_path)
    hooks = {h.name: h for h in second.hooks}
    assert second.status == "success" and not hooks["drift"].ok and "rules.yaml" in hooks["drift"].message
    assert hooks["textfile"].ok and hooks["probe"].ok
    assert (
        open_store(tmp_path).scalar("SELECT status FROM runs WHERE run_id = ?", [second.run_id]) == "success"
    )


def test_the_scheduled_collect_job_is_the_pipeline(fresh_sim, tmp_path, monkeypatch):
    for key, value in fresh_sim.env().items():
        if key.startswith("OS_"):
            monkeypatch.setenv(key, value)
    job = scheduling.Job("collect", None, "0 * * * *", 600.0, {"cloud": fresh_sim.cloud_name}, "collect")
    record = scheduling.run_job(job, tmp_path)
    assert record.status == "success", record.error
    store = open_store(tmp_path)
    run_id = store.scalar("SELECT run_id FROM runs")
    assert store.scalar("SELECT count(*) FROM servers") == fresh_sim.summary()["counts"]["servers"]
    assert (record.output_dir / "collect.log").read_text().count(f"run {run_id} on cloud") == 1
    assert scheduling.run_records(tmp_path).iloc[0]["notebook"] == "pf9wb collect --no-progress"


def test_progress_off_a_terminal_is_one_line_per_step(fresh_sim, tmp_path):
    env = {**fresh_sim.env(), "PF9WB_DATA_DIR": str(tmp_path)}
    pf9wb = os.path.join(os.path.dirname(sys.executable), "pf9wb")
    done = subprocess.run([pf9wb, "collect"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith(f"collect {fresh_sim.cloud_name}:")]
    assert len(lines) >= 20 and lines[0].startswith(f"collect {fresh_sim.cloud_name}: 1 listings")
