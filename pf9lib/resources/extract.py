"""Small extractors the catalogue's typed columns are built from: nested keys, metadata keys, coercions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Extract = Callable[[dict[str, Any]], Any]
# Fields kept in history that do not by themselves make a change (docs/domain.md, "History").
TIMESTAMPS = frozenset({"updated_at", "updated", "revision_number"})


def g(*path: str, default: Any = None) -> Extract:
    """Read a nested key path from the raw object."""

    def get(raw: dict[str, Any]) -> Any:
        value: Any = raw
        for key in path:
            if not isinstance(value, dict):
                return default
            value = value.get(key)
            if value is None:
                return default
        return value

    return get


def meta(key: str) -> Extract:
    """A key of the object's `metadata` dict (Nova servers, Cinder volumes and snapshots)."""
    return lambda raw: (raw.get("metadata") or {}).get(key)


def truthy(value: Any) -> bool | None:
    """true/yes/1/on (any case) → True; None stays None (metadata values are strings)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "yes", "1", "on")


def as_int(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def as_json(value: Any) -> str:
    """Canonical JSON text (sorted keys, compact), for dict columns kept as text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def count(key: str) -> Extract:
    return lambda raw: len(raw.get(key) or [])
