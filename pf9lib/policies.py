"""Snapshot policies and the rules that assign them to volumes (docs/domain.md §4).

The policy catalogue: the named policies every cloud knows (`daily_N`, `monthly_1st`, `monthly_15th`) plus
any defined in `<data>/snapshots/policies.yaml`:

    policies:
      - name: hourly_critical
        schedule: "0 * * * *"     # cron (UTC), or daily | monthly_1st | monthly_15th
        retention: 24             # automatic snapshots kept per volume (a volume's retention_<policy> wins)
        min_retention_days: 1     # never prune one younger than this
        sla_hours: 3              # compliant while the newest is younger than this

The assignment rules, `<data>/snapshots/rules.yaml` (YAML, so JSON too; a list of rules or `rules:` holding
one), are tried in order of `priority` (lower first; then file order) and the first matching rule decides a
volume's metadata. An exclusion (`auto_snapshot: false`) wins over every other rule, wherever it stands:
a catch-all (`match: {}` matches every volume) can never enrol a volume an exclusion names.

    rules:
      - name: no-scratch
        match: {volume_name_prefix: scratch-}
        auto_snapshot: false
      - name: prod-daily
        priority: 10
        match: {tenant_name: [shop-prod, erp-prod], min_size_gb: 10}
        policies: [daily_7, monthly_1st]
        retention: {monthly_1st: 6}
      - name: everything-else
        priority: 100
        match: {}
        policies: [daily_3]

Match keys (all must hold): volume_type, domain_name, tenant_name (a name or a list), volume_name_prefix,
volume_name_contains, bootable, min_size_gb, max_size_gb, metadata_equals {key: value},
metadata_contains {key: substring}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from pf9lib.errors import Pf9Error

DAILY = re.compile(r"^daily_(\d{1,3})$")
MATCH_KEYS = (
    "volume_type",
    "domain_name",
    "tenant_name",
    "volume_name_prefix",
    "volume_name_contains",
    "bootable",
    "min_size_gb",
    "max_size_gb",
    "metadata_equals",
    "metadata_contains",
)
RULE_KEYS = {"name", "priority", "match", "policies", "auto_snapshot", "retention"}
POLICY_KEYS = ("auto_snapshot", "snapshot_policies")  # plus retention_<policy>


@dataclass(frozen=True)
class Policy:
    name: str
    schedule: str  # "daily", "monthly_1st", "monthly_15th" or a cron expression (UTC)
    retention: int
    min_retention_days: int = 0
    sla_hours: float = 48.0

    def due(self, now: datetime) -> bool:
        """Whether a run at `now` (UTC) takes this policy's snapshot today (or this hour, for a cron)."""
        if self.schedule == "daily":
            return True
        if self.schedule in ("monthly_1st", "monthly_15th"):
            return now.day == (1 if self.schedule == "monthly_1st" else 15)
        from pf9lib.scheduling import last_fire_time

        fired = last_fire_time(self.schedule, now, timedelta(days=1))
        return fired is not None and fired.date() == now.date()

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.sla_hours)


def named_policy(name: str) -> Policy | None:
    """The built-in policies: daily_N keeps N (SLA 2 days: a day's interval plus a day's grace);
    monthly_1st / monthly_15th keep 3 (SLA 33 days)."""
    found = DAILY.match(name)
    if found:
        return Policy(name, "daily", int(found.group(1)) or 1, 0, 48.0)
    if name in ("monthly_1st", "monthly_15th"):
        return Policy(name, name, 3, 0, 33 * 24.0)
    return None


def snapshots_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / "snapshots"


def load_policies(data_dir: Path | str) -> dict[str, Policy]:
    """User policies of `<data>/snapshots/policies.yaml` (none when the file does not exist)."""
    path = snapshots_dir(data_dir) / "policies.yaml"
    if not path.exists():
        return {}
    items = _yaml_list(path, "policies")
    out = {}
    for n, item in enumerate(items, 1):
        where = f"{path}: policy {n}"
        if not isinstance(item, dict) or not item.get("name") or not item.get("schedule"):
            raise Pf9Error(f"{where} needs a name and a schedule (cron, daily, monthly_1st or monthly_15th)")
        schedule = str(item["schedule"])
        if schedule not in ("daily", "monthly_1st", "monthly_15th"):
            from pf9lib.scheduling import parse_cron

            parse_cron(schedule)
        try:
            policy = Policy(
                str(item["name"]),
                schedule,
                int(item.get("retention", 7)),
                int(item.get("min_retention_days", 0)),
                float(item.get("sla_hours", 48)),
            )
        except (TypeError, ValueError):
            raise Pf9Error(f"{where}: retention, min_retention_days and sla_hours are numbers") from None
        if policy.retention < 1:
            raise Pf9Error(f"{where}: retention must keep at least 1 snapshot")
        out[policy.name] = policy
    return out


def policy(data_dir: Path | str, name: str, catalogue: dict[str, Policy] | None = None) -> Policy | None:
    """A policy by name: the workspace's own first, then the built-in ones; None when unknown."""
    catalogue = load_policies(data_dir) if catalogue is None else catalogue
    return catalogue.get(name) or named_policy(name)


# --------------------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    name: str
    priority: int
    order: int
    match: dict[str, Any]
    policies: tuple[str, ...] = ()
    auto_snapshot: bool = True
    retention: dict[str, int] = field(default_factory=dict)

    @property
    def is_exclusion(self) -> bool:
        return not self.auto_snapshot


def _yaml_list(path: Path, key: str) -> list:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise Pf9Error(f"{path} is not valid YAML or JSON ({str(exc).splitlines()[0]}): fix it") from None
    if isinstance(data, dict):
        data = data.get(key)
    if data is None:
        return []
    if not isinstance(data, list):
        raise Pf9Error(f"{path}: the top level is a list of {key}, or `{key}:` holding that list")
    return data


def load_rules(path: Path | str, catalogue: dict[str, Policy] | None = None) -> list[Rule]:
    """The rules of a rules file, validated (one line naming the first problem), in the order they apply."""
    path = Path(path)
    if not path.exists():
        raise Pf9Error(
            f"no rules file at {path}: write one (see `pf9wb snapshots assign --help`) or pass --rules"
        )
    catalogue = catalogue or {}
    rules = []
    for n, item in enumerate(_yaml_list(path, "rules"), 1):
        where = f"{path}: rule {n}"
        if not isinstance(item, dict):
            raise Pf9Error(f"{where} is not a mapping of name, match, policies …")
        unknown = set(item) - RULE_KEYS
        if unknown:
            raise Pf9Error(
                f"{where} has unknown key(s) {', '.join(sorted(unknown))}: use {', '.join(sorted(RULE_KEYS))}"
            )
        match = item.get("match") or {}
        bad = set(match) - set(MATCH_KEYS)
        if not isinstance(match, dict) or bad:
            raise Pf9Error(
                f"{where}: unknown match key(s) {', '.join(sorted(bad))}; use {', '.join(MATCH_KEYS)}"
            )
        auto = item.get("auto_snapshot", True)
        if not isinstance(auto, bool):
            raise Pf9Error(f"{where}: auto_snapshot is true or false")
        names = item.get("policies") or []
        names = [names] if isinstance(names, str) else list(names)
        for name in names:
            if name not in catalogue and named_policy(str(name)) is None:
                raise Pf9Error(
                    f"{where}: unknown policy {name!r}: "
                    "use daily_N, monthly_1st, monthly_15th or one of policies.yaml"
                )
        if auto and not names:
            raise Pf9Error(f"{where}: an enrolling rule names its policies (or says auto_snapshot: false)")
        retention = item.get("retention") or {}
        if not isinstance(retention, dict) or not all(
            isinstance(v, int) and v >= 1 for v in retention.values()
        ):
            raise Pf9Error(f"{where}: retention is {{policy: count}} with counts of at least 1")
        rules.append(
            Rule(
                str(item.get("name") or f"rule {n}"),
                int(item.get("priority", 50)),
                n,
                match,
                tuple(map(str, names)),
                auto,
                {str(k): int(v) for k, v in retention.items()},
            )
        )
    return sorted(rules, key=lambda r: (r.priority, r.order))


def matches(rule: Rule, volume: dict[str, Any]) -> bool:
    """Whether every match key of the rule holds for the volume (a row of the `volumes` view)."""
    m, name = rule.match, volume.get("name") or ""
    metadata = volume.get("metadata") or {}
    checks = [
        ("volume_type", lambda v: volume.get("volume_type") == v),
        ("domain_name", lambda v: volume.get("domain_name") == v),
        ("tenant_name", lambda v: volume.get("project_name") in ([v] if isinstance(v, str) else list(v))),
        ("volume_name_prefix", lambda v: name.startswith(str(v))),
        ("volume_name_contains", lambda v: str(v) in name),
        ("bootable", lambda v: bool(volume.get("bootable")) == bool(v)),
        ("min_size_gb", lambda v: (volume.get("size_gb") or 0) >= v),
        ("max_size_gb", lambda v: (volume.get("size_gb") or 0) <= v),
        ("metadata_equals", lambda v: all(str(metadata.get(k)) == str(x) for k, x in v.items())),
        ("metadata_contains", lambda v: all(str(x) in str(metadata.get(k, "")) for k, x in v.items())),
    ]
    return all(test(m[key]) for key, test in checks if key in m)


def decide(rules: list[Rule], volume: dict[str, Any]) -> Rule | None:
    """The rule that decides a volume: a matching exclusion first, else the first matching rule."""
    for rule in rules:
        if rule.is_exclusion and matches(rule, volume):
            return rule
    return next((r for r in rules if not r.is_exclusion and matches(r, volume)), None)


def desired_metadata(rule: Rule | None, catalogue: dict[str, Policy]) -> dict[str, str] | None:
    """The policy metadata keys a rule gives a volume (None: no rule decides it, leave it alone)."""
    if rule is None:
        return None
    if rule.is_exclusion:
        return {"auto_snapshot": "false"}
    out = {"auto_snapshot": "true", "snapshot_policies": ",".join(rule.policies)}
    for name in rule.policies:
        keep = rule.retention.get(name) or (catalogue.get(name) or named_policy(name)).retention
        out[f"retention_{name}"] = str(keep)
    return out


def policy_keys(metadata: dict[str, Any]) -> dict[str, str]:
    """The policy part of a volume's metadata (what assignment owns)."""
    return {k: str(v) for k, v in metadata.items() if k in POLICY_KEYS or k.startswith("retention_")}
