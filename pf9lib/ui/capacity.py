"""The capacity page: allocation against capacity and measured use per hypervisor and aggregate, the days
until each region's capacity and each quota reach their threshold with the forecast's uncertainty band, and
the right-sizing and waste candidates with their reasons.

Numbers are pf9lib.analytics.capacity's (and its forecast models'); this module only lays them out.
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w
import numpy as np
import pandas as pd

from pf9lib.analytics import capacity, forecast, tenants
from pf9lib.store.reader import Store
from pf9lib.ui import figures, page, tables
from pf9lib.ui.branding import Palette
from pf9lib.ui.scope import LivePage, Scope, replace_children, value_cards

HISTORY_DAYS, HORIZON_DAYS = 90, 90
RESOURCES = (("vcpus", "vCPU"), ("ram_mb", "RAM"), ("disk_gb", "disk"))
HYPERVISOR_COLUMNS = (
    ("region", "Region"),
    ("hypervisor", "Hypervisor"),
    ("vms", "VMs"),
    ("vcpus_allocated", "vCPU alloc"),
    ("vcpus_capacity", "vCPU cap"),
    ("vcpus_ratio", "vCPU ratio"),
    ("ram_mb_allocated", "RAM MB alloc"),
    ("ram_mb_capacity", "RAM MB cap"),
    ("ram_mb_ratio", "RAM ratio"),
    ("disk_gb_allocated", "Disk GB alloc"),
    ("disk_gb_capacity", "Disk GB cap"),
    ("disk_gb_ratio", "Disk ratio"),
    ("cpu_pct", "CPU %"),
    ("mem_pct", "Mem %"),
    ("cpu_pct_peak", "CPU % peak"),
)
AGGREGATE_COLUMNS = (
    ("region", "Region"),
    ("aggregate", "Aggregate"),
    ("availability_zone", "AZ"),
    ("hosts", "Hosts"),
    ("vms", "VMs"),
    ("vcpus_ratio", "vCPU ratio"),
    ("ram_mb_ratio", "RAM ratio"),
    ("disk_gb_ratio", "Disk ratio"),
    ("cpu_pct", "CPU %"),
    ("mem_pct", "Mem %"),
)
FORECAST_COLUMNS = (
    ("region", "Region"),
    ("resource", "Resource"),
    ("current", "Allocated"),
    ("threshold", "Threshold"),
    ("days", "Days"),
    ("days_earliest", "Earliest"),
    ("days_latest", "Latest"),
    ("note", "Note"),
)
QUOTA_FORECAST_COLUMNS = (
    ("region", "Region"),
    ("project_name", "Project"),
    ("service", "Service"),
    ("resource", "Resource"),
    ("current", "Used"),
    ("limit", "Limit"),
    ("days", "Days"),
    ("days_earliest", "Earliest"),
    ("days_latest", "Latest"),
    ("note", "Note"),
)
WASTE_COLUMNS = (
    ("candidate", "Candidate"),
    ("region", "Region"),
    ("project_name", "Project"),
    ("type", "Type"),
    ("name", "Name"),
    ("reason", "Reason"),
    ("vcpus", "vCPUs"),
    ("ram_mb", "RAM MB"),
    ("gb", "GB"),
    ("ips", "IPs"),
)


def _ratio(allocated: pd.Series, capacity_: pd.Series) -> float | None:
    total = float(capacity_.sum())
    return float(allocated.sum()) / total if total > 0 else None


def summary_cards(hv: pd.DataFrame, fc: pd.DataFrame, waste: pd.DataFrame) -> w.HTML:
    """Hypervisors, the overall overcommit ratio per resource, the soonest threshold and the candidates."""
    items = [("hypervisors", "Hypervisors", f"{len(hv):,}")]
    for resource, label in RESOURCES:
        ratio = _ratio(hv[f"{resource}_allocated"], hv[f"{resource}_capacity"]) if len(hv) else None
        items.append(
            (
                f"{resource}_ratio",
                f"{label} allocated / capacity",
                "no data" if ratio is None else f"{ratio:.2f}",
            )
        )
    soonest = fc["days"].min() if len(fc) else np.nan
    items.append(
        (
            "soonest_days",
            "Days to the first capacity threshold",
            "not within the horizon" if pd.isna(soonest) else f"{soonest:.0f}",
        )
    )
    items.append(("waste", "Waste candidates", f"{len(waste):,}"))
    return value_cards(items)


def allocation_chart(hv: pd.DataFrame, palette: Palette) -> w.Widget:
    """Per hypervisor: allocated % of physical capacity per resource, beside the measured CPU and memory %."""
    if hv.empty:
        return figures.no_data("hypervisor allocation", "no hypervisor in this scope")
    names = [f"{r} / {h}" for r, h in zip(hv["region"], hv["hypervisor"], strict=True)]
    traces = []
    for resource, label in RESOURCES:
        pct = hv[f"{resource}_ratio"] * 100.0
        traces.append(
            {
                "type": "bar",
                "name": f"{label} allocated %",
                "x": names,
                "y": [None if pd.isna(v) else float(v) for v in pct],
            }
        )
    for column, label, color in (
        ("cpu_pct", "CPU used %", palette.critical),
        ("mem_pct", "memory used %", palette.warning),
    ):
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": label,
                "x": names,
                "y": [None if pd.isna(v) else float(v) for v in hv[column]],
                "marker": {"size": 11, "symbol": "diamond", "color": color},
            }
        )
    layout = {
        "barmode": "group",
        "title": {"text": "Allocation (flavors) against capacity, and measured use"},
        "yaxis": {"title": {"text": "% of physical capacity"}},
        "legend": {"orientation": "h"},
    }
    out = figures.plotly_output(traces, layout, 360)
    out.add_class("pf9-allocation")
    return out


def region_series(store: Store, cloud: str, region: str, resource: str, days: int) -> pd.Series:
    """The daily allocation of a region's servers (what capacity.capacity_forecast fits), oldest first."""
    trend = tenants.usage_trend(store, days, cloud=cloud, region=region)
    daily = trend.groupby("day")[resource].sum().sort_index()
    return daily.astype(float)


def forecast_chart(store: Store, row: pd.Series, days: int, horizon: int, palette: Palette) -> w.Widget:
    """History, the linear trend's mean and its 95 % band, and the threshold, for one forecast row."""
    series = region_series(store, row["cloud"], row["region"], row["resource"], days)
    title = f"{row['region']} {row['resource']}: {row['method']}"
    if len(series) < 2:
        return figures.no_data(title, str(row["note"]))
    band = forecast.linear_trend(series.reset_index(drop=True), horizon)
    last = pd.Timestamp(series.index[-1])
    future = [(last + pd.Timedelta(days=i + 1)).strftime("%Y-%m-%d") for i in range(horizon)]
    past = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in series.index]
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "upper (95 %)",
            "x": future,
            "y": band["upper"].round(2).tolist(),
            "line": {"width": 0},
            "showlegend": False,
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "95 % band",
            "x": future,
            "y": band["lower"].round(2).tolist(),
            "fill": "tonexty",
            "fillcolor": "rgba(128,128,128,0.25)",
            "line": {"width": 0},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "forecast",
            "x": future,
            "y": band["mean"].round(2).tolist(),
            "line": {"dash": "dash", "color": palette.accent},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "allocated",
            "x": past,
            "y": series.round(2).tolist(),
            "line": {"color": palette.accent},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "threshold",
            "x": [past[0], future[-1]],
            "y": [float(row["threshold"])] * 2,
            "line": {"color": palette.critical, "dash": "dot"},
        },
    ]
    when = "not within the horizon" if pd.isna(row["days"]) else f"in {row['days']:.0f} days"
    layout = {
        "title": {"text": f"{title} — threshold {when}"},
        "xaxis": {"type": "date"},
        "legend": {"orientation": "h"},
    }
    out = figures.plotly_output(traces, layout, 340)
    out.add_class("pf9-forecast-chart")
    return out


class ForecastPanel:
    """The capacity forecasts of the scope, and the chart (with its band) of the one chosen in a dropdown."""

    def __init__(self, store: Store, fc: pd.DataFrame, days: int, horizon: int, palette: Palette) -> None:
        self.store, self.fc, self.days, self.horizon, self.palette = store, fc, days, horizon, palette
        options = [(f"{r.cloud} / {r.region} – {r.resource}", i) for i, r in enumerate(fc.itertuples())]
        self.choice = w.Dropdown(options=options, description="Series", layout=w.Layout(width="420px"))
        self.choice.add_class("pf9-forecast-choice")
        self.chart = w.Box()
        self.choice.observe(lambda _: self.show(), names="value")
        table = tables.table(fc, FORECAST_COLUMNS, "pf9-forecast", "No capacity to forecast in this scope.")
        method = fc["method"].iloc[0] if len(fc) else forecast.method_of(forecast.linear_trend)
        note = w.HTML(
            f'<div class="pf9-note">Method: {method}. Threshold: capacity × Nova\'s allocation ratio '
            f"(vCPU {capacity.DEFAULT_RATIOS['vcpus']:g}, RAM {capacity.DEFAULT_RATIOS['ram_mb']:g}, "
            f"disk {capacity.DEFAULT_RATIOS['disk_gb']:g}); days NaN: not within {horizon} days.</div>"
        )
        self.widget = w.VBox([note, table, self.choice, self.chart])
        self.show()

    def show(self) -> None:
        if self.choice.value is None:
            replace_children(
                self.chart, [figures.no_data("a capacity forecast", "no capacity series in this scope")]
            )
            return
        row = self.fc.iloc[self.choice.value]
        replace_children(self.chart, [forecast_chart(self.store, row, self.days, self.horizon, self.palette)])


def build(
    store: Store, scope: Scope, palette: Palette, days: int = HISTORY_DAYS, horizon: int = HORIZON_DAYS
) -> list[w.Widget]:
    now = store.now  # once: every part ends its window here
    hv = capacity.hypervisor_allocation(store, now=now, **scope)
    aggs = capacity.aggregate_allocation(store, now=now, **scope)
    fc = capacity.capacity_forecast(store, days, horizon, now=now, **scope)
    quota = capacity.quota_forecast(store, days, horizon, now=now, **scope)
    waste = capacity.waste_candidates(store, now=now, **scope)
    soon = quota[quota["days"].notna()].head(20)
    return [
        summary_cards(hv, fc, waste),
        page.section("Allocation and usage per hypervisor"),
        allocation_chart(hv, palette),
        tables.table(hv, HYPERVISOR_COLUMNS, "pf9-hypervisors", "No hypervisor in this scope.", decimals=2),
        page.section("Per aggregate"),
        tables.table(
            aggs, AGGREGATE_COLUMNS, "pf9-aggregates", "No host aggregate in this scope.", decimals=2
        ),
        page.section(f"Capacity forecast (next {horizon} days)"),
        ForecastPanel(store, fc, days, horizon, palette).widget,
        page.section("Quotas reaching their limit within the horizon (soonest first)"),
        tables.table(
            soon,
            QUOTA_FORECAST_COLUMNS,
            "pf9-quota-forecast",
            f"No quota reaches its limit within {horizon} days at its current pace.",
        ),
        page.section("Right-sizing and waste candidates"),
        tables.table(
            waste, WASTE_COLUMNS, "pf9-waste", "No right-sizing or waste candidate in this scope.", decimals=0
        ),
    ]


def capacity_page(data_dir: Path | str, days: int = HISTORY_DAYS, horizon: int = HORIZON_DAYS) -> LivePage:
    return LivePage(
        data_dir,
        "Capacity",
        lambda store, scope, palette: build(store, scope, palette, days, horizon),
        cls="pf9-capacity",
    )
