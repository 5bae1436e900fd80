"""The simulated Neutron (network API v2.0) under /{region}/network: discovery, extensions and all routes.

Resources: networks, subnets, ports, routers (+ interfaces), floatingips, security-groups and their rules
(l2/ports/l3/secgroups.py on the generic handlers of resources.py, listing in query.py), and
quotas, agents, availability zones (quotas.py). Objects: pf9sim.model.network.
"""

from __future__ import annotations

from aiohttp import web

from pf9sim.neutron.l2 import NETWORKS, SUBNETS
from pf9sim.neutron.l3 import FLOATING_IPS, ROUTERS, register_router_actions
from pf9sim.neutron.ports import PORTS
from pf9sim.neutron.quotas import register_quotas
from pf9sim.neutron.resources import V2, ctx_of, register_resource
from pf9sim.neutron.secgroups import SECURITY_GROUP_RULES, SECURITY_GROUPS
from pf9sim.plumbing import SimError, json_response, public, region_of

RESOURCES = (NETWORKS, SUBNETS, PORTS, ROUTERS, FLOATING_IPS, SECURITY_GROUPS, SECURITY_GROUP_RULES)
_UPDATED = "2026-01-01T00:00:00-00:00"
# (alias, name, description) of the extensions we honour; clients test for these before using a feature.
EXTENSIONS = (
    ("agent", "agent", "The agent management extension."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("availability_zone", "Availability Zone", "The availability zone extension."),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    (
        "default-subnetpools",
        "Default Subnetpools",
        "Provides ability to mark and use a subnetpool as the default.",
    ),
    ("dns-integration", "DNS Integration", "Provides integration with DNS."),
    (
        "empty-string-filtering",
        "Empty String Filtering Extension",
        "Allow filtering by attributes with empty string value",
    ),
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for "
        "specifying whether SNAT should occur on the external gateway",
    ),
    ("extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP."),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    ("filter-validation", "Filter parameters validation", "Provides validation on filter parameters."),
    (
        "fip-port-details",
        "Floating IP Port Details Extension",
        "Add port_details attribute to Floating IP resource",
    ),
    (
        "ip-substring-filtering",
        "IP address substring filtering",
        "Provides IP address substring filtering when listing ports",
    ),
    ("l3-ha", "HA Router extension", "Adds HA capability to routers."),
    ("dvr", "Distributed Virtual Router", "Enables configuration of Distributed Virtual Routers."),
    (
        "multi-provider",
        "Multi Provider Network",
        "Expose mapping of virtual networks to multiple physical networks",
    ),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    (
        "net-mtu-writable",
        "Network MTU (writable)",
        "Provides a writable MTU attribute for a network resource.",
    ),
    ("network_availability_zone", "Network Availability Zone", "Availability zone support for network."),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("port-security", "Port Security", "Provides port security"),
    (
        "port-security-groups-filtering",
        "Port filtering on security groups",
        "Provides security groups filtering when listing ports",
    ),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("quotas", "Quota management support", "Expose functions for quotas management per project"),
    (
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
    ),
    (
        "revision-if-match",
        "If-Match constraints based on revision_number",
        "Extension indicating that If-Match based on revision_number is supported.",
    ),
    (
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and "
        "access to external networks via a NAT gateway.",
    ),
    ("router_availability_zone", "Router Availability Zone", "Availability zone support for router."),
    ("security-group", "security-group", "The security groups extension."),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute: subnet, trunk, network_segment_range,"
        " router, network, policy, subnetpool, port, security_group, floatingip",
        "Enables to set tag on resources with standard attribute.",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron "
        "resources that have Neutron standard attributes.",
    ),
    (
        "stateful-security-group",
        "Stateful security group",
        "Indicates if the security group is stateful or not",
    ),
)


def _extension(alias: str, name: str, description: str) -> dict:
    return {"alias": alias, "name": name, "description": description, "updated": _UPDATED, "links": []}


@public
async def versions(request: web.Request) -> web.Response:
    region = region_of(request)
    href = f"{request.app['sim'].base_url}/{region}/network/v2.0/"
    return json_response(
        {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"href": href, "rel": "self"}]}]}
    )


@public
async def resources(request: web.Request) -> web.Response:
    region = region_of(request)
    base = f"{request.app['sim'].base_url}/{region}/network/v2.0"
    out = [
        {
            "name": r.singular,
            "collection": r.collection,
            "links": [{"href": f"{base}/{r.path}", "rel": "self"}],
        }
        for r in RESOURCES
    ]
    return json_response({"resources": out})


async def list_extensions(request: web.Request) -> web.Response:
    ctx_of(request)
    return json_response({"extensions": [_extension(*e) for e in EXTENSIONS]})


async def show_extension(request: web.Request) -> web.Response:
    ctx_of(request)
    alias = request.match_info["alias"]
    for ext in EXTENSIONS:
        if ext[0] == alias:
            return json_response({"extension": _extension(*ext)})
    raise SimError(404, f"Extension with alias {alias} does not exist", kind="HTTPNotFound")


def register(app: web.Application) -> None:
    # Sorted views of large collections, reused by consecutive pages until the estate changes.
    app["neutron_views"] = {}
    r = app.router
    r.add_get("/{region}/network", versions)
    r.add_get("/{region}/network/", versions)
    r.add_get(V2, resources)
    r.add_get(V2 + "/", resources)
    r.add_get(f"{V2}/extensions", list_extensions)
    r.add_get(f"{V2}/extensions/{{alias}}", show_extension)
    register_quotas(app)
    register_router_actions(app)
    for res in RESOURCES:
        register_resource(app, res)
