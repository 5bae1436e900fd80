"""The drift table with its acknowledge flow: filter, search, select rows, write a note, acknowledge.

The acknowledge callback passes nothing but the viewer's identity to
`pf9lib.analytics.drift_events.acknowledge_as_viewer`, which decides whether that viewer may acknowledge:
whoever sees a dashboard can fire its callbacks, so no permission is checked here.

Each row is a checkbox plus one HTML widget of escaped cells (three widget models a row instead of ten): a
name like `<img src=x onerror=…>` shows as those characters and runs nothing.

The panel leads with the open incidents (drift.incidents: a parent event and what followed from it) by
severity and rule. A row without a name shows the object's id; its change reads `old → new`, an id in either
value shown as the object's name when the inventory's history knows it (a port id as the port's name).
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
from pf9lib.analytics.drift_rules import SEVERITY_RANK
from pf9lib.errors import Pf9Error
from pf9lib.store.reader import Store
from pf9lib.ui.filters import SEVERITIES, DriftFilters
from pf9lib.ui.tables import format_value, html_table


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


def _cell(text: str, width: str, cls: str = "", title: str | None = None) -> str:
    """One cell; its tooltip (`title`, default the text) shows what the narrow column cuts off."""
    classes = f"pf9-cell {cls}".strip()
    tip = html.escape(text if title is None else title)
    text = html.escape(text)
    return f'<span class="{classes}" style="width:{width}" title="{tip}">{text}</span>'


def _class_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(text))


# An OpenStack id: a UUID, or Keystone's 32 hex digits.
OBJECT_ID = re.compile(
    r"\b(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32})\b"
)
NONE_SHOWN = "(none)"


def ids_in(*values: Any) -> set[str]:
    """The object ids written in drift values (a field may hold one id, or a list of them as text)."""
    return {m for v in values if isinstance(v, str) for m in OBJECT_ID.findall(v)}


# Types whose rows are not objects an id in a drift value would name.
UNNAMED_TYPES = ("role_assignments", "quotas", "security_group_rules")


def inventory_names(store: Store, ids: set[str] | list[str]) -> dict[str, str]:
    """id → how a person knows the object, for the ids asked (the shown rows' only): the newest non-empty
    name any type's history gave it, else its type and short id ("port 718d4d05")."""
    ids = sorted(ids)
    if not ids:
        return {}
    parts = " UNION ALL ".join(
        f"SELECT '{kind}' AS kind, id, name, observed_at FROM \"{kind}_history\" "
        "WHERE id IN (SELECT unnest($ids::VARCHAR[]))"
        for kind in store.type_columns
        if kind not in UNNAMED_TYPES
    )
    rows = store.rows(
        f"""SELECT id, any_value(kind),
                   arg_max(name, observed_at) FILTER (WHERE name IS NOT NULL AND name <> '')
            FROM ({parts}) GROUP BY id""",
        {"ids": ids},
    )
    return {
        str(i): str(name) if name else f"{kind.removesuffix('s')} {short_id(i)}" for i, kind, name in rows
    }


def short_id(object_id: str) -> str:
    return object_id[:8]


def readable_value(value: Any, names: dict[str, str]) -> str:
    """A drift value as it reads: "(none)" when missing, each id as its object's name (inventory_names), an
    id the inventory does not know cut to its first 8 characters."""
    text = format_value(value)
    if not text:
        return NONE_SHOWN
    return OBJECT_ID.sub(lambda m: names.get(m.group(0)) or short_id(m.group(0)) + "…", text)


def change_text(event: Any, names: dict[str, str] | None = None) -> str:
    """`old → new`; a deletion with no field values says "deleted"."""
    names = names or {}
    old, new = format_value(event.old_value), format_value(event.new_value)
    if not old and not new and getattr(event, "change", None) == "deleted":
        return "deleted"
    return f"{readable_value(event.old_value, names)} → {readable_value(event.new_value, names)}"


def row_cells(event: Any, names: dict[str, str] | None = None) -> str:
    """The escaped cells of one drift event (a row of drift.events); `names` (inventory_names) turns ids in
    its values into names; the change's tooltip keeps the values as stored."""
    stored = f"{format_value(event.old_value)} → {format_value(event.new_value)}"
    cells = (
        (event.severity, f"pf9-sev-{_class_safe(event.severity)}", None),
        (event.type, "", None),
        (format_value(event.name) or format_value(event.object_id), "drift-name", None),
        (event.field, "", None),
        (change_text(event, names), "drift-change", stored),
        (pd.Timestamp(event.observed_at), "", None),
        (event.acked_by, "", None),
    )
    return "".join(
        _cell(format_value(value), width, cls, title)
        for (_, width), (value, cls, title) in zip(CELLS, cells, strict=True)
    )


INCIDENT_COLUMNS = (
    ("severity", "Severity"),
    ("rule_id", "Rule"),
    ("incidents", "Open incidents"),
    ("follow_on", "Events following them"),
)


def incidents_by_rule(store: Store) -> pd.DataFrame:
    """Open incidents (drift.incidents) per severity and rule, worst first: how many, and how many open
    events followed from them. Grouped by the parent's rule, so an incident counts once."""
    df = drift.incidents(store, limit=None)
    columns = ["severity", "rule_id", "incidents", "follow_on"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    out = (
        df.groupby(["severity", "rule_id"], as_index=False)
        .agg(incidents=("event_id", "size"), follow_on=("open_children", "sum"))
        .astype({"incidents": "int64", "follow_on": "int64"})
    )
    out["_rank"] = out["severity"].map(SEVERITY_RANK).fillna(0)
    out = out.sort_values(["_rank", "incidents", "rule_id"], ascending=[False, False, True])
    return out[columns].reset_index(drop=True)


def incidents_html(by_rule: pd.DataFrame, rules: int = 8) -> str:
    """The incident summary: a line of counts per severity, then the `rules` worst rules as a small table."""
    counts = by_rule.groupby("severity")["incidents"].sum() if not by_rule.empty else pd.Series(dtype="int64")
    # A severity with none is not coloured: red "0 critical" would read as an alarm.
    per_severity = " · ".join(
        f'<span class="{f"pf9-sev-{s} " if counts.get(s, 0) else ""}drift-incidents-{s}">'
        f"{int(counts.get(s, 0))} {s}</span>"
        for s in SEVERITIES
    )
    line = f'<div class="drift-incidents-line">Open incidents: {int(counts.sum())} ({per_severity})</div>'
    if by_rule.empty:
        return line
    more = len(by_rule) - rules
    note = f'<div class="pf9-muted">… and {more} more rule(s)</div>' if more > 0 else ""
    return line + html_table(by_rule.head(rules), INCIDENT_COLUMNS, "drift-incidents-by-rule") + note


class DriftPanel:
    """The drift section: open incidents by severity and rule, summary line, filters, the table, note +
    acknowledge button, status line.

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
        self.incidents = w.HTML("")
        self.incidents.add_class("drift-incidents")
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
                self.incidents,
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
        names = inventory_names(self.store, ids_in(*df["old_value"], *df["new_value"]))
        for event in df.itertuples():
            children.append(self._row(event, names))
        self.table.children = children
        self.shown.value = f"{len(df)} of {df.attrs['total']} events shown"
        totals = drift.totals(self.store).iloc[0]
        counts = ", ".join(f"{int(totals[f'open_{s}'])} {s}" for s in SEVERITIES)
        self.summary.value = (
            f"Drift: {int(totals['open'])} open ({counts}), {int(totals['acknowledged'])} acknowledged"
        )
        self.incidents.value = incidents_html(incidents_by_rule(self.store))

    def _row(self, event: Any, names: dict[str, str]) -> w.HBox:
        box = w.Checkbox(value=False, indent=False, layout=self._box_layout, style=self._checkbox_style)
        box.add_class("drift-select")
        self.selected[event.event_id] = box
        cells = w.HTML(row_cells(event, names), layout=self._cells_layout, style=self._html_style)
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
