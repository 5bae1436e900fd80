"""The apply of a snapshot run (see snapshot_run): tenant by tenant, independent steps, each re-checked."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from pf9lib.actions import live
from pf9lib.actions.audit import record_many
from pf9lib.actions.client import WriteError, plan_tag
from pf9lib.actions.engine import ActionContext, ApplyResult, register_kind
from pf9lib.actions.plan import Plan, record_steps
from pf9lib.actions.service_user import ServiceUser
from pf9lib.actions.snapshot_images import ImageSteps
from pf9lib.actions.snapshot_run import (
    CREATED_BY,
    KIND,
    SNAPSHOTTABLE,
    _auto,
    _policy_of,
    _quota,
    done_on,
    prunable,
)
from pf9lib.errors import Pf9Error
from pf9lib.progress import Progress


class _Run:
    """The state of one apply: fresh listings, quota left per project, what was made, counts."""

    def __init__(self, ctx: ActionContext, plan: Plan, attempt: str) -> None:
        self.ctx, self.plan, self.attempt = ctx, plan, attempt
        self.now = datetime.fromisoformat(plan.inputs["now"])
        self.service = ServiceUser(ctx.settings, ctx.writer())
        ctx.others.append(self.service)
        self.snaps: dict[str, dict[str, dict[str, Any]]] = {}  # region → id → snapshot
        self.quota: dict[str, dict[str, int | None]] = {}
        self.created: list[dict[str, Any]] = []
        self.counts: dict[str, int] = defaultdict(int)
        self.failures: list[str] = []
        self.images = ImageSteps(self)  # the steps of enrolled servers' image snapshots

    def fresh(self, region: str) -> dict[str, dict[str, Any]]:
        if region not in self.snaps:
            self.snaps[region] = {s["id"]: s for s in live.listing(self.ctx, "snapshots", region)}
        return self.snaps[region]

    def today(self, region: str, volume_id: str, policy: str) -> dict[str, Any] | None:
        snaps = self.fresh(region).values()
        return next(
            (s for s in snaps if s.get("volume_id") == volume_id and done_on(s, policy, self.now)), None
        )

    # -- one step each ------------------------------------------------------------------------------
    def create(self, inputs: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
        region, pid, vid = inputs["region"], inputs["project_id"], inputs["volume_id"]
        existing = self.today(region, vid, inputs["policy"])
        if existing is not None:  # this plan before a crash, or another run today: never a second one
            return "adopted", f"exists already today: {existing.get('name')}", [_obj(existing)]
        admin = self.ctx.writer(region)
        body = admin.request("GET", "block-storage", f"/volumes/{vid}", f"volume {vid}", ok_missing=True)
        volume = body.get("volume")
        if volume is None:
            return "skipped", "the volume is gone", []
        if volume.get("status") not in SNAPSHOTTABLE:
            return "skipped", f"status {volume.get('status')}", []
        if pid not in self.quota:  # once per project and run
            self.quota[pid] = _quota(self.ctx, pid, region)
        room = self.quota[pid]
        for key, need in (("snapshots", 1), ("gigabytes", int(volume.get("size") or 0))):
            if room[key] is not None and room[key] < need:
                return "blocked", f"quota: {need} {key} needed, {room[key]} left", []
        meta = {
            "created_by": CREATED_BY,
            "policy": inputs["policy"],
            "pf9wb_run": self.plan.plan_id,
            "pf9wb_day": inputs["day"],
        }
        request = {
            "snapshot": {
                "volume_id": vid,
                "name": inputs["name"],
                "description": plan_tag(self.plan.plan_id),
                "metadata": meta,
                "force": volume.get("status") == "in-use",
            }
        }
        writer = self.service.writer(pid, region)
        try:
            made = writer.create(
                "block-storage",
                "/snapshots",
                f"snapshot of volume {vid}",
                request,
                lambda: self._tagged(region, vid, inputs["policy"]),
            )
        except WriteError as exc:
            if exc.status == 413:
                return "skipped", f"too large for a snapshot here (HTTP 413): {exc}", []
            raise
        snap = made.get("snapshot", made)
        self.fresh(region)[snap["id"]] = {
            **snap,
            "metadata": meta,
            "created_at": snap.get("created_at") or self.now.isoformat(),
        }
        for key, need in (("snapshots", 1), ("gigabytes", int(volume.get("size") or 0))):
            if room[key] is not None:
                room[key] -= need
        return "succeeded", "", [_obj(snap)]

    def _tagged(self, region: str, volume_id: str, policy: str) -> dict[str, Any] | None:
        self.snaps.pop(region, None)  # look again: the create may have happened
        found = self.today(region, volume_id, policy)
        return {"snapshot": found} if found else None

    def prune(self, inputs: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
        region, sid = inputs["region"], inputs["snapshot_id"]
        snaps = self.fresh(region)
        target = snaps.get(sid)
        if target is None:
            return "skipped", "already gone", []
        autos = [
            s
            for s in snaps.values()
            if s.get("volume_id") == inputs["volume_id"] and _auto(s) and _policy_of(s) == inputs["policy"]
        ]
        keep = inputs["keep"] + sum(
            1
            for c in self.created
            if c.get("volume_id") == inputs["volume_id"] and c.get("policy") == inputs["policy"]
        )
        # Prune only what the plan listed and the fresh listing still allows: never more than planned.
        if target not in prunable(autos, keep, inputs["min_days"], self.now) or not _auto(target):
            return "skipped", "no longer beyond the retention", []
        writer = self.service.writer(inputs["project_id"], region)
        writer.delete("block-storage", f"/snapshots/{sid}", f"snapshot {target.get('name') or sid}")
        snaps.pop(sid, None)
        return "succeeded", f"pruned {target.get('name') or sid}", [_obj(target)]


def _obj(snap: dict[str, Any]) -> dict[str, Any]:
    meta = snap.get("metadata") or {}
    return {
        "type": "snapshot",
        "id": snap["id"],
        "name": snap.get("name"),
        "volume_id": snap.get("volume_id"),
        "policy": meta.get("policy"),
    }


def _execute(
    ctx: ActionContext, plan: Plan, attempt: str, done: dict[int, list], resuming: bool
) -> ApplyResult:
    run = _Run(ctx, plan, attempt)
    ctx.say(run.service.describe())
    batches: dict[str, list[int]] = defaultdict(list)
    names: dict[str, str] = {}
    for n, step in enumerate(plan.steps):
        if n not in done:
            batches[step.inputs["project_id"]].append(n)
            names[step.inputs["project_id"]] = step.inputs.get("project") or step.inputs["project_id"]
    actor = plan.actor
    with Progress("snapshots", total=len(batches), unit="tenants") as bar:
        for pid, numbers in batches.items():
            events, audits = [], []
            for n in numbers:
                step = plan.steps[n]
                state, detail, made = _one(run, step)
                events.append((n, step.action, state, detail or step.text, made))
                audits.append(
                    {
                        "at": run.now,  # the run's clock: the SLA reads blocks on the clock of the history
                        "actor": actor,
                        "action": f"snapshots.{_verb(step)}",
                        "target": f"{_target(step)}:{step.inputs['policy']}",
                        "plan_id": plan.plan_id,
                        "result": state,
                        "note": detail or step.text,
                    }
                )
                run.counts[f"{_verb(step)}:{state}"] += 1
                if step.action in ("snapshot.create", "image.create") and state in ("succeeded", "adopted"):
                    run.created += [{**m, "policy": step.inputs["policy"]} for m in made]
            record_steps(ctx.data_dir, plan.plan_id, attempt, events)
            record_many(ctx.data_dir, audits)
            bar.update(1, f"project {names[pid]}")
    if run.service.grants_added:
        ctx.say(f"granted the service user admin on {len(run.service.grants_added)} project(s)")
    c = run.counts
    message = (
        f"{c['create:succeeded']} created, {c['create:adopted']} already there, "
        f"{c['prune:succeeded']} pruned, "
        f"{c['create:skipped'] + c['note:skipped'] + c['prune:skipped']} skipped, "
        f"{c['create:blocked'] + c['note:blocked']} blocked, {len(run.failures)} failed"
    )
    if run.failures:
        message += ": " + "; ".join(run.failures[:5])
    return ApplyResult(plan.plan_id, "failed" if run.failures else "succeeded", message, run.created)


def _verb(step) -> str:
    return step.action.split(".")[1] if step.action.endswith(("create", "prune")) else "note"


def _target(step) -> str:
    """What a step is about: a volume, or a server (an image snapshot)."""
    return step.inputs.get("volume_id") or step.inputs["server_id"]


def _one(run: _Run, step) -> tuple[str, str, list[dict[str, Any]]]:
    if step.action == "snapshot.note":
        return ("blocked" if step.inputs["state"] == "blocked" else "skipped"), step.inputs["reason"], []
    act = {
        "snapshot.create": run.create,
        "snapshot.prune": run.prune,
        "image.create": run.images.create,
        "image.prune": run.images.prune,
    }[step.action]
    try:
        return act(step.inputs)
    except (WriteError, Pf9Error) as exc:
        run.failures.append(f"{step.text}: {exc}")
        return "failed", str(exc), []


register_kind(KIND, "operator", _execute)
