"""Derived host and VM values (docs/domain.md §7) from two readings, computed here by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pf9lib.collect.metrics_parse import DomainReading, NodeReading
from pf9lib.normalize.metrics import COUNTER_RESET, NO_RATE_YET, host_row, vm_row

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
IDENT = {"batch_id": "b", "host": "h1", "hypervisor_hostname": "h1.example", "address": "10.0.0.1"}


def node(
    idle: float, total: float, rx: float = 0, clock: float | None = None, boot: float = 1000.0
) -> NodeReading:
    return NodeReading(
        cpu_idle_s=idle,
        cpu_total_s=total,
        cpu_count=4,
        mem_total_bytes=16e9,
        mem_available_bytes=4e9,
        fs_size_bytes=100e9,
        fs_avail_bytes=5e9,
        net_rx_bytes=rx,
        net_tx_bytes=2 * rx,
        load1=0.5,
        boot_time=boot,
        node_time=clock,
    )


def test_first_scrape_has_gauges_but_no_rate():
    row = host_row(node(100, 200), T0, None, IDENT)
    assert row["note"] == NO_RATE_YET and row.get("cpu_pct") is None and row.get("net_rx_bps") is None
    assert row["mem_used_bytes"] == 12e9 and row["mem_pct"] == 75.0
    assert row["fs_used_bytes"] == 95e9 and row["fs_pct"] == 95.0


def test_cpu_percent_is_one_minus_idle_share_of_the_total_delta():
    first = host_row(node(100, 200, rx=1000), T0, None, IDENT)
    second = host_row(node(130, 240, rx=4000), T0 + timedelta(seconds=10), first, IDENT)
    assert second["cpu_pct"] == (1 - 30 / 40) * 100  # 25 %
    assert second["net_rx_bps"] == 300.0 and second["net_tx_bps"] == 600.0
    assert second["note"] is None


def test_rates_use_the_hosts_own_clock_when_both_scrapes_have_it():
    first = host_row(node(100, 200, rx=0, clock=5000.0), T0, None, IDENT)
    # 1 s between our scrapes, 60 s on the host's clock (e.g. the simulated cloud moved its clock).
    second = host_row(node(130, 240, rx=6000, clock=5060.0), T0 + timedelta(seconds=1), first, IDENT)
    assert second["net_rx_bps"] == 100.0


def test_reboot_or_backwards_counters_say_counter_reset():
    first = host_row(node(100, 200), T0, None, IDENT)
    rebooted = host_row(node(5, 8, boot=9999.0), T0 + timedelta(seconds=10), first, IDENT)
    assert rebooted["note"] == COUNTER_RESET and rebooted.get("cpu_pct") is None
    busy_down = host_row(node(150, 240), T0 + timedelta(seconds=10), first, IDENT)  # busy 100 → 90
    assert busy_down["note"] == COUNTER_RESET


def dom(cpu: float, vcpus: float = 2, read: float = 0.0) -> DomainReading:
    return DomainReading(
        domain="instance-1",
        instance_uuid="u-1",
        instance_name="vm",
        flavor="m1",
        project_name="p",
        vcpus=vcpus,
        cpu_time_s=cpu,
        mem_bytes=2e9,
        mem_max_bytes=2e9,
        disk_read_bytes=read,
    )


def test_vm_cpu_percent_is_cpu_time_over_wall_times_vcpus_capped_at_100():
    first = vm_row(dom(100.0), T0, None, IDENT)
    assert first["note"] == NO_RATE_YET and first["vm_key"] == "u-1"
    second = vm_row(dom(105.0, read=2000), T0 + timedelta(seconds=10), first, IDENT)
    assert second["cpu_pct"] == 5 / (10 * 2) * 100  # 25 %
    assert second["disk_read_bps"] == 200.0
    busy = vm_row(dom(145.0), T0 + timedelta(seconds=20), second, IDENT)
    assert busy["cpu_pct"] == 100.0  # 40 s of CPU in 10 s on 2 vCPUs is capped


def test_vm_memory_percent_needs_guest_statistics():
    plain = vm_row(dom(1.0), T0, None, IDENT)
    assert plain["mem_pct"] is None  # memory_usage_bytes is what the domain was given, not what it uses
    guest = dom(1.0)
    guest.mem_available_bytes, guest.mem_usable_bytes = 4e9, 1e9
    row = vm_row(guest, T0, None, IDENT)
    assert row["mem_used_bytes"] == 3e9 and row["mem_pct"] == 75.0


def test_vm_without_nova_uuid_is_keyed_by_host_and_domain():
    reading = dom(1.0)
    reading.instance_uuid = None
    assert vm_row(reading, T0, None, IDENT)["vm_key"] == "h1/instance-1"
