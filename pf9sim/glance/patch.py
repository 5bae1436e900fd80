"""Validation of Glance v2 image bodies: the attributes of POST /v2/images and the JSON-patch ops of PATCH."""

from __future__ import annotations

from typing import Any

from pf9sim.glance.schemas import CONTAINER_FORMATS, DISK_FORMATS, VISIBILITIES
from pf9sim.plumbing import SimError

READ_ONLY = frozenset(
    {
        "status",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "file",
        "self",
        "schema",
        "direct_url",
        "stores",
    }
)
# Base attributes: validated by type, never removable, never "custom properties".
BASE = frozenset(
    {
        "id",
        "name",
        "visibility",
        "protected",
        "os_hidden",
        "owner",
        "tags",
        "disk_format",
        "container_format",
        "min_disk",
        "min_ram",
        "locations",
    }
)


def _check(key: str, value: Any, is_admin: bool) -> Any:
    """One attribute's value as Glance's schema accepts it; raises 400/403 like Glance."""
    if key in READ_ONLY:
        raise SimError(403, f"Attribute '{key}' is read-only.")
    if key == "name":
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise SimError(400, f"Invalid value for 'name': {value!r} (a string of at most 255 characters)")
    elif key == "visibility":
        if value not in VISIBILITIES:
            raise SimError(
                400,
                f"Invalid value '{value}' for parameter 'visibility': must be one of "
                f"{', '.join(VISIBILITIES)}",
            )
        if value == "public" and not is_admin:
            raise SimError(403, "You are not authorized to complete publicize_image action.")
    elif key in ("protected", "os_hidden"):
        if not isinstance(value, bool):
            raise SimError(400, f"Invalid value for '{key}': {value!r} is not of type 'boolean'")
    elif key in ("min_disk", "min_ram"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SimError(400, f"Invalid value for '{key}': {value!r} (an integer >= 0)")
    elif key == "tags":
        if not isinstance(value, list) or not all(isinstance(t, str) and len(t) <= 255 for t in value):
            raise SimError(400, "Invalid value for 'tags': a list of strings is required")
        value = list(dict.fromkeys(value))
    elif key == "disk_format":
        if value is not None and value not in DISK_FORMATS:
            raise SimError(
                400,
                f"Invalid value '{value}' for parameter 'disk_format': Valid values are: "
                f"{', '.join(DISK_FORMATS)}",
            )
    elif key == "container_format":
        if value is not None and value not in CONTAINER_FORMATS:
            raise SimError(
                400,
                f"Invalid value '{value}' for parameter 'container_format': Valid values are: "
                f"{', '.join(CONTAINER_FORMATS)}",
            )
    elif key == "owner":
        if not is_admin:
            raise SimError(403, "You are not permitted to change the owner of this image.")
        if value is not None and not isinstance(value, str):
            raise SimError(400, f"Invalid value for 'owner': {value!r}")
    elif key == "locations":
        raise SimError(403, "It's not allowed to add locations if locations are invisible.")
    elif key.startswith("_") or not key:
        raise SimError(400, f"Invalid attribute name {key!r}")
    elif not isinstance(value, str):
        raise SimError(
            400, f"Provided object does not match schema 'image': {value!r} is not of type 'string'"
        )
    return value


def check_new_image(spec: dict[str, Any], is_admin: bool) -> dict[str, Any]:
    """The validated attributes of POST /v2/images (an "id" is kept for the caller to check)."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        out[key] = value if key == "id" else _check(key, value, is_admin)
    return out


def _path_key(op: dict[str, Any]) -> str:
    path = op.get("path")
    if not isinstance(path, str) or not path.startswith("/") or path.count("/") != 1:
        raise SimError(400, f"Invalid JSON pointer for this resource: '{path}'")
    return path[1:].replace("~1", "/").replace("~0", "~")


def apply_patch(img: dict[str, Any], ops: list[Any], is_admin: bool) -> None:
    """Apply JSON-patch ops (add / replace / remove) to a stored image; all are checked before any applies."""
    changes: list[tuple[str, str, Any]] = []
    present = {k for k in img if not k.startswith("_")}
    for op in ops:
        if not isinstance(op, dict) or op.get("op") not in ("add", "replace", "remove"):
            raise SimError(
                400,
                f'Operation objects must contain exactly one member named "add", "remove", '
                f'or "replace": {op!r}',
            )
        key = _path_key(op)
        kind = op["op"]
        if key == "id":
            raise SimError(403, "Attribute 'id' is read-only.")
        if kind == "remove":
            if key in READ_ONLY or key in BASE:
                raise SimError(403, f"Attribute '{key}' is reserved.")
            if key not in present:
                raise SimError(409, f"Property {key} does not exist.")
            present.discard(key)
            changes.append((kind, key, None))
            continue
        if "value" not in op:
            raise SimError(400, f'Operation "{kind}" requires a member named "value".')
        value = _check(key, op["value"], is_admin)
        if kind == "replace" and key not in BASE and key not in present:
            raise SimError(409, f"Property {key} does not exist.")
        if (
            key in ("disk_format", "container_format")
            and img.get("status") != "queued"
            and img.get(key) is not None
        ):
            raise SimError(403, f"Attribute {key} can be only replaced for a queued image.")
        present.add(key)
        changes.append((kind, key, value))
    for kind, key, value in changes:
        if kind == "remove":
            img.pop(key, None)
        else:
            img[key] = value
