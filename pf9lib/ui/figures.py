"""Charts of the dashboards: plotly figures given as plain dicts, shown through plotly's mimetype.

The mimetype bundle is what the plotly extension of JupyterLab and Voilà draws; building it from dicts skips
plotly's graph_objects validation and import (~1 s of a kernel's start), so a page renders sooner. A chart
without data shows "No data for …" instead of empty axes.

Never capture output into an Output widget while a dashboard executes (`with out: display(...)`,
`out.clear_output()`): Voilà's executor (nbclient) mimics the Output widget by sending comm messages on the
kernel's shell socket without awaiting them, which can hide the cell's execute_reply from its own poll of
that socket; the render then waits for ever and the page never loads (voila-dashboards/voila#1428). The
overview hung that way on loaded machines. Put the outputs into the widget's state, as `plotly_output` does.
"""

from __future__ import annotations

import html
from datetime import datetime

import ipywidgets as w
import pandas as pd

from pf9lib.analytics import monitoring, summary
from pf9lib.store.reader import Store
from pf9lib.ui.branding import Palette

PLOTLY_MIME = "application/vnd.plotly.v1+json"
GRID = "rgba(128,128,128,0.25)"


def plotly_output(data: list[dict], layout: dict, height: int = 320) -> w.Output:
    """An Output widget holding one plotly figure; transparent backgrounds and a mid-grey font read on both
    themes."""
    layout = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": "#8a8a8a"},
        **layout,
    }
    for axis in ("xaxis", "yaxis"):
        layout[axis] = {"gridcolor": GRID, "automargin": True, **layout.get(axis, {})}
    # The output is the widget's state: no output capture during execution (see the module docstring: it
    # could hang the page's render), and the figure is there outside a kernel too.
    bundle = {
        "output_type": "display_data",
        "data": {PLOTLY_MIME: {"data": data, "layout": layout}},
        "metadata": {},
    }
    return w.Output(outputs=(bundle,))


def no_data(what: str, why: str = "") -> w.HTML:
    """The placeholder of an empty chart: says what has no data and, when known, why."""
    text = f"No data for {what}" + (f": {why}" if why else ".")
    return w.HTML(f'<div class="pf9-no-data">{html.escape(text)}</div>')


def host_bars(df: pd.DataFrame, column: str, title: str, palette: Palette) -> w.Widget:
    """Horizontal bars of hosts by `column` (a %), red above monitoring.CRITICAL_PCT, the line drawn."""
    if df.empty:
        return no_data(title[0].lower() + title[1:], "no host metrics in the store yet")
    df = df.sort_values(column)
    # plotly reads a small HTML subset in labels: escaped names come back as the same text.
    names = [html.escape(str(h)) for h in df["host"]]
    bar = {
        "type": "bar",
        "orientation": "h",
        "x": [float(v) for v in df[column]],
        "y": names,
        "marker": {"color": [palette.critical if c else palette.ok for c in df["critical"]]},
        "hovertemplate": "%{y}: %{x:.1f} %<extra></extra>",
    }
    line = {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": monitoring.CRITICAL_PCT,
        "x1": monitoring.CRITICAL_PCT,
        "y0": 0,
        "y1": 1,
        "line": {"dash": "dash", "color": palette.critical},
    }
    critical = f"red: critical > {monitoring.CRITICAL_PCT:.0f} %"
    layout = {
        "title": {"text": f"{title} ({critical})"},
        "xaxis": {"range": [0, 100], "title": {"text": "%"}},
        "shapes": [line],
    }
    return plotly_output([bar], layout)


TOP_HOSTS = (("cpu_pct", "CPU"), ("mem_pct", "memory"))


def top_hosts_tabs(store: Store, palette: Palette, limit: int = 10) -> w.Tab:
    """Tabs of the busiest hosts by CPU and by memory (latest metrics).

    Only the first tab's chart is made with the page; another is queried and drawn when its tab is first
    opened: plotly would otherwise lay out a hidden chart while the page loads."""

    def chart(index: int) -> w.Widget:
        column, label = TOP_HOSTS[index]
        return host_bars(
            monitoring.top_hosts(store, column, limit=limit), column, f"Top hosts by {label}", palette
        )

    panes = [w.Box([chart(0)])] + [w.Box() for _ in TOP_HOSTS[1:]]
    tabs = w.Tab(panes)
    for index, (_, label) in enumerate(TOP_HOSTS):
        tabs.set_title(index, label[0].upper() + label[1:])

    def on_select(change: dict) -> None:
        pane = panes[change["new"]] if change["new"] is not None else None
        if pane is not None and not pane.children:
            pane.children = [chart(change["new"])]

    tabs.observe(on_select, names="selected_index")
    tabs.add_class("pf9-top-hosts")
    return tabs


def daily_changes_chart(daily: pd.DataFrame, days: int, palette: Palette) -> w.Widget:
    """Stacked bars of created / updated / deleted objects per day (summary.daily_changes' frame)."""
    title = f"Changes per day (last {days} days)"
    if daily.empty:
        return no_data(f"changes in the last {days} days", "no object was created, updated or deleted")
    bars = []
    for kind in ("created", "updated", "deleted"):
        part = daily[daily["kind"] == kind]
        bars.append(
            {
                "type": "bar",
                "name": kind,
                "marker": {"color": getattr(palette, kind)},
                "x": [d.strftime("%Y-%m-%d") for d in part["day"]],
                "y": [int(n) for n in part["n"]],
            }
        )
    return plotly_output(bars, {"barmode": "stack", "title": {"text": title}, "xaxis": {"type": "date"}}, 300)


def changes_per_day(store: Store, days: int, palette: Palette, as_of: datetime | None = None) -> w.Widget:
    """The changes-per-day chart of the last `days` days ending `as_of` (default: the latest run)."""
    return daily_changes_chart(summary.daily_changes(store, days, now=as_of), days, palette)
