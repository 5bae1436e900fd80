"""The restore step machine (docs/domain.md §8), registered as the executor of the restore plan kinds.

`engine.apply` runs it on a stored plan (so the role check, the plan lock, the PLAN-level events, the audit
and `mark_interrupted` are the spine's); what it adds:
- one active job per VM: a lock per VM id that dies with its process, like the engine's per-plan lock;
- resume on every apply: a step whose work is still in the cloud is not repeated — a step that succeeded (or
  adopted its object) in any earlier attempt counts as done unless a rollback removed what it made, so a
  retry after a failure reuses the kept volumes and makes the rolled-back ports and server again; checks and
  waits (validate, service user, quota, waits, finalize) run in every attempt; a create step that had started
  in an earlier attempt first looks for its object by the plan's tag;
- a cancel request (an event, step CANCEL) is honoured between steps;
- heartbeats: a step event every `heartbeat_s` seconds while a step waits on the cloud;
- on a failure or a cancel, a rollback of what the job made, newest first: attachments, the server and the
  ports go; volumes stay (and are listed) unless the plan asked to delete them; safety snapshots always stay.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pf9lib.actions.client import WriteError, Writer, plan_tag
from pf9lib.actions.engine import ActionContext, ApplyResult, register_kind
from pf9lib.actions.plan import PLAN, TERMINAL, Plan, record_step, steps_of
from pf9lib.actions.restore.planning import KINDS, confirmation
from pf9lib.actions.service_user import ServiceUser
from pf9lib.errors import Pf9Error
from pf9lib.store.reader import Store

CANCEL = -2  # the step number of cancel requests (the PLAN-level events stay the engine's)
ENDED = (*TERMINAL, "interrupted")
RERUN = frozenset(
    {
        "restore.validate",
        "restore.service_user",
        "restore.quota",
        "restore.wait_volumes",
        "restore.wait_active",
        "restore.finalize",
    }
)
Created = dict[str, Any]


@dataclass
class RestoreContext(ActionContext):
    """An ActionContext with the job's pacing (tests and benchmarks shorten them)."""

    heartbeat_s: float = 10.0
    poll_s: float = 1.0
    timeout_s: float = 900.0


@dataclass(frozen=True)
class RestoreStep:
    """A step: `run` makes its calls and returns what it created; `find` returns what this plan made for it
    already (by tag); `undo` removes one created object and says whether it did (False: kept on purpose)."""

    run: Callable[[Job, dict[str, Any]], list[Created]]
    find: Callable[[Job, dict[str, Any]], list[Created]] | None = None
    undo: Callable[[Job, Created], bool] | None = None


STEPS: dict[str, RestoreStep] = {}


@dataclass
class Job:
    """One apply of a restore plan: the context, the plan's inputs, the writers and what is done."""

    ctx: ActionContext
    plan: Plan
    attempt: str
    done: dict[int, list[Created]]
    started: set[int]  # steps some earlier attempt started
    store: Store
    service: ServiceUser
    act: Writer | None = None  # the service user's writer in the VM's project (set by its step)
    user_data: str | None = None
    step: tuple[int, str] = (PLAN, "plan")
    notes: list[str] = field(default_factory=list)

    @property
    def inputs(self) -> dict[str, Any]:
        return self.plan.inputs

    @property
    def admin(self) -> Writer:
        return self.ctx.writer(self.plan.region)

    @property
    def tag(self) -> str:
        return plan_tag(self.plan.plan_id)

    def pace(self, name: str, default: float) -> float:
        return float(getattr(self.ctx, name, default))

    def event(self, state: str, detail: str = "", created: list[Created] | None = None) -> None:
        n, name = self.step
        record_step(self.ctx.data_dir, self.plan.plan_id, self.attempt, n, name, state, detail, created)

    def wait(
        self,
        what: str,
        fetch: Callable[[], dict[str, Any] | None],
        done: set[str],
        failed: set[str] = frozenset(),
        gone_ok: bool = False,
    ) -> dict[str, Any] | None:
        """Poll until `status` is in `done` (or, with gone_ok, the object is gone); a heartbeat event every
        `heartbeat_s` seconds; WriteError on a failed status, a disappearance or the timeout."""
        heartbeat, poll = self.pace("heartbeat_s", 10.0), self.pace("poll_s", 1.0)
        timeout = self.pace("timeout_s", 900.0)
        start = last = time.monotonic()
        while True:
            obj = fetch()
            if obj is None:
                if gone_ok:
                    return None
                raise WriteError(f"{what} disappeared while waiting for {'/'.join(sorted(done))}", 404)
            status = str(obj.get("status") or "").lower()
            if not gone_ok and status in {s.lower() for s in done}:
                return obj
            if status in {s.lower() for s in failed}:
                fault = (obj.get("fault") or {}).get("message")
                raise WriteError(f"{what} went to {status}" + (f" ({fault})" if fault else ""), None)
            now = time.monotonic()
            if now - start >= timeout:
                raise WriteError(f"{what} still {status} after {timeout:.0f} s", None, outcome_known=False)
            if now - last >= heartbeat:
                last = now
                self.event("heartbeat", f"{what}: {status or 'present'} after {now - start:.0f} s")
                self.ctx.say(f"  {what}: {status or 'present'} ({now - start:.0f} s)")
            time.sleep(poll)

    def ref(self, value: Any) -> Any:
        """ "@N" → the id of what step N created (lists resolved item by item)."""
        if isinstance(value, list):
            return [self.ref(v) for v in value]
        if isinstance(value, str) and value.startswith("@") and value[1:].isdigit():
            return self.done[int(value[1:])][0]["id"]
        return value


# --------------------------------------------------------------------------------------------- state


def done_steps(events) -> tuple[dict[int, list[Created]], set[int]]:
    """(step → what it made and still stands, steps started before) from every attempt's events."""
    done: dict[int, list[Created]] = {}
    started: set[int] = set()
    for row in events.itertuples():
        n = int(row.step)
        if n < 0:
            continue
        if row.state == "started":
            started.add(n)
        elif row.state in ("succeeded", "adopted"):
            done[n] = json.loads(row.created_json or "[]")
        elif row.state == "rolled_back" and n in done:
            gone = {c["id"] for c in json.loads(row.created_json or "[]")}
            kept = [c for c in done[n] if c["id"] not in gone]
            if kept:
                done[n] = kept
            else:
                del done[n]
    return done, started


def cancel_requested(store: Store, plan_id: str) -> str | None:
    """Who asked to cancel the job's current run (a request after its last end), else None."""
    rows = store.records(
        f"""SELECT step, state, detail, "at" FROM action_steps
            WHERE plan_id = ? AND step IN ({PLAN}, {CANCEL}) ORDER BY "at", event_id""",
        [plan_id],
    )
    asked = None
    for row in rows:
        if row["step"] == PLAN and row["state"] in ENDED:
            asked = None
        elif row["step"] == CANCEL:
            asked = row["detail"] or "cancel requested"
    return asked


@contextmanager
def vm_lock(data_dir: Path, vm_id: str) -> Iterator[bool]:
    """Hold the VM's restore lock (yields False when another process holds it)."""
    path = Path(data_dir) / "actions" / "locks" / f"restore-vm-{vm_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------- running


def _refusal(ctx: ActionContext, plan: Plan) -> str | None:
    settings = ctx.settings
    if not settings.restore_enabled or settings.restore_dry_run:
        return disabled_message(settings)
    if plan.inputs["mode"] == "REPLACE" and plan.inputs.get("confirmation") != confirmation(
        plan.inputs["vm"]["name"]
    ):
        return f"REPLACE of {plan.inputs['vm']['name']} was not confirmed: make a new plan with --confirm"
    return None


def disabled_message(settings) -> str:
    why = "RESTORE_ENABLED is off" if not settings.restore_enabled else "RESTORE_DRY_RUN is on"
    return (
        f"restore runs plans only here ({why}): set RESTORE_ENABLED=true and RESTORE_DRY_RUN=false to execute"
    )


def execute_plan(ctx: ActionContext, plan: Plan, attempt: str, _done: dict, _resuming: bool) -> ApplyResult:
    """The executor engine.apply calls for restore plans (the engine's own `done` is not used: a restore
    resumes from its events on every apply, not only after an interruption)."""
    refused = _refusal(ctx, plan)
    if refused:
        return ApplyResult(plan.plan_id, "refused", refused)
    vm = plan.inputs["vm"]
    with vm_lock(ctx.data_dir, vm["id"]) as mine:
        if not mine:
            message = f"another restore of VM {vm['name']} is running: wait for it, or cancel it"
            return ApplyResult(plan.plan_id, "refused", message)
        store = Store(ctx.data_dir)
        done, started = done_steps(steps_of(store, plan.plan_id))
        try:
            service = ServiceUser(ctx.settings, ctx.writer(plan.region))
        except Pf9Error as exc:  # e.g. a service user without a password: nothing was done
            return ApplyResult(plan.plan_id, "refused", str(exc))
        ctx.others.append(service)
        job = Job(ctx, plan, attempt, done, started, store, service)
        return _run(job)


def _run(job: Job) -> ApplyResult:
    plan, total = job.plan, len(job.plan.steps)
    for n, step in enumerate(plan.steps):
        job.step = (n, step.action)
        if n in job.done and step.action not in RERUN:
            job.ctx.say(f"step {n + 1}/{total}: {step.text}: done before")
            continue
        asked = cancel_requested(job.store, plan.plan_id)
        if asked:
            return _unwind(job, "canceled", f"canceled before step {n + 1} ({step.text}): {asked}")
        job.event("started", step.text)
        job.ctx.say(f"step {n + 1}/{total}: {step.text}")
        action = STEPS[step.action]
        try:
            inputs = {k: job.ref(v) for k, v in step.inputs.items()}
            found = action.find(job, inputs) if action.find and n in job.started else []
            if found:
                job.done[n] = found
                job.event("adopted", "made by this plan before: not created again", found)
                continue
            job.done[n] = action.run(job, inputs)
        except (WriteError, Pf9Error) as exc:
            job.event("failed", "; ".join([str(exc), *job.notes]))
            job.notes.clear()
            return _unwind(job, "failed", f"step {n + 1} ({step.text}) failed: {exc}")
        detail = "; ".join(job.notes)
        job.notes.clear()
        job.event("succeeded", detail, job.done[n])
    made = [c for k in sorted(job.done) for c in job.done[k]]
    summary = ", ".join(_name(c) for c in made if c["type"] in ("server", "volume", "port"))
    return ApplyResult(plan.plan_id, "succeeded", f"restored: {summary}", made)


def _unwind(job: Job, status: str, message: str) -> ApplyResult:
    removed, kept, left = rollback(job)
    if removed:
        message += f"; rolled back {', '.join(_name(c) for c in removed)}"
    if kept:
        message += f"; kept {', '.join(_name(c) for c in kept)}"
    if left:
        message += f"; NOT rolled back: {', '.join(_name(c) for c in left)}"
    if any(job.plan.steps[n].action == "restore.delete_vm" for n in job.done):
        message += "; the original VM is deleted: retry resumes the restore from its snapshots"
    made = [c for k in sorted(job.done) for c in job.done[k]]
    return ApplyResult(job.plan.plan_id, status, message, made, removed, kept + left)


def rollback(job: Job) -> tuple[list[Created], list[Created], list[Created]]:
    """Undo what the job made, newest first: (removed, kept on purpose, could not be removed)."""
    removed, kept, left = [], [], []
    for n in sorted(job.done, reverse=True):
        job.step = (n, job.plan.steps[n].action)
        undo = STEPS[job.plan.steps[n].action].undo
        for obj in reversed(job.done[n]):
            if undo is None:
                kept.append(obj)
                continue
            try:
                gone = undo(job, obj)
            except (WriteError, Pf9Error) as exc:
                job.event("rollback_failed", f"{_name(obj)}: {exc}", [obj])
                left.append(obj)
                continue
            if gone:
                said = "; ".join([f"removed {_name(obj)}", *job.notes])
                job.notes.clear()
                job.event("rolled_back", said, [obj])
                removed.append(obj)
            else:
                kept.append(obj)
    return removed, kept, left


def _name(obj: Created) -> str:
    return f"{obj.get('type', 'object')} {obj.get('name') or obj.get('id')}"


for _kind in KINDS.values():
    register_kind(_kind, "operator", execute_plan)
