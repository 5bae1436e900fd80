"""Raw API objects → typed rows with the enrichment every row carries (project and domain, ids and names).

Everything type-specific comes from the resource catalogue (pf9lib.resources).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from pf9lib.resources import resource
from pf9lib.store.schema import TS


@dataclass
class Lookups:
    """Facts of the same run (and region) used to enrich rows."""

    projects: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → raw project
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → raw domain
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → raw network (ports' fallback)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → raw image (servers' OS)
    ports: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → raw port (servers, security groups)
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → raw server (security groups)

    SOURCES = ("projects", "domains", "networks", "images", "ports", "servers")

    @classmethod
    def from_raw(
        cls,
        projects: list[dict],
        domains: list[dict],
        networks: list[dict] | None = None,
        images: list[dict] | None = None,
        ports: list[dict] | None = None,
        servers: list[dict] | None = None,
    ) -> Lookups:
        def by_id(objs: list[dict] | None) -> dict[str, dict]:
            return {o["id"]: o for o in objs or []}

        return cls(
            by_id(projects), by_id(domains), by_id(networks), by_id(images), by_id(ports), by_id(servers)
        )

    def ports_by_device(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for port in self.ports.values():
            if port.get("device_id"):
                grouped.setdefault(port["device_id"], []).append(port)
        return grouped


def parse_time(value: Any) -> datetime | None:
    """API timestamps (Z, offsets, or Cinder's zone-less microseconds, which are UTC) → aware datetimes."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def object_id(kind: str, raw: dict[str, Any]) -> str:
    return resource(kind).id_of(raw)


def normalize_columns(kind: str, raw_objects: list[dict[str, Any]], lookups: Lookups) -> dict[str, list[Any]]:
    """Typed columns for one type (column name → values, one per object), plus "raw" holding the objects.

    Column-wise because the store writes Arrow tables: building them row by row costs twice as much.
    """
    res = resource(kind)
    owners = [res.owner(raw, lookups) for raw in raw_objects]
    projects = [lookups.projects.get(pid) if pid else None for pid, _ in owners]
    domain_ids = [
        did if did is not None or project is None else project.get("domain_id")
        for (_, did), project in zip(owners, projects, strict=True)
    ]
    domains = [lookups.domains.get(did) if did else None for did in domain_ids]
    columns: dict[str, list[Any]] = {
        "id": [res.id_of(raw) for raw in raw_objects],
        "name": [res.name_of(raw) for raw in raw_objects],
        "project_id": [pid for pid, _ in owners],
        "project_name": [p.get("name") if p else None for p in projects],
        "domain_id": domain_ids,
        "domain_name": [d.get("name") if d else None for d in domains],
    }
    for column in res.columns:
        values = [column.extract(raw) for raw in raw_objects]
        columns[column.name] = [parse_time(v) for v in values] if column.type == TS else values
    if res.enrich is not None:
        columns.update(res.enrich(raw_objects, lookups))
    columns["raw"] = list(raw_objects)
    return columns


def normalize(kind: str, raw_objects: list[dict[str, Any]], lookups: Lookups) -> list[dict[str, Any]]:
    """Typed rows for one type; each keeps its raw object under "raw"."""
    columns = normalize_columns(kind, raw_objects, lookups)
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def arrow_type_check(rows: list[dict[str, Any]], columns: list[tuple[str, pa.DataType]]) -> None:
    """Fail early, naming the column, when a value does not fit its declared type."""
    schema = pa.schema(columns)
    pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows[:50]], schema=schema)
