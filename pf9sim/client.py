"""Drive a simulated cloud from outside: run it as a process, call its /_sim API, write clouds.yaml."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from pf9lib.errors import CloudError

DEFAULT_PORT = 8780
ADMIN_USER = "admin"
ADMIN_PASSWORD = "pf9sim-admin"  # the simulator's own demo credential, not a secret of any real cloud
READY_PREFIX = "pf9sim ready "


class SimClient:
    """Calls the control API of a running simulated cloud."""

    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    @property
    def auth_url(self) -> str:
        return f"{self.base_url}/identity/v3"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.base_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise CloudError(f"simulated cloud answered {exc.code} to {method} {path}: {detail}") from None
        except urllib.error.URLError as exc:
            raise CloudError(
                f"cannot reach the simulated cloud at {self.base_url} ({exc.reason}): "
                "start it with `pf9wb sim serve`"
            ) from None

    def summary(self) -> dict[str, Any]:
        return self._call("GET", "/_sim/summary")

    def advance(self, hours: float) -> dict[str, Any]:
        return self._call("POST", "/_sim/advance", {"hours": hours})

    def mutate(self, kind: str, obj_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/_sim/mutate", {"type": kind, "id": obj_id, "set": changes})

    def delete(self, kind: str, obj_id: str) -> dict[str, Any]:
        return self._call("POST", "/_sim/delete", {"type": kind, "id": obj_id})

    def get_object(self, kind: str, obj_id: str) -> dict[str, Any]:
        return self._call("GET", f"/_sim/objects/{kind}/{obj_id}")

    def options(self, **changes: bool) -> dict[str, Any]:
        """The simulator's switches (e.g. nightly_snapshots=False); without arguments, just read them."""
        return self._call("POST", "/_sim/options", changes) if changes else self._call("GET", "/_sim/options")

    def add_faults(self, *rules: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/_sim/faults", {"rules": list(rules)})

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/_sim/faults")

    def expire_tokens(self) -> dict[str, Any]:
        return self._call("POST", "/_sim/tokens/expire")


def clouds_yaml(
    base_url: str, regions: list[str], cloud_name: str = "pf9sim", password: str = ADMIN_PASSWORD
) -> str:
    """A clouds.yaml whose cloud `cloud_name` is the simulated cloud's admin, in every region."""
    cloud: dict[str, Any] = {
        "auth": {
            "auth_url": f"{base_url.rstrip('/')}/identity/v3",
            "username": ADMIN_USER,
            "password": password,
            "project_name": "admin",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        "identity_api_version": 3,
        "interface": "public",
    }
    if len(regions) == 1:
        cloud["region_name"] = regions[0]
    else:
        cloud["regions"] = list(regions)
    return yaml.safe_dump({"clouds": {cloud_name: cloud}}, sort_keys=False)


class SimProcess:
    """A simulated cloud running as a child process (`python -m pf9sim serve`), as tests and the demo use it.

    Ready when the child prints READY_PREFIX + JSON (base URL, regions) on stdout; its log goes to stderr."""

    def __init__(
        self,
        size: str = "tiny",
        seed: int = 42,
        port: int = 0,
        state: Path | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.size, self.seed, self.port, self.state, self.log_path = size, seed, port, state, log_path
        self.proc: subprocess.Popen | None = None
        self.base_url = ""
        self.regions: list[str] = []

    def start(self, timeout: float = 120.0) -> SimProcess:
        cmd = [
            sys.executable,
            "-m",
            "pf9sim",
            "serve",
            "--size",
            self.size,
            "--seed",
            str(self.seed),
            "--port",
            str(self.port),
        ]
        if self.state is not None:
            cmd += ["--state", str(self.state)]
        stderr = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                if self.proc.poll() is not None:
                    raise CloudError(
                        f"simulated cloud exited with {self.proc.returncode} before it was ready"
                    )
                continue
            if line.startswith(READY_PREFIX):
                info = json.loads(line[len(READY_PREFIX) :])
                self.base_url, self.regions = info["base_url"], info["regions"]
                return self
        self.stop()
        raise CloudError(f"simulated cloud was not ready within {timeout:.0f} s")

    @property
    def client(self) -> SimClient:
        return SimClient(self.base_url)

    def write_clouds_yaml(self, path: Path, cloud_name: str = "pf9sim") -> Path:
        path.write_text(clouds_yaml(self.base_url, self.regions, cloud_name))
        return path

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
