"""The simulated cloud's state: every object in its wire format, a clock, and a deterministic RNG.

Objects are stored as the JSON the real API returns at the newest microversion we advertise. Keys that
start with "_" are hidden bookkeeping (region, owning service, ...) and are stripped before rendering.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Resource type names of DOMAIN.md §1, used everywhere in the product.
IDENTITY_TYPES = ("domains", "projects", "users", "groups", "roles", "role_assignments")
COMPUTE_TYPES = (
    "servers",
    "hypervisors",
    "flavors",
    "keypairs",
    "server_groups",
    "aggregates",
    "availability_zones",
)
VOLUME_TYPES = ("volumes", "snapshots", "volume_types")
IMAGE_TYPES = ("images",)
NETWORK_TYPES = (
    "networks",
    "subnets",
    "ports",
    "routers",
    "floating_ips",
    "security_groups",
    "security_group_rules",
)
RESOURCE_TYPES = IDENTITY_TYPES + COMPUTE_TYPES + VOLUME_TYPES + IMAGE_TYPES + NETWORK_TYPES + ("quotas",)
# Types that live in one region (everything but Keystone's).
REGIONAL_TYPES = frozenset(RESOURCE_TYPES) - frozenset(IDENTITY_TYPES)

EPOCH = datetime(2026, 10, 1, 0, 0, 0, tzinfo=UTC)


def iso(ts: datetime) -> str:
    """Seconds-precision ISO-8601 with Z, as Nova, Neutron and Glance write it."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_micro(ts: datetime) -> str:
    """Microsecond ISO-8601 without zone, as Cinder writes it."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@dataclass
class Estate:
    """All objects of the simulated cloud plus the simulated clock."""

    seed: int
    size: str
    regions: list[str]
    clock: datetime = EPOCH
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # Secrets and things no API lists directly: user passwords, application credentials.
    secrets: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    _rng: random.Random = field(default=None, repr=False)  # type: ignore[assignment]
    _index_cache: dict[tuple, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for kind in RESOURCE_TYPES:
            self.objects.setdefault(kind, {})
        if self._rng is None:
            self._rng = random.Random(self.seed)

    # -- randomness and ids -------------------------------------------------------------------
    @property
    def rng(self) -> random.Random:
        return self._rng

    def new_uuid(self) -> str:
        """A deterministic UUID4 string (Nova, Cinder, Neutron, Glance ids)."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def new_hex_id(self) -> str:
        """A deterministic 32-hex id (Keystone ids)."""
        return uuid.UUID(int=self._rng.getrandbits(128), version=4).hex

    # -- time ---------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock

    def now_iso(self) -> str:
        return iso(self.clock)

    def now_micro(self) -> str:
        return iso_micro(self.clock)

    def tick(self, delta: timedelta) -> None:
        self.clock += delta
        self.touch()

    # -- objects ------------------------------------------------------------------------------
    def touch(self) -> None:
        """Mark the estate changed so cached indexes are rebuilt."""
        self.version += 1

    def add(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[kind][obj["id"]] = obj
        self.touch()
        return obj

    def get(self, kind: str, obj_id: str) -> dict[str, Any] | None:
        return self.objects[kind].get(obj_id)

    def remove(self, kind: str, obj_id: str) -> dict[str, Any] | None:
        obj = self.objects[kind].pop(obj_id, None)
        self.touch()
        return obj

    def all(self, kind: str, region: str | None = None) -> Iterator[dict[str, Any]]:
        """Objects of a type; regional types filtered to `region` when given."""
        objs: Iterable[dict[str, Any]] = self.objects[kind].values()
        if region is None or kind not in REGIONAL_TYPES:
            return iter(objs)
        return (o for o in objs if o.get("_region") == region)

    def index(self, kind: str, key: str, region: str | None = None) -> dict[Any, list[dict[str, Any]]]:
        """Objects of `kind` grouped by field `key`; cached until the estate next changes."""
        cache_key = (kind, key, region)
        hit = self._index_cache.get(cache_key)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        grouped: dict[Any, list[dict[str, Any]]] = {}
        for obj in self.all(kind, region):
            grouped.setdefault(obj.get(key), []).append(obj)
        self._index_cache[cache_key] = (self.version, grouped)
        return grouped

    def counts(self) -> dict[str, int]:
        return {kind: len(objs) for kind, objs in self.objects.items()}

    def find_by_name(self, kind: str, name: str) -> dict[str, Any] | None:
        for obj in self.objects[kind].values():
            if obj.get("name") == name:
                return obj
        return None

    # -- persistence (`pf9wb sim serve --state FILE`) -------------------------------------------
    def save(self, path: Path) -> None:
        data = {
            "seed": self.seed,
            "size": self.size,
            "regions": self.regions,
            "clock": self.clock.isoformat(),
            "objects": self.objects,
            "secrets": self.secrets,
            "rng": _rng_state_to_json(self._rng.getstate()),
        }
        tmp = Path(str(path) + ".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Estate:
        data = json.loads(Path(path).read_text())
        estate = cls(
            seed=data["seed"],
            size=data["size"],
            regions=data["regions"],
            clock=datetime.fromisoformat(data["clock"]),
            objects=data["objects"],
            secrets=data["secrets"],
        )
        estate._rng.setstate(_rng_state_from_json(data["rng"]))
        return estate


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without its hidden "_" bookkeeping keys."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _rng_state_to_json(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _rng_state_from_json(data: list) -> tuple:
    version, internal, gauss = data
    return (version, tuple(internal), gauss)


# Field that carries the last-modified time, per type (Nova writes "updated", Keystone objects have none).
UPDATED_FIELD = {
    "servers": "updated",
    "volumes": "updated_at",
    "snapshots": "updated_at",
    "images": "updated_at",
    "networks": "updated_at",
    "subnets": "updated_at",
    "ports": "updated_at",
    "routers": "updated_at",
    "floating_ips": "updated_at",
    "security_groups": "updated_at",
    "security_group_rules": "updated_at",
    "flavors": None,
    "hypervisors": None,
}
_MICRO_TIME_TYPES = frozenset({"volumes", "snapshots"})


def stamp_updated(estate: Estate, kind: str, obj: dict[str, Any]) -> None:
    """Set the object's last-modified field to the simulated clock, in that service's time format."""
    name = UPDATED_FIELD.get(kind)
    if name:
        obj[name] = estate.now_micro() if kind in _MICRO_TIME_TYPES else estate.now_iso()
    estate.touch()


def make_quota(
    estate: Estate, project_id: str, service: str, region: str, limits: dict[str, int]
) -> dict[str, Any]:
    """One project's quota limits for one service ("compute", "volume" or "network") in one region.

    Usage (in_use) is never stored: each service computes it from the estate when asked.
    """
    if service not in ("compute", "volume", "network"):
        raise ValueError(f"unknown quota service {service!r}")
    obj = {
        "id": f"{region}/{service}/{project_id}",
        "project_id": project_id,
        "_region": region,
        "_service": service,
        "limits": dict(limits),
    }
    return estate.add("quotas", obj)
