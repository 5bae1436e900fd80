"""The write side of the cloud: POST, PUT and DELETE through openstacksdk's service proxies.

The same session as collection (auth, catalog, region, microversions). What it adds:
- non-idempotent calls (POST) are never retried blindly: after a failure whose outcome is unknown (a 5xx, a
  timeout), the caller's `find` looks for the object by its plan tag first, and only a miss is retried;
- PUT and DELETE are idempotent and retried on 5xx; a DELETE that finds nothing (404) is done;
- every refusal becomes one line naming the object and the fix (`WriteError`);
- `wait_for` polls a status with a timeout, a progress line, and error statuses that end the wait.

Every call is counted per (method, service) so plans and benchmarks can say how many calls an action took.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from keystoneauth1 import exceptions as ks_exc

from pf9lib.errors import Pf9Error

_PROXIES = {
    "identity": "identity",
    "compute": "compute",
    "block-storage": "block_storage",
    "image": "image",
    "network": "network",
}
RETRY_STATUSES = frozenset({500, 502, 503, 504})
TAG_PREFIX = "pf9wb-plan:"


def plan_tag(plan_id: str) -> str:
    """The mark an object created by a plan carries (in its description or metadata)."""
    return f"{TAG_PREFIX}{plan_id}"


class WriteError(Pf9Error):
    """The cloud refused or failed a write. `status` is the HTTP status (None: no answer)."""

    def __init__(self, message: str, status: int | None = None, outcome_known: bool = True) -> None:
        super().__init__(message)
        self.status = status
        # False when the request may have taken effect (5xx, timeout): look before retrying a POST.
        self.outcome_known = outcome_known


def _cloud_message(body: bytes) -> str:
    """The human part of an OpenStack error body: {"badRequest": {"message": …}}, {"NeutronError": …}, …"""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode(errors="replace").strip()[:300]
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, dict) and value.get("message"):
                return str(value["message"])[:300]
        if data.get("message"):
            return str(data["message"])[:300]
        if data.get("error", {}).get("message") if isinstance(data.get("error"), dict) else None:
            return str(data["error"]["message"])[:300]
    return str(data)[:300]


def explain(status: int | None, method: str, what: str, cloud_message: str) -> str:
    """One line: what failed, the cloud's reason, and what to do about it."""
    said = f": {cloud_message}" if cloud_message else ""
    quota = "quota" in cloud_message.lower() or "limit exceeded" in cloud_message.lower()
    if quota:
        return f"{method} {what} refused: quota exceeded{said}; raise the project's quota or free resources"
    fixes = {
        400: "check the values given (the cloud names the one it rejects)",
        401: "the credentials were not accepted: check them with `pf9wb config check`",
        403: "the credentials lack the permission for this (an admin role on the project or the cloud)",
        404: "it does not exist (any more): refresh the inventory with `pf9wb collect` and plan again",
        409: "it conflicts with the cloud's current state (in use, a duplicate, busy): resolve it and retry",
        413: "the request is too large or over a limit: make it smaller or raise the limit",
    }
    if status in fixes:
        return f"{method} {what} failed with HTTP {status}{said}; {fixes[status]}"
    if status is None:
        return f"{method} {what} got no answer{said}; check the cloud is reachable (`pf9wb config check`)"
    return f"{method} {what} failed with HTTP {status}{said}; the cloud had an internal error: retry later"


@dataclass
class Writer:
    """Write calls to one region of a cloud. `connection` is an openstacksdk Connection."""

    connection: Any
    attempts: int = 3
    backoff_s: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    calls: Counter = field(default_factory=Counter)
    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, method: str, service: str) -> None:
        """One more call made (planners list and ask quotas from several threads at once)."""
        with self._count_lock:
            self.calls[(method, service)] += 1

    def _proxy(self, service: str) -> Any:
        return getattr(self.connection, _PROXIES[service])

    def request(
        self,
        method: str,
        service: str,
        path: str,
        what: str,
        body: dict | None = None,
        microversion: str | None = None,
        ok_missing: bool = False,
    ) -> dict[str, Any]:
        """One call; the body of the answer ({} when empty). Retries only what is safe to repeat."""
        retry = method in ("GET", "PUT", "DELETE")
        last = ""
        for attempt in range(1, self.attempts + 1):
            self.count(method, service)
            kwargs: dict[str, Any] = {"microversion": microversion, "raise_exc": False}
            if body is not None:
                kwargs["json"] = body
            try:
                resp = getattr(self._proxy(service), method.lower())(path, **kwargs)
            except (ks_exc.ConnectFailure, ks_exc.ConnectTimeout, ks_exc.RequestTimeout) as exc:
                last = f"{type(exc).__name__}"
                if retry and attempt < self.attempts:
                    self.sleep(self.backoff_s * 2 ** (attempt - 1))
                    continue
                raise WriteError(explain(None, method, what, last), None, outcome_known=False) from None
            status = resp.status_code
            if status < 400:
                return orjson.loads(resp.content) if resp.content else {}
            if status == 404 and ok_missing:
                return {}
            message = _cloud_message(resp.content)
            if status in RETRY_STATUSES and retry and attempt < self.attempts:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
                continue
            raise WriteError(explain(status, method, what, message), status, status not in RETRY_STATUSES)
        raise WriteError(explain(None, method, what, last), None, outcome_known=False)

    def get(self, service: str, path: str, what: str, microversion: str | None = None) -> dict[str, Any]:
        return self.request("GET", service, path, what, microversion=microversion)

    def create(
        self,
        service: str,
        path: str,
        what: str,
        body: dict,
        find: Callable[[], dict[str, Any] | None],
        microversion: str | None = None,
    ) -> dict[str, Any]:
        """POST once; when the outcome is unknown (5xx, no answer), look for it with `find` (by the plan's
        tag) before one more POST: a create is never made twice."""
        try:
            return self.request("POST", service, path, what, body, microversion)
        except WriteError as exc:
            if exc.outcome_known:
                raise
            found = find()
            if found is not None:
                return found
            return self.request("POST", service, path, what, body, microversion)

    def delete(self, service: str, path: str, what: str, microversion: str | None = None) -> None:
        """DELETE; an object already gone counts as deleted."""
        self.request("DELETE", service, path, what, microversion=microversion, ok_missing=True)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def wait_for(
    fetch: Callable[[], dict[str, Any] | None],
    done: set[str],
    failed: set[str],
    what: str,
    timeout_s: float = 300.0,
    interval_s: float = 1.0,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll `fetch()` until its `status` is in `done`; WriteError when it reaches a `failed` status, vanishes,
    or `timeout_s` passes. `progress` gets one line per change of status."""
    deadline = clock() + timeout_s
    seen = None
    while True:
        obj = fetch()
        if obj is None:
            raise WriteError(f"{what} disappeared while waiting for {'/'.join(sorted(done))}", 404)
        status = str(obj.get("status", "")).lower()
        if status != seen and progress:
            progress(f"{what}: {status}")
        seen = status
        if status in {s.lower() for s in done}:
            return obj
        if status in {s.lower() for s in failed}:
            raise WriteError(f"{what} went to {status} instead of {'/'.join(sorted(done))}", None)
        if clock() >= deadline:
            raise WriteError(
                f"{what} still {status} after {timeout_s:.0f} s (waiting for {'/'.join(sorted(done))})",
                None,
                outcome_known=False,
            )
        sleep(interval_s)
