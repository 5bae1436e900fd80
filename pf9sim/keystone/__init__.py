"""Simulated Keystone v3: tokens, catalog, identity administration, grants, application credentials."""
