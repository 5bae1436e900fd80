"""Real exporter processes for the metrics tests: Debian's prometheus-node-exporter,
prometheus-libvirt-exporter (over libvirt's test driver with Nova metadata) and prometheus. A test that needs
one skips, naming the apt line that installs it, only when its binary is absent (CI installs them)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NODE_EXPORTER = "prometheus-node-exporter"
LIBVIRT_EXPORTER = "prometheus-libvirt-exporter"
PROMETHEUS = "prometheus"
APT = "apt-get install -y --no-install-recommends"

# Two running Nova instances and one shut-off domain (libvirt's test driver runs them in-process).
NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"
# domain, uuid, instance name, flavor, project, project uuid, vcpus, memory MiB, running
DOMAINS = [
    (
        "instance-0000000a",
        "4f0c33a2-1f0d-4b7e-9a51-0c7f3b2c0a01",
        "web-01",
        "m1.small",
        "acme",
        "p-a",
        2,
        2048,
        True,
    ),
    (
        "instance-0000000b",
        "9b5e7d10-2c44-4c1e-8f0a-5d2e6c3b1f02",
        "db-01",
        "m1.large",
        "globex",
        "p-g",
        1,
        4096,
        True,
    ),
    (
        "instance-0000000c",
        "c1d2e3f4-0000-4000-8000-000000000003",
        "old-01",
        "m1.tiny",
        "acme",
        "p-a",
        1,
        512,
        False,
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed: {APT} {package}")
    return path


@dataclass
class Exporter:
    port: int
    proc: subprocess.Popen
    workdir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _start(args: list[str], port: int, workdir: Path, ready_path: str = "/metrics") -> Exporter:
    log = open(workdir / f"{Path(args[0]).name}.log", "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    exporter = Exporter(port, proc, workdir)
    try:
        wait_http(f"http://127.0.0.1:{port}{ready_path}", proc=proc)
    except Exception:
        exporter.stop()
        raise
    return exporter


def start_node_exporter(workdir: Path, textfile_dir: Path) -> Exporter:
    binary = need(NODE_EXPORTER, "prometheus-node-exporter")
    textfile_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        binary,
        f"--web.listen-address=127.0.0.1:{port}",
        "--no-collector.systemd",  # no systemd here: without this every scrape logs an error
        f"--collector.textfile.directory={textfile_dir}",
    ]
    return _start(args, port, workdir)


def libvirt_node_xml() -> str:
    domains = []
    for dom, uuid, name, flavor, project, project_id, vcpus, mem_mib, running in DOMAINS:
        domains.append(f"""
  <domain type="test" xmlns:test="http://libvirt.org/schemas/domain/test/1.0">
    <name>{dom}</name>
    <uuid>{uuid}</uuid>
    <metadata>
      <nova:instance xmlns:nova="{NOVA_NS}">
        <nova:package version="27.0.0"/>
        <nova:name>{name}</nova:name>
        <nova:creationTime>2026-01-01 00:00:00</nova:creationTime>
        <nova:flavor name="{flavor}">
          <nova:memory>{mem_mib}</nova:memory><nova:disk>20</nova:disk><nova:swap>0</nova:swap>
          <nova:ephemeral>0</nova:ephemeral><nova:vcpus>{vcpus}</nova:vcpus>
        </nova:flavor>
        <nova:owner>
          <nova:user uuid="u-alice">alice</nova:user>
          <nova:project uuid="{project_id}">{project}</nova:project>
        </nova:owner>
      </nova:instance>
    </metadata>
    <memory>{mem_mib * 1024}</memory>
    <currentMemory>{mem_mib * 1024}</currentMemory>
    <vcpu>{vcpus}</vcpu>
    <os><type arch="x86_64">hvm</type></os>
    <on_poweroff>destroy</on_poweroff>
    <devices>
      <disk type="file" device="disk"><source file="/var/lib/nova/instances/{uuid}/disk"/>
        <target dev="vda" bus="virtio"/></disk>
      <interface type="bridge"><mac address="fa:16:3e:00:00:{len(domains):02x}"/><source bridge="br-int"/>
        <target dev="tap{uuid[:11]}"/></interface>
    </devices>{"" if running else chr(10) + "    <test:runstate>5</test:runstate>"}
  </domain>""")
    cpu = "<cpu><mhz>2400</mhz><model>x86_64</model><active>8</active><nodes>1</nodes><sockets>1</sockets>"
    cpu += "<cores>8</cores><threads>1</threads></cpu>"
    return f"<node>\n  {cpu}\n  <memory>33554432</memory>{''.join(domains)}\n</node>\n"


def start_libvirt_exporter(workdir: Path) -> Exporter:
    binary = need(LIBVIRT_EXPORTER, "prometheus-libvirt-exporter libvirt-clients libvirt-daemon")
    node = workdir / "node.xml"
    node.write_text(libvirt_node_xml())  # the shut-off domain has <test:runstate>5</test:runstate>
    port = free_port()
    args = [
        binary,
        f"--web.listen-address=127.0.0.1:{port}",
        f"--libvirt.uri=test://{node}",
        "--libvirt.export-nova-metadata",
    ]
    return _start(args, port, workdir)


@pytest.fixture(scope="module")
def node_exporter(tmp_path_factory) -> Iterator[Exporter]:
    workdir = tmp_path_factory.mktemp("node-exporter")
    exporter = start_node_exporter(workdir, workdir / "textfile")
    yield exporter
    exporter.stop()


@pytest.fixture(scope="module")
def libvirt_exporter(tmp_path_factory) -> Iterator[Exporter]:
    exporter = start_libvirt_exporter(tmp_path_factory.mktemp("libvirt-exporter"))
    yield exporter
    exporter.stop()
