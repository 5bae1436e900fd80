"""The tenant health page: summary cards, the risk and utilisation heatmap, the ranking, then one tenant in
detail (a dropdown): the points its health lost per component, its quotas against usage, and its trends.

Numbers are pf9lib.analytics.tenants' and landing's (docs/domain.md §5); this module only lays them out.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from pf9lib.analytics import landing, tenants
from pf9lib.store.reader import Store
from pf9lib.ui import figures, page, tables
from pf9lib.ui.branding import Palette
from pf9lib.ui.scope import LivePage, Scope, replace_children, value_cards

TREND_DAYS = 30
HEATMAP_LABELS = {
    "risk": "Risk",
    "unprotected_pct": "Unprotected volumes %",
    "stale_pct": "Stale snapshots %",
    "health_points_lost": "Health points lost",
    "max_quota_used_pct": "Fullest quota %",
    "utilisation": "Utilisation",
}
RANKING_COLUMNS = (
    ("region", "Region"),
    ("project_name", "Project"),
    ("domain_name", "Domain"),
    ("health", "Health"),
    ("status", "Status"),
    ("points_lost", "Points lost"),
    ("sla_status", "SLA"),
)
BREAKDOWN_COLUMNS = (
    ("component", "Component"),
    ("count", "Count"),
    ("points_each", "Points each"),
    ("cap", "At most"),
    ("points_lost", "Points lost"),
    ("note", "Note"),
)
QUOTA_COLUMNS = (
    ("service", "Service"),
    ("resource", "Resource"),
    ("limit", "Limit"),
    ("used", "Used"),
    ("used_pct", "Used %"),
    ("headroom", "Headroom"),
)


def summary_cards(health: pd.DataFrame, risk: pd.DataFrame) -> w.HTML:
    """Tenants, their statuses, the mean health and the high-risk count."""
    counts = health["status"].value_counts()
    mean = f"{health['health'].mean():.1f}" if len(health) else "no data"
    return value_cards(
        [
            ("tenants", "Tenants", f"{len(health):,}"),
            ("healthy", "Healthy", f"{int(counts.get('healthy', 0)):,}"),
            ("warning", "Warning", f"{int(counts.get('warning', 0)):,}"),
            ("critical", "Critical", f"{int(counts.get('critical', 0)):,}"),
            ("mean_health", "Mean health", mean),
            ("high_risk", "High risk", f"{int((risk['level'] == 'high').sum()):,}"),
        ]
    )


def heatmap_frame(store: Store, scope: Scope) -> pd.DataFrame:
    """Tenant × metric (0–100): landing.risk_heatmap's metrics plus the utilisation of tenants.utilisation."""
    risk = landing.risk_heatmap(store, **scope)
    use = tenants.utilisation(store, **scope)
    long = pd.concat([risk, use[use["metric"] == "utilisation"]], ignore_index=True)
    return tenants.utilisation_matrix(long)


def heatmap(matrix: pd.DataFrame) -> w.Widget:
    if matrix.empty:
        return figures.no_data("the tenant heatmap", "no tenant in this scope")
    z = [[None if pd.isna(v) else round(float(v), 1) for v in row] for row in matrix.to_numpy()]
    trace = {
        "type": "heatmap",
        "z": z,
        "x": [HEATMAP_LABELS.get(c, c) for c in matrix.columns],
        "y": [html.escape(str(t)) for t in matrix.index],
        "zmin": 0,
        "zmax": 100,
        "colorscale": "YlOrRd",
        "hovertemplate": "%{y}<br>%{x}: %{z}<extra></extra>",
    }
    height = max(260, 28 * len(matrix) + 120)
    layout = {
        "title": {"text": "Risk and utilisation per tenant (0–100)"},
        "yaxis": {"autorange": "reversed"},
    }
    out = figures.plotly_output([trace], layout, height)
    out.add_class("pf9-heatmap")
    return out


def _tenant_key(row: Any) -> str:
    return f"{row.cloud}\t{row.region}\t{row.project_id}"


class TenantDetail:
    """A dropdown of tenants (worst health first) and the chosen tenant's breakdown, quotas and trends."""

    def __init__(self, store: Store, health: pd.DataFrame, palette: Palette, days: int = TREND_DAYS) -> None:
        self.store, self.health, self.palette, self.days = store, health, palette, days
        options = [
            (f"{r.project_name or r.project_id} ({r.cloud} / {r.region}) – {r.health:.0f}", _tenant_key(r))
            for r in health.itertuples()
        ]
        self.choice = w.Dropdown(options=options, description="Tenant", layout=w.Layout(width="520px"))
        self.choice.add_class("pf9-tenant-choice")
        self.detail = w.VBox()
        self.detail.add_class("pf9-tenant-detail")
        self.choice.observe(lambda _: self.show(), names="value")
        self.widget = w.VBox([self.choice, self.detail])
        self.show()

    def tenant(self) -> dict[str, str] | None:
        if not self.choice.value:
            return None
        cloud, region, project_id = self.choice.value.split("\t")
        return {"cloud": cloud, "region": region, "project": project_id}

    def show(self) -> None:
        chosen = self.tenant()
        if chosen is None:
            replace_children(self.detail, [figures.no_data("a tenant's detail", "no tenant in this scope")])
            return
        row = self.health[
            (self.health["cloud"] == chosen["cloud"])
            & (self.health["region"] == chosen["region"])
            & (self.health["project_id"] == chosen["project"])
        ]
        replace_children(
            self.detail,
            [
                page.section("Health breakdown (points lost per component)"),
                breakdown_table(row),
                page.section("Quota against usage"),
                *quota_parts(self.store, chosen, self.palette),
                page.section(f"Trends (last {self.days} days)"),
                trends(self.store, chosen, self.days, self.palette),
            ],
        )


def breakdown_table(row: pd.DataFrame) -> w.HTML:
    parts = tenants.health_breakdown(row)
    if len(row):
        head = f"Health {row['health'].iloc[0]:.1f} = 100 − {row['points_lost'].iloc[0]:.1f} points lost"
    else:
        head = ""
    table = tables.table(parts, BREAKDOWN_COLUMNS, "pf9-breakdown", "No health data for this tenant.")
    table.value = f'<div class="pf9-note pf9-health-sum">{html.escape(head)}</div>' + table.value
    return table


def quota_parts(store: Store, chosen: dict[str, str], palette: Palette) -> list[w.Widget]:
    quota = tenants.quota_usage(store, **chosen)
    limited = quota[quota["limit"].fillna(-1) > 0].sort_values(
        "used_pct", ascending=False, na_position="last"
    )
    table = tables.table(limited, QUOTA_COLUMNS, "pf9-quota", "This tenant has no limited quota.")
    if limited.empty:
        return [table]
    return [quota_bars(limited, palette), table]


def quota_bars(limited: pd.DataFrame, palette: Palette) -> w.HTML:
    """Used % of each limited quota as CSS bars (red from 85 %): one HTML widget, where a plotly chart would
    cost the page a second of drawing."""
    rows = []
    for service, resource, pct in zip(
        limited["service"], limited["resource"], limited["used_pct"], strict=True
    ):
        shown = "n/a" if pd.isna(pct) else f"{float(pct):.1f} %"
        width = 0.0 if pd.isna(pct) else min(float(pct), 100.0)
        colour = palette.critical if not pd.isna(pct) and float(pct) >= 85 else palette.ok
        rows.append(
            f"<tr><td>{html.escape(f'{service} {resource}')}</td><td style='width:320px'>"
            f"<div style='background:{colour};height:12px;width:{width:.1f}%'></div></td>"
            f"<td class='pf9-num'>{html.escape(shown)}</td></tr>"
        )
    widget = w.HTML(f'<table class="pf9-table">{"".join(rows)}</table>')
    widget.add_class("pf9-quota-bars")
    return widget


def trends(store: Store, chosen: dict[str, str], days: int, palette: Palette) -> w.Widget:
    """VMs and volume GB held, drift events by severity and snapshot creations per day."""
    usage = tenants.usage_trend(store, days, **chosen)
    drift = tenants.drift_trend(store, days, **chosen)
    snaps = tenants.snapshot_trend(store, days, **chosen)
    if usage.empty and drift.empty and snaps.empty:
        return figures.no_data("this tenant's trends", "nothing held or seen in the window")
    traces = []
    for column, name in (("vms", "VMs"), ("volumes", "volumes"), ("volume_gb", "volume GB")):
        if not usage.empty:
            traces.append(_line(usage["day"], usage[column], name, "y2" if column == "volume_gb" else "y"))
    for severity in ("critical", "warning", "info"):
        if not drift.empty:
            color = palette.severity(severity)
            traces.append(_bar(drift["day"], drift[severity], f"drift {severity}", color))
    if not snaps.empty:
        traces.append(_bar(snaps["day"], snaps["created"], "snapshots created", palette.created))
    layout = {
        "barmode": "stack",
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": "count"}},
        "yaxis2": {"title": {"text": "GB"}, "overlaying": "y", "side": "right", "showgrid": False},
        "legend": {"orientation": "h"},
    }
    out = figures.plotly_output(traces, layout, 340)
    out.add_class("pf9-trends")
    return out


def _day(values: pd.Series) -> list[str]:
    return [pd.Timestamp(d).strftime("%Y-%m-%d") for d in values]


def _line(x: pd.Series, y: pd.Series, name: str, axis: str) -> dict:
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "x": _day(x),
        "y": [float(v) for v in y],
        "yaxis": axis,
    }


def _bar(x: pd.Series, y: pd.Series, name: str, color: str) -> dict:
    return {"type": "bar", "name": name, "x": _day(x), "y": [int(v) for v in y], "marker": {"color": color}}


def build(store: Store, scope: Scope, palette: Palette, days: int = TREND_DAYS) -> list[w.Widget]:
    health = tenants.tenant_health(store, **scope)
    risk = tenants.tenant_risk(store, **scope)
    ranking = tables.table(health, RANKING_COLUMNS, "pf9-ranking", "No tenant in this scope.")
    return [
        summary_cards(health, risk),
        page.section("Risk and utilisation"),
        heatmap(heatmap_frame(store, scope)),
        page.section("Tenants by health (worst first)"),
        ranking,
        page.section("One tenant"),
        TenantDetail(store, health, palette, days).widget,
    ]


def tenant_health_page(data_dir: Path | str, days: int = TREND_DAYS) -> LivePage:
    return LivePage(
        data_dir,
        "Tenant health",
        lambda store, scope, palette: build(store, scope, palette, days),
        cls="pf9-tenant-health",
    )
