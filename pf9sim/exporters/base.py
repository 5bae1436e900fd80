"""Shared parts of the simulated exporters: Go-style float formatting, the text format, smooth load curves.

Load curves are closed-form (a level plus daily and weekly sine swings), so every counter is an exact integral
over time: a deterministic function of (seed, host or server, simulated clock) that grows with the clock.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from pf9sim.state import EPOCH, Estate

DAY, WEEK = 86400.0, 7 * 86400.0
GIB, MIB = 1024**3, 1024**2
CPU_MODES = (
    ("idle", 0.0),
    ("iowait", 0.06),
    ("irq", 0.0),
    ("nice", 0.01),
    ("softirq", 0.05),
    ("steal", 0.02),
    ("system", 0.22),
    ("user", 0.64),
)  # busy time is split over the non-idle modes by these shares

Sample = tuple[dict[str, str], float]


# -- helpers -------------------------------------------------------------------------------------
def frac(*parts: Any) -> float:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def go_float(value: float) -> str:
    """A float as Go's strconv.FormatFloat(v, 'g', -1, 64) writes it (as the Go client's text format does)."""
    v = float(value)
    if v == 0:
        return "0"
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    sign = "-" if v < 0 else ""
    t = Decimal(repr(abs(v))).as_tuple()  # repr: the shortest digits that round-trip, as Go's -1 precision
    digits = "".join(map(str, t.digits))
    point = len(digits) + t.exponent  # how many digits stand before the decimal point
    digits = digits.rstrip("0") or "0"
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(families: Iterable[tuple[str, str, str, list[Sample]]]) -> str:
    """Families sorted by name, series by label values, labels by name: the Go client's order."""
    lines = []
    for name, kind, help_text, samples in sorted(families, key=lambda f: f[0]):
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        rows = []
        for labels, value in samples:
            keys = sorted(labels)
            text = ",".join(f'{k}="{_escape(labels[k])}"' for k in keys)
            rows.append(([labels[k] for k in keys], f"{name}{{{text}}}" if text else name, value))
        for _, series, value in sorted(rows, key=lambda r: r[0]):
            lines.append(f"{series} {go_float(value)}")
    return "\n".join(lines) + "\n"


def wave(t0: float, t1: float, level: float, swing: float, period: float, phase: float) -> float:
    """Integral over [t0, t1] of level + swing * sin(2 pi s / period + phase)."""
    w = 2 * math.pi / period
    return level * (t1 - t0) - swing / w * (math.cos(w * t1 + phase) - math.cos(w * t0 + phase))


def now_ts(est: Estate) -> float:
    return est.clock.timestamp()


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=EPOCH.tzinfo).timestamp()


def find_hypervisor(est: Estate, name: str) -> dict[str, Any]:
    """A hypervisor by hypervisor_hostname or by its service host name; KeyError when there is none."""
    for hyp in est.objects["hypervisors"].values():
        if name in (hyp["hypervisor_hostname"], hyp["service"]["host"]):
            return hyp
    raise KeyError(f"no hypervisor named {name!r}")


def running_servers(est: Estate, hyp: dict[str, Any]) -> list[dict[str, Any]]:
    name = hyp["hypervisor_hostname"]
    return [
        s
        for s in est.all("servers", hyp["_region"])
        if s["status"] == "ACTIVE" and s.get("OS-EXT-SRV-ATTR:hypervisor_hostname") == name
    ]


# -- load curves ---------------------------------------------------------------------------------
def host_load(est: Estate, hyp: dict[str, Any]) -> tuple[float, float, float, float]:
    """(level, daily swing, weekly swing, phase) of a host's CPU busy fraction, within [0.02, 0.98].

    The level is the generator's "_cpu_level" (from the VMs placed on the host); estates built otherwise get
    one from the host's name. Hosts that are down or disabled idle."""
    name = hyp["hypervisor_hostname"]
    if hyp["status"] != "enabled" or hyp["state"] != "up":
        return 0.02, 0.0, 0.0, 0.0
    level = hyp.get("_cpu_level")
    if level is None:
        level = 0.1 + 0.5 * frac(est.seed, name, "level")
    level = min(0.93, max(0.03, float(level)))
    room = min(level - 0.02, 0.98 - level)
    daily = min(0.14, room * 0.75) * (0.5 + 0.5 * frac(est.seed, name, "swing"))
    weekly = min(0.04, room - daily)
    return level, daily, weekly, 2 * math.pi * frac(est.seed, name, "phase")


def host_busy_seconds(est: Estate, hyp: dict[str, Any], t0: float, t1: float) -> float:
    """Busy CPU-seconds of one average CPU of the host over [t0, t1]."""
    level, daily, weekly, phase = host_load(est, hyp)
    return wave(t0, t1, level, daily, DAY, phase) + wave(t0, t1, 0.0, weekly, WEEK, phase / 2)


def host_cpu_percent(est: Estate, hyp: dict[str, Any], t: float, window: float = 300.0) -> float:
    """The host's CPU % over the `window` seconds before t, as a scraper computes it from the counters."""
    return 100 * host_busy_seconds(est, hyp, t - window, t) / window


def vm_load(est: Estate, server: dict[str, Any]) -> tuple[float, float, float]:
    """(level, swing, phase) of a VM's CPU busy fraction; about one VM in twelve runs hot (> 85 %)."""
    sid = server["id"]
    if frac(est.seed, sid, "hot") < 0.08:
        level = 0.88 + 0.08 * frac(est.seed, sid, "level")
    else:
        level = 0.03 + 0.55 * frac(est.seed, sid, "level")
    swing = min(0.1, level - 0.015, 0.99 - level)
    return level, swing, 2 * math.pi * frac(est.seed, sid, "phase")


def boot_time(est: Estate, hyp: dict[str, Any]) -> float:
    """Hosts were last rebooted 30 to 200 days before the estate's epoch."""
    return EPOCH.timestamp() - DAY * (30 + 170 * frac(est.seed, hyp["hypervisor_hostname"], "boot"))


def launched(server: dict[str, Any]) -> float:
    """When the guest last started (its counters run from there): launched_at, else created."""
    return parse_time(server.get("OS-SRV-USG:launched_at")) or parse_time(server.get("created")) or 0.0
