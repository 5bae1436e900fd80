"""Simulated Glance v2: images, sharing (members), JSON-patch updates, schemas."""
