"""The snapshot SLA page (dashboards/snapshots.ipynb): compliance by tenant (worst first), coverage gaps, the
policy runs' results with their skips and blocks, the RPO achieved and the compliance trend, for a cloud and a
region; Refresh reads the store again.

Every SLA number is pf9lib.analytics.sla's (status, compliance, coverage, rpo, trend). The runs' results are
the stored snapshot-run plans (`action_plans`) and their step events (`action_steps`), counted per run by
`run_steps` / `run_results` below. They read those two views directly rather than through pf9lib.actions,
whose import (the restore machinery) costs a Voilà kernel most of a second.
"""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as w
import pandas as pd

from pf9lib.analytics import sla
from pf9lib.store.reader import Store
from pf9lib.ui import figures, page
from pf9lib.ui.branding import Palette
from pf9lib.ui.cards import NO_POLICY_DATA
from pf9lib.ui.filters import ScopeFilter
from pf9lib.ui.tables import format_value, html_table

RUN_KIND = "snapshots.run"  # pf9lib.actions.snapshot_run.KIND (tests check they agree)
OUTCOMES = ("created", "adopted", "pruned", "skipped", "blocked", "failed", "not applied")
EXCEPTIONS = ("skipped", "blocked", "failed")

# ------------------------------------------------------------------------------------------- run results


def _outcome(action: str, state: str | None) -> str:
    """How a step ended, in the run's words: a create that succeeded created, a prune pruned; a note is the
    plan's own skip or block; no event at all means the step was never applied."""
    if state is None or pd.isna(state):
        return "not applied"
    if state == "succeeded":
        return "pruned" if action.endswith(".prune") else "created"
    return str(state)


STEP_COLUMNS = ["plan_id", "ran_at", "cloud", "region", "project", "target_id", "policy", "action"]


def _planned_steps(plans: pd.DataFrame) -> pd.DataFrame:
    """The stored plans' steps, one row each, with the run's clock (the plan's `now`) and the reason the plan
    gave a skip or block."""
    rows = []
    for plan in plans.itertuples():
        ran_at = pd.Timestamp(json.loads(plan.inputs_json or "{}").get("now") or plan.created_at)
        for n, step in enumerate(json.loads(plan.steps_json or "[]")):
            inputs = step.get("inputs") or {}
            rows.append(
                {
                    "plan_id": plan.plan_id,
                    "step": n,
                    "ran_at": ran_at,
                    "cloud": plan.cloud,
                    "region": inputs.get("region"),
                    "project": inputs.get("project") or inputs.get("project_id"),
                    "target_id": inputs.get("volume_id") or inputs.get("server_id"),
                    "policy": inputs.get("policy"),
                    "action": step.get("action"),
                    "plan_reason": inputs.get("reason") or "",
                }
            )
    return pd.DataFrame(rows, columns=["step", "plan_reason", *STEP_COLUMNS])


def run_steps(
    store: Store, cloud: str | None = None, region: str | None = None, runs: int = 14
) -> pd.DataFrame:
    """One row per volume or server step of the `runs` newest snapshot runs (of `cloud`), in `region`: the
    run's clock (`ran_at`), its plan, project, target (volume or server id), policy, action, outcome and the
    reason of a skip, block or failure."""
    cloud_where, params = ("AND cloud = ?", [cloud]) if cloud else ("", [])
    plans = store.sql(
        f"""SELECT plan_id, cloud, created_at, steps_json, inputs_json FROM action_plans
            WHERE kind = ? {cloud_where} ORDER BY created_at DESC, plan_id LIMIT ?""",
        [RUN_KIND, *params, int(runs)],
    )
    df = _planned_steps(plans)
    if region:
        df = df[df["region"] == region]
    if df.empty:
        return pd.DataFrame(columns=[*STEP_COLUMNS, "outcome", "reason"])
    # The last event of each step is how it ended (a resumed apply adds events, never rewrites them).
    ended = store.sql(
        """SELECT plan_id, step, arg_max(state, ("at", event_id)) AS state,
                  arg_max(detail, ("at", event_id)) AS detail
           FROM action_steps WHERE step >= 0 AND plan_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL""",
        [plans["plan_id"].tolist()],
    )
    df = df.merge(ended, on=["plan_id", "step"], how="left")
    df["outcome"] = [_outcome(a, s) for a, s in zip(df["action"], df["state"], strict=True)]
    detail = df["detail"].fillna("")
    df["reason"] = detail.where(detail != "", df["plan_reason"]).where(df["outcome"].isin(EXCEPTIONS), "")
    df = df.sort_values(["ran_at", "plan_id", "step"], ascending=[False, True, True])
    return df[[*STEP_COLUMNS, "outcome", "reason"]].reset_index(drop=True)


def run_results(steps: pd.DataFrame) -> pd.DataFrame:
    """Per run (newest first): its clock, plan and how many steps ended in each outcome (run_steps' frame)."""
    if steps.empty:
        return pd.DataFrame(columns=["ran_at", "plan_id", *OUTCOMES, "steps"])
    counts = pd.crosstab([steps["ran_at"], steps["plan_id"]], steps["outcome"])
    counts = counts.reindex(columns=list(OUTCOMES), fill_value=0).reset_index()
    counts.columns.name = None
    counts["steps"] = counts[list(OUTCOMES)].sum(axis=1)
    return counts.sort_values(["ran_at", "plan_id"], ascending=[False, True]).reset_index(drop=True)


# ------------------------------------------------------------------------------------------- the cards


def headline(status: pd.DataFrame, coverage: pd.DataFrame, rpo: pd.DataFrame) -> pd.DataFrame:
    """The page's cards (key, label, value) from sla.status, sla.coverage and sla.rpo frames of one scope:
    compliance is compliant / enrolled (volume, policy) pairs; the RPO cards cover enrolled volumes."""
    enrolled = len(status)
    counts = status["status"].value_counts()
    pct = counts.get("compliant", 0) / enrolled * 100 if enrolled else None
    protected = rpo[rpo["volume_id"].isin(set(status["volume_id"]))]["worst_gap_h"]
    rows = [
        ("sla_pct", "Snapshot SLA compliant %", pct),
        ("enrolled", "Enrolled volume policies", enrolled),
        ("late", "Late", int(counts.get("late", 0))),
        ("never", "Never snapshotted", int(counts.get("never", 0))),
        ("quota_blocked", "Blocked by quota", int(counts.get("quota_blocked", 0))),
        ("no_policy", "Volumes under no policy", int((~coverage["enrolled"].astype(bool)).sum())),
        ("no_snapshot", "Volumes with no snapshot", int((coverage["snapshots"] == 0).sum())),
        ("rpo_median_h", "Median RPO achieved (h)", protected.median() if len(protected) else None),
        ("rpo_worst_h", "Worst RPO achieved (h)", protected.max() if len(protected) else None),
    ]
    return pd.DataFrame(rows, columns=["key", "label", "value"])


def card_value(key: str, value: Any) -> str:
    """How a card reads: "no policy data" for a compliance over nothing enrolled, "–" for no value, hours
    and % to one decimal, counts as integers."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return NO_POLICY_DATA if key == "sla_pct" else "–"
    if key.endswith(("_pct", "_h")):
        return f"{float(value):.1f}"
    return f"{int(value):,}"


def cards_html(cards: pd.DataFrame) -> str:
    items = [
        f'<div class="pf9-card pf9-card-{html.escape(r.key)}">'
        f'<div class="pf9-card-value">{html.escape(card_value(r.key, r.value))}</div>'
        f'<div class="pf9-card-label">{html.escape(r.label)}</div></div>'
        for r in cards.itertuples()
    ]
    return f'<div class="pf9-cards">{"".join(items)}</div>'


# ------------------------------------------------------------------------------------------- the tables

TENANT_COLUMNS = (
    ("cloud", "Cloud"),
    ("region", "Region"),
    ("project_name", "Tenant"),
    ("compliance_pct", "Compliant %"),
    ("enrolled", "Enrolled"),
    ("compliant", "Compliant"),
    ("late", "Late"),
    ("never", "Never"),
    ("quota_blocked", "Quota blocked"),
)
GAP_COLUMNS = (
    ("region", "Region"),
    ("project_name", "Tenant"),
    ("volume", "Volume"),
    ("size_gb", "GB"),
    ("status", "Status"),
    ("snapshots", "Snapshots"),
    ("gap", "Missing"),
)
LATE_COLUMNS = (
    ("region", "Region"),
    ("project_name", "Tenant"),
    ("volume", "Volume"),
    ("policy", "Policy"),
    ("status", "SLA status"),
    ("newest_at", "Newest automatic (UTC)"),
    ("age_h", "Age (h)"),
    ("window_h", "Window (h)"),
)
RUN_COLUMNS = (("ran_at", "Run (UTC)"), ("plan_id", "Plan"), *((o, o.capitalize()) for o in OUTCOMES))
EXCEPTION_COLUMNS = (
    ("ran_at", "Run (UTC)"),
    ("region", "Region"),
    ("project", "Tenant"),
    ("target", "Volume / server"),
    ("policy", "Policy"),
    ("outcome", "Outcome"),
    ("reason", "Reason"),
)
RPO_COLUMNS = (
    ("region", "Region"),
    ("project_name", "Tenant"),
    ("volume", "Volume"),
    ("worst_gap_h", "Worst gap (h)"),
    ("snapshots_in_window", "Snapshots in window"),
)


def _named(df: pd.DataFrame, name: str = "volume_name", object_id: str = "volume_id") -> pd.DataFrame:
    """A `volume` column: the name, or the id when the volume has none."""
    df = df.copy()
    names = df[name].fillna("") if name in df else pd.Series("", index=df.index)
    df["volume"] = names.where(names != "", df[object_id])
    return df


def table_html(df: pd.DataFrame, columns, empty: str, rows: int) -> str:
    """A table of the first `rows` rows saying how many more there are; the `empty` sentence without rows."""
    if df.empty:
        return f'<div class="pf9-muted">{html.escape(empty)}</div>'
    more = f'<div class="pf9-muted">… and {len(df) - rows} more</div>' if len(df) > rows else ""
    return html_table(df.head(rows), columns, severity_column=None) + more


def trend_chart(trend: pd.DataFrame, days: int, palette: Palette) -> w.Widget:
    """Daily compliance % (sla.trend) as one line per cloud and region."""
    if trend.empty:
        return figures.no_data(f"snapshot SLA compliance in the last {days} days", "no volume was enrolled")
    lines = []
    for (cloud, region), part in trend.groupby(["cloud", "region"], sort=True):
        lines.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": html.escape(f"{cloud} / {region}"),
                "x": [pd.Timestamp(d).strftime("%Y-%m-%d") for d in part["day"]],
                "y": [float(v) for v in part["compliance_pct"]],
                "line": {"color": palette.accent}
                if trend[["cloud", "region"]].drop_duplicates().shape[0] == 1
                else {},
                "hovertemplate": "%{x}: %{y:.1f} %<extra></extra>",
            }
        )
    layout = {
        "title": {"text": f"Snapshot SLA compliance per day (last {days} days)"},
        "xaxis": {"type": "date", "tickformat": "%Y-%m-%d", "dtick": 86_400_000},  # one tick a day
        "yaxis": {"range": [0, 100], "title": {"text": "% compliant"}},
    }
    return figures.plotly_output(lines, layout, 300)


# ------------------------------------------------------------------------------------------- the page


class SnapshotsPage:
    """The page's widget (`widget`): scope filter and Refresh, cards, then the sections. Every part is
    recomputed from the store when the scope changes or Refresh is pressed."""

    def __init__(
        self,
        store: Store,
        palette: Palette,
        days: int = 30,
        rpo_days: float = 7,
        runs: int = 14,
        rows: int = 20,
    ) -> None:
        self.store, self.palette = store, palette
        self.days, self.rpo_days, self.runs_shown, self.rows = days, rpo_days, runs, rows
        pairs = sla.coverage(store)[["cloud", "region"]].drop_duplicates()
        self.scope = ScopeFilter(list(pairs.itertuples(index=False, name=None)))
        self.refresh_button = w.Button(description="Refresh", icon="refresh", layout=w.Layout(width="auto"))
        self.refresh_button.add_class("snap-refresh")
        self.read_at = w.HTML("")
        self.read_at.add_class("snap-read-at")
        self.cards = self._part("snap-cards")
        self.by_tenant = self._part("snap-by-tenant")
        self.gaps = self._part("snap-gaps")
        self.late = self._part("snap-not-recent")
        self.run_table = self._part("snap-runs")
        self.exceptions = self._part("snap-exceptions")
        self.rpo = self._part("snap-rpo")
        self.trend = w.Box()
        self.trend.add_class("snap-trend")
        self.scope.on_change(self.refresh)
        self.refresh_button.on_click(self.refresh)
        self.widget = w.VBox(
            [
                w.HBox([self.scope.widget, self.refresh_button, self.read_at]),
                self.cards,
                page.section("Compliance by tenant (worst first)"),
                self.by_tenant,
                page.section("Compliance trend"),
                self.trend,
                page.section("Coverage gaps: volumes under no policy or with no snapshot"),
                self.gaps,
                page.section("Enrolled volumes without a recent snapshot"),
                self.late,
                page.section("Snapshot runs"),
                self.run_table,
                page.section("Skips, blocks and failures of the newest run"),
                self.exceptions,
                page.section(f"RPO achieved (last {rpo_days:g} days, worst first)"),
                self.rpo,
            ]
        )
        self.widget.add_class("snap-page")
        self.refresh()

    @staticmethod
    def _part(cls: str) -> w.HTML:
        part = w.HTML("")
        part.add_class(cls)
        return part

    def refresh(self, *_: Any) -> None:
        """Ask the library again for the scope's numbers (the store sees runs written since)."""
        scope = self.scope.query()
        status = sla.status(self.store, **scope)
        coverage = sla.coverage(self.store, **scope)
        rpo = sla.rpo(self.store, days=self.rpo_days, **scope)
        shown = f"{scope['cloud'] or 'all clouds'} / {scope['region'] or 'all regions'}"
        when = format_value(self.store.now)
        self.read_at.value = f'<span class="pf9-muted">{html.escape(shown)}, store as of {when} UTC</span>'
        self.cards.value = cards_html(headline(status, coverage, rpo))
        by_tenant = sla.compliance(self.store, "tenant", **scope)
        self._fill(self.by_tenant, by_tenant, TENANT_COLUMNS, "No volume is enrolled in a snapshot policy.")
        gaps = _named(coverage[coverage["gap"] != ""])
        self._fill(self.gaps, gaps, GAP_COLUMNS, "Every volume is under a policy and has a snapshot.")
        late = _named(status[status["status"] != "compliant"])
        late = late.sort_values(["status", "age_h"], ascending=[True, False], na_position="first")
        self._fill(self.late, late, LATE_COLUMNS, "Every enrolled volume has a recent snapshot.")
        steps = run_steps(self.store, runs=self.runs_shown, **scope)
        self._fill(self.run_table, run_results(steps), RUN_COLUMNS, "No snapshot run is stored.")
        self._fill(self.exceptions, self._exceptions(steps, coverage), EXCEPTION_COLUMNS, "Nothing skipped.")
        protected = _named(rpo[rpo["volume_id"].isin(set(status["volume_id"]))])
        self._fill(self.rpo, protected, RPO_COLUMNS, "No enrolled volume.")
        old = self.trend.children
        self.trend.children = [
            trend_chart(sla.trend(self.store, self.days, **scope), self.days, self.palette)
        ]
        for child in old:
            child.close()

    def _fill(self, part: w.HTML, df: pd.DataFrame, columns, empty: str) -> None:
        part.value = table_html(df, columns, empty, self.rows)

    @staticmethod
    def _exceptions(steps: pd.DataFrame, coverage: pd.DataFrame) -> pd.DataFrame:
        """The newest run's skipped, blocked and failed steps, each target by its volume's name if known."""
        if steps.empty:
            return steps.assign(target=[])
        newest = steps[steps["plan_id"] == steps.iloc[0]["plan_id"]]
        out = newest[newest["outcome"].isin(EXCEPTIONS)].copy()
        names = coverage.set_index("volume_id")["volume_name"].fillna("")
        known = out["target_id"].map(names).fillna("")
        out["target"] = known.where(known != "", out["target_id"])
        return out
