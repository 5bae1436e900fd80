"""Tenant, quota, trend, capacity and waste analytics on small hand-built stores with known values."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pandas as pd
import pytest

from pf9lib.analytics import capacity, landing, tenants
from pf9lib.analytics.drift_events import acknowledge, evaluate_run
from pf9lib.store.events import append_events
from pf9lib.store.reader import open_store
from tests.analytics.estates import T0, hypervisor, quota, server, snapshot, volume, write_run, write_vm_daily
from tests.helpers.roles import give_role


def test_sla_part_plugs_in_and_costs_0_2_points_per_percent_not_compliant(tmp_path):
    write_run(tmp_path, 0, {"servers": [server(1, "p1")]})
    store = open_store(tmp_path)

    def sla(store, *, cloud, region, now):  # what pf9lib.analytics.sla.tenant_compliance will answer
        return pd.DataFrame(
            {
                "cloud": ["c1", "c1"],
                "region": ["R1", "R1"],
                "project_id": ["p1", "p2"],
                "enrolled": [10, 0],
                "compliant": [4, 0],
            }
        )

    health = tenants.tenant_health(store, sla=sla).set_index("project_id")
    assert health.at["p1", "sla_lost"] == pytest.approx(12.0)  # 0.2 × (100 − 40)
    assert health.at["p1", "health"] == pytest.approx(88.0)
    assert health.at["p1", "sla_status"] == "40% compliant"
    assert health.at["p2", "sla_lost"] == 0 and health.at["p2", "sla_status"] == "nothing enrolled"
    # Without `sla=`, pf9lib.analytics.sla decides: this store enrols no volume.
    plain = tenants.tenant_health(store).set_index("project_id")
    assert plain.at["p1", "sla_status"] == "nothing enrolled" and plain.at["p1", "health"] == 100
    assert landing.sla_compliance(store)["sla_status"].tolist() == ["nothing enrolled"]
    assert landing.sla_compliance(store, sla=sla)["compliance_pct"].tolist() == [40.0]


def test_health_breakdown_explains_every_point_lost(tmp_path):
    write_run(
        tmp_path, 0, {"servers": [server(i, "p1", "ERROR") for i in range(3)] + [server(9, "p1", "SHUTOFF")]}
    )
    health = tenants.tenant_health(open_store(tmp_path))
    parts = tenants.health_breakdown(health)
    p1 = parts[parts["project_id"] == "p1"].set_index("component")
    assert p1.at["error_vms", "count"] == 3 and p1.at["error_vms", "points_lost"] == 20  # capped
    assert p1.at["shutoff_vms", "points_lost"] == 2
    assert p1["points_lost"].sum() == pytest.approx(100 - p1["health"].iloc[0])


def test_quota_usage_handles_unlimited_zero_and_over_limits(tmp_path):
    quotas = [
        quota(
            "p1", "compute", {"cores": 10, "instances": -1, "ram": 0}, {"cores": 4, "instances": 7, "ram": 0}
        ),
        quota("p1", "block-storage", {"gigabytes": 100}, {"gigabytes": 120}),
        quota("p1", "network", {"port": 50}, {"port": 5}),
    ]
    write_run(tmp_path, 0, {"quotas": quotas})
    df = tenants.quota_usage(open_store(tmp_path)).set_index(["service", "resource"])
    assert (df.at[("compute", "cores"), "used_pct"], df.at[("compute", "cores"), "headroom"]) == (40.0, 6.0)
    assert df.at[("compute", "instances"), "unlimited"] and pd.isna(
        df.at[("compute", "instances"), "used_pct"]
    )
    assert pd.isna(df.at[("compute", "instances"), "headroom"])
    assert df.at[("compute", "ram"), "used_pct"] == 100.0  # a zero limit leaves no room
    assert (
        df.at[("block-storage", "gigabytes"), "headroom"] == -20 and df.at[("network", "port"), "in_use"] == 5
    )
    assert set(df["cloud"]) == {"c1"} and set(df["region"]) == {"R1"}


def test_usage_trend_is_the_state_at_each_day_end(tmp_path):
    write_run(tmp_path, 0, {"servers": [server(1, vcpus=2)], "volumes": [volume(1, size=10)]})
    write_run(
        tmp_path, 1, {"servers": [server(1, vcpus=2), server(2, vcpus=4)], "volumes": [volume(1, size=10)]}
    )
    write_run(tmp_path, 1.5, {"servers": [server(2, vcpus=4)], "volumes": [volume(1, size=30)]})  # same day
    write_run(tmp_path, 3, {"servers": [], "volumes": [volume(1, size=30)]})
    trend = tenants.usage_trend(open_store(tmp_path), days=5, project="prod")
    got = trend[["day", "vms", "vcpus", "volumes", "volume_gb"]].astype({"day": str}).values.tolist()
    assert got == [
        ["2026-09-30", 0, 0, 0, 0],
        ["2026-10-01", 1, 2, 1, 10],
        ["2026-10-02", 1, 4, 1, 30],  # the day's last state: s1 gone, s2 there, the volume extended
        ["2026-10-03", 1, 4, 1, 30],
        ["2026-10-04", 0, 0, 1, 30],
    ]


def test_snapshot_and_drift_trends_count_per_tenant_and_day(tmp_path):
    vols = [volume(1, "p1"), volume(2, "p2")]
    snaps = [snapshot(1, "v1", "p1", created=T0 - timedelta(hours=5)), snapshot(2, "v2", "p2", created=T0)]
    write_run(tmp_path, 0, {"servers": [server(1, "p1")], "volumes": vols, "snapshots": snaps})
    run = write_run(
        tmp_path, 1, {"servers": [server(1, "p1", "ERROR")], "volumes": vols, "snapshots": snaps[1:]}
    )
    evaluate_run(tmp_path, run)
    store = open_store(tmp_path)
    snap = tenants.snapshot_trend(store, days=3)
    per = snap.groupby(["project_id", snap["day"].astype(str)])["created"].sum().to_dict()
    assert per[("p1", "2026-09-30")] == 1 and per[("p2", "2026-10-01")] == 1  # n1 counts though deleted since
    drift = tenants.drift_trend(store, days=2)
    row = drift[(drift["project_id"] == "p1") & (drift["day"].astype(str) == "2026-10-02")].iloc[0]
    assert (row["warning"], row["total"]) == (2, 2)  # s1's status, and n1's deletion (graded as its status)


def test_change_compliance_says_why_each_change_was_expected(tmp_path):
    write_run(tmp_path, 0, {"servers": [server(1), server(2), server(3)]})
    (tmp_path / "drift").mkdir()
    (tmp_path / "drift" / "ignore").write_text("servers.vm3.status\n")
    run = write_run(
        tmp_path,
        1,
        {
            "servers": [
                server(1, status="SHUTOFF"),
                server(2, status="SHUTOFF"),
                server(3, status="ERROR"),
                server(4),
            ]
        },
    )
    events = evaluate_run(tmp_path, run)
    s1_event = events[events["object_id"] == "s1"]["event_id"].iloc[0]
    give_role(tmp_path, "alice", "operator")
    acknowledge(tmp_path, [s1_event], note="maintenance window", actor="alice")
    at = T0 + timedelta(hours=12)
    append_events(
        tmp_path,
        "action_steps",
        [
            {
                "event_id": uuid.uuid4().hex,
                "plan_id": "plan-7",
                "step": 3,
                "name": "create server",
                "state": "SUCCEEDED",
                "at": at,
                "created_json": json.dumps({"servers": ["s4"]}),
            }
        ],
    )
    append_events(
        tmp_path,
        "audit",
        [
            {
                "audit_id": "a1",
                "at": at,
                "actor": "bob",
                "action": "server.stop",
                "target": "servers/s2",
                "result": "ok",
            }
        ],
    )
    every = landing.change_compliance(open_store(tmp_path), days=2)
    df = every[every["run_id"] == run].set_index("id")
    assert df.at["s1", "expected"] and df.at["s1", "reason"] == "acknowledged by alice: maintenance window"
    assert df.at["s2", "expected"] and df.at["s2", "reason"] == "audited: server.stop by bob (ok)"
    assert df.at["s3", "expected"] and "ignore rule `servers.vm3.status`" in df.at["s3", "reason"]
    assert df.at["s4", "expected"] and df.at["s4", "reason"] == "made by plan plan-7 (step 3 create server)"
    created_first = every[every["run_id"] != run]
    assert not created_first["expected"].any() and created_first["reason"].str.startswith("unexpected").all()


def test_allocation_per_hypervisor_and_aggregate(tmp_path):
    servers = [
        server(1, vcpus=4, ram=8192, disk=40),
        server(2, vcpus=8, ram=16384, disk=80, status="SHUTOFF"),
        server(3, hv="hv2.local", vcpus=2, ram=2048, disk=20),
        server(4, hv=None, status="ERROR"),
    ]
    aggs = [{"id": 1, "name": "gold", "hosts": ["hv1", "hv2"]}, {"id": 2, "name": "solo", "hosts": ["hv2"]}]
    write_run(
        tmp_path,
        0,
        {
            "servers": servers,
            "hypervisors": [hypervisor("hv1.local", 8, 16384, 100), hypervisor("hv2.local", 4, 8192, 100)],
            "aggregates": aggs,
        },
    )
    store = open_store(tmp_path)
    hv = capacity.hypervisor_allocation(store).set_index("hypervisor")
    assert hv.at["hv1.local", "vcpus_allocated"] == 12 and hv.at["hv1.local", "vcpus_ratio"] == 1.5
    assert hv.at["hv1.local", "ram_mb_ratio"] == pytest.approx(24576 / 16384)
    assert hv.at["hv2.local", "disk_gb_allocated"] == 20 and hv.at["hv1.local", "vms"] == 2
    agg = capacity.aggregate_allocation(store).set_index("aggregate")
    assert agg.at["gold", "vcpus_allocated"] == 14 and agg.at["gold", "vcpus_capacity"] == 12
    assert agg.at["gold", "hosts"] == 2 and agg.at["solo", "vcpus_ratio"] == 0.5


def test_waste_candidates_say_why_and_what_they_free(tmp_path):
    retention = {"auto_snapshot": "true", "snapshot_policies": "daily_2", "retention_daily_2": "2"}
    vols = [
        volume(1, server_id="s1", metadata=retention),
        volume(2, status="available", size=50),
        volume(3, status="available", size=5, created=T0 + timedelta(days=9)),
    ]
    snaps = [snapshot(i, "v1", created=T0 - timedelta(days=i), policy="daily_2") for i in range(1, 5)]
    snaps.append(snapshot(9, "v1", created=T0 - timedelta(days=200), size=7))
    fips = [
        {"id": "f1", "floating_ip_address": "198.51.100.7", "tenant_id": "p1", "port_id": None},
        {"id": "f2", "floating_ip_address": "198.51.100.8", "tenant_id": "p1", "port_id": "port-1"},
    ]
    write_run(
        tmp_path, 0, {"servers": [server(1)], "volumes": vols, "snapshots": snaps, "floating_ips": fips}
    )
    write_run(
        tmp_path, 10, {"servers": [server(1)], "volumes": vols, "snapshots": snaps, "floating_ips": fips}
    )
    waste = capacity.waste_candidates(open_store(tmp_path)).set_index("id")
    assert waste.at["v2", "gb"] == 50 and waste.at["v2", "reason"] == "available and unattached for 10 days"
    assert "v3" not in waste.index  # unattached for one day only
    assert waste.at["n3", "reason"] == "policy daily_2 keeps 2: this is number 3 from the newest"
    assert {"n3", "n4"} <= set(waste.index) and not {"n1", "n2"} & set(waste.index)
    assert waste.at["n9", "gb"] == 7 and waste.at["n9", "reason"].startswith("210 days old")
    assert waste.at["f1", "ips"] == 1 and "f2" not in waste.index
    assert set(waste["cloud"]) == {"c1"} and set(waste["region"]) == {"R1"}


def test_idle_and_oversized_vms_from_daily_roll_ups(tmp_path):
    flavors = [
        {"id": f"f{i}", "name": n, "vcpus": v, "ram": r, "disk": d}
        for i, (n, v, r, d) in enumerate(
            [("small", 1, 2048, 20), ("medium", 2, 4096, 20), ("large", 8, 16384, 20)]
        )
    ]
    servers = [
        server(1, vcpus=8, ram=16384, flavor="large"),
        server(2, vcpus=8, ram=16384, flavor="large"),
        server(3, vcpus=2, ram=4096, flavor="medium"),
    ]
    write_run(tmp_path, 10, {"servers": servers, "flavors": flavors})
    days = [T0 + timedelta(days=d) for d in range(3, 10)]  # the 7 whole days before the run's day
    write_vm_daily(tmp_path, "s1", days, cpu_avg=2.0, cpu_max=20.0, mem_max=30.0)  # idle and oversized
    write_vm_daily(tmp_path, "s2", days, cpu_avg=50.0, cpu_max=95.0, mem_max=90.0)  # busy
    write_vm_daily(tmp_path, "s3", days[1:], cpu_avg=1.0, cpu_max=3.0, mem_max=10.0)  # one day unmeasured
    store = open_store(tmp_path)
    idle = capacity.idle_vms(store)
    assert idle["id"].tolist() == ["s1"] and (idle.at[0, "vcpus"], idle.at[0, "ram_mb"]) == (8, 16384)
    big = capacity.oversized_vms(store, days=7, min_days=7).set_index("id")
    # s1: 8 × 20 / 70 → 3 vCPUs, 16384 × 30 / 70 → 7022 MB: "large" is the only flavor that fits, and it is
    # not smaller; the 7-day window is what s3 misses a day of
    assert big.empty
    big = capacity.oversized_vms(store, days=7, min_days=6, target_pct=90).set_index("id")
    # s1 at 90 %: 2 vCPUs, 5461 MB → still only "large"; s3: 1 vCPU, 455 MB → "small" frees 1 vCPU, 2048 MB
    assert big.index.tolist() == ["s3"] and big.at["s3", "suggested_flavor"] == "small"
    assert (big.at["s3", "vcpus"], big.at["s3", "ram_mb"]) == (1, 2048)
