"""Snapshot policies and runs against the simulated cloud's process; SLA statuses against an independent
computation from the raw Cinder listings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from pf9lib import identity, pipeline
from pf9lib.actions import apply, load_plan, plans, steps_of
from pf9lib.actions.snapshot_assign import plan_assign
from pf9lib.actions.snapshot_run import plan_run
from pf9lib.analytics import sla
from pf9lib.config import load_settings
from pf9lib.errors import Pf9Error
from pf9lib.policies import named_policy
from pf9lib.store import as_store

pytestmark = pytest.mark.integration
SERVICE = {
    "SNAPSHOT_SERVICE_USER_EMAIL": "snapshot-svc@pf9sim.local",
    "SNAPSHOT_SERVICE_USER_PASSWORD": "pf9sim-snapshots",
}


def _settings(sim, data_dir, **env):
    return load_settings(cloud=sim.cloud_name, data_dir=str(data_dir), env={**sim.env(), **SERVICE, **env})


@pytest.fixture
def cloud(fresh_sim, tmp_path):
    fresh_sim.client.options(nightly_snapshots=False)
    settings = _settings(fresh_sim, tmp_path / "data")
    identity.grant(settings.data_dir, "ops", "ops", "admin")
    (settings.data_dir / "snapshots").mkdir(parents=True)
    return fresh_sim, settings


def clock(sim) -> datetime:
    return datetime.fromisoformat(sim.summary()["clock"].replace("Z", "+00:00"))


def rules(settings, text: str) -> None:
    (settings.data_dir / "snapshots" / "rules.yaml").write_text(textwrap.dedent(text))


def volumes(sim) -> dict[str, dict]:
    body = sim.connect().block_storage.get("/volumes/detail?all_tenants=1", microversion="3.70").json()
    return {v["id"]: v for v in body["volumes"]}


def snapshots(sim) -> list[dict]:
    body = sim.connect().block_storage.get("/snapshots/detail?all_tenants=1", microversion="3.70").json()
    return body["snapshots"]


def test_an_exclusion_beats_a_catch_all_wherever_it_stands(cloud):
    sim, settings = cloud
    rules(
        settings,
        """
        - {name: everything, priority: 1, match: {}, policies: [daily_3]}
        - {name: no-data-disks, priority: 99, match: {volume_name_contains: data}, auto_snapshot: false}
    """,
    )
    plan = plan_assign(settings, "ops")
    assert apply(settings, plan.plan_id, "ops").status == "succeeded"
    for volume in volumes(sim).values():
        meta = volume["metadata"]
        if "data" in (volume["name"] or ""):
            assert meta.get("auto_snapshot") == "false" and "snapshot_policies" not in meta, volume["name"]
        else:
            assert (meta.get("auto_snapshot"), meta.get("snapshot_policies")) == ("true", "daily_3"), volume[
                "name"
            ]
    # Assigning again changes nothing: the plan is empty.
    assert plan_assign(settings, "ops").steps == ()


def test_a_run_creates_in_the_volumes_project_records_blocks_and_never_attempts_them(cloud):
    sim, settings = cloud
    rules(settings, "[{name: all, match: {}, policies: [daily_3]}]")
    apply(settings, plan_assign(settings, "ops").plan_id, "ops")
    before = {s["id"] for s in snapshots(sim)}
    plan = plan_run(settings, "ops", now=clock(sim))
    creates = [s for s in plan.steps if s.action == "snapshot.create"]
    blocked = [s for s in plan.steps if s.action == "snapshot.note" and s.inputs["state"] == "blocked"]
    assert creates and blocked, plan.summary
    assert all("quota:" in s.text and "left" in s.text for s in blocked)
    skipped = [s for s in plan.steps if s.action == "snapshot.note" and s.inputs["state"] == "skip"]
    result = apply(settings, plan.plan_id, "ops")
    assert result.status == "succeeded", result.message
    assert f"{len(skipped)} skipped, {len(blocked)} blocked" in result.message  # the message counts the notes
    made = [s for s in snapshots(sim) if s["id"] not in before]
    by_volume = {s["volume_id"]: s for s in made}
    assert sorted(by_volume) == sorted(s.inputs["volume_id"] for s in creates)
    assert not {s.inputs["volume_id"] for s in blocked} & set(by_volume)
    vols = volumes(sim)
    for snap in made:  # in the volume's own project, named and marked as docs/domain.md §4 says
        assert (
            snap["os-extended-snapshot-attributes:project_id"]
            == vols[snap["volume_id"]]["os-vol-tenant-attr:tenant_id"]
        )
        assert snap["name"].startswith("auto-") and snap["metadata"]["policy"] == "daily_3"
        assert snap["metadata"]["created_by"] == "pf9wb" and snap["metadata"]["pf9wb_run"] == plan.plan_id
    trail = steps_of(settings.data_dir, plan.plan_id)
    assert (trail["state"] == "blocked").sum() == len(blocked)
    # A second run the same day makes nothing more.
    again = plan_run(settings, "ops", now=clock(sim))
    assert not [s for s in again.steps if s.action == "snapshot.create"]


def test_a_413_is_recorded_as_skipped(cloud):
    sim, settings = cloud
    rules(settings, "[{name: all, match: {}, policies: [daily_3]}]")
    apply(settings, plan_assign(settings, "ops").plan_id, "ops")
    plan = plan_run(settings, "ops", now=clock(sim))
    sim.faults({"method": "POST", "path": "/snapshots$", "status": 413})
    try:
        result = apply(settings, plan.plan_id, "ops")
    finally:
        sim.clear_faults()
    assert result.status == "succeeded" and "0 created" in result.message
    trail = steps_of(settings.data_dir, plan.plan_id)
    creates = trail[trail["name"] == "snapshot.create"]
    assert set(creates["state"]) == {"skipped"} and creates["detail"].str.contains("HTTP 413").all()


CRASHING = textwrap.dedent("""
    import sys
    from pf9lib.actions import apply
    from pf9lib.config import load_settings
    settings = load_settings(cloud=sys.argv[1], data_dir=sys.argv[2])
    apply(settings, sys.argv[3], "ops")
""")


def test_a_crash_half_way_then_a_rerun_makes_no_duplicates(cloud):
    sim, settings = cloud
    rules(settings, "[{name: all, match: {}, policies: [daily_3]}]")
    apply(settings, plan_assign(settings, "ops").plan_id, "ops")
    plan = plan_run(settings, "ops", now=clock(sim))
    planned = {s.inputs["volume_id"] for s in plan.steps if s.action == "snapshot.create"}
    before = {s["id"] for s in snapshots(sim)}
    sim.faults({"method": "POST", "path": "/snapshots$", "status": None, "delay_s": 0.7})
    env = {**sim.env(), **SERVICE}
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING, sim.cloud_name, str(settings.data_dir), plan.plan_id], env=env
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len([s for s in snapshots(sim) if s["id"] not in before]) < 2:
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    sim.clear_faults()
    half = [s for s in snapshots(sim) if s["id"] not in before]
    assert 2 <= len(half) < len(planned), "the crash should fall half way"
    result = apply(settings, plan.plan_id, "ops")
    assert result.status == "succeeded", result.message
    made = [s for s in snapshots(sim) if s["id"] not in before]
    assert Counter(s["volume_id"] for s in made) == Counter(planned)
    assert plans(settings.data_dir)["state"].iloc[0] == "succeeded"


def test_retention_keeps_the_newest_automatic_ones_never_manual_or_young(cloud):
    sim, settings = cloud
    (settings.data_dir / "snapshots" / "policies.yaml").write_text(
        "- {name: keep2, schedule: daily, retention: 2, min_retention_days: 2}\n"
    )
    conn = sim.connect()
    now = clock(sim)
    vol = next(v for v in volumes(sim).values() if v["status"] == "available")
    sim.mutate("volumes", vol["id"], {"metadata": {"auto_snapshot": "true", "snapshot_policies": "keep2"}})
    made = {}
    for label, age_days, auto in (
        ("a1", 1, True),
        ("a3", 3, True),
        ("a5", 5, True),
        ("a9", 9, True),
        ("m20", 20, False),
    ):
        body = {
            "snapshot": {
                "volume_id": vol["id"],
                "name": f"{'auto-' if auto else 'manual-'}{label}",
                "metadata": {"policy": "keep2"} if auto else {},
            }
        }
        snap = conn.block_storage.post("/snapshots", json=body, microversion="3.70").json()["snapshot"]
        when = (now - timedelta(days=age_days)).strftime("%Y-%m-%dT%H:%M:%S.%f")
        sim.mutate("snapshots", snap["id"], {"created_at": when})
        made[label] = snap["id"]
    plan = plan_run(settings, "ops", now=now)
    mine = [s for s in plan.steps if s.inputs.get("volume_id") == vol["id"]]
    assert [s.action for s in mine][0] == "snapshot.create"
    pruned = {s.inputs["snapshot_id"] for s in mine if s.action == "snapshot.prune"}
    # Keep 2 counting today's: a1 stays (newest), a3 a5 a9 go (all at least 2 days old); m20 is manual.
    assert pruned == {made["a3"], made["a5"], made["a9"]}
    assert apply(settings, plan.plan_id, "ops").status == "succeeded"
    left = {s["id"] for s in snapshots(sim) if s["volume_id"] == vol["id"]}
    assert made["a1"] in left and made["m20"] in left and not left & pruned and len(left) == 3
    # The next day: keep 2 → today's new one and yesterday's; a1 (2 days old now) goes.
    second = plan_run(settings, "ops", now=now + timedelta(days=1))
    mine = [s for s in second.steps if s.inputs.get("volume_id") == vol["id"]]
    assert {s.inputs["snapshot_id"] for s in mine if s.action == "snapshot.prune"} == {made["a1"]}


def test_the_service_users_role_is_granted_once_per_project(cloud):
    sim, settings = cloud
    rules(settings, "[{name: all, match: {}, policies: [daily_3]}]")
    apply(settings, plan_assign(settings, "ops").plan_id, "ops")
    conn = sim.connect()
    user = conn.identity.get("/users?name=snapshot-svc@pf9sim.local").json()["users"][0]

    def granted() -> set[str]:
        found = conn.identity.get(f"/role_assignments?user.id={user['id']}").json()["role_assignments"]
        return {a["scope"]["project"]["id"] for a in found if "project" in a.get("scope", {})}

    first_said, second_said = [], []
    before = granted()
    plan = plan_run(settings, "ops", now=clock(sim))
    projects = {s.inputs["project_id"] for s in plan.steps if s.action == "snapshot.create"}
    apply(settings, plan.plan_id, "ops", progress=first_said.append)
    after = granted()
    assert after == before | projects and after - before
    assert any(f"admin on {len(after - before)} project(s)" in line for line in first_said)
    sim.advance(24)
    plan = plan_run(settings, "ops", now=clock(sim))
    apply(settings, plan.plan_id, "ops", progress=second_said.append)
    assert granted() == after and not any("granted" in line for line in second_said)


def test_a_fernet_encrypted_password_works_and_a_wrong_key_is_one_clear_line(cloud, tmp_path):
    sim, settings = cloud
    key = Fernet.generate_key().decode()
    token = Fernet(key.encode()).encrypt(b"pf9sim-snapshots").decode()
    env = {"SNAPSHOT_SERVICE_USER_PASSWORD": "", "SNAPSHOT_USER_PASSWORD_ENCRYPTED": token}
    rules(settings, "[{name: all, match: {}, policies: [daily_3]}]")
    apply(settings, plan_assign(settings, "ops").plan_id, "ops")
    good = _settings(sim, settings.data_dir, **env, SNAPSHOT_PASSWORD_KEY=key)
    plan = plan_run(good, "ops", now=clock(sim))
    assert apply(good, plan.plan_id, "ops").status == "succeeded"
    wrong = _settings(sim, settings.data_dir, **env, SNAPSHOT_PASSWORD_KEY=Fernet.generate_key().decode())
    plan = plan_run(wrong, "ops", now=clock(sim) + timedelta(days=1))
    with pytest.raises(Pf9Error, match="cannot be decrypted with SNAPSHOT_PASSWORD_KEY") as failed:
        apply(wrong, plan.plan_id, "ops")
    assert "\n" not in str(failed.value) and "pf9sim-snapshots" not in str(failed.value)


def test_sla_statuses_equal_an_independent_computation_from_raw_listings(cloud):
    sim, settings = cloud
    rules(
        settings,
        """
        - {name: prod, priority: 1, match: {tenant_name: [acme-prod]}, policies: [daily_3, monthly_1st]}
        - {name: rest, priority: 9, match: {}, policies: [daily_5]}
    """,
    )
    apply(settings, plan_assign(settings, "ops").plan_id, "ops")
    apply(settings, plan_run(settings, "ops", now=clock(sim)).plan_id, "ops")
    sim.advance(30)  # a day and more passes without a run: some statuses turn late
    apply(settings, plan_run(settings, "ops", policies=["daily_3"], now=clock(sim)).plan_id, "ops")
    # The run is dated with the cloud's clock, as the demo's are: the store's now is the cloud's.
    pipeline.collect(settings, settings.data_dir, started_at=clock(sim))
    got = sla.status(settings.data_dir)
    now = clock(sim)
    now = clock(sim)
    blocked = set()  # (volume, policy) a run blocked by quota in the 48 h before now
    for plan_id in plans(settings.data_dir, kind="snapshots.run")["plan_id"]:
        run = load_plan(settings.data_dir, plan_id)
        if now - datetime.fromisoformat(run.inputs["now"]) <= timedelta(hours=48):
            blocked |= {
                (s.inputs["volume_id"], s.inputs["policy"])
                for s in run.steps
                if s.action == "snapshot.note" and s.inputs["state"] == "blocked"
            }
    expected = {}
    snaps = snapshots(sim)
    for vol in volumes(sim).values():
        meta = vol["metadata"]
        if meta.get("auto_snapshot") != "true":
            continue
        for policy in meta["snapshot_policies"].split(","):
            times = [
                datetime.fromisoformat(s["created_at"]).replace(tzinfo=now.tzinfo)
                for s in snaps
                if s["volume_id"] == vol["id"]
                and s["status"] == "available"
                and (s.get("metadata") or {}).get("policy") == policy
            ]
            window = timedelta(hours=named_policy(policy).sla_hours)
            if times and now - max(times) <= window:
                state = "compliant"
            elif not times:
                state = "never"
            else:
                state = "late"
            expected[(vol["id"], policy)] = state
    for key in blocked:  # blocked by quota in the last 48 h, and not compliant
        if expected.get(key) != "compliant":
            expected[key] = "quota_blocked"
    mine = {(r.volume_id, r.policy): r.status for r in got.itertuples()}
    assert mine == expected
    assert {"compliant", "quota_blocked"} <= set(mine.values()) and len(set(mine.values())) >= 3
    by_policy = sla.compliance(settings.data_dir, by="policy").set_index("policy")
    for policy, row in by_policy.iterrows():
        states = [v for (_, p), v in mine.items() if p == policy]
        assert row["enrolled"] == len(states)
        assert row["compliance_pct"] == round(100 * states.count("compliant") / len(states), 1)


def test_coverage_rpo_and_trend_against_the_cloud_and_the_history(fresh_sim, tmp_path):
    from pf9lib.demo import build_history

    data = tmp_path / "data"
    build_history(fresh_sim.process, data, days=4, snapshots=True)
    store_now = as_store(data).now
    # Coverage: against the raw listings (the last collect is the cloud's state: nothing ran since).
    vols, snaps = volumes(fresh_sim), snapshots(fresh_sim)
    with_snapshot = {s["volume_id"] for s in snaps}
    cov = sla.coverage(data).set_index("volume_id")
    assert set(cov.index) == set(vols)
    for vid, vol in vols.items():
        enrolled = vol["metadata"].get("auto_snapshot") == "true" and bool(
            vol["metadata"].get("snapshot_policies")
        )
        assert cov.loc[vid, "enrolled"] == enrolled, vid
        assert cov.loc[vid, "snapshots"] == sum(s["volume_id"] == vid for s in snaps), vid
        assert ("no snapshot" in cov.loc[vid, "gap"]) == (vid not in with_snapshot)
    # RPO: the largest gap between a volume's snapshot times in the window (and to its edges).
    rpo = sla.rpo(data, days=3).set_index("volume_id")
    hist = as_store(data).sql("SELECT DISTINCT id, volume_id, created_at FROM snapshots_history")
    start = store_now - timedelta(days=3)
    for vid in list(rpo.index)[:5]:
        times = sorted(t for t in hist[hist["volume_id"] == vid]["created_at"] if start < t <= store_now)
        edges = [start, *times, store_now]
        worst = max((b - a).total_seconds() for a, b in zip(edges, edges[1:], strict=False)) / 3600
        assert rpo.loc[vid, "worst_gap_h"] == round(worst, 1), vid
    # Trend: each day's figure equals the compliance of the store as of that day's end, quota blocks aside.
    trend = sla.trend(data, days=4).set_index("day")
    store = as_store(data)
    for day, row in trend.iterrows():
        end = datetime.combine(day, datetime.max.time(), store_now.tzinfo)
        past = sla.status(store.as_of(end))
        assert row["enrolled"] == len(past), day
        assert row["compliant"] == (past["status"] == "compliant").sum(), day
