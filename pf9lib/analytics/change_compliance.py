"""Change compliance (docs/domain.md §6): every change seen in a window, judged expected or not, with why.

A change (a row of the change log: created, updated or deleted in a run) is expected when
- it was acknowledged: a drift event of that object in that run carries an acknowledgement;
- a workbench plan made it: the object's id appears in the `created_json` of an action step, or an audit
  entry targets the object, at a time between the cloud's previous run and the run that saw the change;
- an ignore rule covers it (pf9lib.analytics.drift_rules: every changed field ignored; a deletion is the
  field `deleted`, a creation the field `created`, which only a wildcard field matches).
Anything else is unexpected. Each row lists every reason that applies.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from pf9lib.analytics.change_log import change_log
from pf9lib.analytics.drift_events import state_view
from pf9lib.analytics.drift_rules import load_ignore
from pf9lib.analytics.scope import Filter, now_of, values, where
from pf9lib.store import as_store
from pf9lib.store.reader import VISIBLE_STATUSES, Store

UNEXPECTED = "unexpected: not acknowledged, made by no plan, covered by no ignore rule"

# Per change: the acknowledgements of drift events of the object in the run, the action steps that created
# the object and the audit entries that targeted it since the cloud's previous run.
_CHANGES = """
    WITH prev AS (
        SELECT run_id, lag(started_at) OVER (PARTITION BY cloud ORDER BY started_at, run_id) AS since
        FROM runs WHERE status IN {visible}
    ), c AS (
        SELECT l.*, coalesce(p.since, l.time - INTERVAL 1 DAY) AS since
        FROM "{log}" l LEFT JOIN prev p USING (run_id)
        WHERE {where} AND l.time > ? AND l.time <= ?
    ), acked AS (
        SELECT c.run_id, c.cloud, c.region, c.type, c.id,
               string_agg(DISTINCT 'acknowledged by ' || coalesce(e.acked_by, '?') ||
                          coalesce(': ' || nullif(e.ack_note, ''), ''), '; ') AS ack
        FROM c JOIN "{drift}" e ON e.run_id = c.run_id AND e.cloud = c.cloud AND e.region = c.region
                               AND e.type = c.type AND e.object_id = c.id
        WHERE e.acknowledged GROUP BY ALL
    ), planned AS (
        SELECT c.run_id, c.cloud, c.region, c.type, c.id,
               string_agg(DISTINCT 'made by plan ' || s.plan_id || ' (step ' || s.step || ' ' ||
                          coalesce(s.name, '') || ')', '; ') AS plan
        FROM c JOIN action_steps s ON contains(s.created_json, c.id) AND s.at > c.since AND s.at <= c.time
        GROUP BY ALL
    ), audited AS (
        SELECT c.run_id, c.cloud, c.region, c.type, c.id,
               string_agg(DISTINCT 'audited: ' || coalesce(a.action, '?') || ' by '
                          || coalesce(a.actor, '?') || coalesce(' (' || a.result || ')', ''), '; ') AS audit
        FROM c JOIN audit a ON (a.target = c.id OR ends_with(a.target, '/' || c.id)
                                OR ends_with(a.target, ':' || c.id))
                           AND a.at > c.since AND a.at <= c.time
        GROUP BY ALL
    )
    SELECT c.time, c.cloud, c.region, c.type, c.id, c.name, c.project_id, c.project_name, c.domain_name,
           c.kind, c.changed_fields, c.run_id, acked.ack, planned.plan, audited.audit
    FROM c LEFT JOIN acked USING (run_id, cloud, region, type, id)
    LEFT JOIN planned USING (run_id, cloud, region, type, id)
    LEFT JOIN audited USING (run_id, cloud, region, type, id)
    ORDER BY c.time DESC, c.type, c.id
"""


def change_compliance(
    store: Store | Path | str,
    days: float = 7,
    *,
    cloud: Filter = None,
    region: Filter = None,
    project: Filter = None,
    types: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Every change in the last `days` days before now, newest first: time, cloud, region, type, id, name,
    project, kind, changed_fields, run_id, `expected` (bool) and `reason` (every reason that applies, or
    why it is unexpected), plus `acknowledged`, `planned` and `ignored` flags."""
    store = as_store(store)
    end = now_of(store, now)
    clause, params = where("l", cloud=cloud, region=region, project=project)
    kinds = values(types)
    if kinds is not None:
        clause += " AND l.type IN (SELECT unnest(?::VARCHAR[]))"
        params.append(kinds)
    sql = _CHANGES.format(
        visible=VISIBLE_STATUSES, log=change_log(store), drift=state_view(store), where=clause
    )
    df = store.sql(sql, [*params, end - timedelta(days=days), end])
    ignore = load_ignore(store.data_dir)
    ignored = []
    for row in df.itertuples(index=False):
        rule = _ignored_by(ignore, row) if len(ignore) else None
        ignored.append(rule)
    df["acknowledged"] = df["ack"].notna()
    df["planned"] = df["plan"].notna() | df["audit"].notna()
    df["ignored"] = [r is not None for r in ignored]
    df["expected"] = df["acknowledged"] | df["planned"] | df["ignored"]
    reasons = []
    for (ack, plan, audit), rule in zip(
        df[["ack", "plan", "audit"]].itertuples(index=False), ignored, strict=True
    ):
        parts = [p for p in (ack, plan, audit) if isinstance(p, str)]
        if rule is not None:
            parts.append(f"ignore rule {rule}")
        reasons.append("; ".join(parts) or UNEXPECTED)
    df["reason"] = reasons
    return df.drop(columns=["ack", "plan", "audit"])


def _ignored_by(ignore, row) -> str | None:
    """The ignore-file text covering every field the change moved (None when one is not covered)."""
    if row.kind == "updated":
        fields = list(row.changed_fields) if row.changed_fields is not None else []
    else:
        fields = ["deleted" if row.kind == "deleted" else "created"]
    if not fields:
        return None
    lines = []
    for field in fields:
        if not ignore.ignores(row.type, row.id, row.name, field):
            return None
        lines += [
            p.text for p in ignore.patterns if p.matches(row.type, row.id, row.name, field) and not p.negate
        ]
    return ", ".join(dict.fromkeys(f"`{line}`" for line in lines))
