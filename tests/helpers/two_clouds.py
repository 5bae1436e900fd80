"""A store holding two clouds (the simulated cloud named twice, "east" and "west"), for a module fixture
(`yield from two_cloud_store(tmp_path_factory)`):
east is collected, then a server is set to ERROR and west is collected, so west alone sees it. The
managers' pages and reports check that their cloud filter keeps the two apart."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from pf9lib import pipeline
from pf9lib.config import load_settings
from pf9sim.client import clouds_yaml
from tests.helpers.sim import start_sim


def two_cloud_store(tmp_path_factory) -> Iterator[Path]:
    """One store holding two clouds (the simulated cloud named twice): east collected, then a server set to
    ERROR, then west collected; west alone sees the ERROR server."""
    root = tmp_path_factory.mktemp("managers-two-clouds")
    sim = start_sim(root)
    try:
        doc = {"clouds": {}}
        for name in ("east", "west"):
            doc["clouds"].update(yaml.safe_load(clouds_yaml(sim.base_url, sim.regions, name))["clouds"])
        config = root / "two-clouds.yaml"  # beside the sim helper's own clouds.yaml
        config.write_text(yaml.safe_dump(doc))
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(config)}
        data_dir = root / "data"
        clock = datetime.fromisoformat(sim.summary()["clock"].replace("Z", "+00:00"))

        def collect(cloud: str, when: datetime) -> None:
            settings = load_settings(cloud=cloud, data_dir=str(data_dir), env=env)
            assert pipeline.collect(settings, data_dir, started_at=when).status == "success"

        collect("east", clock)
        sim.advance(24)
        servers = sim.connect().compute.get("/servers/detail?all_tenants=1").json()["servers"]
        active = next(s for s in servers if s["status"] == "ACTIVE")
        sim.mutate("servers", active["id"], {"status": "ERROR"})
        collect("west", clock + timedelta(days=1))
        yield data_dir
    finally:
        sim.process.stop()
