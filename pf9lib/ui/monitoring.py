"""The monitoring page: a host's and a VM's time series from the hourly metric roll-ups, the busiest hosts and
VMs, and the monitoring alerts (firing first).

Metrics carry no cloud: hosts and VMs are placed in a cloud and region by the hypervisor or server they match
(pf9lib.analytics.landing.top_hosts / vm_hotspots), and so are the alerts, by their host.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import ipywidgets as w
import pandas as pd

from pf9lib.analytics import landing, monitoring, monitoring_alerts
from pf9lib.store.reader import Store
from pf9lib.ui import figures, page, tables
from pf9lib.ui.branding import Palette
from pf9lib.ui.scope import LivePage, Scope, replace_children, value_cards

SERIES_DAYS = 7
ALL_ROWS = 1_000_000
HOST_SERIES = (("cpu_pct_avg", "CPU %"), ("mem_pct_avg", "memory %"), ("fs_pct_avg", "root fs %"))
VM_SERIES = (("cpu_pct_avg", "CPU %"), ("mem_pct_avg", "memory %"))
HOTSPOT_COLUMNS = (
    ("by", "By"),
    ("region", "Region"),
    ("server_name", "VM"),
    ("inv_project_name", "Project"),
    ("host", "Host"),
    ("cpu_pct", "CPU %"),
    ("mem_pct", "Mem %"),
    ("block_allocation_bytes", "Block allocated (B)"),
)
ALERT_COLUMNS = (*tables.ALERT_COLUMNS, ("state", "State"), ("resolved_at", "Resolved (UTC)"))


def scoped_hosts(store: Store, scope: Scope) -> pd.DataFrame:
    """Every measured host of the scope, busiest CPU first (landing.top_hosts without its limit)."""
    return landing.top_hosts(store, limit=ALL_ROWS, **scope)


def scoped_alerts(store: Store, scope: Scope, open_only: bool = False) -> pd.DataFrame:
    """Alert episodes (monitoring_alerts.alerts) of the scope's hosts, firing first, newest first."""
    got = monitoring_alerts.alerts(store, open_only=open_only)
    if scope.get("cloud") is not None or scope.get("region") is not None:
        hosts = scoped_hosts(store, scope)
        names = set(hosts["host"]) | set(hosts["hypervisor_hostname"].dropna())
        got = got[got["host"].isin(names)]
    firing = got["state"] == "firing"
    return (
        got.assign(_f=~firing)
        .sort_values(["_f", "fired_at"], ascending=[True, False])
        .drop(columns="_f")
        .reset_index(drop=True)
    )


def summary_cards(hosts: pd.DataFrame, hotspots: pd.DataFrame, alerts: pd.DataFrame) -> w.HTML:
    vms = hotspots["vm_key"].nunique() if len(hotspots) else 0
    firing = int((alerts["state"] == "firing").sum()) if len(alerts) else 0
    return value_cards(
        [
            ("hosts", "Hosts measured", f"{len(hosts):,}"),
            (
                "critical_hosts",
                f"Hosts above {monitoring.CRITICAL_PCT:.0f} % CPU",
                f"{int(hosts['critical'].sum()):,}",
            ),
            ("vms", "VMs measured", f"{vms:,}"),
            ("alerts_firing", "Alerts firing", f"{firing:,}"),
        ]
    )


def series_chart(df: pd.DataFrame, columns: tuple, title: str) -> w.Widget:
    if df.empty:
        return figures.no_data(title, "no hourly roll-up in the window")
    x = [pd.Timestamp(t).strftime("%Y-%m-%d %H:%M") for t in df["period"]]
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": label,
            "x": x,
            "y": [None if pd.isna(v) else round(float(v), 2) for v in df[column]],
        }
        for column, label in columns
        if column in df
    ]
    layout = {
        "title": {"text": title},
        "xaxis": {"type": "date"},
        "yaxis": {"range": [0, 100], "title": {"text": "%"}},
        "legend": {"orientation": "h"},
    }
    out = figures.plotly_output(traces, layout, 300)
    out.add_class("pf9-series")
    return out


class SeriesPanel:
    """A dropdown of hosts or VMs and the chosen one's hourly series over the last `days` days."""

    def __init__(self, store: Store, kind: str, options: list[tuple[str, str]], days: int) -> None:
        self.store, self.kind, self.days = store, kind, days
        self.choice = w.Dropdown(
            options=options, description="Host" if kind == "hosts" else "VM", layout=w.Layout(width="480px")
        )
        self.choice.add_class(f"pf9-{kind}-choice")
        self.chart = w.Box()
        self.choice.observe(lambda _: self.show(), names="value")
        self.widget = w.VBox([self.choice, self.chart])
        self.show()

    def show(self) -> None:
        what = "host" if self.kind == "hosts" else "VM"
        if self.choice.value is None:
            replace_children(
                self.chart, [figures.no_data(f"{what} series", f"no {what} measured in this scope")]
            )
            return
        since = self.store.now - timedelta(days=self.days)
        df = monitoring.series(self.store, self.kind, self.choice.value, since=since, resolution="hourly")
        label = self.choice.label
        columns = HOST_SERIES if self.kind == "hosts" else VM_SERIES
        replace_children(
            self.chart, [series_chart(df, columns, f"{label}: hourly averages, last {self.days} days")]
        )


def build(store: Store, scope: Scope, palette: Palette, days: int = SERIES_DAYS) -> list[w.Widget]:
    hosts = scoped_hosts(store, scope)
    hotspots = landing.vm_hotspots(store, limit=10, **scope)
    every_vm = landing.vm_hotspots(store, limit=ALL_ROWS, **scope).drop_duplicates("vm_key")
    alerts = scoped_alerts(store, scope)
    host_options = [(str(h), str(h)) for h in hosts["host"]]
    vm_options = [
        (f"{n if isinstance(n, str) else k} ({h})", str(k))
        for n, k, h in zip(every_vm["server_name"], every_vm["vm_key"], every_vm["host"], strict=True)
    ]
    return [
        summary_cards(hosts, every_vm, alerts),
        page.section("Host time series"),
        SeriesPanel(store, "hosts", host_options, days).widget,
        page.section("VM time series"),
        SeriesPanel(store, "vms", sorted(vm_options), days).widget,
        page.section("Busiest hosts"),
        figures.host_bars(hosts.head(10), "cpu_pct", "Top hosts by CPU", palette),
        page.section("VM hotspots (top 10 by CPU, memory and block storage)"),
        tables.table(
            hotspots,
            HOTSPOT_COLUMNS,
            "pf9-vm-hotspots",
            "No VM measured in this scope.",
            decimals=1,
            severity_column=None,
        ),
        page.section("Monitoring alerts (firing first)"),
        tables.table(alerts.head(50), ALERT_COLUMNS, "pf9-alerts", "No monitoring alert in this scope."),
    ]


def monitoring_page(data_dir: Path | str, days: int = SERIES_DAYS) -> LivePage:
    return LivePage(
        data_dir,
        "Monitoring",
        lambda store, scope, palette: build(store, scope, palette, days),
        cls="pf9-monitoring",
    )
