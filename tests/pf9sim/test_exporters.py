"""Simulated exporter pages: real text format, values consistent with the estate, counters monotonic in time,
and (when the Debian packages are installed) the same series as the real exporters."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pf9sim.evolution.engine import advance
from pf9sim.exporters.base import go_float, running_servers
from pf9sim.exporters.libvirt import _disks, _nics, libvirt_exporter_page
from pf9sim.exporters.node import node_exporter_page
from pf9sim.generator.estate import generate
from pf9sim.state import Estate

MIB = 1024**2


def parse(text: str) -> dict[str, tuple[str, str, dict[tuple, float]]]:
    """family name -> (type, help, {(sample name, sorted labels): value})."""
    out = {}
    for fam in text_string_to_metric_families(text):
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in fam.samples}
        out[fam.name] = (fam.type, fam.documentation, samples)
    return out


def counters(text: str) -> dict[tuple, float]:
    values = {}
    for kind, _, samples in parse(text).values():
        if kind == "counter":
            values.update(samples)
    return values


@pytest.fixture(scope="module")
def tiny() -> Estate:
    return generate(seed=42, size="tiny")


def busiest(est: Estate) -> dict:
    return max(est.all("hypervisors"), key=lambda h: (len(running_servers(est, h)), h["hypervisor_hostname"]))


def test_go_float_matches_go_formatting() -> None:
    cases = {
        0: "0",
        1: "1",
        212.67: "212.67",
        844500: "844500",
        1795670893.0: "1.795670893e+09",
        2.5276510208e10: "2.5276510208e+10",
        0.42: "0.42",
        1e-5: "1e-05",
        1234567.0: "1.234567e+06",
        -3.5: "-3.5",
        100.0: "100",
        0.00012: "0.00012",
    }
    for value, text in cases.items():
        assert go_float(value) == text


def test_node_page_has_the_node_exporter_metrics(tiny: Estate) -> None:
    hyp = busiest(tiny)
    text = node_exporter_page(tiny, hyp["hypervisor_hostname"])
    assert text == node_exporter_page(tiny, hyp["service"]["host"])  # short host name works too
    page = parse(text)
    for name in (
        "node_cpu_seconds",
        "node_memory_MemTotal_bytes",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemFree_bytes",
        "node_memory_Buffers_bytes",
        "node_memory_Cached_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_avail_bytes",
        "node_filesystem_free_bytes",
        "node_network_receive_bytes",
        "node_network_transmit_bytes",
        "node_load1",
        "node_load5",
        "node_load15",
        "node_boot_time_seconds",
        "node_time_seconds",
        "node_uname_info",
    ):
        assert name in page, name
    assert "# TYPE node_cpu_seconds_total counter" in text
    cpu = page["node_cpu_seconds"][2]
    assert {dict(k[1])["mode"] for k in cpu} == {
        "idle",
        "user",
        "system",
        "iowait",
        "irq",
        "softirq",
        "steal",
        "nice",
    }
    assert len({dict(k[1])["cpu"] for k in cpu}) == hyp["vcpus"]
    mem = {n: next(iter(page[f"node_memory_{n}_bytes"][2].values())) for n in ("MemTotal", "MemAvailable")}
    assert mem["MemTotal"] == int(hyp["memory_mb"] * MIB * 0.985)
    assert 0 < mem["MemAvailable"] < mem["MemTotal"]
    mounts = {dict(k[1])["mountpoint"] for k in page["node_filesystem_size_bytes"][2]}
    assert "/" in mounts and len(mounts) >= 2
    devices = {dict(k[1])["device"] for k in page["node_network_receive_bytes"][2]}
    taps = {
        f"tap{p['id'][:11]}"
        for p in tiny.all("ports")
        if any(p["device_id"] == s["id"] for s in running_servers(tiny, hyp))
    }
    assert devices == {"eno1", "eno2", "lo", "virbr0"} | taps and taps
    assert next(iter(page["node_time_seconds"][2].values())) == tiny.clock.timestamp()
    uname = dict(next(iter(page["node_uname_info"][2]))[1])
    assert uname["nodename"] == hyp["service"]["host"] and uname["sysname"] == "Linux"


def test_libvirt_page_lists_the_running_servers(tiny: Estate) -> None:
    hyp = busiest(tiny)
    page = parse(libvirt_exporter_page(tiny, hyp["hypervisor_hostname"]))
    running = {s["OS-EXT-SRV-ATTR:instance_name"]: s for s in running_servers(tiny, hyp)}
    assert running
    vcpus = {
        dict(k[1])["domain"]: (dict(k[1]), v) for k, v in page["libvirt_domain_info_virtual_cpus"][2].items()
    }
    assert set(vcpus) == set(running)
    for domain, (labels, value) in vcpus.items():
        server = running[domain]
        project = tiny.get("projects", server["tenant_id"])
        assert labels == {
            "domain": domain,
            "uuid": server["id"],
            "name": server["name"],
            "flavor": server["flavor"]["original_name"],
            "project_name": project["name"],
        }
        assert value == server["flavor"]["vcpus"]
    memory = {dict(k[1])["domain"]: v for k, v in page["libvirt_domain_info_maximum_memory_bytes"][2].items()}
    assert memory == {d: s["flavor"]["ram"] * MIB for d, s in running.items()}
    assert next(iter(page["libvirt_domains_number"][2].values())) == len(running)
    assert next(iter(page["libvirt_up"][2].values())) == 1
    nonrunning = [s for s in tiny.all("servers") if s["status"] != "ACTIVE"]
    text = libvirt_exporter_page(tiny, hyp["hypervisor_hostname"])
    assert nonrunning and not any(s["id"] in text for s in nonrunning)


def test_tinkoff_style_carries_nova_metadata(tiny: Estate) -> None:
    hyp = busiest(tiny)
    page = parse(libvirt_exporter_page(tiny, hyp["hypervisor_hostname"], style="tinkoff"))
    metas = [dict(k[1]) for k in page["libvirt_domain_info_meta"][2]]
    assert metas
    for meta in metas:
        server = tiny.get("servers", meta["uuid"])
        assert meta["instance_name"] == server["name"]
        assert meta["project_uuid"] == server["tenant_id"] and meta["user_uuid"] == server["user_id"]
        assert meta["root_type"] == ("image" if server["image"] else "volume") and meta["root_uuid"]
    assert "libvirt_domain_block_stats_capacity_bytes" in page
    with pytest.raises(ValueError):
        libvirt_exporter_page(tiny, hyp["hypervisor_hostname"], style="other")


def test_unknown_hypervisor_is_a_key_error(tiny: Estate) -> None:
    with pytest.raises(KeyError):
        node_exporter_page(tiny, "no-such-host")
    with pytest.raises(KeyError):
        libvirt_exporter_page(tiny, "no-such-host")


def test_counters_are_monotonic_across_advances() -> None:
    est = generate(seed=8, size="small")
    hosts = [h["hypervisor_hostname"] for h in est.all("hypervisors")]
    launched = {s["id"]: s["OS-SRV-USG:launched_at"] for s in est.all("servers")}
    before = {
        h: (counters(node_exporter_page(est, h)), counters(libvirt_exporter_page(est, h))) for h in hosts
    }
    for hours in (6, 19.5, 24):
        advance(est, hours)
        restarted = {
            s["id"] for s in est.all("servers") if s["OS-SRV-USG:launched_at"] != launched.get(s["id"])
        }
        compared = 0
        for host in hosts:
            node, libvirt = (
                counters(node_exporter_page(est, host)),
                counters(libvirt_exporter_page(est, host)),
            )
            for key, value in node.items():
                if key in before[host][0]:
                    assert value >= before[host][0][key], key
                    compared += 1
            for key, value in libvirt.items():
                if key in before[host][1] and dict(key[1])["uuid"] not in restarted:
                    assert value >= before[host][1][key], key
                    compared += 1
            before[host] = (node, libvirt)
        launched = {s["id"]: s["OS-SRV-USG:launched_at"] for s in est.all("servers")}
        assert compared > 1000


CPU_LINE = re.compile(r'^node_cpu_seconds_total\{cpu="(\d+)",mode="(\w+)"\} (\S+)$', re.M)


def _cpu_percent(before: str, after: str) -> float:
    """CPU % between two scrapes as DOMAIN.md §7 defines it: (1 - delta idle / delta total) * 100."""
    a = {(c, m): float(v) for c, m, v in CPU_LINE.findall(before)}
    b = {(c, m): float(v) for c, m, v in CPU_LINE.findall(after)}
    assert a and a.keys() == b.keys()
    total = sum(b[k] - a[k] for k in b)
    idle = sum(b[k] - a[k] for k in b if k[1] == "idle")
    return (1 - idle / total) * 100


def test_host_cpu_varies_and_some_hosts_run_hot() -> None:
    est = generate(seed=42, size="small")
    hosts = list(est.all("hypervisors"))
    first = {h["hypervisor_hostname"]: node_exporter_page(est, h["hypervisor_hostname"]) for h in hosts}
    est.clock += timedelta(hours=24)
    day = {h: _cpu_percent(first[h], node_exporter_page(est, h)) for h in first}
    assert all(0 <= v <= 100 for v in day.values())
    assert max(day.values()) > 85 and min(day.values()) < 20
    idle = [h["hypervisor_hostname"] for h in hosts if not running_servers(est, h)]
    assert all(day[h] < 10 for h in idle)
    # Over the day the load of one host moves (a daily curve), between five-minute samples.
    host = max(day, key=day.get)
    samples = []
    for _ in range(12):
        page = node_exporter_page(est, host)
        est.clock += timedelta(minutes=5)
        samples.append(_cpu_percent(page, node_exporter_page(est, host)))
        est.clock += timedelta(minutes=115)
    assert max(samples) - min(samples) > 5


def test_vm_cpu_percent_is_within_bounds(tiny: Estate) -> None:
    est = generate(seed=42, size="tiny")
    hyp = busiest(est)
    first = parse(libvirt_exporter_page(est, hyp["hypervisor_hostname"]))
    est.clock += timedelta(minutes=10)
    second = parse(libvirt_exporter_page(est, hyp["hypervisor_hostname"]))
    vcpus = {dict(k[1])["uuid"]: v for k, v in second["libvirt_domain_info_virtual_cpus"][2].items()}
    for key, value in second["libvirt_domain_info_cpu_time_seconds"][2].items():
        percent = (value - first["libvirt_domain_info_cpu_time_seconds"][2][key]) / (
            600 * vcpus[dict(key[1])["uuid"]]
        )
        assert 0 < percent * 100 <= 100


# -- against the real Debian exporters (RECIPES.md) ----------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _scrape(cmd: list[str], port: int) -> str:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                    return resp.read().decode()
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"{cmd[0]} did not answer")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _node_xml(est: Estate, hyp: dict) -> str:
    """The hypervisor's running servers as a libvirt test-driver node with Nova metadata."""
    servers = running_servers(est, hyp)
    disks, nics = _disks(est, hyp, servers), _nics(est, hyp, servers)
    parts = [
        "<node><cpu><nodes>1</nodes><sockets>2</sockets><cores>8</cores><threads>2</threads>"
        "<mhz>2600</mhz><model>x86_64</model></cpu><memory>134217728</memory>"
    ]
    for s in servers:
        ram, user = s["flavor"]["ram"], est.get("users", s["user_id"])
        parts.append(
            f'<domain type="test"><name>{s["OS-EXT-SRV-ATTR:instance_name"]}</name><uuid>{s["id"]}</uuid>'
            '<metadata><nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">'
            f'<nova:name>{escape(s["name"])}</nova:name><nova:flavor name="{s["flavor"]["original_name"]}">'
            f"<nova:memory>{ram}</nova:memory><nova:vcpus>{s['flavor']['vcpus']}</nova:vcpus></nova:flavor>"
            f'<nova:owner><nova:user uuid="{s["user_id"]}">{escape(user["name"])}</nova:user>'
            f'<nova:project uuid="{s["tenant_id"]}">{escape(est.get("projects", s["tenant_id"])["name"])}'
            "</nova:project></nova:owner></nova:instance></metadata>"
            f"<memory>{ram * 1024}</memory><currentMemory>{ram * 1024}</currentMemory>"
            f'<vcpu>{s["flavor"]["vcpus"]}</vcpu><os><type arch="x86_64">hvm</type></os><devices>'
        )
        for dev, source, _ in disks.get(s["id"], []):
            if source:
                parts.append(
                    f'<disk type="file" device="disk"><source file="{source}"/><target dev="{dev}"/></disk>'
                )
            else:
                parts.append(
                    f'<disk type="block" device="disk"><source dev="/dev/disk/by-id/{s["id"]}-{dev}"/>'
                    f'<target dev="{dev}"/></disk>'
                )
        for _, bridge, tap in nics.get(s["id"], []):
            parts.append(
                f'<interface type="bridge"><source bridge="{bridge}"/><target dev="{tap}"/></interface>'
            )
        parts.append("</devices></domain>")
    return "".join(parts) + "</node>"


def _series(text: str) -> list[str]:
    skip = (
        "go_",
        "process_",
        "promhttp_",
        "# HELP go_",
        "# TYPE go_",
        "# HELP process_",
        "# TYPE process_",
        "# HELP promhttp_",
        "# TYPE promhttp_",
    )
    return [re.sub(r" \S+$", "", line) for line in text.splitlines() if line and not line.startswith(skip)]


@pytest.mark.integration
@pytest.mark.skipif(
    not shutil.which("prometheus-libvirt-exporter"), reason="Debian prometheus-libvirt-exporter"
)
def test_libvirt_page_has_the_series_of_the_real_exporter(tiny: Estate, tmp_path: Path) -> None:
    hyp = busiest(tiny)
    xml = tmp_path / "node.xml"
    xml.write_text(_node_xml(tiny, hyp))
    port = _free_port()
    real = _scrape(
        [
            "prometheus-libvirt-exporter",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--libvirt.uri=test://{xml}",
            "--libvirt.export-nova-metadata",
        ],
        port,
    )
    assert _series(real) == _series(libvirt_exporter_page(tiny, hyp["hypervisor_hostname"]))


@pytest.mark.integration
@pytest.mark.skipif(not shutil.which("prometheus-node-exporter"), reason="Debian prometheus-node-exporter")
def test_node_page_names_types_and_labels_match_the_real_exporter(tiny: Estate) -> None:
    port = _free_port()
    real = parse(
        _scrape(
            ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}", "--no-collector.systemd"],
            port,
        )
    )
    ours = parse(node_exporter_page(tiny, busiest(tiny)["hypervisor_hostname"]))
    for name, (kind, help_text, samples) in ours.items():
        assert name in real, name
        assert (kind, help_text) == real[name][:2], name
        label_names = {tuple(k for k, _ in key[1]) for key in samples}
        assert label_names == {tuple(k for k, _ in key[1]) for key in real[name][2]}, name


@pytest.mark.integration
def test_control_api_serves_the_pages(sim) -> None:
    host = "r1-kvm-001.pf9sim.local"  # the tiny estate of seed 42
    for kind in ("node", "libvirt"):
        with urllib.request.urlopen(
            f"{sim.base_url}/_sim/exporters/{kind}/{host}/metrics", timeout=10
        ) as resp:
            text = resp.read().decode()
        assert list(text_string_to_metric_families(text))
