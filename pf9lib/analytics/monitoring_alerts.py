"""Metric alerts: rules from a YAML file, evaluated on each new sample of the latest values.

A rule fires after `for` consecutive breaching scrapes of one host/VM and resolves after `clear_for` scrapes
back within the threshold (or when the VM is no longer reported). The evaluation state (streaks, firing,
first/last seen) is part of the store's latest metric state, so a restart continues where it stopped;
transitions are appended as `metric_alerts` events (firing, resolved) whose id is stable per episode, so a
repeated append is read once. Stale values (their exporter unreachable) neither count as breaches nor
resolve anything.
"""

from __future__ import annotations

import hashlib
import operator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pf9lib.errors import ConfigError

DEFAULT_RULES = Path(__file__).with_name("alerts_default.yaml")
SEVERITIES = ("critical", "high", "medium", "low")
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_ENTITIES = {"host": "host", "vm": "vm_key"}

ALERTS_KIND = "metric_alerts"  # declared in store/schema.py; state is firing | resolved


@dataclass(frozen=True)
class AlertRule:
    name: str
    entity: str  # host | vm
    metric: str
    op: str
    threshold: float
    severity: str
    for_scrapes: int = 3
    clear_for: int = 1
    description: str = ""

    def breached(self, value: float) -> bool:
        return _OPS[self.op](value, self.threshold)


def load_rules(path: Path | str | None = None) -> list[AlertRule]:
    """Rules from a YAML file (default: the packaged alerts_default.yaml); ConfigError names the bad entry."""
    path = Path(path) if path else DEFAULT_RULES
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read alert rules {path}: {exc.strerror}; fix the path") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"alert rules {path} are not valid YAML ({exc}); fix the file") from None
    items = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"alert rules {path} need a top-level `rules:` list")
    rules = [_rule(path, n, item) for n, item in enumerate(items, 1)]
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"alert rules {path}: rule names {dupes} appear twice; give each rule its own name")
    return rules


def _rule(path: Path, n: int, item: Any) -> AlertRule:
    where = f"alert rules {path}, rule {n}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} is not a mapping")
    unknown = set(item) - {
        "name",
        "entity",
        "metric",
        "op",
        "threshold",
        "for",
        "clear_for",
        "severity",
        "description",
    }
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    try:
        rule = AlertRule(
            name=str(item["name"]),
            entity=str(item["entity"]),
            metric=str(item["metric"]),
            op=str(item.get("op", ">")),
            threshold=float(item["threshold"]),
            severity=str(item.get("severity", "medium")),
            for_scrapes=int(item.get("for", 3)),
            clear_for=int(item.get("clear_for", 1)),
            description=str(item.get("description", "")),
        )
    except KeyError as exc:
        raise ConfigError(
            f"{where} lacks {exc.args[0]!r} (name, entity, metric, threshold are needed)"
        ) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if rule.entity not in _ENTITIES:
        raise ConfigError(f"{where}: entity {rule.entity!r} is not host or vm")
    if rule.op not in _OPS:
        raise ConfigError(f"{where}: op {rule.op!r} is not one of {', '.join(_OPS)}")
    if rule.severity not in SEVERITIES:
        raise ConfigError(f"{where}: severity {rule.severity!r} is not one of {', '.join(SEVERITIES)}")
    if rule.for_scrapes < 1 or rule.clear_for < 1:
        raise ConfigError(f"{where}: `for` and `clear_for` count scrapes and must be at least 1")
    return rule


_EVENT_COPIED = ("rule", "severity", "entity_kind", "entity", "entity_name", "host", "metric", "op")


def episode_id(alert_id: str, first_seen: datetime) -> str:
    text = f"{alert_id}|{first_seen.astimezone(UTC).isoformat()}"
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def evaluate(
    rules: list[AlertRule],
    hosts: list[dict[str, Any]],
    vms: list[dict[str, Any]],
    state: list[dict[str, Any]],
    now: datetime,
    batch_id: str,
    checked_hosts: set[str] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(new alert state rows, events) from the latest rows and the previous alert state.

    Each latest row counts once per new sample (its `ts` beyond the state's `sample_ts`). A VM missing from
    the latest rows of a host whose libvirt page was read this cycle (`checked_hosts`) resolves as gone.
    """
    previous = {s["alert_id"]: s for s in state}
    rows = {"host": hosts, "vm": vms}
    new_state: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    seen: set[str] = set()
    for rule in rules:
        key_col = _ENTITIES[rule.entity]
        for row in rows[rule.entity]:
            alert_id = f"{rule.name}:{rule.entity}:{row[key_col]}"
            seen.add(alert_id)
            st = previous.get(alert_id)
            nxt, event = _step(rule, alert_id, row, st, now, batch_id)
            if nxt is not None:
                new_state.append(nxt)
            if event is not None:
                events.append(event)
    for alert_id, st in previous.items():
        if alert_id in seen:
            continue
        # The entity is no longer reported: resolve only when its exporter was read (else we cannot know).
        if st["firing"] and (checked_hosts is None or st.get("host") in checked_hosts):
            events.append(_event(st, "resolved", now, batch_id, st["value"], "no longer reported"))
        elif st["firing"] or checked_hosts is not None and st.get("host") not in checked_hosts:
            new_state.append(st)
    return new_state, events


def _step(
    rule: AlertRule,
    alert_id: str,
    row: dict[str, Any],
    st: dict[str, Any] | None,
    now: datetime,
    batch_id: str,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    value = row.get(rule.metric)
    ts = row["ts"]
    fresh = not row.get("stale") and (st is None or st["sample_ts"] is None or ts > st["sample_ts"])
    if not fresh or value is None or pd.isna(value):
        return st, None  # nothing new (stale, same sample, or no rate yet): keep the state as it is
    if rule.breached(float(value)):
        if st is None or (st["streak"] <= 0 and not st["firing"]):
            st = _new_state(rule, alert_id, row, ts)
        else:
            st = {**st, "streak": max(st["streak"], 0) + 1}
        st.update(value=float(value), last_seen=ts, sample_ts=ts)
        if not st["firing"] and st["streak"] >= rule.for_scrapes:
            st.update(firing=True, fired_at=ts)
            return st, _event(st, "firing", now, batch_id, float(value), None)
        return st, None
    if st is None or not st["firing"]:
        return None, None  # a streak that never fired ends quietly
    # Back within the threshold: a negative streak counts the good scrapes towards clear_for.
    good = -st["streak"] + 1 if st["streak"] < 0 else 1
    if good >= rule.clear_for:
        resolved = {**st, "sample_ts": ts}
        return None, _event(resolved, "resolved", now, batch_id, float(value), "back within threshold", ts)
    return {**st, "streak": -good, "sample_ts": ts, "value": float(value)}, None


def _new_state(rule: AlertRule, alert_id: str, row: dict[str, Any], ts: datetime) -> dict[str, Any]:
    name = row.get("instance_name") or row.get("domain") if rule.entity == "vm" else row.get("host")
    return {
        "alert_id": alert_id,
        "rule": rule.name,
        "severity": rule.severity,
        "entity_kind": rule.entity,
        "entity": row[_ENTITIES[rule.entity]],
        "entity_name": name,
        "host": row.get("host"),
        "metric": rule.metric,
        "threshold": rule.threshold,
        "value": None,
        "streak": 1,
        "firing": False,
        "first_seen": ts,
        "fired_at": None,
        "last_seen": ts,
        "sample_ts": ts,
        "op": rule.op,
    }


def _event(
    st: dict[str, Any],
    state: str,
    now: datetime,
    batch_id: str,
    value: float | None,
    reason: str | None,
    resolved_at: datetime | None = None,
) -> dict[str, Any]:
    episode = episode_id(st["alert_id"], st["first_seen"])
    return {
        "event_id": f"{episode}:{state}",
        "episode_id": episode,
        "alert_id": st["alert_id"],
        "state": state,
        **{k: st.get(k) for k in _EVENT_COPIED},
        "threshold": st["threshold"],
        "value": value,
        "first_seen": st["first_seen"],
        "fired_at": st["fired_at"],
        "last_seen": st["last_seen"],
        "resolved_at": (resolved_at or now) if state == "resolved" else None,
        "reason": reason,
        "batch_id": batch_id,
        "at": now,
    }


def alerts(store, open_only: bool = False) -> pd.DataFrame:
    """One row per alert episode: its newest state, first and last seen (live from the latest state)."""
    view = store.events(ALERTS_KIND)
    where = "WHERE e.state = 'firing'" if open_only else ""
    return store.sql(f"""
        WITH events AS (
            SELECT * FROM "{view}" QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY "at") = 1
        ), e AS (
            SELECT * FROM events
            QUALIFY row_number() OVER (PARTITION BY episode_id
                                       ORDER BY (state = 'resolved') DESC, "at" DESC) = 1
        )
        SELECT e.episode_id, e.alert_id, e.state, e.rule, e.severity, e.entity_kind, e.entity, e.entity_name,
               e.host, e.metric, e.op, e.threshold,
               coalesce(CASE WHEN e.state = 'firing' THEN s.value END, e.value) AS value,
               e.first_seen, e.fired_at,
               greatest(e.last_seen, CASE WHEN e.state = 'firing' THEN s.last_seen END) AS last_seen,
               e.resolved_at, e.reason
        FROM e LEFT JOIN metric_alert_state s ON s.alert_id = e.alert_id AND s.firing
        {where}
        ORDER BY e.state = 'firing' DESC, e.fired_at DESC, e.alert_id
    """)
