"""The resource catalogue: one record per inventory type with every fact the product knows about it.

Where it lives (service, path, body key, paging, scope, microversion), whose it is (project and domain), what
it is called (id and name), its typed columns with their extractors, which fields are volatile, and what its
enrichment reads. Collect, normalize, store, drift and the workbook read this and nothing else, so adding a
resource type or a column is an edit here (docs/architecture.md, "Adding a resource type").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import pyarrow as pa

from pf9lib.resources.extract import TIMESTAMPS, Extract

Paging = Literal["marker", "glance", "none"]
# "global": listed once per cloud (Keystone); "region": once per region; "per_project"/"per_user": once per
# project/user in each region (quotas, keypairs), with {project_id}/{user_id} in the path or params.
Scope = Literal["global", "region", "per_project", "per_user"]
# (raw object, lookups of the same run) → (project id, domain id)
Owner = Callable[[dict[str, Any], Any], tuple[str | None, str | None]]
Enricher = Callable[[list[dict[str, Any]], Any], dict[str, list[Any]]]


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    extract: Extract


def project_owner(key: str = "project_id") -> Owner:
    """The owning project sits in `key` (Keystone projects: their own id), else in `tenant_id`."""
    return lambda raw, lookups: (raw.get(key) or raw.get("tenant_id") or None, None)


def identity_owner(key: str | None) -> Owner:
    """Keystone objects carry their domain; some also name a project."""
    return lambda raw, lookups: ((raw.get(key) or None) if key else None, raw.get("domain_id"))


@dataclass(frozen=True)
class Resource:
    type: str  # resource type name used everywhere in the product
    service: str  # catalog service type
    path: str  # relative to the service endpoint
    key: str  # key of the list in the response body
    columns: tuple[Column, ...]
    paging: Paging = "marker"
    scope: Scope = "region"
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    microversion: str | None = None
    owner: Owner = field(default=project_owner())
    id_of: Callable[[dict[str, Any]], str] = lambda raw: str(raw["id"])
    name_of: Callable[[dict[str, Any]], str | None] = lambda raw: raw.get("name")
    volatile: frozenset[str] = TIMESTAMPS
    needs: tuple[str, ...] = ()  # listings of the same run and region the enricher reads
    enrich: Enricher | None = None
    enriched: tuple[tuple[str, pa.DataType], ...] = ()  # the columns the enricher adds
    clean: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None  # unwrap / filter a listing
    calls: Mapping[str, tuple[str, str]] = field(default_factory=lambda: MappingProxyType({}))  # per service
    revision: int = 1  # bump when an extractor's meaning changes: stored rows are then re-normalized once

    @property
    def store_columns(self) -> list[tuple[str, pa.DataType]]:
        """The typed columns the store keeps for this type (declared, then enriched), in order."""
        return [(c.name, c.type) for c in self.columns] + list(self.enriched)

    @property
    def columns_fp(self) -> str:
        """Names the column set: a stored row normalized with another set is re-normalized once."""
        text = "\n".join([f"revision:{self.revision}"] + [f"{n}:{t}" for n, t in self.store_columns])
        return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def _build() -> dict[str, Resource]:
    from pf9lib.resources import compute, identity, network, storage

    out: dict[str, Resource] = {}
    for module in (identity, compute, storage, network):
        for res in module.RESOURCES:
            out[res.type] = res
    out["quotas"] = compute.QUOTAS  # last: the workbook's sheet order follows the catalogue's
    return out


RESOURCES: dict[str, Resource] = _build()
ALL_TYPES: tuple[str, ...] = tuple(RESOURCES)


def resource(kind: str) -> Resource:
    """The catalogue record of a type; a one-line error naming the known types otherwise."""
    try:
        return RESOURCES[kind]
    except KeyError:
        from pf9lib.errors import ConfigError

        raise ConfigError(f"unknown resource type {kind!r}: use one of {', '.join(ALL_TYPES)}") from None


def type_columns(kind: str) -> list[tuple[str, pa.DataType]]:
    return resource(kind).store_columns
