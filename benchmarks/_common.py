"""Shared by the benchmark scripts: a simulated cloud process, settings for it, JSON results, peak RSS."""

from __future__ import annotations

import json
import os
import platform
import resource
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pf9lib.config import load_settings
from pf9sim.client import SimProcess

RESULTS = Path(__file__).resolve().parent / "results"


def start_sim(size: str, workdir: Path) -> tuple[SimProcess, object]:
    """A simulated cloud in its own process (so the server never shares our CPU time) and settings for it."""
    sim = SimProcess(size=size, port=0, log_path=workdir / "simcloud.log").start(timeout=600)
    clouds = sim.write_clouds_yaml(workdir / "clouds.yaml")
    settings = load_settings(
        cloud="pf9sim",
        data_dir=str(workdir / "data"),
        env={**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds)},
    )
    return sim, settings


def workdir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"pf9bench-{name}-"))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_results(name: str, results: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {
        "benchmark": name,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **results,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return path
