"""`pf9wb snapshots run`: plan, then apply, a policy run over the enrolled volumes (docs/domain.md §4).

The plan reads the cloud live (volumes, snapshots, servers, projects, each project's Cinder quota) and gives
one line per enrolled volume and due policy: create, skip (status, size cap, already done today), blocked by
quota (snapshots or gigabytes, with the numbers); then the automatic snapshots retention would prune. Servers
enrolled through their own metadata get the same lines for Nova image snapshots (snapshot_images).

The apply (`_execute`) works tenant by tenant with a progress line per tenant. Steps are independent: a
failed create is recorded and the run goes on (a snapshot taken is never rolled back). Each create re-checks
its volume, its project's quota and whether a snapshot of this volume and policy exists today — so a rerun
after a crash, or a second plan the same day, never makes a second one. Creates happen in the volume's own
project as the service user; prunes delete only automatic snapshots of that policy beyond the retention,
never the newest N, never one younger than the policy's minimum, never a manual one. Every create, skip,
block and prune is in the audit.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from pf9lib.actions import live
from pf9lib.actions.engine import ActionContext, authorize, make_plan, register_kind
from pf9lib.actions.plan import Plan, Step
from pf9lib.identity import Identity
from pf9lib.policies import Policy, load_policies, named_policy
from pf9lib.resources.extract import truthy

KIND = "snapshots.run"
CREATED_BY = "pf9wb"
SNAPSHOTTABLE = ("available", "in-use")
register_kind(KIND, "operator")  # snapshot_exec adds how its apply runs


def _auto(snap: dict[str, Any]) -> bool:
    """An automatic snapshot: made under a policy (metadata) or named auto-…; manual ones are never pruned."""
    return bool((snap.get("metadata") or {}).get("policy")) or str(snap.get("name") or "").startswith("auto-")


def _policy_of(snap: dict[str, Any]) -> str | None:
    return (snap.get("metadata") or {}).get("policy")


def done_on(snap: dict[str, Any], policy: str, day: datetime) -> bool:
    """Whether a snapshot is this policy's for `day`: made that day (by the cloud's clock), or marked with
    that day by a run of ours (so a clock that differs from the cloud's cannot make a second one)."""
    if _policy_of(snap) != policy:
        return False
    marked = (snap.get("metadata") or {}).get("pf9wb_day")
    return marked == f"{day:%Y%m%d}" or _created(snap).date() == day.date()


def _created(snap: dict[str, Any]) -> datetime:
    text = str(snap.get("created_at") or "1970-01-01T00:00:00")
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text or "").strip("-")[:40] or "x"


def snapshot_name(tenant: str, policy: str, server: str | None, volume: dict[str, Any], now: datetime) -> str:
    vol = volume.get("name") or volume["id"][:8]
    return f"auto-{_slug(tenant)}-{policy}-{_slug(server or 'none')}-{_slug(vol)}-{now:%Y%m%d-%H%M%S}"


def retention_of(volume: dict[str, Any], policy: Policy) -> int:
    keep = (volume.get("metadata") or {}).get(f"retention_{policy.name}")
    try:
        return max(1, int(keep)) if keep is not None else policy.retention
    except ValueError:
        return policy.retention


def prunable(autos: list[dict[str, Any]], keep: int, min_days: int, now: datetime) -> list[dict[str, Any]]:
    """The automatic snapshots of one volume and policy beyond the newest `keep`, and old enough."""
    ordered = sorted(autos, key=lambda s: (_created(s), s["id"]), reverse=True)
    return [s for s in ordered[keep:] if now - _created(s) >= timedelta(days=min_days)]


def _enrolled(volume: dict[str, Any]) -> list[str]:
    meta = volume.get("metadata") or {}
    if not truthy(meta.get("auto_snapshot")):
        return []
    return [p.strip() for p in str(meta.get("snapshot_policies") or "").split(",") if p.strip()]


# --------------------------------------------------------------------------------------------- planning


def _quota(ctx: ActionContext, project_id: str, region: str) -> dict[str, int | None]:
    """Headroom of a project's Cinder quota: snapshots and gigabytes left (None: unlimited)."""
    body = ctx.writer(region).get(
        "block-storage", f"/os-quota-sets/{project_id}?usage=true", f"quota of {project_id}"
    )
    quota = body.get("quota_set") or {}
    out: dict[str, int | None] = {}
    for key in ("snapshots", "gigabytes"):
        item = quota.get(key) or {}
        limit = item.get("limit", -1) if isinstance(item, dict) else item
        used = (item.get("in_use") or 0) + (item.get("reserved") or 0) if isinstance(item, dict) else 0
        out[key] = None if limit is None or limit < 0 else max(0, limit - used)
    return out


def plan_run(
    settings,
    who: Identity | str,
    policies: list[str] | None = None,
    projects: list[str] | None = None,
    now: datetime | None = None,
    max_size_gb: int | None = None,
    servers: bool = True,
) -> Plan:
    """Plan a snapshot run at `now` (default: the wall clock) over every region of the cloud: the enrolled
    volumes, and (unless `servers` is False) the enrolled boot-from-image servers (snapshot_images)."""
    from pf9lib.actions.snapshot_images import plan_servers  # it builds on this module

    authorize(settings, who, KIND, "volumes")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    catalogue = load_policies(settings.data_dir)
    ctx = ActionContext(settings, settings.data_dir, "probe")
    names = live.projects(ctx)
    wanted = set(projects or [])
    lines: dict[str, list[Step]] = defaultdict(list)  # project → its steps (creates, notes, prunes)
    counts: dict[str, int] = defaultdict(int)
    for region in live.regions(ctx):
        # The three listings at once: on a large cloud they are most of the plan's time, spent waiting.
        with ThreadPoolExecutor(3) as pool:
            volumes_f = pool.submit(live.listing, ctx, "volumes", region)
            snaps_f = pool.submit(live.listing, ctx, "snapshots", region)
            # Server metadata enrols servers: the full listing then, which names the servers too.
            servers_f = pool.submit(live.listing if servers else live.names, ctx, "servers", region)
        volumes = volumes_f.result()
        snaps_by_volume: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for snap in snaps_f.result():
            snaps_by_volume[snap.get("volume_id")].append(snap)
        listed = servers_f.result() if servers else []
        known = {s["id"]: s.get("name") for s in listed} if servers else servers_f.result()
        headroom = _headrooms(
            ctx, region, volumes, wanted, names, lambda name: _due(name, policies, catalogue, now)
        )
        for volume in sorted(volumes, key=lambda v: (v.get("os-vol-tenant-attr:tenant_id") or "", v["id"])):
            pid = volume.get("os-vol-tenant-attr:tenant_id") or ""
            project = names.get(pid, {"name": pid})
            if wanted and not wanted & {pid, project["name"]}:
                continue
            for name in _enrolled(volume):
                if policies and name not in policies:
                    continue
                pol = catalogue.get(name) or named_policy(name)
                if pol is None:
                    reason = f"unknown policy {name}"
                    _note(lines, counts, pid, project["name"] or pid, volume, name, region, reason)
                    continue
                if not pol.due(now):
                    continue
                step = _decide(
                    ctx, volume, pol, region, project, known, snaps_by_volume, headroom, now, max_size_gb
                )
                lines[pid].append(step)
                counts[step.inputs.get("state", "create")] += 1
                autos = [s for s in snaps_by_volume[volume["id"]] if _auto(s) and _policy_of(s) == name]
                keep = retention_of(volume, pol) - (1 if step.action == "snapshot.create" else 0)
                for old in prunable(autos, keep, pol.min_retention_days, now):
                    kept = keep + (step.action == "snapshot.create")
                    text = (
                        f"prune {old.get('name') or old['id']} ({_created(old):%Y-%m-%d}), beyond {kept} kept"
                    )
                    inputs = {
                        "snapshot_id": old["id"],
                        "volume_id": volume["id"],
                        "policy": name,
                        "region": region,
                        "project_id": pid,
                        "project": project["name"] or pid,
                        "keep": keep,
                        "min_days": pol.min_retention_days,
                    }
                    lines[pid].append(Step("snapshot.prune", inputs, text))
                    counts["prune"] += 1
        if listed:
            project_of, policy_of = _selectors(names, wanted, policies, catalogue, now)
            for pid, step in plan_servers(ctx, region, listed, project_of, policy_of, now):
                lines[pid].append(step)
                counts[step.inputs.get("state") or step.action.split(".")[1]] += 1
    steps = [
        s for pid in sorted(lines, key=lambda p: names.get(p, {"name": p})["name"] or p) for s in lines[pid]
    ]
    summary = (
        f"{counts['create']} to create, {counts['prune']} to prune, {counts['skip']} skipped, "
        f"{counts['blocked']} blocked by quota, in {len(lines)} project(s) at {now:%Y-%m-%d %H:%M} UTC"
    )
    inputs = {"now": now.isoformat(), "policies": policies or [], "projects": sorted(wanted)}
    inputs["servers"] = servers
    return make_plan(settings, who, KIND, "volumes", summary, steps, [], inputs, None, ctx)


def _selectors(names, wanted, policies, catalogue, now):
    """(project_of, policy_of) for the servers' lines: a project's {name} unless filtered out; a policy when
    due now, a reason when unknown, None when not wanted or not due."""

    def project_of(pid: str) -> dict[str, Any] | None:
        project = names.get(pid, {"name": pid})
        return None if wanted and not wanted & {pid, project["name"]} else project

    def policy_of(name: str) -> Policy | str | None:
        if policies and name not in policies:
            return None
        pol = catalogue.get(name) or named_policy(name)
        if pol is None:
            return f"unknown policy {name}"
        return pol if pol.due(now) else None

    return project_of, policy_of


def _note(lines, counts, pid, project, volume, policy, region, reason, state="skip") -> None:
    who = volume.get("name") or volume["id"][:8]
    lines[pid].append(
        Step(
            "snapshot.note",
            {
                "state": state,
                "volume_id": volume["id"],
                "policy": policy,
                "region": region,
                "project_id": pid,
                "project": project,
                "reason": reason,
            },
            f"{state} {who} ({policy}): {reason}",
        )
    )
    counts[state] += 1


def _due(name: str, policies: list[str] | None, catalogue: dict[str, Policy], now: datetime) -> bool:
    pol = catalogue.get(name) or named_policy(name)
    return (not policies or name in policies) and pol is not None and pol.due(now)


def _headrooms(
    ctx: ActionContext,
    region: str,
    volumes: list[dict[str, Any]],
    wanted: set[str],
    names: dict,
    due: Callable[[str], bool],
) -> dict[str, dict[str, int | None]]:
    """The quota headroom of every project with an enrolled volume in the run, asked a few at a time: one
    call per project, which on a cloud of hundreds of projects is seconds when asked one after another."""
    pids = set()
    for volume in volumes:
        pid = volume.get("os-vol-tenant-attr:tenant_id") or ""
        name = names.get(pid, {"name": pid})["name"]
        in_scope = not wanted or wanted & {pid, name}
        if in_scope and volume.get("status") in SNAPSHOTTABLE and any(map(due, _enrolled(volume))):
            pids.add(pid)
    ordered = sorted(pids)
    with ThreadPoolExecutor(4) as pool:
        return dict(zip(ordered, pool.map(lambda pid: _quota(ctx, pid, region), ordered), strict=True))


def _decide(ctx, volume, pol, region, project, servers, snaps_by_volume, headroom, now, max_size_gb) -> Step:
    pid, who = volume.get("os-vol-tenant-attr:tenant_id") or "", volume.get("name") or volume["id"][:8]
    base = {
        "volume_id": volume["id"],
        "policy": pol.name,
        "region": region,
        "project_id": pid,
        "project": project["name"] or pid,
    }

    def note(state: str, reason: str) -> Step:
        return Step(
            "snapshot.note",
            {**base, "state": state, "reason": reason},
            f"{state} {who} ({pol.name}): {reason}",
        )

    status = volume.get("status")
    if status not in SNAPSHOTTABLE:
        return note("skip", f"status {status}")
    size = int(volume.get("size") or 0)
    if max_size_gb is not None and size > max_size_gb:
        return note("skip", f"{size} GB is over the size cap of {max_size_gb} GB")
    today = [s for s in snaps_by_volume[volume["id"]] if done_on(s, pol.name, now)]
    if today:
        return note("skip", f"already done today ({today[0].get('name') or today[0]['id']})")
    if pid not in headroom:  # once per project (setdefault would ask the cloud every time)
        headroom[pid] = _quota(ctx, pid, region)
    room = headroom[pid]
    for key, need in (("snapshots", 1), ("gigabytes", size)):
        left = room[key]
        if left is not None and left < need:
            return note("blocked", f"quota: {need} {key} needed, {left} left")
    for key, need in (("snapshots", 1), ("gigabytes", size)):
        if room[key] is not None:
            room[key] -= need
    attached = next((a.get("server_id") for a in volume.get("attachments") or []), None)
    name = snapshot_name(project["name"] or pid, pol.name, servers.get(attached), volume, now)
    inputs = {**base, "name": name, "size": size, "force": status == "in-use", "day": f"{now:%Y%m%d}"}
    return Step(
        "snapshot.create", inputs, f"create {name} ({size} GB{', forced: in use' if inputs['force'] else ''})"
    )
