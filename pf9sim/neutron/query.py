"""Neutron list semantics: equality filters, tag filters, visibility, sorting, `fields=` and native paging.

Paging follows neutron/api/api_common.py: only when `limit` is given; "next" when the page is full,
"previous" unless a reverse page came back short; markers are ids; page_reverse walks backwards but returns
forward order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from pf9sim.plumbing import SimError
from pf9sim.state import Estate, public

# Query parameters that steer the listing instead of filtering it.
CONTROL_PARAMS = frozenset({"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir"})
TAG_PARAMS = frozenset({"tags", "tags-any", "not-tags", "not-tags-any"})
# String fields worth an index: one bucket lookup instead of a scan (find-by-name, ports of a server, ...).
INDEXED = (
    "device_id",
    "network_id",
    "security_group_id",
    "port_id",
    "router_id",
    "floating_network_id",
    "project_id",
    "name",
    "device_owner",
    "status",
    "mac_address",
)
_TRUE = frozenset({"true", "1", "yes", "y", "t", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "off"})

Visible = Callable[[Estate, dict[str, Any]], bool]


def _sortable(value: Any) -> tuple[bool, Any]:
    # NULLs first in ascending order, as MySQL sorts them; lists and dicts compare by their text.
    if isinstance(value, (list, dict)):
        value = str(value)
    return (value is not None, value if value is not None else 0)


def _sorted(items: list[dict[str, Any]], sort: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    # Stable sorts from the last key to the first: a multi-key sort with mixed directions.
    for key, direction in reversed(sort):
        items.sort(key=lambda obj, k=key: _sortable(obj.get(k)), reverse=direction == "desc")
    return items


def _sorted_view(
    request: web.Request, est: Estate, kind: str, region: str, sort: tuple[tuple[str, str], ...]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """All objects of a type in a region, sorted, with id -> position; cached until the estate changes."""
    cache: dict = request.app["neutron_views"]
    key = (kind, region, sort)
    hit = cache.get(key)
    if hit is not None and hit[0] is est and hit[1] == est.version:
        return hit[2], hit[3]
    items = _sorted(list(est.all(kind, region)), sort)
    positions = {obj["id"]: pos for pos, obj in enumerate(items)}
    cache[key] = (est, est.version, items, positions)
    return items, positions


def _sort_spec(request: web.Request) -> tuple[tuple[str, str], ...]:
    keys = request.query.getall("sort_key", [])
    dirs = request.query.getall("sort_dir", [])
    if dirs and len(dirs) != len(keys):
        raise SimError(400, "The number of sort_keys and sort_dirs must be same", kind="BadRequest")
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise SimError(
                400, f"{direction} is invalid value for sort_dirs, valid value is 'asc' and 'desc'"
            )
    spec = [
        (("project_id" if k == "tenant_id" else k), d)
        for k, d in zip(keys, dirs or ["asc"] * len(keys), strict=True)
    ]
    # The id is always the last key, so that the order (and a marker) is total.
    if all(k != "id" for k, _ in spec):
        spec.append(("id", spec[-1][1] if spec else "asc"))
    return tuple(spec)


def _bool_param(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SimError(
        400,
        f"Invalid input for operation: '{raw}' cannot be converted to boolean for {name}.",
        kind="InvalidInput",
    )


def _matcher(name: str, values: list[str], sample: Any) -> Callable[[Any], bool]:
    """A predicate on one field's value; a boolean field (by a sample value) rejects non-boolean input."""
    if isinstance(sample, bool):
        wanted_bools = {_bool_param(name, v) for v in values}
        return lambda value: value in wanted_bools
    wanted = set(values)
    lowered = {v.lower() for v in values}

    def match(value: Any) -> bool:
        if value is None:
            return "" in wanted  # Neutron's empty-string-filtering: "" matches null
        if isinstance(value, str):
            return value in wanted
        if isinstance(value, bool):
            return str(value).lower() in lowered
        if isinstance(value, list):
            return any(str(v) in wanted for v in value)
        return str(value) in wanted

    return match


def _fixed_ip_filter(values: list[str]) -> Callable[[dict[str, Any]], bool]:
    """ports?fixed_ips=ip_address=X&fixed_ips=subnet_id=Y (each clause must hold on some fixed IP)."""
    clauses = []
    for text in values:
        key, _, value = text.partition("=")
        if key not in ("ip_address", "subnet_id", "ip_address_substr"):
            raise SimError(
                400,
                f"Invalid input for operation: '{text}' is not a valid fixed_ips filter.",
                kind="InvalidInput",
            )
        clauses.append((key, value))

    def match(port: dict[str, Any]) -> bool:
        for key, value in clauses:
            if key == "ip_address_substr":
                ok = any(value in f["ip_address"] for f in port["fixed_ips"])
            else:
                ok = any(f[key] == value for f in port["fixed_ips"])
            if not ok:
                return False
        return True

    return match


def _tag_filter(query: Any) -> Callable[[dict[str, Any]], bool] | None:
    def split(name: str) -> set[str]:
        return {t for v in query.getall(name, []) for t in v.split(",") if t}

    all_of, any_of, none_of, not_any = (
        split("tags"),
        split("tags-any"),
        split("not-tags"),
        split("not-tags-any"),
    )
    if not (all_of or any_of or none_of or not_any):
        return None

    def match(obj: dict[str, Any]) -> bool:
        tags = set(obj.get("tags") or ())
        return (
            (not all_of or all_of <= tags)
            and (not any_of or bool(any_of & tags))
            and (not none_of or not none_of <= tags)
            and (not not_any or not (not_any & tags))
        )

    return match


def _candidates(
    request: web.Request,
    est: Estate,
    kind: str,
    region: str,
    filters: dict[str, list[str]],
    sort: tuple[tuple[str, str], ...],
) -> tuple[list[dict[str, Any]], dict[str, int] | None]:
    """The smallest sorted starting set: an index bucket for a string filter, else the cached full view."""
    if "id" in filters:
        objs = [
            o for i in filters["id"] if (o := est.get(kind, i)) is not None and o.get("_region") == region
        ]
        return _sorted(objs, sort), None
    for key in INDEXED:
        if key in filters:
            index = est.index(kind, key, region)
            objs = [o for v in dict.fromkeys(filters[key]) for o in index.get(v, ())]
            if "" in filters[key]:
                objs += index.get(None, [])
            return _sorted(objs, sort), None
    return _sorted_view(request, est, kind, region, sort)


def select(
    request: web.Request,
    est: Estate,
    kind: str,
    region: str,
    visible: Visible | None,
    extra: dict[str, Callable[[list[str]], Callable[[dict], bool]]] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int] | None, tuple[tuple[str, str], ...]]:
    """Objects the caller may see that match every filter, sorted; plus id positions when unfiltered."""
    query = request.query
    sort = _sort_spec(request)
    filters: dict[str, list[str]] = {}
    for name in dict.fromkeys(query.keys()):
        if name in CONTROL_PARAMS or name in TAG_PARAMS:
            continue
        filters["project_id" if name == "tenant_id" else name] = query.getall(name)
    items, positions = _candidates(request, est, kind, region, filters, sort)
    predicates: list[Callable[[dict[str, Any]], bool]] = []
    if visible is not None:
        predicates.append(lambda obj: visible(est, obj))
    tag_match = _tag_filter(query)
    if tag_match is not None:
        predicates.append(tag_match)
    sample = items[0] if items else None
    for name, values in filters.items():
        if extra and name in extra:
            predicates.append(extra[name](values))
        elif name == "fixed_ips" and kind == "ports":
            predicates.append(_fixed_ip_filter(values))
        elif sample is not None:
            if name not in sample or name.startswith("_"):
                raise SimError(400, f"[{name}] is invalid attribute for filtering", kind="HTTPBadRequest")
            test = _matcher(name, values, sample[name])
            predicates.append(lambda obj, n=name, t=test: t(obj.get(n)))
    if predicates:
        items = [o for o in items if all(p(o) for p in predicates)]
        positions = None
    return items, positions, sort


def _page(
    items: list[dict[str, Any]],
    positions: dict[str, int] | None,
    marker: str | None,
    limit: int,
    reverse: bool,
    marker_obj: dict[str, Any] | None,
    sort: tuple[tuple[str, str], ...],
) -> list[dict[str, Any]]:
    if marker is None:
        start = len(items) if reverse else 0
    else:
        pos = positions.get(marker) if positions is not None else None
        if pos is None:
            pos = next((i for i, o in enumerate(items) if o["id"] == marker), None)
        if pos is None:
            # The marker is not in this result (filtered out or deleted): place it by its sort key.
            mkey = tuple(_sortable(marker_obj.get(k)) for k, _ in sort)
            pos = _insertion_point(items, mkey, sort)
            start = pos
        else:
            start = pos if reverse else pos + 1
    if reverse:
        return items[max(0, start - limit) : start]
    return items[start : start + limit]


def _insertion_point(items: list[dict[str, Any]], mkey: tuple, sort: tuple[tuple[str, str], ...]) -> int:
    for i, obj in enumerate(items):
        for (k, direction), mv in zip(sort, mkey, strict=True):
            ov = _sortable(obj.get(k))
            if ov == mv:
                continue
            if (ov > mv) == (direction == "asc"):
                return i
            break
    return len(items)


def _href(request: web.Request, marker: str | None, reverse: bool) -> str:
    params = [(k, v) for k, v in request.query.items() if k not in ("marker", "page_reverse")]
    if marker is not None:
        params.append(("marker", marker))
    if reverse:
        params.append(("page_reverse", "True"))
    return f"{request.app['sim'].base_url}{request.path}?{urlencode(params)}"


def _project(obj: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if not fields:
        return public(obj)
    return {f: obj[f] for f in fields if f in obj and not f.startswith("_")}


def fields_of(request: web.Request) -> list[str]:
    return [f for v in request.query.getall("fields", []) for f in v.split(",") if f]


def render(obj: dict[str, Any], request: web.Request) -> dict[str, Any]:
    return _project(obj, fields_of(request))


def list_body(
    request: web.Request,
    est: Estate,
    kind: str,
    collection: str,
    region: str,
    visible: Visible | None,
    not_found: Callable[[str], SimError],
    extra: dict[str, Callable[[list[str]], Callable[[dict], bool]]] | None = None,
) -> dict[str, Any]:
    """The whole list response: {collection: [...], collection_links: [...] when paged}."""
    items, positions, sort = select(request, est, kind, region, visible, extra)
    fields = fields_of(request)
    raw_limit = request.query.get("limit", "")
    try:
        limit = int(raw_limit) if raw_limit else 0
    except ValueError:
        raise SimError(
            400,
            f"Bad limit request: Limit must be an integer 0 or greater and not '{raw_limit}'.",
            kind="BadRequest",
        ) from None
    if limit < 0:
        raise SimError(
            400,
            f"Bad limit request: Limit must be an integer 0 or greater and not '{raw_limit}'.",
            kind="BadRequest",
        )
    if not limit:
        return {collection: [_project(o, fields) for o in items]}
    marker = request.query.get("marker") or None
    reverse = _bool_param("page_reverse", request.query.get("page_reverse", "false"))
    marker_obj = None
    if marker is not None and (positions is None or marker not in positions):
        marker_obj = est.get(kind, marker)
        if marker_obj is None or marker_obj.get("_region") != region:
            raise not_found(marker)
    page = _page(items, positions, marker, limit, reverse, marker_obj, sort)
    links = []
    if not (len(page) < limit and not reverse):
        links.append({"rel": "next", "href": _href(request, page[-1]["id"] if page else marker, False)})
    if not (len(page) < limit and reverse):
        links.append({"rel": "previous", "href": _href(request, page[0]["id"] if page else marker, True)})
    return {collection: [_project(o, fields) for o in page], f"{collection}_links": links}
