"""A plan: what an action will do, to what, on which preconditions — stored before anything is done.

A plan is immutable once made (an `action_plans` event). Applying it appends `action_steps` events: the plan
as a whole (step -1: started, succeeded, failed, refused, interrupted) and each step (started, succeeded or
adopted with what it created, failed with the cloud's answer, rolled_back). The plan's state is read from
those events; nothing is ever rewritten.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pf9lib.errors import Pf9Error
from pf9lib.procutil import pid_alive
from pf9lib.store import as_store
from pf9lib.store.events import append_events
from pf9lib.store.reader import Store

PLAN = -1  # the step number of events about the plan as a whole
TERMINAL = ("succeeded", "failed", "refused", "canceled")


@dataclass(frozen=True)
class Precondition:
    """A fact the plan relies on: `check` (a registered check) with `args` saw `expect` when planned."""

    check: str
    args: dict[str, Any]
    expect: Any
    text: str


@dataclass(frozen=True)
class Step:
    """One call the apply will make: a registered step `action` with its `inputs` ("@N" is step N's first
    created id)."""

    action: str
    inputs: dict[str, Any]
    text: str


@dataclass(frozen=True)
class Plan:
    plan_id: str
    kind: str
    target: str
    actor: str
    cloud: str
    region: str | None
    created_at: datetime
    summary: str
    preconditions: tuple[Precondition, ...]
    steps: tuple[Step, ...]
    inputs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """The plan as a reviewer reads it: what, on what, relying on what, step by step."""
        lines = [f"plan {self.plan_id} ({self.kind}) by {self.actor} on {self.cloud}: {self.summary}"]
        lines += [f"  checked: {p.text}" for p in self.preconditions]
        lines += [f"  step {n + 1}: {s.text}" for n, s in enumerate(self.steps)]
        return "\n".join(lines)


def new_plan_id() -> str:
    return uuid.uuid4().hex[:12]


def _shallow(item: Precondition | Step) -> dict[str, Any]:
    """The fields as a dict: asdict deep-copies every input, which dominated saving a plan of 16k steps."""
    return {f.name: getattr(item, f.name) for f in fields(item)}


def save_plan(data_dir: Path | str, plan: Plan) -> None:
    append_events(
        data_dir,
        "action_plans",
        [
            {
                "plan_id": plan.plan_id,
                "kind": plan.kind,
                "target": plan.target,
                "actor": plan.actor,
                "cloud": plan.cloud,
                "created_at": plan.created_at,
                "summary": plan.summary,
                "preconditions_json": json.dumps([_shallow(p) for p in plan.preconditions], default=str),
                "steps_json": json.dumps([_shallow(s) for s in plan.steps], default=str),
                "inputs_json": json.dumps({**plan.inputs, "_region": plan.region}, default=str),
            }
        ],
    )


def load_plan(store: Store | Path | str, plan_id: str) -> Plan:
    """The stored plan (a unique prefix of its id is enough); Pf9Error naming how to find one otherwise."""
    store = as_store(store)
    rows = store.records(
        "SELECT * FROM action_plans WHERE starts_with(plan_id, ?) ORDER BY created_at", [plan_id]
    )
    ids = {r["plan_id"] for r in rows}
    if len(ids) != 1:
        state = "ambiguous" if ids else "unknown"
        raise Pf9Error(f"plan {plan_id!r} is {state}: list plans with `pf9wb plan list`")
    row = rows[0]
    inputs = json.loads(row["inputs_json"] or "{}")
    return Plan(
        plan_id=row["plan_id"],
        kind=row["kind"],
        target=row["target"],
        actor=row["actor"],
        cloud=row["cloud"],
        region=inputs.pop("_region", None),
        created_at=row["created_at"],
        summary=row["summary"],
        preconditions=tuple(Precondition(**p) for p in json.loads(row["preconditions_json"] or "[]")),
        steps=tuple(Step(**s) for s in json.loads(row["steps_json"] or "[]")),
        inputs=inputs,
    )


def _step_row(
    plan_id: str, attempt_id: str, step: int, name: str, state: str, detail: str, created, at: datetime
) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "plan_id": plan_id,
        "attempt_id": attempt_id,
        "step": step,
        "name": name,
        "state": state,
        "at": at,
        "detail": detail[:4000],
        "created_json": json.dumps(created or []),
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }


def record_step(
    data_dir: Path | str,
    plan_id: str,
    attempt_id: str,
    step: int,
    name: str,
    state: str,
    detail: str = "",
    created: list[dict[str, Any]] | None = None,
    at: datetime | None = None,
) -> None:
    row = _step_row(plan_id, attempt_id, step, name, state, detail, created, at or datetime.now(UTC))
    append_events(data_dir, "action_steps", [row])


def record_steps(data_dir: Path | str, plan_id: str, attempt_id: str, rows: list[tuple]) -> None:
    """Many step events in one file: (step, name, state, detail, created) each — for runs of many steps."""
    now = datetime.now(UTC)
    events = [_step_row(plan_id, attempt_id, *row, at=now) for row in rows]
    append_events(data_dir, "action_steps", events)


def steps_of(store: Store | Path | str, plan_id: str) -> pd.DataFrame:
    """Every step event of a plan, oldest first."""
    return as_store(store).sql(
        'SELECT * FROM action_steps WHERE plan_id = ? ORDER BY "at", step, event_id', [plan_id]
    )


def mark_interrupted(store: Store | Path | str) -> list[str]:
    """Plans left running by a process that died (on this host) are marked interrupted; returns their ids."""
    store = as_store(store)
    data_dir = store.data_dir
    here = socket.gethostname()
    latest = store.records(
        f"""SELECT plan_id, attempt_id, state, pid, host FROM action_steps WHERE step = {PLAN}
            QUALIFY row_number() OVER (PARTITION BY plan_id ORDER BY "at" DESC, event_id DESC) = 1"""
    )
    dead = [
        r for r in latest if r["state"] == "started" and r["host"] == here and not pid_alive(int(r["pid"]))
    ]
    for r in dead:
        record_step(
            data_dir,
            r["plan_id"],
            r["attempt_id"],
            PLAN,
            "plan",
            "interrupted",
            f"process {r['pid']} ended during the apply: `pf9wb plan apply {r['plan_id']}` resumes it",
        )
    return [r["plan_id"] for r in dead]


def plans(store: Store | Path | str, kind: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """Plans, newest first, with their state (planned, running, succeeded, failed, refused, interrupted)."""
    store = as_store(store)
    where, params = ("WHERE p.kind = ?", [kind]) if kind else ("", [])
    page = f"LIMIT {int(limit)}" if limit else ""
    return store.sql(
        f"""WITH last AS (
                SELECT plan_id, state, "at", detail FROM action_steps WHERE step = {PLAN}
                QUALIFY row_number() OVER (PARTITION BY plan_id ORDER BY "at" DESC, event_id DESC) = 1
            )
            SELECT p.plan_id, p.kind, p.target, p.actor, p.cloud, p.created_at, p.summary,
                   CASE WHEN l.state = 'started' THEN 'running'
                        ELSE coalesce(l.state, 'planned') END AS state,
                   l."at" AS state_at, l.detail
            FROM action_plans p LEFT JOIN last l USING (plan_id) {where}
            ORDER BY p.created_at DESC {page}""",
        params,
    )


def plan_state(store: Store | Path | str, plan_id: str) -> str:
    df = plans(store)
    row = df[df["plan_id"] == plan_id]
    return "unknown" if row.empty else str(row.iloc[0]["state"])
