"""JSON schemas Glance v2 serves at /v2/schemas/... (glanceclient and some SDK paths fetch them)."""

from __future__ import annotations

from typing import Any

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("community", "public", "private", "shared")
STATUSES = (
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "uploading",
    "importing",
    "pending_delete",
    "deactivated",
)


_UUID_PATTERN = "^([0-9a-fA-F]){8}-" + "([0-9a-fA-F]){4}-" * 3 + "([0-9a-fA-F]){12}$"


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def image_schema() -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {
            "type": "string",
            "description": "An identifier for the image",
            "pattern": _UUID_PATTERN,
        },
        "name": _nullable("string", maxLength=255, description="Descriptive name for the image"),
        "status": {
            "type": "string",
            "readOnly": True,
            "enum": list(STATUSES),
            "description": "Status of the image",
        },
        "visibility": {
            "type": "string",
            "enum": list(VISIBILITIES),
            "description": "Scope of image accessibility",
        },
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {
            "type": "boolean",
            "description": "If true, image will not appear in default image list response.",
        },
        "checksum": _nullable(
            "string", readOnly=True, maxLength=32, description="md5 hash of image contents."
        ),
        "os_hash_algo": _nullable(
            "string", readOnly=True, maxLength=64, description="Algorithm to calculate the os_hash_value"
        ),
        "os_hash_value": _nullable(
            "string",
            readOnly=True,
            maxLength=128,
            description="Hexdigest of the image contents using the algorithm specified by the os_hash_algo",
        ),
        "owner": _nullable("string", maxLength=255, description="Owner of the image"),
        "size": _nullable("integer", readOnly=True, description="Size of image file in bytes"),
        "virtual_size": _nullable("integer", readOnly=True, description="Virtual size of image in bytes"),
        "container_format": {
            "type": ["null", "string"],
            "enum": [None, *CONTAINER_FORMATS],
            "description": "Format of the container",
        },
        "disk_format": {
            "type": ["null", "string"],
            "enum": [None, *DISK_FORMATS],
            "description": "Format of the disk",
        },
        "created_at": {
            "type": "string",
            "readOnly": True,
            "description": "Date and time of image registration",
        },
        "updated_at": {
            "type": "string",
            "readOnly": True,
            "description": "Date and time of the last image modification",
        },
        "tags": {
            "type": "array",
            "items": {"type": "string", "maxLength": 255},
            "description": "List of strings related to the image",
        },
        "direct_url": {
            "type": "string",
            "readOnly": True,
            "description": "URL to access the image file kept in external store",
        },
        "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
        "min_disk": {
            "type": "integer",
            "description": "Amount of disk space (in GB) required to boot image.",
        },
        "self": {"type": "string", "readOnly": True, "description": "An image self url"},
        "file": {"type": "string", "readOnly": True, "description": "An image file url"},
        "stores": {"type": "string", "readOnly": True, "description": "Store in which image data resides."},
        "schema": {"type": "string", "readOnly": True, "description": "An image schema url"},
        "locations": {
            "type": "array",
            "items": {"type": "object"},
            "description": "A set of URLs to access the image file kept in external store",
        },
        "os_distro": {
            "type": "string",
            "is_base": False,
            "description": "Common name of operating system distribution as specified in "
            "https://docs.openstack.org/glance/latest/admin/useful-image-properties.html",
        },
        "os_version": {
            "type": "string",
            "is_base": False,
            "description": "Operating system version as specified by the distributor",
        },
    }
    return {
        "name": "image",
        "properties": props,
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def images_schema() -> dict[str, Any]:
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def member_schema() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "image_id": {"type": "string", "description": "An identifier for the image"},
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "status": {
                "type": "string",
                "enum": ["pending", "accepted", "rejected"],
                "description": "The status of this image member",
            },
            "updated_at": {
                "type": "string",
                "description": "Date and time of last modification of image member",
            },
            "schema": {"readOnly": True, "type": "string"},
        },
    }


def members_schema() -> dict[str, Any]:
    return {
        "name": "members",
        "properties": {"members": {"type": "array", "items": member_schema()}, "schema": {"type": "string"}},
        "links": [{"rel": "describedby", "href": "{schema}"}],
    }


SCHEMAS = {"image": image_schema, "images": images_schema, "member": member_schema, "members": members_schema}
