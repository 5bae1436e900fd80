"""Simulated Nova (compute API v2.1 with microversions): servers, flavors, hosts, keypairs, quotas."""
