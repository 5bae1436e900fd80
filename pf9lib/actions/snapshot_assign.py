"""`pf9wb snapshots assign`: the rules file decides each volume's policy metadata; the plan lists every volume
whose metadata would change, from what to what; the apply writes Cinder metadata on those volumes only.

Each step re-reads its volume first and refuses if someone changed its policy keys since the plan; a failure
restores the volumes already changed (rollback), and every change is audited with the plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pf9lib.actions import live
from pf9lib.actions.engine import (
    ActionContext,
    StepAction,
    authorize,
    make_plan,
    register_kind,
    register_step,
)
from pf9lib.actions.plan import Plan, Step
from pf9lib.errors import Pf9Error
from pf9lib.identity import Identity
from pf9lib.policies import decide, desired_metadata, load_policies, load_rules, policy_keys, snapshots_dir

KIND = "snapshots.assign"
register_kind(KIND, "operator")


def _volume_row(raw: dict[str, Any], names: dict[str, dict[str, Any]], region: str) -> dict[str, Any]:
    project = names.get(raw.get("os-vol-tenant-attr:tenant_id") or "") or {}
    return {
        "id": raw["id"],
        "name": raw.get("name") or "",
        "region": region,
        "project_id": raw.get("os-vol-tenant-attr:tenant_id"),
        "project_name": project.get("name"),
        "domain_name": project.get("domain_name"),
        "volume_type": raw.get("volume_type"),
        "size_gb": raw.get("size"),
        "bootable": str(raw.get("bootable")).lower() == "true",
        "metadata": raw.get("metadata") or {},
    }


def changes_for(before: dict[str, str], desired: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(keys to set, keys to remove) to go from a volume's policy keys to the desired ones."""
    to_set = {k: v for k, v in desired.items() if before.get(k) != v}
    to_unset = sorted(k for k in before if k not in desired)
    return to_set, to_unset


def _describe(
    volume: dict[str, Any], before: dict[str, str], to_set: dict[str, str], unset: list[str]
) -> str:
    parts = [f"{k} {before.get(k, '-')} → {v}" for k, v in sorted(to_set.items())]
    parts += [f"{k} {before[k]} → -" for k in unset]
    who = volume["name"] or volume["id"][:8]
    return f"volume {who} ({volume['project_name']}, {volume['region']}): " + "; ".join(parts)


def plan_assign(settings, who: Identity | str, rules_path: Path | str | None = None) -> Plan:
    """Plan the policy metadata the rules give every volume (nothing is written until the plan is applied)."""
    authorize(settings, who, KIND, "volumes")
    catalogue = load_policies(settings.data_dir)
    path = Path(rules_path) if rules_path else snapshots_dir(settings.data_dir) / "rules.yaml"
    rules = load_rules(path, catalogue)
    ctx = ActionContext(settings, settings.data_dir, "probe")
    names = live.projects(ctx)
    steps, unchanged, undecided = [], 0, 0
    for region in live.regions(ctx):
        for raw in sorted(live.listing(ctx, "volumes", region), key=lambda v: v["id"]):
            volume = _volume_row(raw, names, region)
            desired = desired_metadata(decide(rules, volume), catalogue)
            if desired is None:
                undecided += 1
                continue
            before = policy_keys(volume["metadata"])
            to_set, to_unset = changes_for(before, desired)
            if not to_set and not to_unset:
                unchanged += 1
                continue
            inputs = {
                "volume_id": volume["id"],
                "region": region,
                "name": volume["name"],
                "before": before,
                "set": to_set,
                "unset": to_unset,
            }
            steps.append(Step("volume.policy_metadata", inputs, _describe(volume, before, to_set, to_unset)))
    summary = (
        f"{len(steps)} volume(s) change, {unchanged} already right, {undecided} matched by no rule "
        f"(rules: {path})"
    )
    return make_plan(settings, who, KIND, "volumes", summary, steps, [], {"rules": str(path)}, None, ctx)


def _current(ctx: ActionContext, inputs: dict[str, Any]) -> dict[str, str]:
    body = ctx.writer(inputs["region"]).get("block-storage", f"/volumes/{inputs['volume_id']}", _what(inputs))
    return policy_keys((body.get("volume") or {}).get("metadata") or {})


def _what(inputs: dict[str, Any]) -> str:
    return f"volume {inputs.get('name') or inputs['volume_id']}"


def _write(ctx: ActionContext, inputs: dict[str, Any], to_set: dict[str, str], unset: list[str]) -> None:
    writer, vid = ctx.writer(inputs["region"]), inputs["volume_id"]
    if to_set:
        writer.request(
            "POST", "block-storage", f"/volumes/{vid}/metadata", _what(inputs), {"metadata": to_set}
        )
    for key in unset:
        writer.delete("block-storage", f"/volumes/{vid}/metadata/{key}", f"{_what(inputs)} key {key}")


def _run(ctx: ActionContext, inputs: dict[str, Any]) -> list[dict[str, Any]]:
    now = _current(ctx, inputs)
    if now != inputs["before"]:
        raise Pf9Error(f"{_what(inputs)}'s policy metadata changed since the plan ({now}): make a new plan")
    _write(ctx, inputs, inputs["set"], inputs["unset"])
    # What was changed, with what it was, so a rollback can put it back.
    return [
        {
            "type": "volume",
            "id": inputs["volume_id"],
            "name": inputs.get("name"),
            "region": inputs["region"],
            "before": inputs["before"],
            "set": inputs["set"],
            "unset": inputs["unset"],
        }
    ]


def _undo(ctx: ActionContext, obj: dict[str, Any]) -> None:
    before = obj["before"]
    restore = {k: before[k] for k in list(obj["set"]) + list(obj["unset"]) if k in before}
    remove = [k for k in obj["set"] if k not in before]
    _write(ctx, {"volume_id": obj["id"], "region": obj["region"], "name": obj.get("name")}, restore, remove)


register_step("volume.policy_metadata", StepAction(_run, None, _undo))
