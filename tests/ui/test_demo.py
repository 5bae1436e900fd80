"""`pf9wb demo` end to end on the tiny estate: history, Voilà with its token, `demo stop`, and reuse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pf9lib.demo import PID_FILE, free_port, stored_runs

pytestmark = pytest.mark.integration
PF9WB = [sys.executable, "-m", "pf9lib.cli"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_serves_stops_and_reuses(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [*PF9WB, "demo", "--size", "tiny", "--days", "2", "--port", "0", "--data-dir", str(data)]
    demo = subprocess.Popen(
        [*cmd, "--voila-port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            assert line or demo.poll() is None, "".join(lines)
            lines.append(line)
            if "/voila/render/home.ipynb?token=" in line:
                url = line.strip()
                break
        else:
            pytest.fail("no dashboard URL printed:\n" + "".join(lines))
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=60) as resp:
            assert resp.status == 200
        info = json.loads((data / PID_FILE).read_text())
        pids = info["pids"]
        assert set(pids) == {"demo", "simcloud", "voila"} and info["url"] in url
        assert stored_runs(data) == 2

        stop = subprocess.run(
            [*PF9WB, "demo", "stop", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert stop.returncode == 0 and "stopped demo" in stop.stdout
        demo.wait(30)
        time.sleep(0.5)
        assert not any(_alive(pid) for pid in pids.values())
        assert not (data / PID_FILE).exists()
    finally:
        if demo.poll() is None:
            demo.kill()

    again = subprocess.run([*cmd, "--no-serve"], capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Reusing the history" in again.stdout
    assert stored_runs(Path(data)) == 2
