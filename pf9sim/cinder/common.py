"""Shared parts of the simulated Cinder v3: microversions, request context, rendering, listing and lookups."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from pf9sim.listing import page_after, parse_sort, sorted_view
from pf9sim.plumbing import (
    SimError,
    Token,
    int_param,
    json_response,
    microversion,
    next_link,
    region_of,
    token_of,
    version_headers,
)
from pf9sim.state import Estate

MIN_VERSION = "3.0"
MAX_VERSION = "3.71"  # cinder 29 (2026.2), the release the realos tier runs
MAX_PAGE = 1000  # osapi_max_limit
TENANT_KEY = "os-vol-tenant-attr:tenant_id"
SNAP_PROJECT_KEY = "os-extended-snapshot-attributes:project_id"

# Volume keys only an admin sees, and keys that appear from a microversion on.
_VOLUME_ADMIN_KEYS = frozenset(
    {
        "os-vol-host-attr:host",
        "os-vol-mig-status-attr:migstat",
        "os-vol-mig-status-attr:name_id",
        "migration_status",
        "provider_id",
        "cluster_name",
    }
)
_VOLUME_SINCE = {
    "group_id": (3, 13),
    "provider_id": (3, 21),
    "shared_targets": (3, 48),
    "service_uuid": (3, 48),
    "cluster_name": (3, 61),
    "volume_type_id": (3, 63),
    "consumes_quota": (3, 65),
}
_SNAPSHOT_SINCE = {"group_snapshot_id": (3, 14), "user_id": (3, 41), "consumes_quota": (3, 65)}
# Bookkeeping other services may leave on a volume that Cinder's body never shows.
_VOLUME_NEVER = frozenset({"attach_status"})
_SNAPSHOT_EXTENDED = frozenset({SNAP_PROJECT_KEY, "os-extended-snapshot-attributes:progress"})


@dataclass
class Ctx:
    """What a Cinder handler needs about its request."""

    request: web.Request
    est: Estate
    region: str
    token: Token
    version: tuple[int, int]

    @property
    def admin(self) -> bool:
        return self.token.is_admin

    @property
    def project_id(self) -> str:
        return self.token.project_id or ""

    def base_url(self) -> str:
        return self.request.app["sim"].base_url


def ctx_of(request: web.Request) -> Ctx:
    region = region_of(request)
    version = microversion(request, "volume", MIN_VERSION, MAX_VERSION)
    return Ctx(request, request.app["sim"].estate, region, token_of(request), version)


def respond(ctx: Ctx, body: Any, status: int = 200) -> web.Response:
    headers = version_headers("volume", ctx.version)
    if body is None:
        return web.Response(status=status, headers=headers)
    return json_response(body, status=status, headers=headers)


def bool_param(value: Any, name: str = "value") -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "t", "true", "on", "y", "yes"):
        return True
    if text in ("0", "f", "false", "off", "n", "no"):
        return False
    raise SimError(400, f"Invalid input received: Invalid value '{value}' for {name}")


# -- rendering -----------------------------------------------------------------------------------
def volume_drop(ctx: Ctx) -> frozenset[str]:
    drop = {k for k, since in _VOLUME_SINCE.items() if ctx.version < since} | _VOLUME_NEVER
    if not ctx.admin:
        drop |= _VOLUME_ADMIN_KEYS
    return frozenset(drop)


def _strip(obj: dict[str, Any], drop: frozenset[str]) -> dict[str, Any]:
    # copy-then-pop is ~2x faster than a filtering comprehension, and rendering dominates a full sweep.
    body = obj.copy()
    for key in drop:
        body.pop(key, None)
    for key in [k for k in body if k[0] == "_"]:
        del body[key]
    return body


# Absolute links per (server address, volume id): they never change, and building them per page is costly.
_LINKS: dict[tuple[str, str], list[dict[str, str]]] = {}


def _links(obj: dict[str, Any], base: str) -> list[dict[str, str]]:
    key = (base, obj["id"])
    links = _LINKS.get(key)
    if links is None:
        if len(_LINKS) > 500_000:
            _LINKS.clear()
        links = _LINKS[key] = [
            {"href": base + link["href"], "rel": link["rel"]} for link in obj.get("links", ())
        ]
    return links


def render_volume(obj: dict[str, Any], drop: frozenset[str], base: str) -> dict[str, Any]:
    # Nested values are shared with the stored object: the body is serialised at once, never mutated.
    body = _strip(obj, drop)
    body["links"] = _links(obj, base)
    return body


def volume_summary(obj: dict[str, Any], base: str) -> dict[str, Any]:
    return {"id": obj["id"], "links": _links(obj, base), "name": obj.get("name")}


def snapshot_drop(ctx: Ctx, detail: bool = True) -> frozenset[str]:
    drop = {k for k, since in _SNAPSHOT_SINCE.items() if ctx.version < since}
    if not detail:
        drop |= _SNAPSHOT_EXTENDED
    return frozenset(drop)


def render_snapshot(obj: dict[str, Any], drop: frozenset[str]) -> dict[str, Any]:
    return _strip(obj, drop)


# -- lookups -------------------------------------------------------------------------------------
def get_volume(ctx: Ctx, volume_id: str) -> dict[str, Any]:
    """A volume this caller may see (admin: any in the region; others: their project's), else 404."""
    vol = ctx.est.get("volumes", volume_id)
    if (
        vol is None
        or vol.get("_region") != ctx.region
        or (not ctx.admin and vol.get(TENANT_KEY) != ctx.project_id)
    ):
        raise SimError(404, f"Volume {volume_id} could not be found.")
    return vol


def get_snapshot(ctx: Ctx, snapshot_id: str) -> dict[str, Any]:
    snap = ctx.est.get("snapshots", snapshot_id)
    if (
        snap is None
        or snap.get("_region") != ctx.region
        or (not ctx.admin and snap.get(SNAP_PROJECT_KEY) != ctx.project_id)
    ):
        raise SimError(404, f"Snapshot {snapshot_id} could not be found.")
    return snap


def find_type(ctx: Ctx, name_or_id: str) -> dict[str, Any]:
    vtype = ctx.est.get("volume_types", name_or_id)
    if vtype is None or vtype.get("_region") != ctx.region:
        vtype = next((t for t in ctx.est.all("volume_types", ctx.region) if t["name"] == name_or_id), None)
    if vtype is None:
        raise SimError(404, f"Volume type with name or id {name_or_id} could not be found.")
    return vtype


def default_type(ctx: Ctx) -> dict[str, Any]:
    """Cinder's default_volume_type: "__DEFAULT__" when the estate has it, else the region's first type."""
    types = list(ctx.est.all("volume_types", ctx.region))
    if not types:
        raise SimError(404, "Volume type with name or id __DEFAULT__ could not be found.")
    return next((t for t in types if t["name"] == "__DEFAULT__"), types[0])


def parse_metadata_filter(raw: str) -> dict[str, str]:
    """The `metadata` query filter: a dict literal ("{'k': 'v'}", as cinderclient sends it) or JSON."""
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(raw)
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    raise SimError(400, f"Invalid input received: Invalid metadata filter {raw!r}")


def check_metadata(meta: Any) -> dict[str, str]:
    if not isinstance(meta, dict):
        raise SimError(400, "Invalid input for field/attribute metadata. Value: must be an object.")
    for key, value in meta.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise SimError(400, "Invalid input for field/attribute metadata. Keys must be 1-255 characters.")
        if not isinstance(value, str) or len(value) > 255:
            raise SimError(
                400,
                f"Invalid input for field/attribute metadata. Value of {key!r} must be a "
                "string of at most 255 characters.",
            )
    return dict(meta)


# -- listing -------------------------------------------------------------------------------------
_DEFAULT_SORT = (("created_at", "desc"), ("id", "desc"))


def list_page(
    ctx: Ctx,
    kind: str,
    project_key: str,
    sort_keys: frozenset[str],
    predicates: list[Callable[[dict[str, Any]], bool]],
) -> tuple[list[dict[str, Any]], bool, int | None]:
    """One page of a Cinder collection: (objects, page is full, total count when with_count was asked).

    Scope as Cinder applies it: an admin with all_tenants sees every project (narrowed by project_id);
    an admin naming a project_id sees that project; everyone else sees only their token's project."""
    q = ctx.request.query
    all_tenants = ctx.admin and bool_param(q.get("all_tenants", "0") or "1", "all_tenants")
    project = q.get("project_id") if ctx.admin else None
    if project:
        scope: tuple[str, Any] | None = (project_key, project)
    elif all_tenants:
        scope = None
    else:
        scope = (project_key, ctx.project_id)
    try:
        sort = parse_sort(
            q.get("sort"),
            q.get("sort_key"),
            q.get("sort_dir"),
            _DEFAULT_SORT,
            sort_keys,
            {"project_id": project_key},
        )
    except ValueError as exc:
        raise SimError(400, f"Invalid input received: {exc}") from None
    items, positions = sorted_view(ctx.est, kind, ctx.region, sort, scope)
    limit = int_param(ctx.request, "limit", MAX_PAGE)
    limit = min(limit, MAX_PAGE)
    offset = int_param(ctx.request, "offset", 0) or 0

    def predicate(obj: dict[str, Any]) -> bool:
        return all(p(obj) for p in predicates)

    pred = predicate if predicates else None
    page = page_after(
        items,
        positions,
        q.get("marker"),
        limit + offset,
        pred,
        # Cinder looks the marker up as an object of the listing: an unknown one is that object's 404.
        lambda m: SimError(404, f"{kind[:-1].capitalize()} {m} could not be found."),
    )[offset:]
    count = None
    if ctx.version >= (3, 45) and bool_param(q.get("with_count", "false"), "with_count"):
        count = len(items) if pred is None else sum(1 for obj in items if pred(obj))
    return page, bool(page) and len(page) == limit, count


def collection(
    ctx: Ctx, key: str, rendered: list[dict[str, Any]], full: bool, count: int | None, last_id: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {key: rendered}
    if full and last_id is not None:
        limit = ctx.request.query.get("limit")
        href = next_link(ctx.request, last_id, int(limit) if limit else None)
        body[f"{key}_links"] = [{"href": href, "rel": "next"}]
    if count is not None:
        body["count"] = count
    return body


def common_predicates(q: Any, metadata_ok: bool = True) -> list[Callable[[dict[str, Any]], bool]]:
    """Filters shared by volumes and snapshots: name (exact, or name~ substring), status, metadata."""
    preds: list[Callable[[dict[str, Any]], bool]] = []
    if "name" in q:
        name = q["name"]
        preds.append(lambda o: o.get("name") == name)
    if "name~" in q:
        part = q["name~"].lower()
        preds.append(lambda o: part in (o.get("name") or "").lower())
    if "status" in q:
        status = q["status"].lower()
        preds.append(lambda o: (o.get("status") or "").lower() == status)
    if metadata_ok and q.get("metadata"):
        wanted = parse_metadata_filter(q["metadata"])
        preds.append(lambda o: all((o.get("metadata") or {}).get(k) == v for k, v in wanted.items()))
    return preds


def update_spec(body: dict[str, Any], key: str) -> dict[str, Any]:
    """The `{key: {...}}` object of a PUT body (Cinder's 400 when it is missing)."""
    spec = body.get(key)
    if not isinstance(spec, dict):
        raise SimError(400, f"Missing required element '{key}' in request body.")
    return spec


def apply_name_and_description(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    """PUT semantics shared by volumes and snapshots, including the v1 `display_*` aliases."""
    for src, dst in (
        ("name", "name"),
        ("display_name", "name"),
        ("description", "description"),
        ("display_description", "description"),
    ):
        if src in spec:
            if spec[src] is not None and not isinstance(spec[src], str):
                raise SimError(400, f"Invalid input for field/attribute {src}.")
            obj[dst] = spec[src]
