"""One metrics cycle over 500 hosts (node_exporter + libvirt exporter pages, 20 VMs each): scraped, parsed,
derived and stored, with alerts evaluated. Target: <= 5 s wall. Also the parser choice: prometheus_client's
text parser against pf9lib's, on real exporter output, with identical samples required.

The pages are canned real ones: captured once from Debian's prometheus-node-exporter and from
prometheus-libvirt-exporter over libvirt's test driver (20 Nova-style domains), then varied per host (UUIDs,
names, projects, counters) and served by a small aiohttp server in its own process, so it does not share our
GIL. Without those binaries the simulated cloud's pages are the templates (reported in the results).

Run: .venv/bin/python -m benchmarks.bench_metrics [--hosts 500] → benchmarks/results/bench_metrics.json
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._common import peak_rss_mb, workdir, write_results
from pf9lib.collect.metrics_parse import parse_reference, parse_samples
from pf9lib.collect.metrics_targets import Host, build_targets
from pf9lib.pipeline_metrics import MetricsOptions, run_cycle

VMS_PER_HOST = 20
NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"


# --------------------------------------------------------------------------------------------- templates


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _capture(args: list[str], port: int) -> str:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                    return resp.read().decode()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)


def _libvirt_xml() -> str:
    domains = []
    for n in range(VMS_PER_HOST):
        vcpus, mem = (1, 2, 4, 8)[n % 4], (2048, 4096, 8192, 16384)[n % 4]
        domains.append(f"""<domain type="test"><name>instance-{n:08x}</name>
<uuid>00000000-0000-4000-8000-{n:012x}</uuid><metadata><nova:instance xmlns:nova="{NOVA_NS}">
<nova:name>vm-{n:02d}</nova:name><nova:flavor name="m1.f{n % 4}"><nova:memory>{mem}</nova:memory>
<nova:vcpus>{vcpus}</nova:vcpus></nova:flavor><nova:owner><nova:user uuid="u">u</nova:user>
<nova:project uuid="p{n % 5}">project-{n % 5}</nova:project></nova:owner></nova:instance></metadata>
<memory>{mem * 1024}</memory><vcpu>{vcpus}</vcpu><os><type arch="x86_64">hvm</type></os><devices>
<disk type="file" device="disk"><source file="/var/lib/nova/instances/{n}/disk"/><target dev="vda"/></disk>
<disk type="file" device="disk"><source file="/dev/vol-{n}"/><target dev="vdb"/></disk>
<interface type="bridge"><source bridge="br-int"/><target dev="tap{n:011x}"/></interface>
</devices></domain>""")
    return f"<node>{''.join(domains)}</node>"


def templates(tmp: Path) -> tuple[str, str, str]:
    """(node page, libvirt page, where they come from)."""
    node_bin, lv_bin = shutil.which("prometheus-node-exporter"), shutil.which("prometheus-libvirt-exporter")
    if node_bin and lv_bin:
        port = _free_port()
        node = _capture([node_bin, f"--web.listen-address=127.0.0.1:{port}", "--no-collector.systemd"], port)
        (tmp / "node.xml").write_text(_libvirt_xml())
        port = _free_port()
        lv = _capture(
            [
                lv_bin,
                f"--web.listen-address=127.0.0.1:{port}",
                f"--libvirt.uri=test://{tmp / 'node.xml'}",
                "--libvirt.export-nova-metadata",
            ],
            port,
        )
        return node, lv, "real exporters (Debian prometheus-node-exporter, prometheus-libvirt-exporter)"
    from pf9sim.exporters.libvirt import libvirt_exporter_page
    from pf9sim.exporters.node import node_exporter_page
    from pf9sim.generator.estate import generate

    estate = generate(seed=42, size="small")
    busiest = max(
        (h["hypervisor_hostname"] for h in estate.objects["hypervisors"].values()),
        key=lambda name: libvirt_exporter_page(estate, name).count("cpu_time_seconds_total{"),
    )
    return node_exporter_page(estate, busiest), libvirt_exporter_page(estate, busiest), "simulated cloud"


# --------------------------------------------------------------------------------------------- page server

_VALUE = re.compile(
    r"^((?:node_cpu_seconds_total|node_network_\w+_bytes_total|libvirt_domain_\w+_total)"
    r"(?:\{[^}]*\})?) (\S+)$",
    re.M,
)


def vary(text: str, host: int, epoch: int) -> str:
    """The template as another host would show it: its own identities, its own load, `epoch` minutes on."""
    load = 0.05 + 0.9 * ((host * 7919) % 100) / 100

    def counter(m: re.Match) -> str:
        series, value = m.group(1), float(m.group(2))
        idle = 'mode="idle"' in series
        grow = 60.0 * epoch * ((1 - load) if idle else load if "cpu" in series else 1e6)
        return f"{series} {value * (1 + host / 1000) + grow:.17g}"

    text = _VALUE.sub(counter, text)
    # The host's clock moves with the counters (rates are timed by node_time_seconds).
    clock = re.compile(r"^node_time_seconds (\S+)$", re.M)
    text = clock.sub(lambda m: f"node_time_seconds {float(m.group(1)) + 60 * epoch:.17g}", text)
    text = re.sub(r'uuid="([0-9a-f-]{24})', lambda m: f'uuid="{host:08x}-{m.group(1)[9:]}', text)
    text = re.sub(r'name="vm-', f'name="h{host:03d}-vm-', text)
    return re.sub(r'domain="instance-0000', f'domain="instance-{host:04x}', text)


def serve(node: str, lv: str, hosts: int, port: int, ready) -> None:
    from aiohttp import web

    pages = {
        (kind, h, e): vary(t, h, e).encode()
        for kind, t in (("node", node), ("libvirt", lv))
        for h in range(hosts)
        for e in (0, 1)
    }
    state = {"epoch": 0}

    async def page(request: web.Request) -> web.Response:
        kind, host = request.match_info["kind"], int(request.match_info["host"][1:])
        return web.Response(body=pages[(kind, host, state["epoch"])], content_type="text/plain")

    async def advance(request: web.Request) -> web.Response:
        state["epoch"] = 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{kind}/{host}/metrics", page)
    app.router.add_post("/advance", advance)
    ready.set()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --------------------------------------------------------------------------------------------- measuring


def parser_comparison(node: str, lv: str) -> dict:
    out = {}
    for name, text in (("node_exporter", node), ("libvirt_exporter", lv)):
        ref, fast = parse_reference(text), parse_samples(text)
        identical = len(ref) == len(fast) and all(
            a[:2] == b[:2] and (a[2] == b[2] or (math.isnan(a[2]) and math.isnan(b[2])))
            for a, b in zip(ref, fast, strict=True)
        )
        timing = {}
        for label, fn in (("prometheus_client", parse_reference), ("pf9lib", parse_samples)):
            started, rounds = time.perf_counter(), 0
            while time.perf_counter() - started < 1.0:
                fn(text)
                rounds += 1
            timing[label] = (time.perf_counter() - started) / rounds
        out[name] = {
            "samples": len(ref),
            "identical": identical,
            "prometheus_client_samples_per_s": round(len(ref) / timing["prometheus_client"]),
            "pf9lib_samples_per_s": round(len(ref) / timing["pf9lib"]),
            "speedup": round(timing["prometheus_client"] / timing["pf9lib"], 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    tmp = workdir("metrics")
    node, lv, source = templates(tmp)
    port = _free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(node, lv, args.hosts, port, ready), daemon=True)
    server.start()
    ready.wait(300)
    time.sleep(0.5)  # the socket binds just after the pages are built
    hosts = [Host(f"h{i:03d}", "127.0.0.1", f"h{i:03d}") for i in range(args.hosts)]
    targets = build_targets(hosts, template=f"http://127.0.0.1:{port}/{{kind}}/{{hostname}}/metrics")
    data = tmp / "data"
    options = MetricsOptions(timeout_s=30, concurrency=args.concurrency)
    cycles = []
    try:
        for n in range(2):
            started = time.perf_counter()
            result = run_cycle(data, targets, options)
            wall = time.perf_counter() - started
            assert result.down == 0, [t.error for t in result.targets if not t.up][:3]
            cycles.append(
                {
                    "cycle": n + 1,
                    "wall_s": round(wall, 3),
                    "fetch_and_parse_s": round(result.fetch_s, 3),
                    "derive_store_alerts_s": round(result.store_s, 3),
                    "targets": len(result.targets),
                    "hosts": len(result.hosts),
                    "vms": len(result.vms),
                    "samples_parsed": result.samples,
                    "samples_per_s": round(result.samples / wall),
                    "bytes": sum(t.bytes for t in result.targets),
                    "hosts_with_cpu_pct": sum(1 for h in result.hosts if h.get("cpu_pct") is not None),
                    "vms_with_cpu_pct": sum(1 for v in result.vms if v.get("cpu_pct") is not None),
                    "alert_events": len(result.alert_events),
                }
            )
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/advance", method="POST"))
    finally:
        server.terminate()
        server.join(10)
    steady = cycles[-1]
    # Every sample line on the pages is scanned; only the metrics the derivations use are parsed into samples.
    page_samples = args.hosts * (len(parse_samples(node)) + len(parse_samples(lv)))
    write_results(
        "bench_metrics",
        {
            "pages": source,
            "hosts": args.hosts,
            "vms_per_host": VMS_PER_HOST,
            "concurrency": args.concurrency,
            "target_cycle_s": 5.0,
            "cycle_s": steady["wall_s"],
            "samples_per_s": steady["samples_per_s"],
            "page_samples_scanned": page_samples,
            "page_samples_scanned_per_s": round(page_samples / steady["wall_s"]),
            "meets_target": steady["wall_s"] <= 5.0,
            "cycles": cycles,
            "parser": parser_comparison(node, lv),
            "peak_rss_mb": round(peak_rss_mb()),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


if __name__ == "__main__":
    main()
