"""Tenant scores, quota usage and the tenant summary on the real simulated cloud, each checked against a
computation written here from the cloud's own raw listings (openstacksdk, not the store).

One collect, then known mutations (servers to ERROR / SHUTOFF, a volume and a snapshot to error, a network's
admin state toggled: one drift event each), a second collect through the pipeline (drift evaluated), and
one event acknowledged.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from types import SimpleNamespace

import pandas as pd
import pytest

from pf9lib import pipeline
from pf9lib.analytics import landing, summary, tenants
from pf9lib.analytics.drift_events import acknowledge
from pf9lib.config import load_settings
from pf9lib.store.reader import open_store
from tests.helpers.roles import give_role
from tests.helpers.sim import start_sim

pytestmark = pytest.mark.integration


def _raw(conn) -> SimpleNamespace:
    """Every listing the scores need, straight from the cloud's APIs."""
    identity = conn.identity
    return SimpleNamespace(
        servers=conn.compute.get("/servers/detail", params={"all_tenants": 1}, microversion="2.96").json()[
            "servers"
        ],
        volumes=conn.block_storage.get("/volumes/detail", params={"all_tenants": 1}).json()["volumes"],
        snapshots=conn.block_storage.get("/snapshots/detail", params={"all_tenants": 1}).json()["snapshots"],
        projects=identity.get("/projects").json()["projects"],
        assignments=identity.get("/role_assignments").json()["role_assignments"],
        networks=conn.network.get("/networks").json()["networks"],
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("tenants-sim")
    sim = start_sim(root)
    try:
        data_dir = root / "data"
        settings = load_settings(cloud=sim.cloud_name, data_dir=str(data_dir), env=sim.env())
        clock = datetime.fromisoformat(sim.summary()["clock"].replace("Z", "+00:00"))
        pipeline.collect(settings, data_dir, started_at=clock)
        conn = sim.connect()
        before = _raw(conn)
        active = sorted((s for s in before.servers if s["status"] == "ACTIVE"), key=lambda s: s["id"])
        mutations = []  # (type, raw object, new fields, severity of the drift it makes)
        for s, status in zip(active, ["ERROR", "ERROR", "SHUTOFF"], strict=False):
            mutations.append(("servers", s, {"status": status}, "warning"))
        vol = next(v for v in sorted(before.volumes, key=lambda v: v["id"]) if v["status"] == "in-use")
        mutations.append(("volumes", vol, {"status": "error"}, "warning"))
        snap = next(s for s in sorted(before.snapshots, key=lambda s: s["id"]) if s["status"] == "available")
        mutations.append(("snapshots", snap, {"status": "error"}, "warning"))
        net = next(n for n in sorted(before.networks, key=lambda n: n["id"]) if n["admin_state_up"])
        mutations.append(("networks", net, {"admin_state_up": False}, "critical"))
        for kind, obj, fields, _ in mutations:
            sim.mutate(kind, obj["id"], fields)
        now = clock + timedelta(hours=1)
        outcome = pipeline.collect(settings, data_dir, started_at=now)
        store = open_store(data_dir)
        events = store.sql("SELECT * FROM drift_events WHERE run_id = ?", [outcome.run_id])
        acked = events[events["object_id"] == active[0]["id"]]["event_id"].tolist()
        give_role(data_dir, "test", "operator")
        acknowledge(data_dir, acked, note="planned", actor="test")
        quotas = {}
        for project in before.projects:
            pid = project["id"]
            quotas[("compute", pid)] = conn.compute.get(f"/os-quota-sets/{pid}/detail").json()["quota_set"]
            quotas[("block-storage", pid)] = conn.block_storage.get(
                f"/os-quota-sets/{pid}", params={"usage": "true"}
            ).json()["quota_set"]
            quotas[("network", pid)] = conn.network.get(f"/quotas/{pid}/details").json()["quota"]
        yield SimpleNamespace(
            data_dir=data_dir,
            raw=_raw(conn),
            mutations=mutations,
            acked_server=active[0]["id"],
            now=now,
            quotas=quotas,
            region=sim.regions[0],
            events=events,
            counts=sim.summary()["counts"],
        )
    finally:
        sim.process.stop()


def _project(obj: dict, kind: str) -> str:
    key = {
        "servers": "tenant_id",
        "volumes": "os-vol-tenant-attr:tenant_id",
        "snapshots": "os-extended-snapshot-attributes:project_id",
    }.get(kind, "project_id")
    return obj[key]


def test_every_mutation_made_one_drift_event(world):
    got = Counter(zip(world.events["object_id"], world.events["severity"], strict=True))
    assert got == Counter((obj["id"], severity) for _, obj, _, severity in world.mutations)


def _sla_pairs(raw, pid: str, now: datetime) -> list[bool]:
    """docs/domain.md §5 from the raw listings: per enrolled (volume, policy), whether its newest available
    automatic snapshot of that policy is within the policy's window."""
    from pf9lib.policies import named_policy

    out = []
    for vol in (v for v in raw.volumes if _project(v, "volumes") == pid):
        meta = vol.get("metadata") or {}
        if str(meta.get("auto_snapshot", "")).lower() not in ("true", "yes", "1", "on"):
            continue
        for policy in [p.strip() for p in str(meta.get("snapshot_policies") or "").split(",") if p.strip()]:
            times = []
            for s in raw.snapshots:
                if s["volume_id"] != vol["id"] or s["status"] != "available":
                    continue
                if (s.get("metadata") or {}).get("policy") != policy:
                    continue
                created = datetime.fromisoformat(s["created_at"].replace("Z", "+00:00"))
                times.append(created if created.tzinfo else created.replace(tzinfo=now.tzinfo))
            window = timedelta(hours=named_policy(policy).sla_hours)
            out.append(bool(times) and now - max(times) <= window)
    return out


def test_tenant_health_equals_the_formula_over_raw_listings(world):
    raw = world.raw
    health = tenants.tenant_health(open_store(world.data_dir)).set_index("project_id")
    assert set(health.index) == {p["id"] for p in raw.projects}
    open_drift = Counter(
        (_project(obj, kind), severity)
        for kind, obj, _, severity in world.mutations
        if obj["id"] != world.acked_server
    )
    for project in raw.projects:
        pid = project["id"]
        statuses = [s["status"] for s in raw.servers if s["tenant_id"] == pid]
        vol_errors = sum(
            v["status"].startswith("error") for v in raw.volumes if _project(v, "volumes") == pid
        )
        snap_errors = sum(
            s["status"].startswith("error") for s in raw.snapshots if _project(s, "snapshots") == pid
        )
        pairs = _sla_pairs(raw, pid, world.now)
        sla_lost = min(20, 0.2 * (100 - 100 * sum(pairs) / len(pairs))) if pairs else 0
        expected = 100 - (
            sla_lost
            + min(20, 10 * statuses.count("ERROR"))
            + min(10, 2 * statuses.count("SHUTOFF"))
            + min(15, 5 * vol_errors)
            + min(10, 5 * snap_errors)
            + min(15, 5 * open_drift[(pid, "critical")])
            + min(10, 2 * open_drift[(pid, "warning")])
        )
        row = health.loc[pid]
        assert row["health"] == pytest.approx(expected), project["name"]
        assert (row["error_vms"], row["shutoff_vms"]) == (statuses.count("ERROR"), statuses.count("SHUTOFF"))
        assert row["open_critical_drift"] == open_drift[(pid, "critical")]
        assert row["sla_status"] == (
            f"{100 * sum(pairs) / len(pairs):.0f}% compliant" if pairs else "nothing enrolled"
        )
        assert row["region"] == world.region
    assert health["health"].lt(100).any()  # the mutations cost something somewhere


def test_tenant_risk_and_utilisation_equal_raw_computations(world):
    raw = world.raw
    store = open_store(world.data_dir)
    risk = tenants.tenant_risk(store).set_index("project_id")
    util = tenants.utilisation(store, long=False).set_index("project_id")
    newest: dict[str, datetime] = {}
    for s in raw.snapshots:
        created = datetime.fromisoformat(s["created_at"].replace("Z", "+00:00"))
        created = created if created.tzinfo else created.replace(tzinfo=world.now.tzinfo)
        newest[s["volume_id"]] = max(created, newest.get(s["volume_id"], created))
    for project in raw.projects:
        pid = project["id"]
        vols = [v for v in raw.volumes if _project(v, "volumes") == pid]
        unprotected = sum(v["id"] not in newest for v in vols)
        stale = sum(v["id"] in newest and newest[v["id"]] < world.now - timedelta(days=7) for v in vols)
        expected = min(100, (unprotected + 0.5 * stale) / len(vols) * 100) if vols else 0
        assert risk.at[pid, "risk"] == pytest.approx(expected)
        servers = [s for s in raw.servers if s["tenant_id"] == pid]
        vm_part = sum(s["status"] == "ACTIVE" for s in servers) / len(servers) * 100 if servers else 0
        vol_part = sum(v["status"] == "in-use" for v in vols) / len(vols) * 100 if vols else 0
        assert util.at[pid, "utilisation"] == pytest.approx(0.6 * vm_part + 0.4 * vol_part)


def test_quota_usage_equals_the_quota_apis(world):
    df = tenants.quota_usage(open_store(world.data_dir))
    assert len(df) == sum(len([k for k in q if k != "id"]) for q in world.quotas.values())
    for row in df.itertuples(index=False):
        wire = world.quotas[(row.service, row.project_id)][row.resource]
        in_use = wire.get("in_use", wire.get("used"))
        assert (row.limit, row.in_use, row.reserved) == (wire["limit"], in_use, wire["reserved"])
        if wire["limit"] == -1:
            assert row.unlimited and pd.isna(row.used_pct) and pd.isna(row.headroom)
        elif wire["limit"] > 0:
            assert row.used_pct == pytest.approx((in_use + wire["reserved"]) / wire["limit"] * 100)
            assert row.headroom == wire["limit"] - in_use - wire["reserved"]


def test_tenant_summary_counts_equal_raw_listings(world):
    raw = world.raw
    df = tenants.tenant_summary(open_store(world.data_dir)).set_index("project_id")
    for project in raw.projects:
        pid = project["id"]
        servers = [s for s in raw.servers if s["tenant_id"] == pid]
        vols = [v for v in raw.volumes if _project(v, "volumes") == pid]
        users = {
            a["user"]["id"]
            for a in raw.assignments
            if "user" in a and a["scope"].get("project", {}).get("id") == pid
        }
        row = df.loc[pid]
        assert row["vms"] == len(servers) and row["running_vms"] == sum(
            s["status"] == "ACTIVE" for s in servers
        )
        assert row["volumes"] == len(vols) and row["volume_gb"] == sum(v["size"] for v in vols)
        assert row["networks"] == sum(n["project_id"] == pid for n in raw.networks)
        assert row["users"] == len(users)


def test_landing_health_summary_is_the_summary_cards_per_region(world):
    store = open_store(world.data_dir)
    per_region = landing.health_summary(store)
    assert set(per_region["region"]) == {world.region} and set(per_region["cloud"]) == {"pf9sim"}
    assert per_region["value"].tolist() == summary.health_summary(store)["value"].tolist()
    cards = dict(zip(per_region["key"], per_region["value"], strict=True))
    assert cards["vms"] == world.counts["servers"] == len(world.raw.servers)
    assert cards["tenants"] == len(world.raw.projects)
