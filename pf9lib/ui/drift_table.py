"""The drift table with its acknowledge flow: filter, search, select rows, write a note, acknowledge.

The acknowledge callback passes nothing but the viewer's identity to
`pf9lib.analytics.drift_events.acknowledge_as_viewer`, which decides whether that viewer may acknowledge:
whoever sees a dashboard can fire its callbacks, so no permission is checked here.

Each row is a checkbox plus one HTML widget of escaped cells (three widget models a row instead of ten): a
name like `<img src=x onerror=…>` shows as those characters and runs nothing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd
from ipywidgets.widgets.widget_bool import CheckboxStyle
from ipywidgets.widgets.widget_string import HTMLStyle

from pf9lib import identity
from pf9lib.analytics import drift
from pf9lib.analytics.drift_events import acknowledge_as_viewer
from pf9lib.errors import Pf9Error
from pf9lib.store.reader import Store
from pf9lib.ui.filters import SEVERITIES, DriftFilters
from pf9lib.ui.tables import format_value


def _dashboard_viewer() -> str | None:
    """The page's viewer (X-Forwarded-User, else PF9WB_USER), read when the button is clicked."""
    who = identity.dashboard_identity()
    return who.user if who else None


# (header, width) of the cells after the checkbox
CELLS: tuple[tuple[str, str], ...] = (
    ("Severity", "80px"),
    ("Type", "90px"),
    ("Name", "260px"),
    ("Field", "130px"),
    ("Change", "200px"),
    ("Observed (UTC)", "150px"),
    ("Acknowledged by", "150px"),
)


def _cell(text: str, width: str, cls: str = "") -> str:
    classes = f"pf9-cell {cls}".strip()
    text = html.escape(text)
    return f'<span class="{classes}" style="width:{width}" title="{text}">{text}</span>'


def _class_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(text))


def row_cells(event: Any) -> str:
    """The escaped cells of one drift event (a row of drift.events)."""
    cells = (
        (event.severity, f"pf9-sev-{_class_safe(event.severity)}"),
        (event.type, ""),
        (event.name, "drift-name"),
        (event.field, ""),
        (f"{format_value(event.old_value)} → {format_value(event.new_value)}", ""),
        (pd.Timestamp(event.observed_at), ""),
        (event.acked_by, ""),
    )
    return "".join(
        _cell(format_value(value), width, cls) for (_, width), (value, cls) in zip(CELLS, cells, strict=True)
    )


class DriftPanel:
    """The drift section: summary line, filters, the table, note + acknowledge button, status line.

    `viewer` returns who is looking at the page when the button is pressed (default: the proxy's
    X-Forwarded-User as Voilà hands it over, else PF9WB_USER)."""

    def __init__(
        self,
        store: Store,
        rows: int = 25,
        viewer: Callable[[], str | None] = _dashboard_viewer,
    ) -> None:
        self.store, self.rows, self._viewer = store, rows, viewer
        self.filters = DriftFilters(drift.open_by_type(store)["type"].tolist())
        self.summary = w.Label("")
        self.summary.add_class("drift-summary")
        self.shown = w.Label("")
        self.shown.add_class("pf9-muted")
        self.table = w.VBox()
        self.table.add_class("drift-table")
        self.note = w.Text(placeholder="note (why this change is fine)", description="Note")
        self.note.add_class("drift-note")
        self.ack_button = w.Button(
            description="Acknowledge selected", button_style="warning", layout=w.Layout(width="auto")
        )
        self.ack_button.add_class("drift-ack")
        self.status = w.Label("")
        self.status.add_class("drift-status")
        self.selected: dict[str, w.Checkbox] = {}
        # One layout and style per kind of widget, shared by every row: fewer models for the browser to build.
        self._box_layout = w.Layout(width="30px")
        self._row_layout = w.Layout(align_items="center")
        self._cells_layout = w.Layout()
        self._checkbox_style = CheckboxStyle()
        self._html_style = HTMLStyle()
        self.filters.on_change(self.refresh)
        self.ack_button.on_click(self.acknowledge)
        self.widget = w.VBox(
            [
                self.summary,
                self.filters.widget,
                self.shown,
                self.table,
                w.HBox([self.note, self.ack_button]),
                self.status,
            ]
        )
        self.refresh()

    def refresh(self, *_: Any) -> None:
        """Ask the library for the events the filters describe and rebuild the rows and the summary line."""
        df = drift.events(self.store, **self.filters.query(), sort="severity", limit=self.rows)
        self._close_rows()
        head = "".join(_cell(title, width) for title, width in CELLS)
        header = w.HTML(head, layout=self._cells_layout, style=self._html_style)
        header.add_class("drift-head")
        children: list[w.Widget] = [header]
        for event in df.itertuples():
            children.append(self._row(event))
        self.table.children = children
        self.shown.value = f"{len(df)} of {df.attrs['total']} events shown"
        totals = drift.totals(self.store).iloc[0]
        counts = ", ".join(f"{int(totals[f'open_{s}'])} {s}" for s in SEVERITIES)
        self.summary.value = (
            f"Drift: {int(totals['open'])} open ({counts}), {int(totals['acknowledged'])} acknowledged"
        )

    def _row(self, event: Any) -> w.HBox:
        box = w.Checkbox(value=False, indent=False, layout=self._box_layout, style=self._checkbox_style)
        box.add_class("drift-select")
        self.selected[event.event_id] = box
        cells = w.HTML(row_cells(event), layout=self._cells_layout, style=self._html_style)
        row = w.HBox([box, cells], layout=self._row_layout)
        row.add_class("drift-row")
        # Event ids are hex digests; the pattern keeps any other id from breaking the class list.
        row.add_class(f"drift-event-{_class_safe(event.event_id)}")
        return row

    def _close_rows(self) -> None:
        """Close the previous rows' widgets (not the shared layouts and styles): a page left open and filtered
        many times would otherwise keep every row it ever showed, in the kernel and in the browser."""
        for row in self.table.children:
            for child in getattr(row, "children", ()):
                child.close()
            row.close()
        self.selected.clear()

    def selected_ids(self) -> list[str]:
        return [event_id for event_id, box in self.selected.items() if box.value]

    def acknowledge(self, *_: Any) -> None:
        """The button's callback: the library checks the viewer and writes; the status line says what
        happened in one line."""
        viewer = self._viewer()
        try:
            written = acknowledge_as_viewer(
                self.store, self.selected_ids(), viewer, note=self.note.value.strip()
            )
        except Pf9Error as exc:
            self.status.value = str(exc)
            return
        self.status.value = f"{written} event(s) acknowledged by {viewer}"
        self.note.value = ""
        self.refresh()
