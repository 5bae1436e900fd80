"""The fast text parser gives exactly prometheus_client's samples; readings take the right series."""

from __future__ import annotations

import math
import urllib.request

import pytest

from pf9lib.collect.metrics_parse import (
    LIBVIRT_METRICS,
    NODE_METRICS,
    libvirt_readings,
    node_reading,
    parse_reference,
    parse_samples,
)


def same(a: list, b: list) -> bool:
    """Sample lists equal, NaN equal to NaN (the reference parser keeps NaN values)."""
    if len(a) != len(b):
        return False
    for (n1, l1, v1), (n2, l2, v2) in zip(a, b, strict=True):
        if n1 != n2 or l1 != l2:
            return False
        if not (v1 == v2 or (math.isnan(v1) and math.isnan(v2))):
            return False
    return True


EDGE_PAGE = r"""# HELP x_total A counter.
# TYPE x_total counter
x_total{path="/a,b}",quote="say \"hi\"",nl="l1\nl2",bs="c:\\dir"} 3
x_total{empty=""} -Inf
spaced_metric { a = "1" , b="2" , }  4.5e+06  1700000000000
nolabels 7
nan_value NaN
plus_inf +Inf
int_value 12345678901234567
"""


def test_edge_cases_match_the_reference_parser():
    fast, ref = parse_samples(EDGE_PAGE), parse_reference(EDGE_PAGE)
    assert same(fast, ref)
    assert fast[0][1] == {"path": "/a,b}", "quote": 'say "hi"', "nl": "l1\nl2", "bs": "c:\\dir"}
    assert fast[2] == ("spaced_metric", {"a": "1", "b": "2"}, 4.5e6)


@pytest.mark.parametrize(
    "line",
    ['bad{a="1" 3', "bad{a=1} 3", "only_name", 'bad{a="1"}', "bad 1_000"],
)
def test_malformed_lines_raise_like_the_reference(line):
    with pytest.raises(ValueError):
        parse_reference(line + "\n")
    with pytest.raises(ValueError):
        parse_samples(line + "\n")


def test_wanted_names_filter_without_changing_values():
    every = parse_samples(EDGE_PAGE)
    some = parse_samples(EDGE_PAGE, {"nolabels", "x_total"})
    assert some == [s for s in every if s[0] in ("nolabels", "x_total")]


@pytest.mark.integration
def test_identical_to_reference_on_real_node_exporter_output(node_exporter):
    text = urllib.request.urlopen(node_exporter.url).read().decode()
    ref = parse_reference(text)
    assert len(ref) > 200
    assert same(parse_samples(text), ref)
    wanted = [s for s in ref if s[0] in NODE_METRICS]
    assert same(parse_samples(text, NODE_METRICS), wanted)


@pytest.mark.integration
def test_identical_to_reference_on_real_libvirt_exporter_output(libvirt_exporter):
    text = urllib.request.urlopen(libvirt_exporter.url).read().decode()
    ref = parse_reference(text)
    assert any(s[0] == "libvirt_domain_info_cpu_time_seconds_total" for s in ref)
    assert same(parse_samples(text), ref)


def test_identical_to_reference_on_simulated_pages():
    from pf9sim.exporters.libvirt import libvirt_exporter_page
    from pf9sim.exporters.node import node_exporter_page
    from pf9sim.generator.estate import generate

    estate = generate(seed=42, size="tiny")
    for hyp in estate.objects["hypervisors"].values():
        name = hyp["hypervisor_hostname"]
        for text in (
            node_exporter_page(estate, name),
            libvirt_exporter_page(estate, name),
            libvirt_exporter_page(estate, name, style="tinkoff"),
        ):
            assert same(parse_samples(text), parse_reference(text))


NODE_PAGE = """node_cpu_seconds_total{cpu="0",mode="idle"} 100
node_cpu_seconds_total{cpu="0",mode="user"} 30
node_cpu_seconds_total{cpu="1",mode="idle"} 90
node_cpu_seconds_total{cpu="1",mode="system"} 20
node_memory_MemTotal_bytes 1000
node_memory_MemAvailable_bytes 250
node_filesystem_size_bytes{device="rootfs",fstype="rootfs",mountpoint="/"} 0
node_filesystem_size_bytes{device="/dev/sda2",fstype="ext4",mountpoint="/"} 500
node_filesystem_avail_bytes{device="/dev/sda2",fstype="ext4",mountpoint="/"} 125
node_filesystem_size_bytes{device="/dev/sdb1",fstype="xfs",mountpoint="/data"} 9999
node_filesystem_avail_bytes{device="/dev/sdb1",fstype="xfs",mountpoint="/data"} 1
node_network_receive_bytes_total{device="eno1"} 10
node_network_receive_bytes_total{device="bond0"} 5
node_network_receive_bytes_total{device="lo"} 1000
node_network_receive_bytes_total{device="tapabc"} 1000
node_network_receive_bytes_total{device="br-int"} 1000
node_network_receive_bytes_total{device="virbr0"} 1000
node_network_transmit_bytes_total{device="eno1"} 7
node_network_transmit_bytes_total{device="vnet3"} 1000
node_load1 1.5
node_time_seconds 1700000000.5
node_boot_time_seconds 1690000000
"""


def test_node_reading_sums_cpus_physical_nics_and_takes_the_root_filesystem():
    r = node_reading(parse_samples(NODE_PAGE, NODE_METRICS))
    assert (r.cpu_idle_s, r.cpu_total_s, r.cpu_count) == (190, 240, 2)
    assert (r.mem_total_bytes, r.mem_available_bytes) == (1000, 250)
    assert (r.fs_size_bytes, r.fs_avail_bytes) == (500, 125)  # the real device, not rootfs nor /data
    assert (r.net_rx_bytes, r.net_tx_bytes) == (15, 7)  # eno1 + bond0; lo, tap, br-, virbr, vnet skipped
    assert (r.load1, r.node_time, r.boot_time) == (1.5, 1700000000.5, 1690000000)


TINKOFF_PAGE = """libvirt_domain_info_meta{domain="instance-1",flavor="m1.small",instance_name="vm-a",\
project_name="p",project_uuid="pid",uuid="u-1",user_name="bob"} 1
libvirt_domain_info_virtual_cpus{domain="instance-1"} 2
libvirt_domain_info_cpu_time_seconds_total{domain="instance-1"} 50
libvirt_domain_block_stats_read_bytes_total{domain="instance-1",target_device="vda"} 100
libvirt_domain_block_stats_read_bytes_total{domain="instance-1",target_device="vdb"} 11
libvirt_domain_block_stats_capacity_bytes{domain="instance-1",target_device="vda"} 1000
libvirt_domain_block_stats_capacity_bytes{domain="instance-1",target_device="vdb"} 2000
libvirt_domain_block_stats_allocation{domain="instance-1",target_device="vda"} 300
libvirt_domain_memory_stats_available_bytes{domain="instance-1"} 4000
libvirt_domain_memory_stats_usable_bytes{domain="instance-1"} 1000
libvirt_up 1
"""


def test_libvirt_reading_joins_meta_labels_and_sums_devices():
    (d,), up = libvirt_readings(parse_samples(TINKOFF_PAGE, LIBVIRT_METRICS))
    assert up is True
    assert (d.domain, d.instance_uuid, d.instance_name, d.flavor) == ("instance-1", "u-1", "vm-a", "m1.small")
    assert (d.project_name, d.project_id, d.user_name) == ("p", "pid", "bob")
    assert (d.vcpus, d.cpu_time_s, d.disk_read_bytes) == (2, 50, 111)
    assert (d.block_capacity_bytes, d.block_allocation_bytes) == (3000, 300)
    assert (d.mem_available_bytes, d.mem_usable_bytes) == (4000, 1000)
