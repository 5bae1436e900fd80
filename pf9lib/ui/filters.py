"""Filter controls of the drift table: severities, types, acknowledged or not, a search (Enter to apply).

`DriftFilters.query()` turns their state into keyword filters of `pf9lib.analytics.drift.events`, so the
table asks the library and filters nothing itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

SEVERITIES = ("critical", "warning", "info")


class DriftFilters:
    """The controls and the query they stand for. `types` are the choices of the type filter."""

    def __init__(self, types: list[str]) -> None:
        self.severity = w.SelectMultiple(options=SEVERITIES, value=SEVERITIES, description="Severity", rows=3)
        self.type = w.SelectMultiple(options=sorted(types), description="Type", rows=4)
        self.show_acknowledged = w.Checkbox(value=False, description="Show acknowledged")
        self.search = w.Text(
            placeholder="name, field, project … (Enter)", description="Search", continuous_update=False
        )
        self.search.add_class("drift-search")
        self.widget = w.HBox([self.severity, self.type, w.VBox([self.show_acknowledged, self.search])])
        self.widget.add_class("drift-filters")

    def query(self) -> dict[str, Any]:
        """Keyword filters of drift.events: nothing selected in a list means all of it."""
        return {
            "severity": list(self.severity.value) or list(SEVERITIES),
            "type": list(self.type.value) or None,
            "acknowledged": None if self.show_acknowledged.value else False,
            "search": self.search.value.strip() or None,
        }

    def on_change(self, callback: Callable[..., None]) -> None:
        for control in (self.severity, self.type, self.show_acknowledged, self.search):
            control.observe(callback, names="value")
