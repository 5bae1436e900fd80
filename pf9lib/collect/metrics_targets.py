"""Which exporter pages to scrape: hosts from the hypervisor inventory, PF9_HOSTS or an explicit list.

Every host gives two targets, node_exporter (default :9388, as Platform9 serves it) and the libvirt exporter
(default :9177). A URL template (`{kind}`, `{hostname}`, `{address}`, `{port}`) replaces the default
`http://{address}:{port}/metrics`, e.g. for the simulated cloud's exporter pages. PF9_HOST_MAP (`ip:name`)
gives display names.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from string import Formatter

from pf9lib.errors import ConfigError

NODE, LIBVIRT = "node", "libvirt"
KINDS = (NODE, LIBVIRT)
DEFAULT_PORTS = {NODE: 9388, LIBVIRT: 9177}
DEFAULT_TEMPLATE = "http://{address}:{port}/metrics"
_TEMPLATE_FIELDS = {"kind", "hostname", "address", "port"}


@dataclass(frozen=True)
class Host:
    """A machine to scrape: its display name, its address, and the Nova hypervisor it is (when known)."""

    name: str
    address: str
    hypervisor_hostname: str | None = None


@dataclass(frozen=True)
class Target:
    """One exporter page of one host."""

    kind: str  # node | libvirt
    host: str  # display name (PF9_HOST_MAP, else the hypervisor hostname, else the address)
    address: str
    url: str
    hypervisor_hostname: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.host}"


def hosts_from_list(entries: Iterable[str], host_map: Mapping[str, str] | None = None) -> list[Host]:
    """Hosts from PF9_HOSTS or a command-line list (addresses or hostnames); PF9_HOST_MAP names them."""
    host_map = host_map or {}
    hosts = []
    for entry in entries:
        address = entry.strip()
        if not address:
            continue
        name = host_map.get(_canonical_ip(address) or address, address)
        hosts.append(Host(name=name, address=address, hypervisor_hostname=None))
    return _unique(hosts)


def hosts_from_inventory(store, host_map: Mapping[str, str] | None = None) -> list[Host]:
    """Hosts from the hypervisors in the store (current state): address = host_ip, else the hostname."""
    host_map = host_map or {}
    df = store.sql(
        "SELECT DISTINCT name AS hostname, host_ip FROM hypervisors WHERE name IS NOT NULL ORDER BY 1"
    )
    hosts = []
    for row in df.itertuples(index=False):
        address = row.host_ip or row.hostname
        ip = _canonical_ip(row.host_ip) if row.host_ip else None
        name = host_map.get(ip, row.hostname) if ip else row.hostname
        hosts.append(Host(name=name, address=address, hypervisor_hostname=row.hostname))
    return _unique(hosts)


def build_targets(
    hosts: Iterable[Host],
    ports: Mapping[str, int] | None = None,
    template: str | None = None,
    kinds: Iterable[str] = KINDS,
) -> list[Target]:
    """Two targets per host (node, libvirt), URLs from the template or `http://{address}:{port}/metrics`."""
    ports = {**DEFAULT_PORTS, **(ports or {})}
    template = template or DEFAULT_TEMPLATE
    check_template(template)
    kinds = tuple(kinds)
    for kind in kinds:
        if kind not in KINDS:
            raise ConfigError(f"unknown exporter kind {kind!r}: use {' or '.join(KINDS)}")
    targets = []
    for host in hosts:
        for kind in kinds:
            address = f"[{host.address}]" if _is_ipv6(host.address) else host.address
            url = template.format(
                kind=kind,
                hostname=host.hypervisor_hostname or host.address,
                address=address,
                port=ports[kind],
            )
            targets.append(Target(kind, host.name, host.address, url, host.hypervisor_hostname))
    return targets


def check_template(template: str) -> None:
    try:
        names = {name for _, name, _, _ in Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"target template {template!r} is malformed ({exc}); see --help") from None
    unknown = names - _TEMPLATE_FIELDS
    if unknown:
        raise ConfigError(
            f"target template {template!r} uses {sorted(unknown)}; "
            f"the fields are {{{'}, {'.join(sorted(_TEMPLATE_FIELDS))}}}"
        )
    if not template.startswith(("http://", "https://")):
        raise ConfigError(f"target template {template!r} is not an http(s) URL")


def _canonical_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None


def _is_ipv6(text: str) -> bool:
    ip = _canonical_ip(text)
    return ip is not None and ":" in ip


def _unique(hosts: list[Host]) -> list[Host]:
    seen: set[str] = set()
    out = []
    for host in hosts:
        if host.name in seen:
            continue
        seen.add(host.name)
        out.append(host)
    return out
