"""Raw API objects → typed rows with the enrichment every row carries (project and domain, ids and names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from pf9lib.normalize.enrich import ENRICHERS
from pf9lib.normalize.spec import TYPE_SPECS
from pf9lib.store.schema import TS

_NAME_KEYS = {
    "hypervisors": "hypervisor_hostname",
    "availability_zones": "zoneName",
    "floating_ips": "floating_ip_address",
}
# Where the owning project sits in the raw object, when not "project_id".
_PROJECT_KEYS = {
    "servers": "tenant_id",
    "volumes": "os-vol-tenant-attr:tenant_id",
    "snapshots": "os-extended-snapshot-attributes:project_id",
    "images": "owner",
    "projects": "id",
    "users": "default_project_id",
}


@dataclass
class Lookups:
    """Facts of the same run (and region) used to enrich rows."""

    projects: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → raw project
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → raw domain
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → raw network (ports' fallback)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → raw image (servers' OS)
    ports: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → raw port (servers, security groups)
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → raw server (security groups)

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
    if kind == "keypairs":
        return f"{raw.get('user_id')}/{raw.get('name')}"
    if kind == "availability_zones":
        return str(raw.get("zoneName"))
    if kind == "role_assignments":
        actor = raw.get("user") or raw.get("group") or {}
        scope_type, scope = next(iter((raw.get("scope") or {}).items()), ("none", {}))
        scope_id = "all" if scope_type == "system" else scope.get("id")
        return (
            f"{raw.get('role', {}).get('id')}:{'user' if 'user' in raw else 'group'}:{actor.get('id')}:"
            f"{scope_type}:{scope_id}"
        )
    if kind == "quotas":
        return f"{raw.get('service')}/{raw.get('project_id')}"
    return str(raw["id"])


def _name(kind: str, raw: dict[str, Any]) -> str | None:
    if kind == "role_assignments":
        actor = raw.get("user") or raw.get("group") or {}
        role = raw.get("role") or {}
        return f"{role.get('name', role.get('id'))} → {actor.get('name', actor.get('id'))}"
    if kind == "security_group_rules":
        ports = raw.get("port_range_min")
        port_text = f"/{ports}" if ports is not None else ""
        if ports is not None and raw.get("port_range_max") not in (None, ports):
            port_text += f"-{raw.get('port_range_max')}"
        remote = raw.get("remote_ip_prefix") or ""
        return f"{raw.get('direction')} {raw.get('protocol') or 'any'}{port_text} {remote}".strip()
    if kind == "quotas":
        return f"{raw.get('service')} quota"
    return raw.get(_NAME_KEYS.get(kind, "name"))


def _project_and_domain(kind: str, raw: dict[str, Any], lookups: Lookups) -> tuple[str | None, str | None]:
    if kind == "role_assignments":
        scope = raw.get("scope") or {}
        if "project" in scope:
            return scope["project"].get("id"), None
        if "domain" in scope:
            return None, scope["domain"].get("id")
        return None, None
    if kind == "domains":
        return None, raw.get("id")
    project_id = raw.get(_PROJECT_KEYS.get(kind, "project_id")) or raw.get("tenant_id")
    if kind == "ports" and not project_id:  # ports without a project inherit their network's
        project_id = (lookups.networks.get(raw.get("network_id")) or {}).get("project_id")
    domain_id = raw.get("domain_id") if kind in ("users", "groups", "projects", "roles") else None
    return project_id or None, domain_id


def normalize_columns(kind: str, raw_objects: list[dict[str, Any]], lookups: Lookups) -> dict[str, list[Any]]:
    """Typed columns for one type (column name → values, one per object), plus "raw" holding the objects.

    Column-wise because the store writes Arrow tables: building them row by row costs twice as much.
    """
    enrich = [_project_and_domain(kind, raw, lookups) for raw in raw_objects]
    projects = [lookups.projects.get(pid) if pid else None for pid, _ in enrich]
    domain_ids = [
        did if did is not None or project is None else project.get("domain_id")
        for (_, did), project in zip(enrich, projects, strict=True)
    ]
    domains = [lookups.domains.get(did) if did else None for did in domain_ids]
    columns: dict[str, list[Any]] = {
        "id": [object_id(kind, raw) for raw in raw_objects],
        "name": [_name(kind, raw) for raw in raw_objects],
        "project_id": [pid for pid, _ in enrich],
        "project_name": [p.get("name") if p else None for p in projects],
        "domain_id": domain_ids,
        "domain_name": [d.get("name") if d else None for d in domains],
    }
    for name, typ, extract in TYPE_SPECS[kind]:
        values = [extract(raw) for raw in raw_objects]
        columns[name] = [parse_time(v) for v in values] if typ == TS else values
    enricher = ENRICHERS.get(kind)
    if enricher is not None:
        columns.update(enricher(raw_objects, lookups))
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
