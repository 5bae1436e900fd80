"""A simulated cloud process with the helpers tests use on it (the fixtures are in tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openstack
import openstack.config

from pf9sim.client import SimClient, SimProcess

VENV_BIN = Path(sys.executable).parent


class RunningSim:
    """A simulated cloud process plus the helpers tests use on it."""

    def __init__(self, process: SimProcess, workdir: Path, cloud_name: str = "pf9sim") -> None:
        self.process = process
        self.base_url = process.base_url
        self.auth_url = f"{self.base_url}/identity/v3"
        self.regions = process.regions
        self.cloud_name = cloud_name
        self.clouds_yaml = process.write_clouds_yaml(workdir / "clouds.yaml", cloud_name)
        self.client: SimClient = process.client

    def summary(self) -> dict:
        return self.client.summary()

    def advance(self, hours: float) -> dict:
        return self.client.advance(hours)

    def mutate(self, kind: str, obj_id: str, changes: dict) -> dict:
        return self.client.mutate(kind, obj_id, changes)

    def delete(self, kind: str, obj_id: str) -> dict:
        return self.client.delete(kind, obj_id)

    def faults(self, *rules: dict) -> dict:
        return self.client.add_faults(*rules)

    def clear_faults(self) -> dict:
        return self.client.clear_faults()

    def connect(self, region: str | None = None) -> openstack.connection.Connection:
        config = openstack.config.OpenStackConfig(config_files=[str(self.clouds_yaml)])
        cloud_region = config.get_one(cloud=self.cloud_name, region_name=region or self.regions[0])
        return openstack.connection.Connection(config=cloud_region)

    def env(self) -> dict[str, str]:
        """Environment for a CLI subprocess (openstack, pf9wb) pointed at this cloud."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PF9_"))}
        env["OS_CLIENT_CONFIG_FILE"] = str(self.clouds_yaml)
        env["OS_CLOUD"] = self.cloud_name
        return env

    def openstack_cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run python-openstackclient against this cloud (first region)."""
        cmd = [str(VENV_BIN / "openstack"), "--os-region-name", self.regions[0], *args]
        return subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=timeout)


def start_sim(tmp: Path, size: str = "tiny", seed: int = 42) -> RunningSim:
    """A `size` simulated cloud (tiny: what most tests use) started in its own process, working in `tmp`."""
    process = SimProcess(size=size, seed=seed, port=0, log_path=tmp / "simcloud.log").start()
    return RunningSim(process, tmp)
