"""The demo's logic: a simulated cloud with ~30 days of stored history, then Voilà serving dashboards/.

`build_history` is also what the notebook, dashboard and UI tests use to get a small history (tiny estate, a
few days), so the demo and the tests exercise the same path: advance the simulated clock, collect, evaluate
drift, scrape the simulated exporters.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pf9lib.errors import Pf9Error
from pf9lib.procutil import pid_alive

TARGET_TEMPLATE = "{base_url}/_sim/exporters/{kind}/{hostname}/metrics"
PID_FILE = "demo.pid.json"
CLOUD = "pf9sim"


@dataclass
class HistoryResult:
    """What build_history did: runs collected now, days in the store, the last run, timings."""

    runs_added: int = 0
    run_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reused: bool = False


# --------------------------------------------------------------------------------------------- cloud


def start_sim(size: str, seed: int, port: int | None, state: Path, log_path: Path):
    """The simulated cloud as a child process, ready to answer; on pf9sim's default port unless one is given.

    pf9sim is imported here, when the demo starts it, never at module level: the product does not depend on
    the simulator, which is the demo's and the tests' cloud."""
    from pf9sim.client import DEFAULT_PORT, SimProcess

    port = DEFAULT_PORT if port is None else port
    return SimProcess(size=size, seed=seed, port=port, state=state, log_path=log_path).start()


# --------------------------------------------------------------------------------------------- history


# The simulator seeds this snapshot service account (pf9sim.generator); the demo's runs act as it.
SIM_SERVICE_USER = {
    "SNAPSHOT_SERVICE_USER_EMAIL": "snapshot-svc@pf9sim.local",
    "SNAPSHOT_SERVICE_USER_PASSWORD": "pf9sim-snapshots",
}
DEMO_RULES = """\
# The demo's snapshot policy rules: `pf9wb snapshots assign --help` explains the format.
rules:
  - {name: no-scratch, match: {volume_name_contains: scratch}, auto_snapshot: false}
  - name: production
    priority: 10
    match: {volume_name_contains: "-prod-"}
    policies: [daily_7, monthly_1st]
  - {name: everything-else, priority: 90, match: {}, policies: [daily_3]}
"""


def settings_for(sim, data_dir: Path):
    """Settings for the simulated cloud (clouds.yaml in the data directory, the sim's service user)."""
    from pf9lib.config import load_settings

    clouds = sim.write_clouds_yaml(data_dir / "clouds.yaml", CLOUD)
    env = {**SIM_SERVICE_USER, **os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds)}
    return load_settings(cloud=CLOUD, data_dir=str(data_dir), env=env)


def dashboard_env(sim, data_dir: Path) -> dict[str, str]:
    """What the demo's Voilà kernels need to act on the simulated cloud (admin page, restore wizard): its
    clouds.yaml and cloud, the service user, and restores enabled for real (it is a simulated cloud). A
    variable already set in the environment wins."""
    clouds = sim.write_clouds_yaml(data_dir / "clouds.yaml", CLOUD)
    wanted = {
        "OS_CLIENT_CONFIG_FILE": str(clouds),
        "OS_CLOUD": CLOUD,
        "RESTORE_ENABLED": "true",
        "RESTORE_DRY_RUN": "false",
        **SIM_SERVICE_USER,
    }
    return {key: os.environ.get(key) or value for key, value in wanted.items()}


def prepare_snapshots(sim, settings) -> None:
    """The workbench's snapshot job replaces the simulator's: the simulator's nightly job is switched off,
    the demo's rules are written (unless there are some), the person running the demo is its first admin
    (when nobody has a role yet), and the rules are applied to the volumes."""
    from pf9lib import identity
    from pf9lib.actions import apply
    from pf9lib.actions.snapshot_assign import plan_assign
    from pf9lib.policies import snapshots_dir

    sim.client.options(nightly_snapshots=False)
    rules = snapshots_dir(settings.data_dir) / "rules.yaml"
    if not rules.exists():
        rules.parent.mkdir(parents=True, exist_ok=True)
        rules.write_text(DEMO_RULES)
    who = identity.cli_identity(settings.data_dir)
    if not identity.grants(settings.data_dir):
        identity.grant(settings.data_dir, who, who.user, "admin")
    plan = plan_assign(settings, who)
    if plan.steps:
        apply(settings, plan.plan_id, who)


def snapshot_day(settings, at: datetime) -> str:
    """The day's policy run at the simulated clock `at`, planned and applied; returns its summary."""
    from pf9lib import identity
    from pf9lib.actions import apply
    from pf9lib.actions.snapshot_run import plan_run

    who = identity.cli_identity(settings.data_dir)
    plan = plan_run(settings, who, now=at)
    return apply(settings, plan.plan_id, who).message


def collect_day(
    sim, data_dir: Path, settings=None, metrics: bool = True, offset: timedelta = timedelta(0)
) -> str:
    """One collect and one metrics cycle against the simulated exporters, each through the pipeline (so with
    their after-run steps, as `pf9wb collect` runs them); returns the run id. Runs and scrapes are stamped
    `offset` in the past (the simulated clock's distance from now)."""
    from pf9lib import pipeline
    from pf9lib.collect.metrics_targets import build_targets, hosts_from_inventory
    from pf9lib.pipeline_metrics import MetricsOptions
    from pf9lib.store.reader import open_store

    settings = settings or settings_for(sim, data_dir)
    result = pipeline.collect(settings, data_dir, started_at=datetime.now(UTC) - offset)
    if metrics:
        store = open_store(data_dir)
        try:
            hosts = hosts_from_inventory(store)
        finally:
            store.close()
        template = TARGET_TEMPLATE.replace("{base_url}", sim.base_url)
        options = MetricsOptions(timeout_s=30, clock=lambda: datetime.now(UTC) - offset)
        pipeline.metrics_cycle(data_dir, build_targets(hosts, template=template), options)
    return result.run_id


def build_history(
    sim,
    data_dir: Path | str,
    days: int = 30,
    hours_per_day: float = 24.0,
    progress: Callable[[int], None] | None = None,
    advance_first: bool = False,
    snapshots: bool = True,
) -> HistoryResult:
    """Collect `days` times, advancing the simulated cloud `hours_per_day` before each collect but the first.

    `advance_first` also advances before the first collect (continuing a history). Each run (and its
    metrics batch) is stamped with the simulated cloud's clock, so the store's times agree with the cloud's
    own (created_at of snapshots, servers …) and the history spans the simulated days. With `snapshots`,
    the workbench's own policy run takes each day's snapshots (the simulator's job is switched off).
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings_for(sim, data_dir)
    if snapshots:
        prepare_snapshots(sim, settings)
    out = HistoryResult()
    t0 = time.monotonic()
    for day in range(days):
        if day or advance_first:
            clock = sim.client.advance(hours_per_day)["clock"]
        else:
            clock = sim.client.summary()["clock"]
        at = datetime.fromisoformat(clock.replace("Z", "+00:00"))
        if snapshots:
            snapshot_day(settings, at)
        offset = datetime.now(UTC) - at
        out.run_ids.append(collect_day(sim, data_dir, settings, offset=offset))
        out.runs_added += 1
        if progress:
            progress(1)
    out.seconds = time.monotonic() - t0
    return out


def stored_runs(data_dir: Path | str) -> int:
    """Completed runs in the store (0 when there is no store yet)."""
    from pf9lib.store.reader import open_store

    if not (Path(data_dir) / "store").exists():
        return 0
    store = open_store(data_dir)
    try:
        return int(store.sql("SELECT count(*) AS n FROM runs WHERE status <> 'failed'").iloc[0]["n"])
    finally:
        store.close()


# --------------------------------------------------------------------------------------------- Voilà


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PREHEATED_PAGES = ("home.ipynb", "overview.ipynb")  # where people land: a preheated kernel each


def voila_command(
    port: int,
    token: str,
    dashboards: Path | None = None,
    cull_idle: int = 300,
    cull_interval: int = 60,
    preheat: bool | Iterable[str] = PREHEATED_PAGES,
    user_header: str = "X-Forwarded-User",
    theme: str = "light",
) -> list[str]:
    """The Voilà command line: 127.0.0.1 only, token on, idle kernels culled, one preheated kernel for each
    page in `preheat` (True: every page; False: none).

    Voilà keeps a pool per notebook, and a pooled kernel runs its notebook at start and again after every
    visit; preheating all nine pages costs nine kernels' CPU and memory for pages few people open. The landing
    pages are preheated; the others start a kernel when asked (a few seconds more, then as fast).

    `http_header_envs` hands the authenticating proxy's user header to the kernel (HTTP_X_FORWARDED_USER);
    the dashboard falls back to PF9WB_USER when no proxy sets it. Voilà preheats with `theme`; a page asked
    for with another `?theme=` gets a fresh kernel (slower, still correct).
    """
    from pf9lib.workspace import workspace

    voila = Path(sys.executable).parent / "voila"
    cmd = [
        str(voila),
        str(dashboards or workspace().dashboards_dir),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        f"--token={token}",
        "--strip_sources=True",
        "--show_tracebacks=False",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle}",
        f"--MappingKernelManager.cull_interval={cull_interval}",
        f"--VoilaConfiguration.http_header_envs={json.dumps([user_header])}",
        f"--theme={theme}",
    ]
    if preheat:
        cmd += ["--preheat_kernel=True", "--pool_size=1"]
        if preheat is not True:
            folder = Path(dashboards or workspace().dashboards_dir)
            cold = sorted(p.name for p in folder.glob("*.ipynb") if p.name not in set(preheat))
            # Voilà denies a notebook whose path contains an entry (or matches it as a regular expression).
            denied = cold
            cmd.append(f"--VoilaKernelManager.preheat_denylist={json.dumps(denied)}")
    return cmd


def start_voila(
    data_dir: Path,
    port: int | None = None,
    token: str | None = None,
    log_path: Path | None = None,
    timeout: float = 90.0,
    extra_env: dict[str, str] | None = None,
    **kwargs,
) -> tuple[subprocess.Popen, str, str]:
    """Start Voilà on dashboards/ reading `data_dir`; returns (process, base URL, token) once it answers.
    `extra_env` is added to the environment of Voilà and its kernels; other keywords go to voila_command."""
    import urllib.request

    port = port or free_port()
    token = token or secrets.token_urlsafe(24)
    env = {**os.environ, "PF9WB_DATA_DIR": str(data_dir), **(extra_env or {})}
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        voila_command(port, token, **kwargs),
        cwd=str(kwargs.get("dashboards") or _dashboards()),
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,  # Ctrl-C in the demo's terminal is handled by the demo, which stops it
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Pf9Error(f"Voilà exited with {proc.returncode} at start: see {log_path}")
        try:
            with urllib.request.urlopen(f"{url}/?token={token}", timeout=2):
                return proc, url, token
        except OSError:
            time.sleep(0.3)
    stop_process(proc.pid)
    raise Pf9Error(f"Voilà did not answer on {url} within {timeout:.0f} s: see {log_path}")


def _dashboards() -> Path:
    from pf9lib.workspace import workspace

    return workspace().dashboards_dir


def dashboard_url(base_url: str, token: str, name: str = "overview.ipynb") -> str:
    return f"{base_url}/voila/render/{name}?token={token}"


def stop_process(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM the process group led by `pid` (Voilà and its kernels), SIGKILL after `timeout`."""
    try:
        group = os.getpgid(pid) == pid  # Voilà leads its own group (its kernels are in it)
        if group:
            os.killpg(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    return True


# --------------------------------------------------------------------------------------------- pid file


def write_pid_file(data_dir: Path, pids: dict[str, int], info: dict) -> Path:
    path = data_dir / PID_FILE
    path.write_text(json.dumps({"pids": pids, **info}, indent=1))
    return path


def stop_demo(data_dir: Path) -> list[str]:
    """Stop what a running demo started (from its pid file); returns what was stopped."""
    path = data_dir / PID_FILE
    if not path.exists():
        return []
    info = json.loads(path.read_text())
    stopped = []
    # The demo process first: its own handler then stops its children cleanly.
    for name in ("demo", "voila", "simcloud"):
        pid = info.get("pids", {}).get(name)
        if pid and pid != os.getpid() and pid_alive(pid):
            if name == "demo":
                os.kill(pid, signal.SIGTERM)
                _wait_gone(pid, 20)
            else:
                stop_process(pid)
            stopped.append(f"{name} (pid {pid})")
    path.unlink(missing_ok=True)
    return stopped


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
