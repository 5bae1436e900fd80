"""Tests of host and VM metrics (pf9lib.collect.metrics*, store.metrics_store, analytics.monitoring*)."""
