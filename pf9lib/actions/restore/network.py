"""The network plan of a restore: one entry per original port — the network (the original's, or the
override), the subnet, the fixed address to ask for under the IP strategy (None: a new one) and the security
groups — and the warnings of what differs. NEW_IPS asks for a new address on the original subnet;
TRY_SAME_IPS keeps an address that is free (in REPLACE mode, held by the VM being replaced) and otherwise
falls back with a warning; SAME_IPS_OR_FAIL and MANUAL_IP refuse an address that is taken or outside the
network."""

from __future__ import annotations

from typing import Any

from pf9lib.actions.restore import cloud
from pf9lib.errors import Pf9Error


def network_plan(w, ports, opts, live: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """One entry per original port: network, subnet, the address to ask for (None: a new one), security
    groups; with the warnings (TRY_SAME_IPS falling back) — or a Pf9Error (SAME_IPS_OR_FAIL, MANUAL_IP)."""
    strategy, ips, mode = opts.ip_strategy, list(opts.ips), opts.mode
    override, groups = opts.network, list(opts.security_groups)
    project = live["tenant_id"]
    if strategy == "MANUAL_IP" and len(ips) != len(ports):
        had = ", ".join(_ips(p) for p in ports) or "none"
        raise Pf9Error(
            f"MANUAL_IP needs one address per port: the VM has {len(ports)} ({had}), {len(ips)} given"
        )
    target = cloud.network(w, override, project) if override else None
    group_ids = cloud.security_groups(w, groups, project) if groups else None
    entries, warnings = [], []
    for i, port in enumerate(ports):
        net = target or {"id": port["network_id"]}
        subnets = cloud.subnets(w, net["id"])
        net_name = target["name"] if target else _network_name(w, port["network_id"])
        first = (port.get("fixed_ips") or [{}])[0]
        want = ips[i] if strategy == "MANUAL_IP" else first.get("ip_address") if "SAME" in strategy else None
        subnet = first.get("subnet_id") if net["id"] == port["network_id"] else None
        if want:
            found = cloud.subnet_for(subnets, want)
            problem = None if found else f"{want} is not in a subnet of network {net_name}"
            if found:
                holders = [
                    h
                    for h in cloud.ip_holders(w, net["id"], want)
                    if not (mode == "REPLACE" and h.get("device_id") == live["id"])
                ]
                if holders:
                    h = holders[0]
                    problem = f"{want} is in use by port {h['id']} ({h.get('device_owner') or 'unbound'})"
                subnet = found["id"]
            if problem and strategy == "TRY_SAME_IPS":
                warnings.append(f"{problem}: port {i + 1} gets a new address on {net_name}")
                want = None
            elif problem:
                raise Pf9Error(f"{problem}: choose another address or the TRY_SAME_IPS or NEW_IPS strategy")
        elif first.get("ip_address"):
            warnings.append(f"port {i + 1} gets a new address on {net_name} (was {first['ip_address']})")
        entries.append(
            {
                "index": i,
                "original_port": port["id"],
                "original_ips": [f["ip_address"] for f in port.get("fixed_ips") or []],
                "network_id": net["id"],
                "network": net_name,
                "subnet_id": subnet,
                "ip": want,
                "security_groups": list(port.get("security_groups") or [])
                if group_ids is None
                else group_ids,
                "floating_ips": _floating(w, port, mode, i, warnings),
            }
        )
    return entries, warnings


def _floating(w, port: dict[str, Any], mode: str, i: int, warnings: list[str]) -> list[dict[str, str]]:
    """The floating IPs on an original port: a REPLACE moves them to the new port; a NEW restore leaves them
    with the original (and says so)."""
    found = cloud.floating_ips(w, port["id"])
    if found and mode == "NEW":
        held = ", ".join(f["floating_ip_address"] for f in found)
        warnings.append(f"floating IP {held} stays with the original (port {i + 1} of the copy has none)")
        return []
    return [{"id": f["id"], "address": f["floating_ip_address"]} for f in found]


def _ips(port: dict[str, Any]) -> str:
    return "/".join(f["ip_address"] for f in port.get("fixed_ips") or []) or port["id"]


def _network_name(w, network_id: str) -> str:
    body = w.request("GET", "network", f"/networks/{network_id}", f"network {network_id}", ok_missing=True)
    return (body.get("network") or {}).get("name") or network_id
