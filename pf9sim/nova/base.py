"""What every simulated Nova handler shares: microversion handling, the request context, links and paging."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from pf9sim.plumbing import SimError, Token, int_param, microversion, next_link, paginate, region_of, token_of
from pf9sim.state import Estate

MIN_VERSION = "2.1"
MAX_VERSION = "2.104"  # nova 34 (2026.2), the release the realos tier runs
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
MAX_PAGE = 1000  # Nova's osapi_max_limit default
VERSION_UPDATED = "2013-07-23T11:33:21Z"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Ctx:
    """One request's view: estate, region, caller and microversion."""

    request: web.Request
    est: Estate
    region: str
    token: Token
    mv: tuple[int, int]
    base: str

    @property
    def admin(self) -> bool:
        return self.token.is_admin

    @property
    def project_id(self) -> str | None:
        return self.token.project_id

    def since(self, minor: int) -> bool:
        """True when the request's microversion is 2.<minor> or newer."""
        return self.mv >= (2, minor)

    def require_admin(self) -> None:
        if not self.admin:
            raise SimError(403, "Policy doesn't allow this operation to be performed.")

    def abs(self, href: str) -> str:
        return self.base + href if href.startswith("/") else href

    def links(self, links: Sequence[dict[str, str]]) -> list[dict[str, str]]:
        return [{"rel": link["rel"], "href": self.abs(link["href"])} for link in links]

    def compute_links(self, path: str) -> list[dict[str, str]]:
        """self + bookmark links for a Nova resource path such as "flavors/<id>"."""
        return [
            {"rel": "self", "href": f"{self.base}/{self.region}/compute/v2.1/{path}"},
            {"rel": "bookmark", "href": f"{self.base}/{self.region}/compute/{path}"},
        ]


def version_response_headers(mv: tuple[int, int]) -> dict[str, str]:
    text = f"{mv[0]}.{mv[1]}"
    return {
        "OpenStack-API-Version": f"compute {text}",
        LEGACY_HEADER: text,
        "Vary": f"OpenStack-API-Version, {LEGACY_HEADER}",
    }


def nova_api(handler: Callable[[Ctx], Awaitable[web.StreamResponse]]) -> Handler:
    """Wrap a handler taking a Ctx: negotiate the microversion (406 out of range) and answer with it."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        mv = microversion(request, "compute", MIN_VERSION, MAX_VERSION, legacy_header=LEGACY_HEADER)
        headers = version_response_headers(mv)
        sim = request.app["sim"]
        ctx = Ctx(request, sim.estate, region_of(request), token_of(request), mv, sim.base_url)
        try:
            resp = await handler(ctx)
        except SimError as exc:
            exc.headers = {**headers, **exc.headers}
            raise
        resp.headers.update(headers)
        return resp

    return wrapper


def big_json(body: Any) -> web.Response:
    """json_response for large listings: the bodies are trees we built, so skip the circularity check."""
    data = json.dumps(body, separators=(",", ":"), check_circular=False).encode()
    return web.Response(body=data, content_type="application/json")


def empty(status: int = 202) -> web.Response:
    return web.Response(status=status)


def query_bool(ctx: Ctx, name: str) -> bool | None:
    """Nova's reading of a boolean query flag: present-but-empty is true; None when absent."""
    if name not in ctx.request.query:
        return None
    raw = ctx.request.query.get(name, "").strip().lower()
    if raw in ("", "1", "true", "t", "yes", "y", "on"):
        return True
    if raw in ("0", "false", "f", "no", "n", "off"):
        return False
    raise SimError(400, f"Invalid value '{raw}' for '{name}': expected a boolean")


def nova_page(
    ctx: Ctx,
    items: Sequence[dict[str, Any]],
    links_key: str,
    marker_of: Callable[[dict[str, Any]], Any] | None = None,
) -> tuple[list[dict[str, Any]], dict]:
    """Nova paging: `limit` (capped at 1000) + `marker`, "<links_key>" with rel next when more remain.

    `marker_of` maps an item to the marker clients see when that differs from the stored "id" (e.g. an integer
    id before a microversion); markers are compared as strings.
    """
    raw_limit = ctx.request.query.get("limit")
    if raw_limit is not None and not raw_limit.isdigit():  # Nova's query schema: ^[0-9]*$
        raise SimError(
            400,
            f"Invalid input for query parameters limit. Value: {raw_limit}. '{raw_limit}' does not match "
            "'^[0-9]*$'",
        )
    limit = int_param(ctx.request, "limit")
    marker = ctx.request.query.get("marker") or None
    if marker_of is not None and marker is not None:
        for item in items:
            if str(marker_of(item)) == marker:
                marker = item["id"]
                break
        else:
            raise SimError(400, f"marker [{marker}] not found")
    page, next_marker = paginate(items, marker, limit, MAX_PAGE)
    extra: dict[str, Any] = {}
    if next_marker is not None:
        shown = next_marker
        if marker_of is not None:
            shown = str(marker_of(page[-1]))
        effective = min(limit, MAX_PAGE) if limit is not None else None
        extra[links_key] = [{"rel": "next", "href": next_link(ctx.request, shown, effective)}]
    return page, extra


def cached(est: Estate, key: tuple, build: Callable[[], Any]) -> Any:
    """A value derived from the estate, kept until the estate next changes (same rule as Estate.index)."""
    hit = est._index_cache.get(key)  # noqa: SLF001 - shares the estate's invalidation
    if hit is not None and isinstance(hit, tuple) and len(hit) == 2 and hit[0] == est.version:
        return hit[1]
    value = build()
    est._index_cache[key] = (est.version, value)  # noqa: SLF001
    return value


def quota_limits(est: Estate, project_id: str, region: str) -> dict[str, int]:
    """The project's compute quota limits (stored by state.make_quota), over Nova's defaults."""
    limits = dict(DEFAULT_QUOTAS)
    stored = est.get("quotas", f"{region}/compute/{project_id}")
    if stored is not None:
        limits.update(stored["limits"])
    return limits


# Nova's default quotas (nova.conf [quota]).
DEFAULT_QUOTAS: dict[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "key_pairs": 100,
    "metadata_items": 128,
    "server_groups": 10,
    "server_group_members": 10,
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
    "fixed_ips": -1,
    "floating_ips": 10,
    "security_groups": 10,
    "security_group_rules": 20,
}


def project_usage(est: Estate, project_id: str, region: str) -> dict[str, int]:
    """instances / cores / ram / server_groups in use by a project in a region (from the estate)."""
    servers = est.index("servers", "tenant_id", region).get(project_id, [])
    groups = est.index("server_groups", "project_id", region).get(project_id, [])
    return {
        "instances": len(servers),
        "cores": sum(s["flavor"]["vcpus"] for s in servers),
        "ram": sum(s["flavor"]["ram"] for s in servers),
        "server_groups": len(groups),
    }


# -- hypervisor usage ---------------------------------------------------------------------------------
RESERVED_HOST_MEMORY_MB = 512  # nova.conf reserved_host_memory_mb default: counted as used
CPU_ALLOCATION_RATIO = 16.0  # generous ratios so that a demo estate rarely runs out of room
RAM_ALLOCATION_RATIO = 1.5


def servers_on(est: Estate, hypervisor: dict[str, Any]) -> list[dict[str, Any]]:
    by_node = est.index("servers", "OS-EXT-SRV-ATTR:hypervisor_hostname", hypervisor["_region"])
    return by_node.get(hypervisor["hypervisor_hostname"], [])


def hypervisor_usage(est: Estate, hypervisor: dict[str, Any]) -> dict[str, int]:
    """The usage fields of a pre-2.88 hypervisor body, computed from the servers placed on it."""
    servers = servers_on(est, hypervisor)
    vcpus = sum(s["flavor"]["vcpus"] for s in servers)
    ram = RESERVED_HOST_MEMORY_MB + sum(s["flavor"]["ram"] for s in servers)
    # Servers booted from volume use no local root disk.
    disk = sum((s["flavor"]["disk"] if s["image"] else 0) + s["flavor"]["ephemeral"] for s in servers)
    free_disk = hypervisor["local_gb"] - disk
    return {
        "vcpus_used": vcpus,
        "memory_mb_used": ram,
        "local_gb_used": disk,
        "free_ram_mb": hypervisor["memory_mb"] - ram,
        "free_disk_gb": free_disk,
        "current_workload": sum(1 for s in servers if s["OS-EXT-STS:task_state"] is not None),
        "running_vms": len(servers),
        "disk_available_least": free_disk,
    }
