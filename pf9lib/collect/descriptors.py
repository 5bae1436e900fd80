"""One declarative descriptor per inventory resource type (DOMAIN.md §1): where it lives and how it pages.

Adding a resource type is adding a row here; the pager and the collector read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Paging = Literal["marker", "glance", "none"]
# "global": listed once per cloud (Keystone); "region": once per region; "per_project"/"per_user": once per
# project/user in each region (quotas, keypairs), with {project_id}/{user_id} in the path or params.
Scope = Literal["global", "region", "per_project", "per_user"]


@dataclass(frozen=True)
class Descriptor:
    type: str  # resource type name used everywhere in the product
    service: str  # catalog service type
    path: str  # relative to the service endpoint
    key: str  # key of the list in the response body
    paging: Paging = "marker"
    scope: Scope = "region"
    params: dict[str, str] = field(default_factory=dict)
    project_key: str | None = "project_id"  # field naming the owning project
    microversion: str | None = None
    id_key: str = "id"


DESCRIPTORS: tuple[Descriptor, ...] = (
    # Keystone: unpaged lists, one Keystone for every region.
    Descriptor("domains", "identity", "/v3/domains", "domains", "none", "global", project_key=None),
    Descriptor("projects", "identity", "/v3/projects", "projects", "none", "global", project_key="id"),
    Descriptor("users", "identity", "/v3/users", "users", "none", "global", project_key="default_project_id"),
    Descriptor("groups", "identity", "/v3/groups", "groups", "none", "global", project_key=None),
    Descriptor("roles", "identity", "/v3/roles", "roles", "none", "global", project_key=None),
    Descriptor(
        "role_assignments",
        "identity",
        "/v3/role_assignments",
        "role_assignments",
        "none",
        "global",
        params={"include_names": "true"},
        project_key=None,
    ),
    # Nova: limit + marker with *_links.
    Descriptor(
        "servers",
        "compute",
        "/servers/detail",
        "servers",
        params={"all_tenants": "1"},
        project_key="tenant_id",
        microversion="2.96",
    ),
    Descriptor(
        "hypervisors",
        "compute",
        "/os-hypervisors/detail",
        "hypervisors",
        project_key=None,
        microversion="2.87",
    ),  # 2.88 dropped the capacity fields operators need
    Descriptor(
        "flavors",
        "compute",
        "/flavors/detail",
        "flavors",
        params={"is_public": "None"},
        project_key=None,
        microversion="2.96",
    ),
    Descriptor(
        "keypairs",
        "compute",
        "/os-keypairs",
        "keypairs",
        "marker",
        "per_user",
        params={"user_id": "{user_id}"},
        project_key=None,
        microversion="2.96",
        id_key="name",
    ),
    Descriptor(
        "server_groups",
        "compute",
        "/os-server-groups",
        "server_groups",
        params={"all_projects": "true"},
        microversion="2.96",
    ),
    Descriptor(
        "aggregates", "compute", "/os-aggregates", "aggregates", "none", project_key=None, microversion="2.96"
    ),
    Descriptor(
        "availability_zones",
        "compute",
        "/os-availability-zone/detail",
        "availabilityZoneInfo",
        "none",
        project_key=None,
        id_key="zoneName",
    ),
    # Cinder v3: limit + marker with *_links.
    Descriptor(
        "volumes",
        "block-storage",
        "/volumes/detail",
        "volumes",
        params={"all_tenants": "1"},
        project_key="os-vol-tenant-attr:tenant_id",
        microversion="3.70",
    ),
    Descriptor(
        "snapshots",
        "block-storage",
        "/snapshots/detail",
        "snapshots",
        params={"all_tenants": "1"},
        project_key="os-extended-snapshot-attributes:project_id",
        microversion="3.70",
    ),
    Descriptor(
        "volume_types",
        "block-storage",
        "/types",
        "volume_types",
        "none",
        project_key=None,
        params={"is_public": "None"},
    ),
    # Glance v2: "next" link paging.
    Descriptor(
        "images", "image", "/v2/images", "images", "glance", project_key="owner", params={"limit": "1000"}
    ),
    # Neutron: limit + marker only when a limit is sent.
    Descriptor("networks", "network", "/v2.0/networks", "networks"),
    Descriptor("subnets", "network", "/v2.0/subnets", "subnets"),
    Descriptor("ports", "network", "/v2.0/ports", "ports"),
    Descriptor("routers", "network", "/v2.0/routers", "routers"),
    Descriptor("floating_ips", "network", "/v2.0/floatingips", "floatingips"),
    Descriptor("security_groups", "network", "/v2.0/security-groups", "security_groups"),
    Descriptor("security_group_rules", "network", "/v2.0/security-group-rules", "security_group_rules"),
)

# Quotas are per project and per service; each service's call returns one object, not a list.
QUOTA_CALLS: dict[str, tuple[str, str]] = {
    "compute": ("/os-quota-sets/{project_id}/detail", "quota_set"),
    "block-storage": ("/os-quota-sets/{project_id}?usage=true", "quota_set"),
    "network": ("/v2.0/quotas/{project_id}/details", "quota"),
}

BY_TYPE: dict[str, Descriptor] = {d.type: d for d in DESCRIPTORS}
ALL_TYPES: tuple[str, ...] = tuple(d.type for d in DESCRIPTORS) + ("quotas",)
