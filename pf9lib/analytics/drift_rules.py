"""Drift rules as data: the 24 built-in rules (docs/domain.md §3), user rules, the ignore file, rule changes.

Files an operator edits, both under `<data_dir>/drift/` and both optional:

``rules.yaml`` — extra rules on any type and any column of that type (pf9lib.resources), e.g.::

    rules:
      - type: servers            # a resource type
        field: key_name          # one of the type's columns, or name / project_id / project_name / domain_*
        severity: warning        # critical | warning | info
        meaning: key pair replaced    # optional, shown beside each event
        id: servers.key_name          # optional, default TYPE.FIELD; must not collide with another rule
        enabled: true                 # optional, default true
        trigger: changed_or_cleared   # optional: changed (a → b), cleared (a → empty) or both (default)

``ignore`` — known noise, one pattern per line, like driftctl's ``.driftignore``::

    # comment
    ports.*.status                 # every port's status changes
    servers.ci-runner-*.vm_state   # the id part matches the object's id or its name
    *.3f2a…c1.*                    # everything about one object
    !ports.4b1e….status            # `!` re-includes what an earlier line ignored (the last match wins)
    servers.*.deleted              # deletions are the field `deleted`

Patterns use shell wildcards (``*``, ``?``, ``[...]``); a literal dot inside the id part is written ``\\.``;
``#`` starts a comment at the beginning of a line or after a space.
Exactly three parts are required: a line that is not ``TYPE.ID-OR-GLOB.FIELD``, names an unknown type, or a
field the type does not have is an error (nothing is evaluated until it is fixed).

Enabling, disabling and re-grading a rule are appended as ``drift_rule_changes`` events (who, when, note); the
effective rule set is the built-ins plus the user rules with the newest change of each rule applied. Every
type that has rules also has a deletion rule ``<type>.deleted``: its severity is the type's status-rule
severity (as graded now) or, without a status rule, the highest severity of the type's rules, unless graded
itself.
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from pf9lib import identity
from pf9lib.errors import Pf9Error
from pf9lib.identity import Identity
from pf9lib.resources import RESOURCES, type_columns
from pf9lib.store.events import append_events

SEVERITIES = ("critical", "warning", "info")
SEVERITY_RANK = {"critical": 3, "warning": 2, "info": 1}
DELETED_FIELD = "deleted"
# Columns every history row has besides the type's own; a rule may watch them too (a rename, a move).
ENRICHMENT_COLUMNS = ("name", "project_id", "project_name", "domain_id", "domain_name")

# docs/domain.md §3: (rule id, type, column in pf9lib.resources, severity, meaning, trigger). The id keeps the
# domain's field name ("volumes.size"); the column is where the normalized value lives ("size_gb"). The
# trigger says which moves of the value fire (TRIGGERS); a first assignment (empty → a value) never does.
BUILTIN_RULES: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("servers.flavor", "servers", "flavor_name", "critical", "resized (possibly unauthorised)", "changed"),
    ("servers.status", "servers", "status", "warning", "status changed", "changed"),
    ("servers.vm_state", "servers", "vm_state", "warning", "VM state changed", "changed"),
    (
        "servers.hypervisor_hostname",
        "servers",
        "hypervisor_hostname",
        "info",
        "migrated to another hypervisor",
        "changed",
    ),
    ("servers.host_id", "servers", "host_id", "info", "host assignment changed", "changed"),
    ("volumes.status", "volumes", "status", "warning", "status changed", "changed"),
    (
        "volumes.attached_server",
        "volumes",
        "attached_server_id",
        "critical",
        "re-attached to a different VM",
        "changed",
    ),
    ("volumes.detached", "volumes", "attached_server_id", "info", "detached from its VM", "cleared"),
    ("volumes.size", "volumes", "size_gb", "warning", "extended", "changed"),
    ("volumes.volume_type", "volumes", "volume_type", "warning", "retyped", "changed"),
    ("networks.status", "networks", "status", "warning", "status changed", "changed"),
    ("networks.admin_state_up", "networks", "admin_state_up", "critical", "admin state toggled", "changed"),
    ("networks.shared", "networks", "shared", "critical", "sharing changed", "changed"),
    ("ports.device_id", "ports", "device_id", "warning", "attached to another device", "changed"),
    ("ports.detached", "ports", "device_id", "info", "detached from its device", "cleared"),
    ("ports.status", "ports", "status", "info", "status changed", "changed"),
    (
        "ports.mac_address",
        "ports",
        "mac_address",
        "critical",
        "MAC changed (possible spoofing)",
        "changed_or_cleared",
    ),
    ("floating_ips.port_id", "floating_ips", "port_id", "warning", "re-assigned to another port", "changed"),
    ("floating_ips.released", "floating_ips", "port_id", "info", "released from its port", "cleared"),
    (
        "floating_ips.router_id",
        "floating_ips",
        "router_id",
        "warning",
        "router association changed",
        "changed",
    ),
    ("floating_ips.status", "floating_ips", "status", "info", "status changed", "changed"),
    (
        "security_groups.description",
        "security_groups",
        "description",
        "info",
        "description changed",
        "changed_or_cleared",
    ),
    ("snapshots.status", "snapshots", "status", "warning", "status changed", "changed"),
    ("snapshots.size", "snapshots", "size_gb", "info", "size changed", "changed"),
    (
        "subnets.gateway_ip",
        "subnets",
        "gateway_ip",
        "critical",
        "gateway changed or removed",
        "changed_or_cleared",
    ),
    ("subnets.cidr", "subnets", "cidr", "critical", "CIDR changed", "changed"),
    ("subnets.enable_dhcp", "subnets", "enable_dhcp", "warning", "DHCP toggled", "changed"),
)
# Which moves of a watched value fire a rule: a → b (both set, different), a → empty, or either.
TRIGGERS = ("changed", "cleared", "changed_or_cleared")


def empty(value: Any) -> bool:
    """No value: null, "" or an empty list (a boolean false is a value)."""
    return value is None or value == "" or (isinstance(value, (list, tuple)) and len(value) == 0)


def fires(trigger: str, old: Any, new: Any) -> bool:
    """Whether a change from `old` to `new` fires a rule with this trigger (a first assignment never does)."""
    if empty(old) or old == new:
        return False
    if trigger == "changed":
        return not empty(new)
    if trigger == "cleared":
        return empty(new)
    return True


RULE_CHANGES_KIND = "drift_rule_changes"  # declared in store/schema.py
RULE_ACTIONS = ("enable", "disable", "grade")


@dataclass(frozen=True)
class Rule:
    id: str
    type: str
    field: str  # the column compared; DELETED_FIELD for a deletion rule
    severity: str
    meaning: str
    source: str  # builtin | rules.yaml | deletion
    enabled: bool = True
    trigger: str = "changed_or_cleared"  # see TRIGGERS
    default_severity: str = ""
    changed_by: str | None = None
    changed_at: datetime | None = None

    @property
    def is_deletion(self) -> bool:
        return self.field == DELETED_FIELD


def drift_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / "drift"


def type_fields(kind: str) -> list[str]:
    """The columns a rule or an ignore line may name for a type."""
    return [*ENRICHMENT_COLUMNS, *(name for name, _ in type_columns(kind))]


# -- rules.yaml ---------------------------------------------------------------------------------------
_RULE_KEYS = {"id", "type", "field", "severity", "meaning", "enabled", "trigger"}


def load_user_rules(data_dir: Path | str) -> list[Rule]:
    """The rules of <data_dir>/drift/rules.yaml (none when the file does not exist); Pf9Error when invalid."""
    path = drift_dir(data_dir) / "rules.yaml"
    if not path.exists():
        return []
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise Pf9Error(
            f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)}): fix the file"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rules", []), list) or set(doc) - {"rules"}:
        raise Pf9Error(f"{path}: expected a mapping with one key `rules:` holding a list of rules")
    builtin_ids = {r[0] for r in BUILTIN_RULES}
    seen: set[str] = set()
    rules = []
    for n, item in enumerate(doc.get("rules") or [], start=1):
        rule = _user_rule(path, n, item)
        if rule.id in builtin_ids:
            raise Pf9Error(
                f"{path}: rule {n} has the id of built-in rule {rule.id!r}: re-grade a built-in with "
                f"`pf9wb drift rules grade {rule.id} SEVERITY`, or give the rule another id"
            )
        if rule.id in seen:
            raise Pf9Error(f"{path}: rule {n} repeats the id {rule.id!r}: rule ids must be unique")
        seen.add(rule.id)
        rules.append(rule)
    return rules


def _user_rule(path: Path, n: int, item: Any) -> Rule:
    if not isinstance(item, dict):
        raise Pf9Error(f"{path}: rule {n} must be a mapping with type, field and severity")
    unknown = sorted(set(item) - _RULE_KEYS)
    if unknown:
        raise Pf9Error(f"{path}: rule {n} has unknown key(s) {unknown}: use {sorted(_RULE_KEYS)}")
    kind, field, severity = item.get("type"), item.get("field"), item.get("severity")
    if kind not in RESOURCES:
        raise Pf9Error(f"{path}: rule {n} names unknown type {kind!r}: use one of {', '.join(RESOURCES)}")
    if field not in type_fields(kind):
        raise Pf9Error(
            f"{path}: rule {n}: {kind} has no column {field!r}: use one of {', '.join(type_fields(kind))}"
        )
    if severity not in SEVERITIES:
        raise Pf9Error(f"{path}: rule {n}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    rule_id = str(item.get("id") or f"{kind}.{field}")
    if not re.fullmatch(r"[A-Za-z0-9_]+\.[A-Za-z0-9_.:-]+", rule_id) or rule_id.endswith(f".{DELETED_FIELD}"):
        raise Pf9Error(f"{path}: rule {n}: id {rule_id!r} must look like TYPE.NAME and not end in .deleted")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        raise Pf9Error(f"{path}: rule {n}: enabled must be true or false, not {enabled!r}")
    meaning = str(item.get("meaning") or f"{field} changed")
    trigger = item.get("trigger", "changed_or_cleared")
    if trigger not in TRIGGERS:
        raise Pf9Error(f"{path}: rule {n}: trigger {trigger!r} is not one of {', '.join(TRIGGERS)}")
    return Rule(rule_id, kind, field, severity, meaning, "rules.yaml", enabled, trigger, severity)


# -- the ignore file ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class IgnorePattern:
    type: str
    id: str
    field: str
    negate: bool
    line: int
    text: str

    def matches(self, kind: str, obj_id: str, name: str | None, field: str) -> bool:
        return (
            fnmatch.fnmatchcase(kind, self.type)
            and fnmatch.fnmatchcase(field, self.field)
            and (
                fnmatch.fnmatchcase(obj_id, self.id)
                or (name is not None and fnmatch.fnmatchcase(name, self.id))
            )
        )


class IgnoreList:
    """The patterns of an ignore file; the last pattern that matches decides (a `!` line re-includes)."""

    def __init__(self, patterns: list[IgnorePattern]) -> None:
        self.patterns = patterns

    def ignores(self, kind: str, obj_id: str, name: str | None, field: str) -> bool:
        return bool(self.verdict(kind, obj_id, name, field))

    def verdict(self, kind: str, obj_id: str, name: str | None, field: str) -> bool | None:
        """True: ignored; False: re-included by a `!` line (an expected event counts as drift again);
        None: no line matches."""
        verdict = None
        for pattern in self.patterns:
            if pattern.matches(kind, obj_id, name, field):
                verdict = not pattern.negate
        return verdict

    def __len__(self) -> int:
        return len(self.patterns)


_GLOB = re.compile(r"[*?\[]")
_SPLIT = re.compile(r"(?<!\\)\.")


def parse_ignore(text: str, source: str = "ignore") -> IgnoreList:
    """Parse ignore-file text; Pf9Error naming the first malformed line."""
    patterns = []
    for n, original in enumerate(text.splitlines(), start=1):
        line = re.split(r"\s#", original, maxsplit=1)[0].strip()  # a comment may also end a line
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        body = line[1:].strip() if negate else line
        parts = [p.replace("\\.", ".") for p in _SPLIT.split(body)]
        problem = _ignore_problem(parts)
        if problem:
            raise Pf9Error(
                f"{source}:{n}: malformed ignore line {original.strip()!r}: {problem} "
                "(write TYPE.ID-OR-GLOB.FIELD, e.g. `ports.*.status`)"
            )
        patterns.append(IgnorePattern(parts[0], parts[1], parts[2], negate, n, line))
    return IgnoreList(patterns)


def _ignore_problem(parts: list[str]) -> str | None:
    if len(parts) != 3:
        hint = " (write a dot inside an id as \\.)" if len(parts) > 3 else ""
        return f"{len(parts)} part(s) where 3 are needed{hint}"
    if any(not p or any(ch.isspace() for ch in p) for p in parts):
        return "an empty part or a space inside a part"
    kind, _, field = parts
    if not _GLOB.search(kind) and kind not in RESOURCES:
        return f"unknown type {kind!r}"
    if (
        not _GLOB.search(kind)
        and not _GLOB.search(field)
        and field not in [*type_fields(kind), DELETED_FIELD]
    ):
        return f"{kind} has no field {field!r}"
    return None


def load_ignore(data_dir: Path | str) -> IgnoreList:
    path = drift_dir(data_dir) / "ignore"
    return parse_ignore(path.read_text(), str(path)) if path.exists() else IgnoreList([])


# -- the effective rule set -----------------------------------------------------------------------------
def base_rules(data_dir: Path | str) -> list[Rule]:
    """Built-in and user rules as defined (before any enable/disable/grade event), deletion rules last."""
    rules = [Rule(i, t, f, s, m, "builtin", True, tr, s) for i, t, f, s, m, tr in BUILTIN_RULES]
    rules += load_user_rules(data_dir)
    return rules


def _deletion_rules(rules: list[Rule]) -> list[Rule]:
    out = []
    for kind in dict.fromkeys(r.type for r in rules):
        own = [r for r in rules if r.type == kind]
        status = next((r for r in own if r.field == "status"), None)
        severity = status.severity if status else max((r.severity for r in own), key=SEVERITY_RANK.get)
        out.append(
            Rule(
                f"{kind}.{DELETED_FIELD}",
                kind,
                DELETED_FIELD,
                severity,
                "deleted",
                "deletion",
                True,
                "changed_or_cleared",
                "",
            )
        )
    return out


def rule_changes(store) -> Any:
    """Every recorded enable/disable/grade, oldest first (a DataFrame)."""
    view = store.events(RULE_CHANGES_KIND)
    return store.sql(f'SELECT * FROM "{view}" ORDER BY changed_at, change_id')


def effective_rules(store) -> list[Rule]:
    """The rule set in force now: definitions with the newest enable/disable and grade of each applied."""
    rules = base_rules(store.data_dir)
    changes = rule_changes(store)
    state: dict[str, dict[str, Any]] = {}
    for row in changes.itertuples(index=False):
        entry = state.setdefault(row.rule_id, {})
        if row.action == "grade":
            entry["severity"] = row.severity
        else:
            entry["enabled"] = row.action == "enable"
        entry["by"], entry["at"] = row.actor, row.changed_at
    applied = [_apply(r, state.get(r.id)) for r in rules]
    deletions = [_apply(r, state.get(r.id)) for r in _deletion_rules(applied)]
    return applied + deletions


def _apply(rule: Rule, change: dict[str, Any] | None) -> Rule:
    if not change:
        return rule
    return replace(
        rule,
        severity=change.get("severity", rule.severity),
        enabled=change.get("enabled", rule.enabled),
        changed_by=change["by"],
        changed_at=change["at"],
    )


def change_rules(
    store,
    rule_ids: list[str],
    action: str,
    severity: str | None = None,
    actor: Identity | str | None = None,
    note: str = "",
) -> int:
    """Enable, disable or re-grade rules, recorded with who and when. `actor` (default: the person behind the
    command) must be an admin of the roles file, else PermissionDenied (audited). Pf9Error (and nothing
    written) when any id is unknown or the severity is not one of critical / warning / info."""
    if action not in RULE_ACTIONS:
        raise Pf9Error(f"unknown rule action {action!r}: use one of {', '.join(RULE_ACTIONS)}")
    if action == "grade" and severity not in SEVERITIES:
        raise Pf9Error(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    if not rule_ids:
        raise Pf9Error("no rule id given: list them with `pf9wb drift rules`")
    known = {r.id for r in effective_rules(store)}
    unknown = [r for r in rule_ids if r not in known]
    if unknown:
        raise Pf9Error(
            f"unknown drift rule id(s) {', '.join(unknown)}: list the rules with `pf9wb drift rules`"
        )
    who = str(identity.acting(store.data_dir, actor))
    identity.require(store.data_dir, who, "admin", f"drift.rules.{action}", ", ".join(rule_ids))
    now = datetime.now(UTC)  # changed_at: when the person changed the rule
    rows = [
        {
            "change_id": uuid.uuid4().hex,
            "changed_at": now,
            "actor": who,
            "rule_id": rule_id,
            "action": action,
            "severity": severity if action == "grade" else None,
            "note": note or "",
        }
        for rule_id in dict.fromkeys(rule_ids)
    ]
    append_events(store.data_dir, RULE_CHANGES_KIND, rows)
    return len(rows)
