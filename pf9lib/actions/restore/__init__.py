"""Restore a VM from its snapshots (docs/domain.md §8), on the action spine: one function per step of a
restore wizard, so that a wizard only composes them.

    projects_with_vms(store)             the projects that have VMs
    vms_of_project(store, project)       the VMs of one
    points(store, vm)                    the VM's restore points, newest first, with their coverage
    plan_restore(settings, who, vm, point, RestoreOptions(…))   a checked plan, stored PLANNED (describe)
    execute(settings, job, who, wait=…)  run it (operators and admins; RESTORE_ENABLED, not RESTORE_DRY_RUN)
    job(store, job) / jobs(store)        poll a job's state and step list / every job
    cancel(…) / retry(…)                 stop one between steps / resume one where its work stops

Modules: points (the store side), planning, network and machine (the plan and its step list), executor
(the step machine), steps and steps_replace (what each step does), cloud (live reads), jobs (states,
execute, retry, cancel).
"""

from __future__ import annotations

# Importing the step modules registers the restore kinds and their steps.
from pf9lib.actions.restore import steps, steps_replace  # noqa: F401
from pf9lib.actions.restore.executor import RestoreContext
from pf9lib.actions.restore.jobs import STATES, cancel, describe, execute, job, jobs, retry
from pf9lib.actions.restore.planning import (
    IP_STRATEGIES,
    MODES,
    RestoreOptions,
    confirmation,
    default_name,
    plan_restore,
)
from pf9lib.actions.restore.points import (
    MATCH_WINDOW_HOURS,
    find_vm,
    point,
    points,
    projects_with_vms,
    vms_of_project,
)

__all__ = [
    "IP_STRATEGIES",
    "MATCH_WINDOW_HOURS",
    "MODES",
    "STATES",
    "RestoreContext",
    "RestoreOptions",
    "cancel",
    "confirmation",
    "default_name",
    "describe",
    "execute",
    "find_vm",
    "job",
    "jobs",
    "plan_restore",
    "point",
    "points",
    "projects_with_vms",
    "retry",
    "vms_of_project",
]
