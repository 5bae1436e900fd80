"""The one pager: raw JSON pages of a resource listing through the openstacksdk session, with retries.

openstacksdk gives auth, catalog, regions and microversions; its Resource objects cost ~100x the CPU of the
JSON they come from, so listings are fetched raw through the service proxies (`proxy.get(path, ...)`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from pf9lib.resources import Resource

PAGE_SIZE = 1000
RETRY_STATUSES = frozenset({500, 502, 503, 504})


class ListingError(Exception):
    """A listing could not be completed; the type's run is partial and infers no deletions."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class RetryPolicy:
    attempts: int = 4
    backoff_s: float = 0.5
    max_retry_after_s: float = 60.0
    timeout_s: float = 120.0


def get_json(
    proxy: Any,
    path: str,
    params: dict[str, str],
    microversion: str | None,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """GET one page: retries 5xx and timeouts with backoff, honours Retry-After on 429.

    A 401 is re-authenticated once by keystoneauth itself (the token is invalidated and fetched anew).
    """
    from keystoneauth1 import exceptions as ks_exc

    last_error = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            resp = proxy.get(
                path, params=params, microversion=microversion, raise_exc=False, timeout=policy.timeout_s
            )
        except (ks_exc.ConnectFailure, ks_exc.ConnectTimeout, ks_exc.RequestTimeout) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            status = None
        else:
            status = resp.status_code
            if status < 400:
                return orjson.loads(resp.content)  # 2-3x requests' stdlib decode on 1000-object pages
            last_error = f"HTTP {status}: {resp.text[:200]}"
            if status == 429:
                retry_after = _retry_after(resp.headers.get("Retry-After"))
                if attempt < policy.attempts:
                    sleep(min(retry_after or policy.backoff_s * 2**attempt, policy.max_retry_after_s))
                    continue
            elif status not in RETRY_STATUSES:
                raise ListingError(f"GET {path} failed: {last_error}", status)
        if attempt < policy.attempts:
            sleep(policy.backoff_s * 2 ** (attempt - 1))
    raise ListingError(f"GET {path} failed after {policy.attempts} attempts: {last_error}", status)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _next_marker(desc: Resource, body: dict[str, Any]) -> str | None:
    if desc.paging == "glance":
        link = body.get("next")
    else:
        links = body.get(f"{desc.key}_links") or []
        link = next((item.get("href") for item in links if item.get("rel") == "next"), None)
    if not link:
        return None
    markers = parse_qs(urlsplit(link).query).get("marker")
    return markers[0] if markers else None


def iter_pages(
    proxy: Any,
    desc: Resource,
    path: str | None = None,
    params: dict[str, str] | None = None,
    policy: RetryPolicy | None = None,
    page_size: int = PAGE_SIZE,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[list[dict[str, Any]]]:
    """Yield the raw objects of a listing page by page, following markers until the last page."""
    policy = policy or RetryPolicy()
    query = dict(desc.params if params is None else params)
    if desc.paging in ("marker", "glance"):
        query["limit"] = str(page_size)
    seen_markers: set[str] = set()
    while True:
        body = get_json(proxy, path or desc.path, query, desc.microversion, policy, sleep)
        items = body.get(desc.key)
        if not isinstance(items, list):
            raise ListingError(f"GET {path or desc.path}: the answer has no list {desc.key!r}")
        yield items
        marker = _next_marker(desc, body) if desc.paging != "none" else None
        if not marker or not items:
            return
        if marker in seen_markers:  # a server that loops would otherwise keep us here forever
            raise ListingError(f"GET {path or desc.path}: marker {marker} repeated; paging is looping")
        seen_markers.add(marker)
        query["marker"] = marker
