"""A small inventory written through the real store writer, for join tests that need no simulated cloud."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from pf9lib.normalize.rows import Lookups, normalize
from pf9lib.store.writer import RunWriter

PROJECT = {"id": "p1", "name": "proj", "domain_id": "d1"}
DOMAIN = {"id": "d1", "name": "Default"}


def write_servers(
    data_dir: Path, servers: list[dict[str, Any]], hypervisors: list[dict[str, Any]] = ()
) -> str:
    """One successful run holding these servers (id, name, hypervisor_hostname, instance_name) and
    hypervisors (raw API objects)."""
    raw_servers = [
        {
            "id": s["id"],
            "name": s["name"],
            "tenant_id": PROJECT["id"],
            "status": "ACTIVE",
            "OS-EXT-SRV-ATTR:hypervisor_hostname": s["hypervisor_hostname"],
            "OS-EXT-SRV-ATTR:instance_name": s["instance_name"],
            "flavor": {"original_name": "m1.small", "vcpus": 2, "ram": 2048, "disk": 20},
        }
        for s in servers
    ]
    lookups = Lookups.from_raw([PROJECT], [DOMAIN])
    with RunWriter(data_dir, "test", ["RegionOne"], ["servers", "hypervisors"]) as writer:
        for kind, raws in (("servers", raw_servers), ("hypervisors", list(hypervisors))):
            writer.write_type(kind, "RegionOne", raws, True, partial(normalize, kind, lookups=lookups))
    return writer.run_id
