"""Restore jobs: a restore plan and what its applies did, in the states of docs/domain.md §8.

A job is a restore plan; its state is read from the plan's events (nothing is rewritten):

    PLANNED      the plan, never run                     (no plan-level event)
    PENDING      execution asked, the job not started     plan-level "pending"
    RUNNING      an apply is running                      plan-level "started"
    SUCCEEDED    done                                     plan-level "succeeded"
    FAILED       a step failed, rolled back; or refused   plan-level "failed" / "refused"
    CANCELED     canceled (between steps), rolled back    plan-level "canceled"
    INTERRUPTED  its process died; found at the next start plan-level "interrupted"

`execute` runs a PLANNED job (in this process, or in a thread with wait=False — the wizard polls `job`);
`retry` runs a FAILED, CANCELED or INTERRUPTED one again from the first step whose work is not in the cloud;
`cancel` records a request the job honours before its next step. Each checks the operator role in the
library, and everything is audited.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd

from pf9lib.actions.audit import record
from pf9lib.actions.engine import ActionContext, ApplyResult, apply
from pf9lib.actions.plan import PLAN, Plan, load_plan, mark_interrupted, record_step
from pf9lib.actions.restore.executor import CANCEL, cancel_requested, disabled_message
from pf9lib.errors import Pf9Error
from pf9lib.identity import Identity, require
from pf9lib.procutil import pid_alive
from pf9lib.store import as_store
from pf9lib.store.reader import Store

STATES = ("PLANNED", "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "INTERRUPTED")
_STATE_OF = {
    None: "PLANNED",
    "pending": "PENDING",
    "started": "RUNNING",
    "succeeded": "SUCCEEDED",
    "failed": "FAILED",
    "refused": "FAILED",
    "canceled": "CANCELED",
    "interrupted": "INTERRUPTED",
}
RESUMABLE = ("FAILED", "CANCELED", "INTERRUPTED")


def settle(store: Store) -> None:
    """Jobs whose process died are INTERRUPTED: running ones (the engine's rule) and pending ones."""
    mark_interrupted(store)
    here = socket.gethostname()
    for r in store.records(
        f"""SELECT plan_id, attempt_id, state, pid, host FROM action_steps WHERE step = {PLAN}
            QUALIFY row_number() OVER (PARTITION BY plan_id ORDER BY "at" DESC, event_id DESC) = 1"""
    ):
        if r["state"] == "pending" and r["host"] == here and not pid_alive(int(r["pid"])):
            detail = f"process {r['pid']} ended before the job started: `pf9wb restore retry {r['plan_id']}`"
            record_step(store.data_dir, r["plan_id"], r["attempt_id"], PLAN, "plan", "interrupted", detail)


def jobs(store: Store | Any, vm: str | None = None, state: str | None = None) -> pd.DataFrame:
    """Restore jobs, newest first: job_id, mode, vm_id, vm_name, point_id, name (of the restored VM),
    state, progress (steps done / all), step (the last one that moved), detail, actor, created_at,
    updated_at, cancel_requested."""
    store = as_store(store)
    settle(store)
    rows = store.records(
        """WITH ev AS (SELECT * FROM action_steps WHERE plan_id IN
                         (SELECT plan_id FROM action_plans WHERE starts_with(kind, 'restore.'))),
           last_plan AS (SELECT plan_id, state, detail, "at" FROM ev WHERE step = -1
               QUALIFY row_number() OVER (PARTITION BY plan_id ORDER BY "at" DESC, event_id DESC) = 1),
           last_step AS (SELECT plan_id, step, name, state, detail, "at" FROM ev WHERE step >= 0
               QUALIFY row_number() OVER (PARTITION BY plan_id ORDER BY "at" DESC, event_id DESC) = 1)
           SELECT p.plan_id, p.kind, p.actor, p.created_at, p.inputs_json, p.steps_json,
                  l.state AS plan_state, l.detail AS plan_detail, l."at" AS plan_at,
                  s.step, s.state AS step_state, s."at" AS step_at
           FROM action_plans p LEFT JOIN last_plan l USING (plan_id) LEFT JOIN last_step s USING (plan_id)
           WHERE starts_with(p.kind, 'restore.') ORDER BY p.created_at DESC"""
    )
    out = []
    for r in rows:
        inputs, steps = json.loads(r["inputs_json"]), json.loads(r["steps_json"])
        if vm and vm not in (inputs["vm"]["id"], inputs["vm"]["name"]):
            continue
        st = _STATE_OF.get(r["plan_state"], str(r["plan_state"]).upper())
        if state and st != state.upper():
            continue
        text = steps[int(r["step"])]["text"] if r["step"] is not None else ""
        out.append(
            {
                "job_id": r["plan_id"],
                "mode": inputs["mode"],
                "vm_id": inputs["vm"]["id"],
                "vm_name": inputs["vm"]["name"],
                "point_id": inputs["point"]["id"],
                "name": inputs["name"],
                "state": st,
                "progress": f"{_done_count(store, r['plan_id'])}/{len(steps)}",
                "step": f"{int(r['step']) + 1}: {text} ({r['step_state']})" if r["step"] is not None else "",
                "detail": r["plan_detail"] or "",
                "actor": r["actor"],
                "created_at": r["created_at"],
                "updated_at": max((t for t in (r["plan_at"], r["step_at"]) if t is not None), default=None),
                "cancel_requested": st in ("PENDING", "RUNNING")
                and bool(cancel_requested(store, r["plan_id"])),
            }
        )
    columns = [
        "job_id",
        "mode",
        "vm_id",
        "vm_name",
        "point_id",
        "name",
        "state",
        "progress",
        "step",
        "detail",
    ]
    columns += ["actor", "created_at", "updated_at", "cancel_requested"]
    return pd.DataFrame(out, columns=columns)


def _done_count(store: Store, plan_id: str) -> int:
    from pf9lib.actions.plan import steps_of
    from pf9lib.actions.restore.executor import done_steps

    done, _ = done_steps(steps_of(store, plan_id))
    return len(done)


def job(store: Store | Any, job_id: str) -> dict[str, Any]:
    """One job for a status page: its state, detail, warnings, and each step with its state (pending,
    running, succeeded, adopted, failed, rolled_back, …), detail, last heartbeat and time."""
    store = as_store(store)
    settle(store)
    plan = load_plan(store, job_id)
    found = jobs(store)
    row = found[found["job_id"] == plan.plan_id].iloc[0].to_dict()
    events = store.records(
        'SELECT step, state, detail, "at" FROM action_steps WHERE plan_id = ? ORDER BY "at", event_id',
        [plan.plan_id],
    )
    steps = [
        {"n": n + 1, "action": s.action, "text": s.text, "state": "pending", "detail": "", "at": None}
        for n, s in enumerate(plan.steps)
    ]
    for ev in events:
        if ev["step"] < 0:
            continue
        item = steps[ev["step"]]
        if ev["state"] == "heartbeat":
            item.update(state="running", heartbeat=ev["detail"], at=ev["at"])
        else:
            state = "running" if ev["state"] == "started" else ev["state"]
            item.update(state=state, detail=ev["detail"] or item["detail"], at=ev["at"])
    if row["state"] not in ("RUNNING", "PENDING"):
        for item in steps:  # a step left "running" by a run that ended did not finish
            if item["state"] == "running":
                item["state"] = "interrupted" if row["state"] == "INTERRUPTED" else "stopped"
    return {**row, "summary": plan.summary, "warnings": plan.inputs.get("warnings", []), "steps": steps}


def describe(plan: Plan) -> list[str]:
    """A restore plan as a reviewer reads it: what, the checks with their numbers, the network plan, what
    will differ, and the steps."""
    i = plan.inputs
    lines = [f"plan {plan.plan_id} ({plan.kind}) by {plan.actor}: {plan.summary}"]
    quota = ", ".join(f"{k} {v['need']} of {_left(v)}" for k, v in i["quota"].items() if v["need"])
    lines.append(
        f"  checked: VM {i['vm']['name']} boots from {i['vm']['boot']}, flavor {i['vm']['flavor']['name']}"
    )
    lines.append(
        f"  checked: point {i['point']['id']} ({i['point']['kind']}) exists; quota: {quota or 'nothing'}"
    )
    for p in i["ports"]:
        ip = p["ip"] or "new address"
        lines.append(
            f"  port {p['index'] + 1}: {p['network']} {ip} (was {', '.join(p['original_ips']) or '-'})"
        )
    lines += [f"  warning: {w}" for w in i.get("warnings", [])]
    lines += [f"  step {n + 1}: {s.text}" for n, s in enumerate(plan.steps)]
    return lines


def _left(item: dict[str, Any]) -> str:
    return "unlimited" if item["limit"] is None else f"{item['limit'] - item['used']} left"


# --------------------------------------------------------------------------------------------- acting


def _restore_plan(store: Store, job_id: str) -> Plan:
    plan = load_plan(store, job_id)
    if not plan.kind.startswith("restore."):
        raise Pf9Error(f"plan {plan.plan_id} is a {plan.kind} plan, not a restore: use `pf9wb plan apply`")
    return plan


def _state(store: Store, plan_id: str) -> str:
    found = jobs(store)
    return str(found[found["job_id"] == plan_id].iloc[0]["state"])


def _checked(settings, who: Identity | str, job_id: str, allowed: tuple[str, ...], verb: str) -> Plan:
    store = Store(settings.data_dir)
    settle(store)
    plan = _restore_plan(store, job_id)
    require(settings.data_dir, who, "operator", f"{plan.kind}.apply", plan.target)
    if not settings.restore_enabled or settings.restore_dry_run:
        message = disabled_message(settings)
        record(
            settings.data_dir, str(who), f"{plan.kind}.apply", plan.target, plan.plan_id, "refused", message
        )
        raise Pf9Error(message)
    state = _state(store, plan.plan_id)
    if state not in allowed:
        hint = {
            "PLANNED": f"run it with `pf9wb restore execute {plan.plan_id}`",
            "SUCCEEDED": "it is done: plan again to restore again",
            "RUNNING": "it is running: wait for it, or cancel it",
            "PENDING": "it is about to run: wait for it, or cancel it",
        }.get(state, f"resume it with `pf9wb restore retry {plan.plan_id}`")
        raise Pf9Error(f"job {plan.plan_id} is {state}, so it cannot be {verb}: {hint}")
    return plan


def execute(
    settings,
    job_id: str,
    who: Identity | str,
    progress: Callable[[str], None] | None = None,
    wait: bool = True,
    context: ActionContext | None = None,
) -> ApplyResult | None:
    """Run a PLANNED restore job: to its end (the result), or with wait=False in a thread of this process
    (None: poll `job`; if the process ends first the job is INTERRUPTED and `retry` resumes it)."""
    plan = _checked(settings, who, job_id, ("PLANNED",), "executed")
    return _start(settings, plan, who, progress, wait, context)


def retry(
    settings,
    job_id: str,
    who: Identity | str,
    progress: Callable[[str], None] | None = None,
    wait: bool = True,
    context: ActionContext | None = None,
) -> ApplyResult | None:
    """Run a FAILED, CANCELED or INTERRUPTED job again: finished steps whose work stands are not repeated."""
    plan = _checked(settings, who, job_id, RESUMABLE, "retried")
    return _start(settings, plan, who, progress, wait, context)


def _start(settings, plan: Plan, who, progress, wait: bool, context) -> ApplyResult | None:
    record_step(settings.data_dir, plan.plan_id, "request", PLAN, "plan", "pending", f"asked by {who}")

    def run() -> ApplyResult:
        try:
            return apply(settings, plan.plan_id, who, progress, context)
        except Pf9Error as exc:  # refused before a step ran (e.g. another apply holds the plan)
            record_step(settings.data_dir, plan.plan_id, "request", PLAN, "plan", "failed", str(exc))
            raise

    if wait:
        return run()

    def background() -> None:
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - a thread has nobody to raise to: the job records it
            detail = f"{type(exc).__name__}: {exc}"
            record_step(settings.data_dir, plan.plan_id, "request", PLAN, "plan", "failed", detail)

    threading.Thread(target=background, name=f"restore-{plan.plan_id}", daemon=True).start()
    return None


def cancel(settings, job_id: str, who: Identity | str) -> str:
    """Cancel a job: a PLANNED one at once; a PENDING or RUNNING one before its next step (its rollback
    then removes what it made). Returns one line saying which."""
    store = Store(settings.data_dir)
    settle(store)
    plan = _restore_plan(store, job_id)
    role = require(settings.data_dir, who, "operator", f"{plan.kind}.cancel", plan.target)
    state = _state(store, plan.plan_id)
    if state == "PLANNED":
        record_step(settings.data_dir, plan.plan_id, "cancel", PLAN, "plan", "canceled", f"canceled by {who}")
        said = f"job {plan.plan_id} canceled before it ran"
    elif state in ("PENDING", "RUNNING"):
        record_step(settings.data_dir, plan.plan_id, "cancel", CANCEL, "cancel", "requested", f"by {who}")
        said = f"job {plan.plan_id}: cancel requested; it stops before its next step and rolls back"
    else:
        raise Pf9Error(f"job {plan.plan_id} is {state}: there is nothing to cancel")
    record(
        settings.data_dir, str(who), f"{plan.kind}.cancel", plan.target, plan.plan_id, "canceled", said, role
    )
    return said
