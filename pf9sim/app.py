"""The simulated cloud's aiohttp application: routing, token checks, fault injection, service registration.

URL layout on one port (the catalog advertises it, so clients never guess):
  /identity                 Keystone v3 (shared by all regions)
  /{region}/compute         Nova        /{region}/volume   Cinder v3
  /{region}/network         Neutron     /{region}/image    Glance v2
  /_sim/...                 control API and exporter pages (no token needed)
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from pf9sim.common import SimError, error_response, service_of
from pf9sim.state import Estate

TOKEN_LIFETIME = timedelta(hours=1)


@dataclass
class Token:
    """An issued Keystone token and what it is scoped to."""

    id: str
    user_id: str
    expires_at: datetime
    issued_at: datetime
    methods: list[str]
    project_id: str | None = None
    domain_id: str | None = None
    system: bool = False
    roles: list[str] = field(default_factory=list)  # role names
    app_cred_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class TokenStore:
    """Tokens are random opaque strings; expiry uses wall time so that clients see real expiry."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}

    def issue(
        self,
        user_id: str,
        methods: list[str],
        roles: list[str],
        project_id: str | None = None,
        domain_id: str | None = None,
        system: bool = False,
        app_cred_id: str | None = None,
    ) -> Token:
        now = datetime.now(UTC)
        token = Token(
            id="gAAAA" + secrets.token_urlsafe(48),
            user_id=user_id,
            expires_at=now + TOKEN_LIFETIME,
            issued_at=now,
            methods=methods,
            project_id=project_id,
            domain_id=domain_id,
            system=system,
            roles=roles,
            app_cred_id=app_cred_id,
        )
        self._tokens[token.id] = token
        return token

    def validate(self, token_id: str | None) -> Token | None:
        if not token_id:
            return None
        token = self._tokens.get(token_id)
        if token is None or token.expires_at <= datetime.now(UTC):
            return None
        return token

    def revoke(self, token_id: str) -> bool:
        return self._tokens.pop(token_id, None) is not None

    def expire_all(self) -> int:
        count = len(self._tokens)
        self._tokens.clear()
        return count


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


def _matching_fault(sim: SimCloud, method: str, path: str) -> FaultRule | None:
    for rule in sim.faults:
        if rule.matches(method, path) and sim.fault_rng.random() < rule.rate:
            rule.hits += 1
            return rule
    return None


@web.middleware
async def fault_and_auth_middleware(request: web.Request, handler):
    sim: SimCloud = request.app["sim"]
    service = service_of(request.path)
    try:
        if service != "sim":
            rule = _matching_fault(sim, request.method, request.path)
            if rule is not None:
                if rule.delay_s:
                    await asyncio.sleep(rule.delay_s)
                if rule.status is not None and rule.status >= 400:
                    headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
                    return error_response(request, rule.status, f"Injected fault ({rule.status})", headers)
            if not getattr(handler, "public", False):
                token = sim.tokens.validate(request.headers.get("X-Auth-Token"))
                if token is None:
                    raise SimError(401, "The request you have made requires authentication.")
                request["token"] = token
        return await handler(request)
    except SimError as exc:
        return error_response(request, exc.status, exc.message, exc.headers, exc.kind)


def public(handler):
    """Mark a handler as reachable without a token (version discovery, auth, /_sim)."""
    handler.public = True
    return handler


def token_of(request: web.Request) -> Token:
    return request["token"]


def require_admin(request: web.Request) -> Token:
    token = token_of(request)
    if not token.is_admin:
        raise SimError(403, "Policy doesn't allow this operation to be performed.")
    return token


def region_of(request: web.Request) -> str:
    region = request.match_info.get("region", "")
    sim: SimCloud = request.app["sim"]
    if region not in sim.estate.regions:
        raise SimError(404, f"Unknown region {region!r}")
    return region


def build_app(sim: SimCloud) -> web.Application:
    from pf9sim import control
    from pf9sim.cinder import routes as cinder
    from pf9sim.glance import images as glance
    from pf9sim.keystone import base as keystone
    from pf9sim.neutron import routes as neutron
    from pf9sim.nova import routes as nova

    app = web.Application(middlewares=[fault_and_auth_middleware], client_max_size=64 * 1024**2)
    app["sim"] = sim
    for module in (keystone, nova, cinder, neutron, glance, control):
        module.register(app)
    return app


async def serve(sim: SimCloud, ready: asyncio.Event | None = None) -> None:
    """Run until cancelled; saves the estate on the way out when a state file is set."""
    app = build_app(sim)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, sim.host, sim.port)
    await site.start()
    if sim.port == 0:  # an ephemeral port was asked for: learn which one we got
        sim.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
    if ready is not None:
        ready.set()
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        sim.save()
        await runner.cleanup()


def monotonic_ms() -> float:
    return time.monotonic() * 1000
