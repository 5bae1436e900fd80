"""What the handlers share: the estate, issued tokens, injected faults and where the cloud is served."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pf9sim.plumbing import SimError, TokenStore
from pf9sim.state import Estate


@dataclass
class FaultRule:
    """One injected fault: requests matching method + path regex answer `status` (or are delayed)."""

    path: str
    method: str = "*"
    status: int | None = 503
    rate: float = 1.0
    delay_s: float = 0.0
    times: int | None = None  # None: forever
    retry_after: int | None = None
    hits: int = 0

    def __post_init__(self) -> None:
        try:
            self._regex = re.compile(self.path)
        except re.error as exc:
            raise SimError(400, f"Invalid fault path regex {self.path!r}: {exc}") from None
        if self.status is not None and not 100 <= int(self.status) <= 599:
            raise SimError(400, f"Invalid fault status {self.status}: use an HTTP status such as 503")
        if not 0.0 <= float(self.rate) <= 1.0:
            raise SimError(400, f"Invalid fault rate {self.rate}: use a probability between 0 and 1")

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method not in ("*", "", method.upper()):
            return False
        return self._regex.search(path) is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "method": self.method,
            "status": self.status,
            "rate": self.rate,
            "delay_s": self.delay_s,
            "times": self.times,
            "retry_after": self.retry_after,
            "hits": self.hits,
        }


class SimCloud:
    """What the handlers share: the estate, tokens, faults and where we are served."""

    def __init__(
        self, estate: Estate, host: str = "127.0.0.1", port: int = 8780, state_path: Path | None = None
    ) -> None:
        self.estate = estate
        self.host = host
        self.port = port
        self.state_path = state_path
        self.tokens = TokenStore()
        self.faults: list[FaultRule] = []
        # Fault sampling has its own RNG so that injected faults never perturb the estate's evolution.
        self.fault_rng = random.Random(estate.seed ^ 0x5EED)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def save(self) -> None:
        if self.state_path is not None:
            self.estate.save(self.state_path)


def matching_fault(sim: SimCloud, method: str, path: str) -> FaultRule | None:
    """The first rule that matches the request and fires at its rate (its hit is counted), else None."""
    for rule in sim.faults:
        if rule.matches(method, path) and sim.fault_rng.random() < rule.rate:
            rule.hits += 1
            return rule
    return None
