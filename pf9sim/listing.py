"""Sorted, cached views of a resource type for marker paging (used by Cinder and Glance).

A full sweep of 40k snapshots in pages of 1000 must not sort or scan 40k objects per page: the sorted list
and an id -> position map are cached until the estate changes, and a page walks forward from the marker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pf9sim.state import Estate

SortSpec = tuple[tuple[str, str], ...]  # ((key, "asc" | "desc"), ...)


def _sortable(value: Any) -> tuple[bool, Any]:
    # NULLs first in ascending order, as MySQL sorts them.
    return (value is not None, value if value is not None else 0)


def sorted_view(
    est: Estate, kind: str, region: str, sort: SortSpec, scope: tuple[str, Any] | None = None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Objects of `kind` in `region` (only those whose field scope[0] == scope[1] when given), sorted by
    `sort`; plus a map id -> position. Cached until the estate next changes."""
    cache_key = ("@view", kind, region, sort, scope)
    hit = est._index_cache.get(cache_key)  # noqa: SLF001 - shares the estate's cache and its invalidation
    if hit is not None and hit[0] == est.version:
        return hit[1]
    if scope is None:
        items = list(est.all(kind, region))
    else:
        items = list(est.index(kind, scope[0], region).get(scope[1], ()))
    # Stable sorts applied from the last key to the first give a multi-key sort with mixed directions.
    for key, direction in reversed(sort):
        items.sort(key=lambda obj, k=key: _sortable(obj.get(k)), reverse=direction == "desc")
    positions = {obj["id"]: pos for pos, obj in enumerate(items)}
    est._index_cache[cache_key] = (est.version, (items, positions))  # noqa: SLF001
    return items, positions


def page_after(
    items: list[dict[str, Any]],
    positions: dict[str, int],
    marker: str | None,
    limit: int,
    predicate: Callable[[dict[str, Any]], bool] | None,
    missing_marker: Callable[[str], Exception],
) -> list[dict[str, Any]]:
    """Up to `limit` objects after `marker` that satisfy `predicate`."""
    start = 0
    if marker:
        pos = positions.get(marker)
        if pos is None:
            raise missing_marker(marker)
        start = pos + 1
    out: list[dict[str, Any]] = []
    if limit <= 0:
        return out
    if predicate is None:
        return items[start : start + limit]
    for pos in range(start, len(items)):
        obj = items[pos]
        if predicate(obj):
            out.append(obj)
            if len(out) >= limit:
                break
    return out


def parse_sort(
    sort: str | None,
    sort_key: str | None,
    sort_dir: str | None,
    default: SortSpec,
    allowed: frozenset[str],
    aliases: dict[str, str] | None = None,
) -> SortSpec:
    """`sort=k1:dir,k2` or `sort_key`/`sort_dir` (comma lists) -> ((field, dir), ...); ValueError if invalid.

    "id" is appended as a final tie-breaker so that marker paging is stable."""
    aliases = aliases or {}
    specs: list[tuple[str, str]] = []
    if sort:
        for part in sort.split(","):
            key, _, direction = part.strip().partition(":")
            specs.append((key.strip(), (direction or "desc").strip().lower()))
    elif sort_key:
        keys = [k.strip() for k in sort_key.split(",")]
        dirs = [d.strip().lower() for d in (sort_dir or "").split(",") if d.strip()]
        for pos, key in enumerate(keys):
            specs.append((key, dirs[pos] if pos < len(dirs) else (dirs[-1] if dirs else "desc")))
    elif sort_dir:
        specs = [(key, sort_dir.strip().lower()) for key, _ in default]
    else:
        return default
    out: list[tuple[str, str]] = []
    for key, direction in specs:
        if key not in allowed:
            raise ValueError(f"Invalid sort key {key!r}")
        if direction not in ("asc", "desc"):
            raise ValueError(f"Invalid sort direction {direction!r}")
        out.append((aliases.get(key, key), direction))
    if all(key != "id" for key, _ in out):
        out.append(("id", out[-1][1] if out else "desc"))
    return tuple(out)
