"""pf9lib.actions: everything that changes a cloud, on one spine — plan (dry run, stored), apply (re-checked,
recorded step by step, tagged, rolled back on failure), audit. See engine.py."""

from __future__ import annotations

# Importing them registers their plan kinds, checks and steps.
from pf9lib.actions import admin_flavors, admin_network, restore, snapshot_assign, snapshot_exec  # noqa: F401
from pf9lib.actions.audit import audit, record
from pf9lib.actions.engine import ApplyResult, apply
from pf9lib.actions.plan import Plan, load_plan, plans, steps_of

__all__ = ["ApplyResult", "Plan", "apply", "audit", "load_plan", "plans", "record", "steps_of"]
