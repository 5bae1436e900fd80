"""Small hand-built stores for the tenant, landing and capacity tests: raw API objects written through the
real RunWriter (as pf9lib.collect would), one run per call, on a clock the test chooses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from pf9lib.normalize.rows import Lookups, normalize
from pf9lib.store.writer import RunWriter

T0 = datetime(2026, 10, 1, tzinfo=UTC)
DOMAINS = [{"id": "d1", "name": "acme"}]
PROJECTS = [
    {"id": "p1", "name": "prod", "domain_id": "d1"},
    {"id": "p2", "name": "dev", "domain_id": "d1"},
]
REGION = "R1"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def server(
    i: int,
    project: str = "p1",
    status: str = "ACTIVE",
    hv: str | None = "hv1.local",
    vcpus: int = 2,
    ram: int = 2048,
    disk: int = 20,
    flavor: str = "m1.small",
    created: datetime = T0,
) -> dict:
    return {
        "id": f"s{i}",
        "name": f"vm{i}",
        "tenant_id": project,
        "status": status,
        "image": "",
        "flavor": {"vcpus": vcpus, "ram": ram, "disk": disk, "original_name": flavor},
        "OS-EXT-SRV-ATTR:hypervisor_hostname": hv,
        "OS-EXT-SRV-ATTR:host": hv.split(".")[0] if hv else None,
        "created": iso(created),
    }


def volume(
    i: int,
    project: str = "p1",
    status: str = "in-use",
    size: int = 10,
    server_id: str | None = None,
    metadata: dict | None = None,
    created: datetime = T0,
) -> dict:
    attachments = [{"server_id": server_id, "device": "/dev/vdb"}] if server_id else []
    return {
        "id": f"v{i}",
        "name": f"vol{i}",
        "os-vol-tenant-attr:tenant_id": project,
        "status": status,
        "size": size,
        "attachments": attachments,
        "metadata": metadata or {},
        "created_at": iso(created),
    }


def snapshot(
    i: int,
    volume_id: str,
    project: str = "p1",
    status: str = "available",
    size: int = 10,
    created: datetime = T0,
    policy: str | None = None,
) -> dict:
    meta = {"policy": policy, "created_by": "auto"} if policy else {}
    name = f"auto-{policy}-{i}" if policy else f"snap{i}"
    return {
        "id": f"n{i}",
        "name": name,
        "os-extended-snapshot-attributes:project_id": project,
        "status": status,
        "size": size,
        "volume_id": volume_id,
        "metadata": meta,
        "created_at": iso(created),
    }


def hypervisor(name: str = "hv1.local", vcpus: int = 16, ram: int = 65536, disk: int = 1000) -> dict:
    return {
        "id": f"h-{name}",
        "hypervisor_hostname": name,
        "state": "up",
        "status": "enabled",
        "service": {"host": name.split(".")[0]},
        "vcpus": vcpus,
        "memory_mb": ram,
        "local_gb": disk,
        "vcpus_used": 0,
        "memory_mb_used": 0,
        "local_gb_used": 0,
        "running_vms": 0,
    }


def quota(project: str, service: str, limits: dict[str, int], used: dict[str, int]) -> dict:
    return {
        "project_id": project,
        "service": service,
        "limits": limits,
        "usage": {k: {"in_use": v, "reserved": 0} for k, v in used.items()},
    }


def write_run(
    data_dir: Path,
    day: float,
    listings: dict[str, list[dict[str, Any]]],
    cloud: str = "c1",
    projects: list[dict] | None = None,
) -> str:
    """One complete run `day` days after T0 holding exactly `listings` (type → raw objects) in region R1,
    plus the projects and domains (so tenants exist); returns the run id."""
    projects = PROJECTS if projects is None else projects
    lookups = Lookups.from_raw(projects, DOMAINS)
    types = ["projects", "domains", *listings]
    writer = RunWriter(data_dir, cloud, [REGION], types, started_at=T0 + timedelta(days=day))
    writer.write_type("projects", "global", projects, True, partial(normalize, "projects", lookups=lookups))
    writer.write_type("domains", "global", DOMAINS, True, partial(normalize, "domains", lookups=lookups))
    for kind, raws in listings.items():
        writer.write_type(kind, REGION, raws, True, partial(normalize, kind, lookups=lookups))
    writer.finish()
    return writer.run_id


def write_vm_daily(
    data_dir: Path, server_id: str, days: list[datetime], cpu_avg: float, cpu_max: float, mem_max: float
) -> None:
    """Daily VM roll-ups as the metrics store keeps them (one file), for a server of the inventory."""
    import pyarrow as pa

    from pf9lib.store.layout import Layout, write_table
    from pf9lib.store.schema import METRIC_TABLES

    table = next(t for t in METRIC_TABLES if t.name == "metric_vms_daily")
    rows = [
        {name: None for name in table.schema.names}
        | {
            "period": day,
            "vm_key": server_id,
            "instance_uuid": server_id,
            "samples": 24,
            "cpu_pct_avg": cpu_avg,
            "cpu_pct_max": cpu_max,
            "cpu_pct_n": 24,
            "mem_pct_avg": mem_max / 2,
            "mem_pct_max": mem_max,
            "mem_pct_n": 24,
            "written_at": day,
        }
        for day in days
    ]
    write_table(
        Layout(data_dir),
        table,
        pa.Table.from_pylist(rows),
        f"{server_id}-test",
        date=days[0].strftime("%Y-%m-%d"),
    )
