"""Snapshot policies on generated volumes and the snapshots they produced (DOMAIN.md §4).

A volume is enrolled through its metadata (auto_snapshot, snapshot_policies, retention_<policy>); the
automatic snapshots that survive retention are created at their policy times (daily at 02:00 UTC, monthly on
the 1st or the 15th), named auto-<tenant>-<policy>-<server>-<volume>-<YYYYMMDD-HHMMSS>, by the snapshot
service user. Some enrolled volumes are never snapshotted (quota), some stopped a few days ago (late), some
last runs failed (error snapshots). Manual snapshots come now and then and are never pruned. pf9sim.evolution
continues the same schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pf9sim.generator.base import Ctx, Tenancy, growth_time, stable_fraction, stable_uuid, weighted
from pf9sim.generator.catalog import ENROLL_SHARE, POLICY_SETS, SNAPSHOT_SERVICE_NAME
from pf9sim.model.volume import make_snapshot
from pf9sim.state import EPOCH, Estate

RUN_HOUR = 2  # the snapshot job runs daily at 02:00 UTC
MONTH_DAYS = {"monthly_1st": 1, "monthly_15th": 15}
SNAPSHOTTABLE = ("available", "in-use")


def enrol(ctx: Ctx, ten: Tenancy, name: str) -> dict[str, str]:
    """Metadata for a new volume: enrolled in a policy set, explicitly excluded, or neither."""
    rng = ctx.rng
    meta: dict[str, str] = {}
    if rng.random() < 0.15:
        meta["cost_center"] = f"cc-{rng.randint(1000, 9999)}"
    lowered = name.lower()
    if (any(w in lowered for w in ("scratch", "migration", "restore-test")) and rng.random() < 0.5) or (
        rng.random() < 0.03
    ):
        meta["auto_snapshot"] = "false"
        return meta
    if rng.random() < ENROLL_SHARE.get(ten.project.kind, 0.3):
        policies = weighted(rng, [ps for ps, _ in POLICY_SETS], [w for _, w in POLICY_SETS])
        meta["auto_snapshot"] = weighted(rng, ("true", "yes", "1"), (20, 2, 2))
        meta["snapshot_policies"] = ",".join(p for p, _ in policies)
        for policy, keep in policies:
            meta[f"retention_{policy}"] = str(keep)
    return meta


def policies_of(metadata: dict[str, Any]) -> list[tuple[str, int]]:
    """The (policy, retention) pairs a volume's metadata enrols it in."""
    if str(metadata.get("auto_snapshot", "")).strip().lower() not in ("true", "yes", "1"):
        return []
    out = []
    for policy in str(metadata.get("snapshot_policies", "")).split(","):
        policy = policy.strip()
        if not policy:
            continue
        default = int(policy.split("_")[1]) if policy.startswith("daily_") and policy[6:].isdigit() else 1
        try:
            keep = int(metadata.get(f"retention_{policy}", default))
        except ValueError:
            keep = default
        out.append((policy, max(1, keep)))
    return out


def is_due(policy: str, when: datetime) -> bool:
    """Whether a policy's run falls at `when` (a run hour)."""
    if when.hour != RUN_HOUR:
        return False
    if policy.startswith("daily"):
        return True
    return MONTH_DAYS.get(policy) == when.day


def occurrences(policy: str, after: datetime, before: datetime, count: int) -> list[datetime]:
    """The last `count` run times of a policy in [after, before), oldest first."""
    out: list[datetime] = []
    if policy.startswith("daily"):
        t = datetime(before.year, before.month, before.day, RUN_HOUR, tzinfo=UTC)
        if t >= before:
            t -= timedelta(days=1)
        while len(out) < count and t >= after:
            out.append(t)
            t -= timedelta(days=1)
    elif policy in MONTH_DAYS:
        year, month = before.year, before.month
        while len(out) < count:
            t = datetime(year, month, MONTH_DAYS[policy], RUN_HOUR, tzinfo=UTC)
            if t < after:
                break
            if t < before:
                out.append(t)
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return sorted(out)


def run_offset(volume_id: str) -> timedelta:
    """Where a volume falls in the nightly run (volumes are processed one after another)."""
    return timedelta(seconds=30 + round(stable_fraction(volume_id, "run-offset") * 1500, 6))


def schedule_snapshots(ctx: Ctx, volume: dict[str, Any]) -> None:
    rng = ctx.rng
    created = ctx.est.clock
    for policy, keep in policies_of(volume["metadata"]):
        health = rng.random()
        if health < 0.04:
            continue  # enrolled but never snapshotted (blocked by quota, or too big)
        before = EPOCH - timedelta(days=rng.randint(3, 6)) if health < 0.10 else EPOCH
        times = occurrences(policy, created + timedelta(hours=1), before, keep)
        for i, when in enumerate(times):
            failed = (health < 0.14 and health >= 0.10 and i == len(times) - 1) or rng.random() < 0.01
            ctx.at(
                when + run_offset(volume["id"]),
                _auto,
                ctx,
                volume,
                policy,
                "error" if failed else "available",
            )
    expected = ctx.spec.manual_snapshots
    for _ in range(int(expected) + (1 if rng.random() < expected - int(expected) else 0)):
        ctx.at(
            growth_time(rng, created + timedelta(hours=1), EPOCH - timedelta(hours=1)), _manual, ctx, volume
        )


def auto_snapshot(
    est: Estate, volume: dict[str, Any], policy: str, status: str, service_user_id: str, server_name: str
) -> dict[str, Any]:
    """One automatic snapshot as the product's snapshot job makes it (shared with pf9sim.evolution)."""
    project = est.get("projects", volume["os-vol-tenant-attr:tenant_id"])
    tenant = project["name"] if project else volume["os-vol-tenant-attr:tenant_id"]
    stamp = est.clock.strftime("%Y%m%d-%H%M%S")
    name = f"auto-{tenant}-{policy}-{server_name}-{volume['name'] or volume['id']}-{stamp}"
    run = stable_uuid(est.seed, volume["_region"], est.clock.date(), "snapshot-run")
    metadata = {"created_by": SNAPSHOT_SERVICE_NAME, "policy": policy, "run_id": run}
    snap = make_snapshot(
        est,
        volume=volume,
        name=name,
        description=f"Automatic {policy} snapshot",
        metadata=metadata,
        status=status,
    )
    if service_user_id:
        snap["user_id"] = service_user_id
    return snap


def attached_server_name(est: Estate, volume: dict[str, Any]) -> str:
    for att in volume.get("attachments") or ():
        server = est.get("servers", att.get("server_id") or "")
        if server is not None:
            return server["name"]
    return "none"


def _auto(ctx: Ctx, volume: dict[str, Any], policy: str, status: str) -> None:
    if volume["status"] in SNAPSHOTTABLE:
        auto_snapshot(
            ctx.est, volume, policy, status, ctx.service_user_id, attached_server_name(ctx.est, volume)
        )


MANUAL_LABELS = ("before-upgrade", "pre-patch", "manual", "pre-migration", "golden", "debug", "pre-resize")


def manual_snapshot(est: Estate, volume: dict[str, Any], status: str = "available") -> dict[str, Any]:
    """A snapshot someone took by hand (shared with pf9sim.evolution)."""
    rng = est.rng
    label = rng.choice(MANUAL_LABELS)
    stem = volume["name"] or f"vol-{volume['id'][:8]}"
    description = rng.choice((None, "", "taken before maintenance", f"ticket OPS-{rng.randint(1000, 9999)}"))
    return make_snapshot(
        est, volume=volume, name=f"{stem}-{label}-{est.clock:%Y%m%d}", description=description, status=status
    )


def _manual(ctx: Ctx, volume: dict[str, Any]) -> None:
    if volume["status"] in SNAPSHOTTABLE:
        manual_snapshot(ctx.est, volume, "error" if ctx.rng.random() < 0.02 else "available")
