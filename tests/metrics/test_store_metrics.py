"""Metric storage on real Parquet files: roll-ups, retention, latest state with staleness, inventory joins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pf9lib.analytics import monitoring
from pf9lib.collect.metrics import TargetResult
from pf9lib.collect.metrics_parse import DomainReading, NodeReading
from pf9lib.collect.metrics_targets import LIBVIRT, NODE, Target
from pf9lib.errors import ConfigError
from pf9lib.pipeline_metrics import MetricsOptions, store_results
from pf9lib.store import metrics_store as ms
from pf9lib.store.reader import open_store

from .inventory import write_servers

DAY0 = datetime(2026, 10, 1, tzinfo=UTC)
KEEP_ALL = ms.Retention(3650, 3650, 3650)


def host_rows(host: str, start: datetime, values: list[float], every: timedelta) -> list[dict]:
    return [
        {"ts": start + i * every, "batch_id": "x", "host": host, "cpu_pct": v, "mem_pct": v / 2}
        for i, v in enumerate(values)
    ]


def write(data, rows: list[dict], batch: str) -> None:
    empty = ms.table([], ms.VM_SCHEMA), ms.table([], ms.TARGET_SCHEMA)
    cycle = {"batch_id": batch, "source": "test", "started_at": rows[0]["ts"], "ended_at": rows[0]["ts"]}
    ms.write_batch(data, batch, ms.table(rows, ms.HOST_SCHEMA), *empty, cycle, None)


def hourly(data):
    return monitoring.series(open_store(data), "hosts", resolution="hourly")


def test_hourly_and_daily_rollups_hold_exact_averages_maxima_and_counts(tmp_path):
    a = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]  # every 20 min from 00:00: hours 00, 01
    b = [90.0, 70.0]
    write(tmp_path, host_rows("h1", DAY0, a, timedelta(minutes=20)), "b1")
    write(tmp_path, host_rows("h2", DAY0 + timedelta(minutes=30), b, timedelta(minutes=60)), "b2")
    stats = ms.maintain(tmp_path, DAY0 + timedelta(hours=1, minutes=5), KEEP_ALL)
    assert stats["hourly"] == 1 and stats["daily"] == 0  # hour 01 is not over yet: not rolled up
    ms.maintain(tmp_path, DAY0 + timedelta(days=1, minutes=1), KEEP_ALL)
    df = hourly(tmp_path).set_index(["host", "period"])
    assert df.loc[("h1", DAY0), "cpu_pct_avg"] == 20.0 and df.loc[("h1", DAY0), "cpu_pct_max"] == 30.0
    assert df.loc[("h1", DAY0 + timedelta(hours=1)), "cpu_pct_avg"] == 50.0
    assert df.loc[("h1", DAY0), "samples"] == 3 and df.loc[("h2", DAY0), "mem_pct_max"] == 45.0
    daily = monitoring.series(open_store(tmp_path), "hosts", resolution="daily").set_index("host")
    assert daily.loc["h1", "cpu_pct_avg"] == pytest.approx(sum(a) / len(a), abs=1e-12)
    assert daily.loc["h1", "cpu_pct_max"] == 60.0 and daily.loc["h1", "samples"] == 6
    assert daily.loc["h2", "cpu_pct_avg"] == 80.0 and daily.loc["h2", "period"] == DAY0


def test_late_data_for_a_rolled_up_hour_replaces_its_rollup(tmp_path):
    write(tmp_path, host_rows("h1", DAY0, [10.0, 20.0], timedelta(minutes=10)), "b1")
    ms.maintain(tmp_path, DAY0 + timedelta(hours=2), KEEP_ALL)
    assert hourly(tmp_path)["cpu_pct_avg"].tolist() == [15.0]
    write(tmp_path, host_rows("h1", DAY0 + timedelta(minutes=40), [60.0], timedelta(minutes=10)), "b3")
    assert ms.maintain(tmp_path, DAY0 + timedelta(hours=2), KEEP_ALL)["hourly"] == 1
    assert hourly(tmp_path)["cpu_pct_avg"].tolist() == [30.0]
    files = list(ms.MetricsLayout(tmp_path).rollup_dir("hourly", "hosts").rglob("*.parquet"))
    assert len(files) == 1  # the superseded roll-up is gone
    assert ms.maintain(tmp_path, DAY0 + timedelta(hours=2), KEEP_ALL)["hourly"] == 0  # nothing new


def test_retention_drops_raw_days_only_once_rolled_up_and_each_resolution_on_its_own(tmp_path):
    write(tmp_path, host_rows("h1", DAY0, [10.0], timedelta(minutes=1)), "b1")
    write(tmp_path, host_rows("h1", DAY0 + timedelta(days=9), [30.0], timedelta(minutes=1)), "b2")
    lay = ms.MetricsLayout(tmp_path)
    ms.maintain(tmp_path, DAY0 + timedelta(days=9, hours=2), ms.Retention(7, 8, 30))
    raw_days = sorted(p.name for p in lay.series_dir("hosts").glob("date=*"))
    assert raw_days == ["date=2026-10-10"]
    assert sorted(p.name for p in lay.rollup_dir("hourly", "hosts").glob("date=*")) == ["date=2026-10-10"]
    assert sorted(p.name for p in lay.rollup_dir("daily", "hosts").glob("date=*")) == ["date=2026-10-01"]
    assert sorted(p.name for p in (lay.root / "cycles").glob("date=*")) == ["date=2026-10-10"]
    daily = monitoring.series(open_store(tmp_path), "hosts", resolution="daily")
    assert daily["cpu_pct_avg"].tolist() == [10.0]  # the old day survives as its daily roll-up


def test_retention_must_be_ordered():
    with pytest.raises(ConfigError, match="raw <= hourly <= daily"):
        ms.Retention(30, 7, 365)


# --------------------------------------------------------------------------------------------- latest state


def node_result(host: str, ts: datetime, idle: float, total: float, up: bool = True) -> TargetResult:
    target = Target(NODE, host, f"10.0.0.{host[-1]}", f"http://{host}/metrics", f"{host}.example")
    if not up:
        return TargetResult(target, False, ts, 5.0, error=f"timeout after 5 s at {host}")
    reading = NodeReading(
        cpu_idle_s=idle, cpu_total_s=total, cpu_count=1, mem_total_bytes=100.0, mem_available_bytes=40.0
    )
    return TargetResult(target, True, ts, 0.01, samples=9, node=reading)


def vm_result(host: str, ts: datetime, vms: list[tuple[str, float]], up: bool = True) -> TargetResult:
    target = Target(LIBVIRT, host, f"10.0.0.{host[-1]}", f"http://{host}/lv", f"{host}.example")
    if not up:
        return TargetResult(target, False, ts, 0.0, error="cannot connect")
    domains = [
        DomainReading(
            domain=f"instance-{u}", instance_uuid=u, instance_name=f"vm-{u}", vcpus=1, cpu_time_s=cpu
        )
        for u, cpu in vms
    ]
    return TargetResult(target, True, ts, 0.01, samples=len(vms), domains=domains)


def cycle(data, results, n: int):
    options = MetricsOptions(retention=KEEP_ALL, rules=[])
    started = DAY0 + timedelta(seconds=n)
    return store_results(data, results, f"{DAY0:%Y%m%d}T00000{n}Z-test{n}", started, options, "test")


def latest(data, kind: str = "hosts"):
    store = open_store(data)
    df = monitoring.latest_hosts(store) if kind == "hosts" else monitoring.latest_vms(store)
    return df.set_index("host" if kind == "hosts" else "vm_key")


def test_a_cycle_that_reaches_no_target_keeps_the_last_values_marked_stale(tmp_path):
    t1, t2, t3 = (DAY0 + timedelta(minutes=m) for m in (0, 1, 2))
    cycle(tmp_path, [node_result("h1", t1, 50, 100), vm_result("h1", t1, [("u1", 10.0)])], 1)
    cycle(tmp_path, [node_result("h1", t2, 80, 160), vm_result("h1", t2, [("u1", 40.0)])], 2)
    before = latest(tmp_path).loc["h1"]
    assert before["cpu_pct"] == 50.0 and not before["stale"]
    down = cycle(
        tmp_path,
        [
            node_result("h1", t3, 0, 0, up=False),
            node_result("h2", t3, 0, 0, up=False),
            vm_result("h1", t3, [], up=False),
        ],
        3,
    )
    assert down.up == 0 and down.hosts == []
    hosts = latest(tmp_path)
    assert hosts.loc["h1", "stale"] and hosts.loc["h1", "stale_reason"] == "timeout after 5 s at h1"
    assert hosts.loc["h1", "cpu_pct"] == 50.0 and hosts.loc["h1", "ts"] == t2  # the last values, as they were
    assert hosts.loc["h2", "stale"] and hosts.loc["h2", "stale_reason"] == "timeout after 5 s at h2"
    assert hosts.loc["h2", "address"] == "10.0.0.2"  # never reached: a row that says so
    vms = latest(tmp_path, "vms")
    assert vms.loc["u1", "stale"] and vms.loc["u1", "stale_reason"] == "cannot connect"
    assert vms.loc["u1", "cpu_pct"] == 50.0
    store = open_store(tmp_path)
    assert monitoring.cycles(store).iloc[0]["error"] == "no target reachable"
    status = monitoring.target_status(store)
    assert status["up"].tolist() == [False, False, False]
    assert len(monitoring.series(store, "hosts", "h1")) == 2  # a missed scrape adds no row
    # Back again: rates over the whole gap, from the counters kept in the latest state.
    cycle(tmp_path, [node_result("h1", t3 + timedelta(minutes=1), 100, 240)], 4)
    assert latest(tmp_path).loc["h1", "cpu_pct"] == 75.0 and not latest(tmp_path).loc["h1", "stale"]


def test_vms_follow_their_host_page(tmp_path):
    t1, t2 = DAY0, DAY0 + timedelta(minutes=1)
    cycle(tmp_path, [vm_result("h1", t1, [("u1", 1.0), ("u2", 1.0)]), vm_result("h2", t1, [("u3", 1.0)])], 1)
    # u2 stopped on h1; u3 migrated from h2 (unreachable now) to h1 and keeps its counters.
    cycle(tmp_path, [vm_result("h1", t2, [("u1", 31.0), ("u3", 7.0)]), vm_result("h2", t2, [], up=False)], 2)
    vms = latest(tmp_path, "vms")
    assert sorted(vms.index) == ["u1", "u3"]
    assert vms.loc["u3", "host"] == "h1" and not vms.loc["u3", "stale"]
    assert vms.loc["u3", "cpu_pct"] == pytest.approx(10.0) and vms.loc["u1", "cpu_pct"] == pytest.approx(50.0)


def test_only_the_newest_latest_states_are_kept(tmp_path):
    for n in range(8):
        cycle(tmp_path, [node_result("h1", DAY0 + timedelta(minutes=n), n, 2 * n)], n)
    files = sorted(ms.MetricsLayout(tmp_path).latest_dir.glob("*.hosts.parquet"))
    assert len(files) == ms.LATEST_KEEP and files[-1].name.startswith(f"{DAY0:%Y%m%d}T000007Z")


def test_vms_without_nova_metadata_join_inventory_by_domain_name_on_their_hypervisor(tmp_path):
    servers = [
        {"id": "s-1", "name": "web", "hypervisor_hostname": "h1.example", "instance_name": "instance-a"},
        {"id": "s-2", "name": "web", "hypervisor_hostname": "h2.example", "instance_name": "instance-a"},
    ]
    hypervisor = {"id": "hv-1", "hypervisor_hostname": "h1.example", "host_ip": "10.0.0.1", "state": "up"}
    write_servers(tmp_path, servers, [hypervisor])
    target = Target(LIBVIRT, "h1", "10.0.0.1", "http://h1/lv", "h1.example")
    domains = [DomainReading(domain="instance-a", vcpus=1, cpu_time_s=1.0)]
    result = TargetResult(target, True, DAY0, 0.01, samples=1, domains=domains)
    cycle(tmp_path, [result, node_result("h1", DAY0, 1, 2)], 1)
    vms = latest(tmp_path, "vms")
    assert vms.loc["h1/instance-a", "joined_by"] == "domain"
    assert (
        vms.loc["h1/instance-a", "server_id"] == "s-1"
        and vms.loc["h1/instance-a", "inv_project_name"] == "proj"
    )
    assert latest(tmp_path).loc["h1", "hypervisor_id"] == "hv-1"
