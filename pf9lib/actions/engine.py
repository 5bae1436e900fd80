"""Plan → apply: the one spine every action runs on (admin operations, snapshots, restores).

- `make_plan` checks the actor's role, evaluates the plan's preconditions against the live cloud (reads only)
  and stores the plan with what it saw. Nothing in the cloud changes: dry run is the default.
- `apply` runs a stored plan, never a fresh one. It re-checks each precondition and refuses, with the reason,
  if the cloud moved; records each step as it runs; tags what it creates with the plan id (each step action
  puts `pf9wb-plan:<id>` in the object's description or metadata); and on a failure rolls back what it
  created, newest first, recording that too.
- A plan interrupted by a dead process is marked so at the next start; applying it again resumes: steps that
  finished are not repeated, and the step that was running looks for its object by the plan tag before it
  creates anything, so nothing is created twice.
- One apply of a plan at a time (a lock that dies with its process).
"""

from __future__ import annotations

import fcntl
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pf9lib.actions.audit import record
from pf9lib.actions.client import WriteError, Writer
from pf9lib.actions.plan import (
    PLAN,
    TERMINAL,
    Plan,
    Precondition,
    Step,
    load_plan,
    mark_interrupted,
    new_plan_id,
    record_step,
    save_plan,
    steps_of,
)
from pf9lib.errors import Pf9Error
from pf9lib.identity import Identity, require
from pf9lib.store.reader import Store

Created = dict[str, Any]  # {"type", "id", "name"}


@dataclass(frozen=True)
class StepAction:
    """What a step does: `run` makes the calls and returns what it created; `find` returns what this plan
    already created for the step (by its tag, for a resumed apply); `undo` removes one created object."""

    run: Callable[[ActionContext, dict[str, Any]], list[Created]]
    find: Callable[[ActionContext, dict[str, Any]], list[Created]] | None = None
    undo: Callable[[ActionContext, Created], None] | None = None


STEP_ACTIONS: dict[str, StepAction] = {}
CHECKS: dict[str, Callable[[ActionContext, dict[str, Any]], Any]] = {}
KIND_ROLES: dict[str, str] = {}  # plan kind → the role that may make and apply it
# plan kind → how its steps run, when not one after the other with a rollback (e.g. a snapshot run, whose
# steps are independent and recorded per tenant batch): (context, plan, attempt, done, resuming) → result
EXECUTORS: dict[str, Callable[..., ApplyResult]] = {}


def register_step(name: str, action: StepAction) -> None:
    STEP_ACTIONS[name] = action


def register_check(name: str, check: Callable[[ActionContext, dict[str, Any]], Any]) -> None:
    CHECKS[name] = check


def register_kind(kind: str, role: str, executor: Callable[..., ApplyResult] | None = None) -> None:
    KIND_ROLES[kind] = role
    if executor is not None:
        EXECUTORS[kind] = executor


@dataclass
class ActionContext:
    settings: Any  # pf9lib.config.Settings
    data_dir: Path
    plan_id: str
    region: str | None = None
    progress: Callable[[str], None] | None = None
    writer_factory: Callable[[Any, str | None], Writer] | None = None
    _writers: dict[str | None, Writer] = field(default_factory=dict)
    others: list[Any] = field(default_factory=list)  # more callers (a service user's sessions) with `.calls`

    def writer(self, region: str | None = None) -> Writer:
        region = region or self.region
        if region not in self._writers:
            if self.writer_factory is not None:
                self._writers[region] = self.writer_factory(self.settings, region)
            else:
                from pf9lib.connection import connect

                self._writers[region] = Writer(connect(self.settings, region))
        return self._writers[region]

    @property
    def calls(self) -> int:
        """API calls made through this context (its writers and the sessions registered in `others`)."""
        return sum(w.total_calls for w in self._writers.values()) + sum(o.calls for o in self.others)

    def say(self, line: str) -> None:
        if self.progress:
            self.progress(line)


# --------------------------------------------------------------------------------------------- planning


def authorize(settings: Any, who: Identity | str, kind: str, target: str) -> str:
    """The role check every plan and apply of `kind` passes first (a refusal is audited)."""
    return require(settings.data_dir, who, KIND_ROLES[kind], f"{kind}.plan", target)


def make_plan(
    settings: Any,
    who: Identity | str,
    kind: str,
    target: str,
    summary: str,
    steps: list[Step],
    checks: list[tuple],
    inputs: dict[str, Any] | None = None,
    region: str | None = None,
    context: ActionContext | None = None,
) -> Plan:
    """Store a plan with its preconditions: `checks` are (check name, args, text[, value seen]); a check
    without the value it saw is evaluated live now."""
    data_dir = settings.data_dir
    role = authorize(settings, who, kind, target)
    plan_id = new_plan_id()
    ctx = context or ActionContext(settings, Path(data_dir), plan_id, region)
    preconditions = tuple(
        Precondition(c[0], c[1], c[3] if len(c) > 3 else CHECKS[c[0]](ctx, c[1]), c[2]) for c in checks
    )
    plan = Plan(
        plan_id,
        kind,
        target,
        str(who),
        settings.cloud,
        region,
        datetime.now(UTC),
        summary,
        preconditions,
        tuple(steps),
        inputs or {},
    )
    save_plan(data_dir, plan)
    record(data_dir, str(who), f"{kind}.plan", target, plan_id, "planned", summary, role)
    return plan


# --------------------------------------------------------------------------------------------- applying


@dataclass
class ApplyResult:
    plan_id: str
    status: str  # succeeded | failed | refused
    message: str
    created: list[Created] = field(default_factory=list)
    rolled_back: list[Created] = field(default_factory=list)
    left: list[Created] = field(default_factory=list)  # created, and not removed by the rollback
    calls: int = 0


@contextmanager
def _plan_lock(data_dir: Path, plan_id: str) -> Iterator[None]:
    path = Path(data_dir) / "actions" / "locks" / f"{plan_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Pf9Error(f"plan {plan_id} is being applied by another process: wait for it") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _resume_point(store: Store, plan: Plan) -> tuple[str | None, dict[int, list[Created]], bool]:
    """(state of the last attempt, steps already done → what they created, whether we resume)."""
    events = steps_of(store, plan.plan_id)
    if events.empty:
        return None, {}, False
    plan_level = events[events["step"] == PLAN]
    last = str(plan_level.iloc[-1]["state"]) if not plan_level.empty else None
    if last != "interrupted":
        return last, {}, False
    # Steps finished by the attempts since the last terminal one carry over.
    terminal = plan_level[plan_level["state"].isin(TERMINAL)]
    since = terminal.iloc[-1]["at"] if not terminal.empty else None
    mine = events if since is None else events[events["at"] > since]
    done: dict[int, list[Created]] = {}
    for row in mine.itertuples():
        if row.step >= 0 and row.state in ("succeeded", "adopted"):
            done[int(row.step)] = json.loads(row.created_json or "[]")
    return last, done, True


def _resolve(inputs: dict[str, Any], done: dict[int, list[Created]]) -> dict[str, Any]:
    """ "@N" (and "@N.field") in a step's inputs become what step N created."""
    out = {}
    for key, value in inputs.items():
        if isinstance(value, str) and value.startswith("@") and value[1:2].isdigit():
            ref, _, attr = value[1:].partition(".")
            out[key] = done[int(ref)][0][attr or "id"]
        else:
            out[key] = value
    return out


def recheck(ctx: ActionContext, plan: Plan) -> list[str]:
    """The preconditions that no longer hold, each as "text: was X, now Y"."""
    moved = []
    for p in plan.preconditions:
        now = CHECKS[p.check](ctx, p.args)
        if now != p.expect:
            moved.append(f"{p.text}: was {p.expect!r}, now {now!r}")
    return moved


def apply(
    settings: Any,
    plan_id: str,
    who: Identity | str,
    progress: Callable[[str], None] | None = None,
    context: ActionContext | None = None,
) -> ApplyResult:
    """Apply a stored plan (see the module's docstring for the guarantees)."""
    data_dir = Path(settings.data_dir)
    store = Store(data_dir)  # one view of the store for the whole apply: the library passes it along
    mark_interrupted(store)
    plan = load_plan(store, plan_id)
    role = require(data_dir, who, KIND_ROLES.get(plan.kind, "admin"), f"{plan.kind}.apply", plan.target)
    with _plan_lock(data_dir, plan.plan_id):
        last, done, resuming = _resume_point(store, plan)
        if last == "succeeded":
            raise Pf9Error(f"plan {plan.plan_id} was applied already: make a new plan to do it again")
        ctx = context or ActionContext(settings, data_dir, plan.plan_id, plan.region, progress)
        ctx.plan_id, ctx.region, ctx.progress = plan.plan_id, plan.region, progress
        attempt = uuid.uuid4().hex[:12]
        if not resuming:  # a resumed plan moved the cloud itself: its preconditions were checked before
            moved = recheck(ctx, plan)
            if moved:
                message = (
                    "the cloud moved since the plan was made: " + "; ".join(moved) + " — make a new plan"
                )
                record_step(data_dir, plan.plan_id, attempt, PLAN, "plan", "refused", message)
                record(
                    data_dir,
                    str(who),
                    f"{plan.kind}.apply",
                    plan.target,
                    plan.plan_id,
                    "refused",
                    message,
                    role,
                )
                return ApplyResult(plan.plan_id, "refused", message, calls=ctx.calls)
        record_step(data_dir, plan.plan_id, attempt, PLAN, "plan", "started", "resumed" if resuming else "")
        result = EXECUTORS.get(plan.kind, _run_steps)(ctx, plan, attempt, done, resuming)
        record_step(data_dir, plan.plan_id, attempt, PLAN, "plan", result.status, result.message)
        note = result.message if result.status != "succeeded" else f"{len(result.created)} object(s) created"
        record(data_dir, str(who), f"{plan.kind}.apply", plan.target, plan.plan_id, result.status, note, role)
        result.calls = ctx.calls
        return result


def _run_steps(ctx: ActionContext, plan: Plan, attempt: str, done: dict[int, list[Created]], resuming: bool):
    data_dir = ctx.data_dir
    for n, step in enumerate(plan.steps):
        if n in done:
            continue
        action = STEP_ACTIONS[step.action]
        record_step(data_dir, plan.plan_id, attempt, n, step.action, "started", step.text)
        ctx.say(f"step {n + 1}/{len(plan.steps)}: {step.text}")
        try:
            inputs = _resolve(step.inputs, done)
            found = action.find(ctx, inputs) if resuming and action.find else []
            if found:
                done[n] = found
                record_step(
                    data_dir,
                    plan.plan_id,
                    attempt,
                    n,
                    step.action,
                    "adopted",
                    "made by this plan before it was interrupted: not created again",
                    found,
                )
                continue
            done[n] = action.run(ctx, inputs)
        except (WriteError, Pf9Error) as exc:
            record_step(data_dir, plan.plan_id, attempt, n, step.action, "failed", str(exc))
            rolled, left = rollback(ctx, plan, attempt, done)
            message = f"step {n + 1} ({step.text}) failed: {exc}"
            if left:
                message += f"; NOT rolled back: {', '.join(_name(c) for c in left)}"
            elif rolled:
                message += f"; rolled back {', '.join(_name(c) for c in rolled)}"
            created = [c for k in sorted(done) for c in done[k]]
            return ApplyResult(plan.plan_id, "failed", message, created, rolled, left)
        record_step(data_dir, plan.plan_id, attempt, n, step.action, "succeeded", "", done[n])
    created = [c for k in sorted(done) for c in done[k]]
    summary = ", ".join(_name(c) for c in created) or "nothing to create"
    return ApplyResult(plan.plan_id, "succeeded", f"done: {summary}", created)


def rollback(
    ctx: ActionContext, plan: Plan, attempt: str, done: dict[int, list[Created]]
) -> tuple[list[Created], list[Created]]:
    """Undo what the finished steps created, newest first; returns (removed, left in the cloud)."""
    removed, left = [], []
    for n in sorted(done, reverse=True):
        undo = STEP_ACTIONS[plan.steps[n].action].undo
        for obj in reversed(done[n]):
            if undo is None:
                left.append(obj)
                continue
            try:
                undo(ctx, obj)
            except (WriteError, Pf9Error) as exc:
                record_step(
                    ctx.data_dir,
                    plan.plan_id,
                    attempt,
                    n,
                    plan.steps[n].action,
                    "rollback_failed",
                    f"{_name(obj)}: {exc}",
                    [obj],
                )
                left.append(obj)
                continue
            record_step(
                ctx.data_dir,
                plan.plan_id,
                attempt,
                n,
                plan.steps[n].action,
                "rolled_back",
                f"removed {_name(obj)}",
                [obj],
            )
            removed.append(obj)
    return removed, left


def _name(obj: Created) -> str:
    return f"{obj.get('type', 'object')} {obj.get('name') or obj.get('id')}"
