"""Against Debian's real exporters: stored values equal those computed here from the same two raw pages."""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest

from pf9lib.analytics import monitoring
from pf9lib.collect.metrics_parse import VIRTUAL_NIC_PREFIXES
from pf9lib.collect.metrics_targets import Host, build_targets
from pf9lib.pipeline_metrics import MetricsOptions, run_cycle
from pf9lib.reports.textfile import write_workbench_textfile
from pf9lib.store.reader import open_store

from .conftest import DOMAINS

pytestmark = pytest.mark.integration
LINE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$", re.M)


def raw(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Independent of the product's parser: a regex over the page (labels without escapes on these pages)."""
    out = []
    for m in LINE.finditer(text):
        if m.group(1) == name:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            out.append((labels, float(m.group(3))))
    return out


def one(text: str, name: str, **match: str) -> float:
    (value,) = [v for labels, v in raw(text, name) if all(labels.get(k) == x for k, x in match.items())]
    return value


def cycle(data_dir, targets):
    result = run_cycle(data_dir, targets, MetricsOptions(timeout_s=5, keep_text=True))
    return result, {t.target.kind: t for t in result.targets}


def test_host_values_equal_those_computed_from_the_two_raw_scrapes(node_exporter, tmp_path):
    data = tmp_path / "data"
    targets = build_targets([Host("local", "127.0.0.1")], {"node": node_exporter.port}, kinds=["node"])
    first, p1 = cycle(data, targets)
    assert first.hosts[0]["note"] == "no rate yet" and first.hosts[0].get("cpu_pct") is None
    time.sleep(1.2)
    second, p2 = cycle(data, targets)
    a, b = p1["node"].text, p2["node"].text

    def cpu(text: str, mode: str | None = None) -> float:
        return sum(v for labels, v in raw(text, "node_cpu_seconds_total") if mode in (None, labels["mode"]))

    expected_cpu = (1 - (cpu(b, "idle") - cpu(a, "idle")) / (cpu(b) - cpu(a))) * 100
    mem_total = one(b, "node_memory_MemTotal_bytes")
    mem_used = mem_total - one(b, "node_memory_MemAvailable_bytes")
    fs_total = one(b, "node_filesystem_size_bytes", mountpoint="/")
    fs_used = fs_total - one(b, "node_filesystem_avail_bytes", mountpoint="/")

    def nic(text: str, name: str) -> float:
        return sum(
            v for labels, v in raw(text, name) if not labels["device"].startswith(VIRTUAL_NIC_PREFIXES)
        )

    seconds = one(b, "node_time_seconds") - one(a, "node_time_seconds")
    rx = (nic(b, "node_network_receive_bytes_total") - nic(a, "node_network_receive_bytes_total")) / seconds

    (row,) = monitoring.series(open_store(data), "hosts", "local").tail(1).to_dict("records")
    assert pd.isna(row["note"])
    assert row["cpu_pct"] == pytest.approx(expected_cpu, abs=1e-9)
    assert 0 <= row["cpu_pct"] <= 100
    assert row["mem_total_bytes"] == mem_total and row["mem_used_bytes"] == mem_used
    assert row["mem_pct"] == pytest.approx(mem_used / mem_total * 100, abs=1e-9)
    assert row["fs_total_bytes"] == fs_total and row["fs_used_bytes"] == fs_used
    assert row["fs_pct"] == pytest.approx(fs_used / fs_total * 100, abs=1e-9)
    assert row["net_rx_bps"] == pytest.approx(rx, abs=1e-6)
    assert row["load1"] == one(b, "node_load1") and row["cpu_count"] == len(
        {labels["cpu"] for labels, _ in raw(b, "node_cpu_seconds_total")}
    )


def test_workbench_textfile_is_read_by_node_exporters_textfile_collector(node_exporter, tmp_path):
    data = tmp_path / "data"
    targets = build_targets([Host("local", "127.0.0.1")], {"node": node_exporter.port}, kinds=["node"])
    first, _ = cycle(data, targets)
    path = write_workbench_textfile(data, node_exporter.workdir / "textfile" / "pf9wb.prom")
    _, pages = cycle(data, targets)
    page = pages["node"].text
    assert one(page, "pf9wb_last_run_success", job="metrics") == 1
    assert one(page, "pf9wb_last_run_errors", job="metrics") == 0
    assert one(page, "pf9wb_objects", source="metrics", type="hosts") == 1
    assert one(page, "pf9wb_last_run_timestamp_seconds", job="metrics") == pytest.approx(
        first.ended_at.timestamp(), abs=1e-3
    )
    assert one(page, "node_textfile_scrape_error") == 0
    path.unlink()


def test_vm_rows_carry_nova_identity_and_cpu_consistent_with_raw_counters(libvirt_exporter, tmp_path):
    data = tmp_path / "data"
    targets = build_targets([Host("hv1", "127.0.0.1")], {"libvirt": libvirt_exporter.port}, kinds=["libvirt"])
    first, p1 = cycle(data, targets)
    time.sleep(1.0)
    second, p2 = cycle(data, targets)
    a, b = p1["libvirt"].text, p2["libvirt"].text
    running = {d[1]: d for d in DOMAINS if d[8]}
    rows = {r["instance_uuid"]: r for r in second.vms}
    assert set(rows) == set(running)  # the shut-off domain is not reported
    before = {r["instance_uuid"]: r for r in first.vms}
    for uuid, (domain, _, name, flavor, project, _, vcpus, mem_mib, _) in running.items():
        row = rows[uuid]
        assert (row["domain"], row["instance_name"], row["flavor"], row["project_name"]) == (
            domain,
            name,
            flavor,
            project,
        )
        assert row["vcpus"] == vcpus and row["mem_max_bytes"] == mem_mib * 1024**2
        cpu = "libvirt_domain_info_cpu_time_seconds_total"
        wall = (row["ts"] - before[uuid]["ts"]).total_seconds()
        expected = min(100.0, (one(b, cpu, uuid=uuid) - one(a, cpu, uuid=uuid)) / (wall * vcpus) * 100)
        assert row["cpu_pct"] == pytest.approx(expected, abs=1e-9)
        assert 0 <= row["cpu_pct"] <= 100
        disk = "libvirt_domain_block_stats_read_bytes_total"
        assert row["disk_read_bps"] == pytest.approx(
            (one(b, disk, uuid=uuid) - one(a, disk, uuid=uuid)) / wall, rel=1e-12
        )
    # libvirt's test driver counts CPU time as wall-clock time: 2 vCPUs look half busy, 1 vCPU fully busy.
    assert rows[DOMAINS[0][1]]["cpu_pct"] == pytest.approx(50, abs=10)
    assert rows[DOMAINS[1][1]]["cpu_pct"] == pytest.approx(100, abs=10)


def test_vm_rows_join_inventory_by_uuid_domain_or_name(libvirt_exporter, tmp_path):
    """The VMs of the test driver, with an inventory of three servers holding them by each identity."""
    from .inventory import write_servers

    data = tmp_path / "data"
    uuid_a, uuid_b = DOMAINS[0][1], DOMAINS[1][1]
    write_servers(
        data,
        [
            {"id": uuid_a, "name": "web-01", "hypervisor_hostname": "hv1.local", "instance_name": "x"},
            {"id": "other-id", "name": "db-01", "hypervisor_hostname": "hv1.local", "instance_name": "y"},
        ],
    )
    targets = build_targets(
        [Host("hv1", "127.0.0.1", "hv1.local")], {"libvirt": libvirt_exporter.port}, kinds=["libvirt"]
    )
    run_cycle(data, targets, MetricsOptions(timeout_s=5))
    df = monitoring.latest_vms(open_store(data)).set_index("instance_uuid")
    assert df.loc[uuid_a, "joined_by"] == "uuid" and df.loc[uuid_a, "server_id"] == uuid_a
    assert df.loc[uuid_b, "joined_by"] == "name" and df.loc[uuid_b, "server_id"] == "other-id"
    assert df.loc[uuid_a, "inv_project_name"] == "proj"
