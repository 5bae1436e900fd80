"""Simulated Neutron v2.0: networks, subnets, ports, routers, floating IPs, security groups, quotas."""
