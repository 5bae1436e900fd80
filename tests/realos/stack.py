"""The real OpenStack of ../shared/realos as tests see it: where it is, who may log in, the CLI and the SDK.

`make test-real` (tests/realos/tier.sh) starts the stack and sets REALOS_STATE to its state dir, which holds
adminrc/demorc (openrc files), etc/ (each service's config) and samples/ (real bodies recorded at start-up).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openstack
import openstack.config
import yaml

AUTH_URL = "http://127.0.0.1:5000/v3"
REGION = "RegionOne"
VENV_BIN = Path(sys.executable).parent


def keystone_answers(url: str = AUTH_URL, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def why_not_up() -> str | None:
    """None when the stack is there to test, else the one-line reason the realos tests skip."""
    state = os.environ.get("REALOS_STATE")
    if not state:
        return "real OpenStack not started: REALOS_STATE is unset (run `make test-real`)"
    if not (Path(state) / "adminrc").is_file():
        return f"real OpenStack not started: no adminrc in REALOS_STATE={state}"
    if not keystone_answers():
        return f"real OpenStack is down: Keystone on {AUTH_URL} does not answer"
    return None


def read_openrc(path: Path) -> dict[str, str]:
    """The OS_* variables an openrc file exports (`export A=1 B=2` lines)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line)
        if words[:1] != ["export"]:
            continue
        for word in words[1:]:
            name, sep, value = word.partition("=")
            if sep and name.startswith("OS_"):
                values[name] = value
    return values


def cloud_entry(rc: dict[str, str], **override: Any) -> dict[str, Any]:
    """A clouds.yaml entry for an openrc's user and project (keys of `override` replace auth keys)."""
    auth = {
        "auth_url": rc["OS_AUTH_URL"],
        "username": rc["OS_USERNAME"],
        "password": rc["OS_PASSWORD"],
        "project_name": rc["OS_PROJECT_NAME"],
        "user_domain_name": rc["OS_USER_DOMAIN_NAME"],
        "project_domain_name": rc["OS_PROJECT_DOMAIN_NAME"],
    }
    auth.update(override)
    return {"auth": auth, "region_name": rc.get("OS_REGION_NAME", REGION), "identity_api_version": 3}


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


class RealStack:
    """A running realos stack: its state dir, a clouds.yaml with `realos-admin` and `realos-demo`, helpers."""

    def __init__(self, state: Path, workdir: Path) -> None:
        self.state = state
        self.workdir = workdir
        self.admin_rc = read_openrc(state / "adminrc")
        # adminrc puts the services' venv first on PATH: its gunicorn and keystone serve test-only processes
        path = re.search(r"(?m)^export PATH=([^:$]+)", (state / "adminrc").read_text())
        self.bin = Path(os.environ.get("REALOS_VENV", "")) / "bin" if not path else Path(path.group(1))
        self.demo_rc = read_openrc(state / "demorc")
        self.clouds: dict[str, dict[str, Any]] = {
            "realos-admin": cloud_entry(self.admin_rc),
            "realos-demo": cloud_entry(self.demo_rc),
        }
        self.clouds_yaml = workdir / "clouds.yaml"
        self.write_clouds()

    # -- clouds.yaml ------------------------------------------------------------------------------
    def write_clouds(self) -> Path:
        self.clouds_yaml.write_text(yaml.safe_dump({"clouds": self.clouds}, sort_keys=True))
        self.clouds_yaml.chmod(0o600)
        return self.clouds_yaml

    def add_cloud(self, name: str, entry: dict[str, Any]) -> str:
        """Add (or replace) a clouds.yaml entry; tests remove theirs with `remove_cloud`."""
        self.clouds[name] = entry
        self.write_clouds()
        return name

    def remove_cloud(self, name: str) -> None:
        self.clouds.pop(name, None)
        self.write_clouds()

    def env(self, cloud: str = "realos-admin", **extra: str) -> dict[str, str]:
        """Environment for a subprocess (openstack, pf9wb) pointed at one clouds.yaml entry."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PF9_"))}
        env.update(OS_CLIENT_CONFIG_FILE=str(self.clouds_yaml), OS_CLOUD=cloud, **extra)
        return env

    # -- clients ----------------------------------------------------------------------------------
    def connect(self, cloud: str = "realos-admin") -> openstack.connection.Connection:
        config = openstack.config.OpenStackConfig(config_files=[str(self.clouds_yaml)])
        return openstack.connection.Connection(config=config.get_one(cloud=cloud))

    def openstack(self, *args: str, cloud: str = "realos-admin", timeout: float = 120) -> Any:
        """python-openstackclient's JSON answer (`-f json` is added); fails the test with stderr otherwise."""
        cmd = [str(VENV_BIN / "openstack"), *args, "-f", "json"]
        done = subprocess.run(cmd, env=self.env(cloud), capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
        return json.loads(done.stdout or "null")

    def openstack_many(self, *commands: tuple[str, ...], cloud: str = "realos-admin") -> list[Any]:
        """The JSON answers of several CLI commands, run in one interactive `openstack` process (each process
        start costs seconds: imports and a new token)."""
        script = "".join(shlex.join([*cmd, "-f", "json"]) + "\n" for cmd in commands)
        done = subprocess.run(
            [str(VENV_BIN / "openstack")], input=script, env=self.env(cloud), capture_output=True, text=True,
            timeout=60 + 10 * len(commands),
        )  # fmt: skip
        decoder, text, answers, pos = json.JSONDecoder(), done.stdout, [], 0
        while (pos := _skip_space(text, pos)) < len(text):
            answer, pos = decoder.raw_decode(text, pos)
            answers.append(answer)
        if len(answers) != len(commands):
            raise AssertionError(f"{len(commands)} commands, {len(answers)} answers: {done.stderr[-800:]}")
        return answers

    def pf9wb(
        self, *args: str, cloud: str = "realos-admin", timeout: float = 300
    ) -> subprocess.CompletedProcess:
        cmd = [str(VENV_BIN / "pf9wb"), *args]
        return subprocess.run(cmd, env=self.env(cloud), capture_output=True, text=True, timeout=timeout)

    # -- the stack's own files --------------------------------------------------------------------
    def access_log_count(self, pattern: str) -> int:
        """How many lines of the services' access logs (logs/*-access.log) match `pattern`."""
        regex = re.compile(pattern)
        return sum(
            1
            for log in (self.state / "logs").glob("*-access.log")
            for line in log.read_text(errors="replace").splitlines()
            if regex.search(line)
        )
