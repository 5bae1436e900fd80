"""Prometheus text exposition → samples, and samples → the raw readings of a host or its VMs.

Two parsers give the same samples: `parse_reference` (prometheus_client's text parser, the definition) and
`parse_samples` (line-based, skips unwanted metric names before touching their labels). The collector uses the
fast one because benchmarks/bench_metrics.py shows it ≥ 2× faster with identical samples on real
node_exporter and libvirt-exporter pages (tests/metrics/test_parse.py checks the identity).
"""

from __future__ import annotations

import math
import re
from collections.abc import Container, Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, dict[str, str], float]

# --------------------------------------------------------------------------------------------- parsing

_LABEL_SIMPLE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"\\]*)"\s*,?')
_LABEL_ESCAPED = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_ESCAPES = re.compile(r"\\([\\n\"])")
_UNESCAPE = {"\\": "\\", "n": "\n", '"': '"'}


def parse_reference(text: str) -> list[Sample]:
    """Every sample as prometheus_client's parser reads it (values as float)."""
    return [
        (s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def parse_samples(text: str, wanted: Container[str] | None = None) -> list[Sample]:
    """Samples of the metric names in `wanted` (all when None), in page order.

    Handles the text format as exporters write it: `name{l="v",…} value [timestamp]`, comments, blank lines,
    escaped label values; a malformed line raises ValueError like the reference parser does.
    """
    out: list[Sample] = []
    append = out.append
    for line in text.split("\n"):
        if not line or line[0] == "#":
            continue
        brace = line.find("{")
        if brace == -1:
            parts = line.split()
            if not parts:
                continue
            name = parts[0]
            if wanted is not None and name not in wanted:
                continue
            if len(parts) < 2:
                raise ValueError(f"no value in line {line!r}")
            append((name, {}, _value(parts[1])))
            continue
        name = line[:brace].strip()
        if wanted is not None and name not in wanted:
            continue
        close = line.rfind("}")
        if close < brace:
            raise ValueError(f"unclosed labels in line {line!r}")
        rest = line[close + 1 :].split()
        if not rest:
            raise ValueError(f"no value in line {line!r}")
        append((name, _labels(line[brace + 1 : close]), _value(rest[0])))
    return out


def _value(text: str) -> float:
    if "_" in text:  # float() accepts 1_000, Prometheus does not
        raise ValueError(f"invalid value {text!r}")
    return float(text)


def _labels(body: str) -> dict[str, str]:
    if "\\" not in body:
        pairs = _LABEL_SIMPLE.findall(body)
        if pairs and _consumed(_LABEL_SIMPLE, body, len(pairs)):
            return dict(pairs)
    pairs = _LABEL_ESCAPED.findall(body)
    if not _consumed(_LABEL_ESCAPED, body, len(pairs)):
        raise ValueError(f"invalid labels {body!r}")
    return {k: _ESCAPES.sub(lambda m: _UNESCAPE[m.group(1)], v) for k, v in pairs}


def _consumed(pattern: re.Pattern[str], body: str, count: int) -> bool:
    """True when the matches cover the whole label body (nothing malformed between them)."""
    if not body.strip():
        return count == 0
    pos = 0
    for _ in range(count):
        m = pattern.match(body, pos)
        if m is None:
            return False
        pos = m.end()
    return not body[pos:].strip()


# --------------------------------------------------------------------------------------------- node_exporter

# docs/domain.md §7: network rates are summed over physical NICs only.
VIRTUAL_NIC_PREFIXES = (
    "lo",
    "virbr",
    "tap",
    "vnet",
    "veth",
    "br-",
    "docker",
    "ovs",
    "dummy",
    "tun",
    "flannel",
    "cali",
    "cilium",
)
NODE_METRICS = frozenset(
    {
        "node_cpu_seconds_total",
        "node_memory_MemTotal_bytes",
        "node_memory_MemAvailable_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_avail_bytes",
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        "node_load1",
        "node_load5",
        "node_load15",
        "node_boot_time_seconds",
        "node_time_seconds",
        "node_uname_info",
    }
)


def is_physical_nic(device: str) -> bool:
    return not device.startswith(VIRTUAL_NIC_PREFIXES)


@dataclass
class NodeReading:
    """One node_exporter scrape reduced to what the host metrics need (counters still raw)."""

    cpu_idle_s: float | None = None
    cpu_total_s: float | None = None
    cpu_count: int | None = None
    mem_total_bytes: float | None = None
    mem_available_bytes: float | None = None
    fs_size_bytes: float | None = None
    fs_avail_bytes: float | None = None
    net_rx_bytes: float | None = None
    net_tx_bytes: float | None = None
    load1: float | None = None
    load5: float | None = None
    load15: float | None = None
    boot_time: float | None = None
    node_time: float | None = None  # the host's clock at the scrape
    nodename: str | None = None


def node_reading(samples: Iterable[Sample]) -> NodeReading:
    r = NodeReading()
    idle = total = 0.0
    cpus: set[str] = set()
    rx = tx = 0.0
    saw_net = False
    root_fs: dict[str, dict[str, float]] = {}
    for name, labels, value in samples:
        if name == "node_cpu_seconds_total":
            cpus.add(labels.get("cpu", ""))
            total += value
            if labels.get("mode") == "idle":
                idle += value
        elif name == "node_memory_MemTotal_bytes":
            r.mem_total_bytes = value
        elif name == "node_memory_MemAvailable_bytes":
            r.mem_available_bytes = value
        elif name in ("node_filesystem_size_bytes", "node_filesystem_avail_bytes"):
            if labels.get("mountpoint") == "/":
                root_fs.setdefault(labels.get("device", ""), {})[name] = value
        elif name == "node_network_receive_bytes_total":
            if is_physical_nic(labels.get("device", "")):
                rx += value
                saw_net = True
        elif name == "node_network_transmit_bytes_total":
            if is_physical_nic(labels.get("device", "")):
                tx += value
                saw_net = True
        elif name == "node_load1":
            r.load1 = value
        elif name == "node_load5":
            r.load5 = value
        elif name == "node_load15":
            r.load15 = value
        elif name == "node_boot_time_seconds":
            r.boot_time = value
        elif name == "node_time_seconds":
            r.node_time = value
        elif name == "node_uname_info":
            r.nodename = labels.get("nodename")
    if cpus:
        r.cpu_idle_s, r.cpu_total_s, r.cpu_count = idle, total, len(cpus)
    if saw_net:
        r.net_rx_bytes, r.net_tx_bytes = rx, tx
    # "/" can be listed twice (rootfs and the real device): the real device is the one with a size.
    for device in sorted(root_fs, key=lambda d: (d == "rootfs", d)):
        fs = root_fs[device]
        if "node_filesystem_size_bytes" in fs and "node_filesystem_avail_bytes" in fs:
            r.fs_size_bytes = fs["node_filesystem_size_bytes"]
            r.fs_avail_bytes = fs["node_filesystem_avail_bytes"]
            break
    return r


# ---------------------------------------------------------------------------------------- libvirt exporter

# Label names for the Nova metadata differ between exporters: Debian's prometheus-libvirt-exporter puts
# name/uuid/flavor/project_name on every sample; the AlexZzz/inovex family puts instance_name/instance_id/
# flavor/project_name/project_uuid on libvirt_domain_info_meta (or every sample) keyed by `domain`.
_META_KEYS = {
    "instance_name": ("instance_name", "name"),
    "instance_uuid": ("instance_id", "uuid"),
    "flavor": ("flavor", "flavor_name"),
    "project_name": ("project_name",),
    "project_id": ("project_uuid", "project_id"),
    "user_name": ("user_name",),
}
LIBVIRT_METRICS = frozenset(
    {
        "libvirt_domain_info_meta",
        "libvirt_domain_info_virtual_cpus",
        "libvirt_domain_info_vcpu_current",
        "libvirt_domain_vcpu_current",
        "libvirt_domain_info_cpu_time_seconds_total",
        "libvirt_domain_info_memory_usage_bytes",
        "libvirt_domain_info_maximum_memory_bytes",
        "libvirt_domain_memory_stats_available_bytes",
        "libvirt_domain_memory_stats_usable_bytes",
        "libvirt_domain_memory_stats_unused_bytes",
        "libvirt_domain_block_stats_read_bytes_total",
        "libvirt_domain_block_stats_write_bytes_total",
        "libvirt_domain_block_stats_capacity_bytes",
        "libvirt_domain_block_stats_allocation",
        "libvirt_domain_block_stats_allocation_bytes",
        "libvirt_domain_interface_stats_receive_bytes_total",
        "libvirt_domain_interface_stats_transmit_bytes_total",
        "libvirt_domain_state_code",
        "libvirt_up",
    }
)
# metric name → (reading attribute, summed over devices?)
_LIBVIRT_FIELDS = {
    "libvirt_domain_info_virtual_cpus": ("vcpus", False),
    "libvirt_domain_info_vcpu_current": ("vcpus", False),
    "libvirt_domain_vcpu_current": ("vcpus", False),
    "libvirt_domain_info_cpu_time_seconds_total": ("cpu_time_s", False),
    "libvirt_domain_info_memory_usage_bytes": ("mem_bytes", False),
    "libvirt_domain_info_maximum_memory_bytes": ("mem_max_bytes", False),
    "libvirt_domain_memory_stats_available_bytes": ("mem_available_bytes", False),
    "libvirt_domain_memory_stats_usable_bytes": ("mem_usable_bytes", False),
    "libvirt_domain_memory_stats_unused_bytes": ("mem_unused_bytes", False),
    "libvirt_domain_block_stats_read_bytes_total": ("disk_read_bytes", True),
    "libvirt_domain_block_stats_write_bytes_total": ("disk_write_bytes", True),
    "libvirt_domain_block_stats_capacity_bytes": ("block_capacity_bytes", True),
    "libvirt_domain_block_stats_allocation": ("block_allocation_bytes", True),
    "libvirt_domain_block_stats_allocation_bytes": ("block_allocation_bytes", True),
    "libvirt_domain_interface_stats_receive_bytes_total": ("net_rx_bytes", True),
    "libvirt_domain_interface_stats_transmit_bytes_total": ("net_tx_bytes", True),
    "libvirt_domain_state_code": ("state_code", False),
}


@dataclass
class DomainReading:
    """One libvirt domain from one scrape: Nova identity from the labels, counters still raw."""

    domain: str
    instance_uuid: str | None = None
    instance_name: str | None = None
    flavor: str | None = None
    project_name: str | None = None
    project_id: str | None = None
    user_name: str | None = None
    vcpus: float | None = None
    cpu_time_s: float | None = None
    mem_bytes: float | None = None
    mem_max_bytes: float | None = None
    mem_available_bytes: float | None = None
    mem_usable_bytes: float | None = None
    mem_unused_bytes: float | None = None
    disk_read_bytes: float | None = None
    disk_write_bytes: float | None = None
    block_capacity_bytes: float | None = None
    block_allocation_bytes: float | None = None
    net_rx_bytes: float | None = None
    net_tx_bytes: float | None = None
    state_code: float | None = None
    _seen_meta: set[str] = field(default_factory=set, repr=False)


def libvirt_readings(samples: Iterable[Sample]) -> tuple[list[DomainReading], bool | None]:
    """Per-domain readings (page order) and libvirt_up (None when the page does not say)."""
    domains: dict[str, DomainReading] = {}
    up: bool | None = None
    for name, labels, value in samples:
        if name == "libvirt_up":
            up = value == 1
            continue
        key = labels.get("domain")
        if key is None:
            continue
        reading = domains.get(key)
        if reading is None:
            reading = domains[key] = DomainReading(domain=key)
        _take_meta(reading, labels)
        spec = _LIBVIRT_FIELDS.get(name)
        if spec is None or math.isnan(value):
            continue
        attr, summed = spec
        if summed:
            setattr(reading, attr, (getattr(reading, attr) or 0.0) + value)
        else:
            setattr(reading, attr, value)
    return list(domains.values()), up


def _take_meta(reading: DomainReading, labels: dict[str, str]) -> None:
    for attr, keys in _META_KEYS.items():
        if attr in reading._seen_meta:
            continue
        for key in keys:
            value = labels.get(key)
            if value:
                setattr(reading, attr, value)
                reading._seen_meta.add(attr)
                break
