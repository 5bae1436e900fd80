"""Factories for Neutron objects, one import for the estate generator, Nova and the Neutron API.

Objects are stored as Neutron v2.0 GET bodies plus hidden keys ("_region"; subnets also "_used"/"_cursor" for
IP allocation). Cross-object lists stay in sync: a network's "subnets", a security group's embedded
"security_group_rules". Deletions apply Neutron's conflicts (InUse, default group) by raising SimError, so the
API and the estate's evolution share one set of rules. Code: network_{base,l2,l3,secgroups}.py.
"""

from pf9sim.model.network_base import (
    DEFAULT_AZ,
    DEFAULT_QUOTAS,
    NETWORK_OWNED,
    allocate_ip,
    delete_subnet,
    make_subnet,
    release_ip,
    reserve_ip,
    stamp_change,
    subnet_for_address,
)
from pf9sim.model.network_l2 import (
    assign_fixed_ips,
    delete_network,
    delete_port,
    disassociate_floating_ip,
    dns_assignment,
    make_network,
    make_port,
    port_details,
    ports_of_network,
    random_mac,
    release_fixed_ips,
    set_binding,
)
from pf9sim.model.network_l3 import (
    add_router_interface,
    associate_floating_ip,
    delete_floating_ip,
    delete_router,
    make_floating_ip,
    make_router,
    remove_router_interface,
    router_interface_ports,
    set_router_gateway,
)
from pf9sim.model.network_secgroups import (
    default_security_group,
    delete_security_group,
    delete_security_group_rule,
    make_security_group,
    make_security_group_rule,
    ports_using_group,
    sync_group_rule,
)

__all__ = [
    "DEFAULT_AZ",
    "DEFAULT_QUOTAS",
    "NETWORK_OWNED",
    "add_router_interface",
    "allocate_ip",
    "assign_fixed_ips",
    "associate_floating_ip",
    "default_security_group",
    "delete_floating_ip",
    "delete_network",
    "delete_port",
    "delete_router",
    "delete_security_group",
    "delete_security_group_rule",
    "delete_subnet",
    "disassociate_floating_ip",
    "dns_assignment",
    "make_floating_ip",
    "make_network",
    "make_port",
    "make_router",
    "make_security_group",
    "make_security_group_rule",
    "make_subnet",
    "port_details",
    "ports_of_network",
    "ports_using_group",
    "random_mac",
    "release_fixed_ips",
    "release_ip",
    "remove_router_interface",
    "reserve_ip",
    "router_interface_ports",
    "set_binding",
    "set_router_gateway",
    "stamp_change",
    "subnet_for_address",
    "sync_group_rule",
]
