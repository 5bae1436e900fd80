"""What the estate generator's steps share: the build context, per-project bookkeeping and small helpers.

The generator keeps its own lookup tables here instead of using Estate.index: every factory call changes the
estate (and so invalidates the index cache), and rebuilding an index per created object would make an `xl`
build quadratic.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pf9sim.generator.catalog import SizeSpec
from pf9sim.state import EPOCH, Estate

T = TypeVar("T")
HISTORY_DAYS = 120
START = EPOCH - timedelta(days=HISTORY_DAYS)


@dataclass
class Host:
    """A hypervisor and what the generator has placed on it so far."""

    obj: dict[str, Any]
    region: str
    az: str
    vcpus: int  # schedulable vCPUs (threads x allocation ratio)
    ram: int
    disk: int
    weight: float  # hot hosts attract more VMs (and run hotter in the exporters)
    used_vcpus: int = 0
    used_ram: int = 0
    used_disk: int = 0

    def fits(self, vcpus: int, ram: int, disk: int) -> bool:
        return (
            self.used_vcpus + vcpus <= self.vcpus
            and self.used_ram + ram <= self.ram
            and self.used_disk + disk <= self.disk
        )

    def take(self, vcpus: int, ram: int, disk: int) -> None:
        self.used_vcpus += vcpus
        self.used_ram += ram
        self.used_disk += disk


@dataclass
class Project:
    """A Keystone project and how the generator uses it."""

    obj: dict[str, Any]
    kind: str  # admin | service | prod | dev | lab | team
    domain: dict[str, Any]
    short: str  # name stem for resources
    regions: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # user ids that create resources
    onboard: datetime = START

    @property
    def id(self) -> str:
        return self.obj["id"]

    @property
    def name(self) -> str:
        return self.obj["name"]


@dataclass
class Tenancy:
    """One project's footprint in one region: networks, router, security groups, keypairs, counters."""

    project: Project
    region: str
    networks: list[dict[str, Any]] = field(default_factory=list)
    subnets: list[dict[str, Any]] = field(default_factory=list)
    router: dict[str, Any] | None = None
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    keypairs: dict[str, str] = field(default_factory=dict)  # user id -> keypair name
    private_images: list[dict[str, Any]] = field(default_factory=list)
    server_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)
    ready: bool = False

    def next(self, stem: str) -> int:
        self.seq[stem] = self.seq.get(stem, 0) + 1
        return self.seq[stem]


@dataclass
class Ctx:
    """Everything the generator's steps share while building one estate."""

    est: Estate
    spec: SizeSpec
    admin_password: str
    service_user_email: str
    service_user_password: str
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: list[Project] = field(default_factory=list)
    admin_project: Project | None = None
    admin_user_id: str = ""
    service_user_id: str = ""
    flavors: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # region -> name -> flavor
    images: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # region -> public images
    volume_types: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    hosts: dict[str, list[Host]] = field(default_factory=dict)  # region -> hosts
    external: dict[str, dict[str, Any]] = field(default_factory=dict)  # region -> external network
    shared_net: dict[str, dict[str, Any]] = field(default_factory=dict)  # region -> shared network
    tenancies: dict[tuple[str, str], Tenancy] = field(default_factory=dict)
    keypairs: dict[tuple[str, str], str] = field(default_factory=dict)  # (user id, region) -> keypair name
    servers_of: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    ports_of: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # server id -> its ports
    events: list[tuple[datetime, int, Callable[..., None], tuple]] = field(default_factory=list)
    _seq: int = 0

    @property
    def rng(self) -> random.Random:
        return self.est.rng

    def at(self, when: datetime, fn: Callable[..., None], *args: Any) -> None:
        """Schedule fn(*args) at simulated time `when` (ties run in scheduling order)."""
        self._seq += 1
        heapq.heappush(self.events, (when, self._seq, fn, args))

    def run_events(self) -> None:
        while self.events:
            when, _, fn, args = heapq.heappop(self.events)
            if when > self.est.clock:
                self.est.clock = when
            fn(*args)

    def step(self, seconds: float) -> None:
        """Move the clock forward a little between related creations (never past EPOCH)."""
        self.est.clock = min(EPOCH, self.est.clock + timedelta(seconds=seconds))


def weighted(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(items, weights=weights, k=1)[0]


def share_pick(rng: random.Random, shares: Sequence[float]) -> int:
    """Index drawn from a list of shares (need not sum to one)."""
    return rng.choices(range(len(shares)), weights=shares, k=1)[0]


def stable_fraction(*parts: Any) -> float:
    """A number in [0, 1) from a hash of the parts: stable across runs, independent of the RNG stream."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def stable_uuid(*parts: Any) -> str:
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def growth_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A time in [start, end] with density growing over time (estates grow), for capacity trends."""
    span = (end - start).total_seconds()
    if span <= 0:
        return start
    return start + timedelta(seconds=span * (rng.random() ** 0.7))
