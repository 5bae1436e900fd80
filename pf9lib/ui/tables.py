"""Formatted tables for dashboards: cells are escaped text, times `YYYY-MM-DD HH:MM` (UTC), numbers rounded.

A table is one HTML widget (not a grid of labels): one view in the browser however many rows it has.
`format_value` is the one place that decides how a value reads, for these tables and the drift rows.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from numbers import Integral, Real
from typing import Any

import ipywidgets as w
import pandas as pd

from pf9lib.analytics.monitoring_alerts import alerts
from pf9lib.store.reader import Store

TIME_FORMAT = "%Y-%m-%d %H:%M"
# (column, header) of the firing monitoring alerts
ALERT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("severity", "Severity"),
    ("rule", "Rule"),
    ("entity_kind", "Kind"),
    ("entity_name", "Name"),
    ("host", "Host"),
    ("metric", "Metric"),
    ("value", "Value"),
    ("threshold", "Threshold"),
    ("fired_at", "Fired (UTC)"),
)


def format_value(value: Any, decimals: int = 1) -> str:
    """How a cell reads: "" for missing, times in UTC to the minute, floats to `decimals`, lists joined."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v, decimals) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):  # pd.Timestamp included
        if pd.isna(value):
            return ""
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime(TIME_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        number = float(value)
        return "" if math.isnan(number) else f"{number:.{decimals}f}"
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def html_table(
    df: pd.DataFrame,
    columns: Sequence[tuple[str, str]],
    cls: str = "",
    decimals: int = 1,
    severity_column: str | None = "severity",
) -> str:
    """An HTML table of `columns` ((column, header) pairs) of `df`, every cell escaped and formatted.

    Numbers are right-aligned; the severity column's cells carry `pf9-sev-<severity>` for their colour."""
    head = "".join(f"<th>{html.escape(header)}</th>" for _, header in columns)
    rows = []
    for record in df[[c for c, _ in columns]].itertuples(index=False, name=None):
        cells = []
        for (column, _), value in zip(columns, record, strict=True):
            classes = [f"pf9-col-{column}"]
            if _is_number(value):
                classes.append("pf9-num")
            if column == severity_column and isinstance(value, str):
                classes.append(f"pf9-sev-{html.escape(value)}")
            cells.append(f'<td class="{" ".join(classes)}">{html.escape(format_value(value, decimals))}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table class="pf9-table {cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def table(
    df: pd.DataFrame, columns: Sequence[tuple[str, str]], cls: str, empty: str, **kwargs: Any
) -> w.HTML:
    """A table widget with the class `cls`; the `empty` sentence instead of a table without rows."""
    if df.empty:
        widget = w.HTML(f'<div class="pf9-muted">{html.escape(empty)}</div>')
    else:
        widget = w.HTML(html_table(df, columns, **kwargs))
    widget.add_class(cls)
    return widget


def alerts_table(store: Store, limit: int = 50) -> w.HTML:
    """The firing monitoring alerts, newest first (the `limit` newest)."""
    firing = alerts(store, open_only=True).head(limit)
    return table(firing, ALERT_COLUMNS, "pf9-alerts", "No monitoring alert is firing.")
