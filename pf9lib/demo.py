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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pf9lib.errors import Pf9Error
from pf9lib.procutil import pid_alive

REPO = Path(__file__).resolve().parents[1]
DASHBOARDS = REPO / "dashboards"
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


# --------------------------------------------------------------------------------------------- clock


# --------------------------------------------------------------------------------------------- history


def _settings(sim, data_dir: Path):
    from pf9lib.config import load_settings

    clouds = sim.write_clouds_yaml(data_dir / "clouds.yaml", CLOUD)
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds)}
    return load_settings(cloud=CLOUD, data_dir=str(data_dir), env=env)


def collect_day(
    sim, data_dir: Path, settings=None, metrics: bool = True, offset: timedelta = timedelta(0)
) -> str:
    """One collect + drift evaluation + one metrics cycle against the simulated exporters; returns the run
    id. Runs and scrapes are stamped `offset` in the past (the simulated clock's distance from now)."""
    from pf9lib.analytics.drift_events import evaluate_run
    from pf9lib.collect.inventory import collect_cloud
    from pf9lib.collect.metrics import MetricsOptions, run_cycle
    from pf9lib.collect.metrics_targets import build_targets, hosts_from_inventory
    from pf9lib.store.reader import open_store

    settings = settings or _settings(sim, data_dir)
    result = collect_cloud(settings, data_dir, started_at=datetime.now(UTC) - offset)
    evaluate_run(data_dir, result.run_id)
    if metrics:
        store = open_store(data_dir)
        try:
            hosts = hosts_from_inventory(store)
        finally:
            store.close()
        template = TARGET_TEMPLATE.replace("{base_url}", sim.base_url)
        options = MetricsOptions(timeout_s=30, clock=lambda: datetime.now(UTC) - offset)
        run_cycle(data_dir, build_targets(hosts, template=template), options)
    return result.run_id


def build_history(
    sim,
    data_dir: Path | str,
    days: int = 30,
    hours_per_day: float = 24.0,
    progress: Callable[[int], None] | None = None,
    advance_first: bool = False,
) -> HistoryResult:
    """Collect `days` times, advancing the simulated cloud `hours_per_day` before each collect but the first.

    `advance_first` also advances before the first collect (continuing a history). Each run (and its
    metrics batch) is stamped with the simulated cloud's clock, so the store's times agree with the cloud's
    own (created_at of snapshots, servers …) and the history spans the simulated days.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = _settings(sim, data_dir)
    out = HistoryResult()
    t0 = time.monotonic()
    for day in range(days):
        if day or advance_first:
            clock = sim.client.advance(hours_per_day)["clock"]
        else:
            clock = sim.client.summary()["clock"]
        offset = datetime.now(UTC) - datetime.fromisoformat(clock.replace("Z", "+00:00"))
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


def voila_command(
    port: int,
    token: str,
    dashboards: Path = DASHBOARDS,
    cull_idle: int = 300,
    cull_interval: int = 60,
    preheat: bool = True,
    user_header: str = "X-Forwarded-User",
    theme: str = "light",
) -> list[str]:
    """The Voilà command line: 127.0.0.1 only, token on, idle kernels culled, one preheated kernel.

    `http_header_envs` hands the authenticating proxy's user header to the kernel (HTTP_X_FORWARDED_USER);
    the dashboard falls back to PF9WB_USER when no proxy sets it. Voilà preheats with `theme`; a page asked
    for with another `?theme=` gets a fresh kernel (slower, still correct).
    """
    voila = Path(sys.executable).parent / "voila"
    cmd = [
        str(voila),
        str(dashboards),
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
        cwd=str(REPO),
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
