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


ALL = "(all)"


class ScopeFilter:
    """A cloud and a region dropdown over the (cloud, region) pairs a page knows; the region's choices follow
    the cloud. `query()` gives the `cloud=` / `region=` keywords every analytic takes (None: all of them)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = sorted(set(pairs))
        clouds = sorted({cloud for cloud, _ in self.pairs})
        self.cloud = w.Dropdown(options=[ALL, *clouds], value=ALL, description="Cloud")
        self.cloud.add_class("scope-cloud")
        self.region = w.Dropdown(options=self._regions(ALL), value=ALL, description="Region")
        self.region.add_class("scope-region")
        self._callbacks: list[Callable[..., None]] = []
        self._quiet = False
        self.cloud.observe(self._cloud_changed, names="value")
        self.region.observe(self._region_changed, names="value")
        self.widget = w.HBox([self.cloud, self.region])
        self.widget.add_class("scope-filter")

    def _regions(self, cloud: str) -> list[str]:
        return [ALL, *sorted({r for c, r in self.pairs if cloud in (ALL, c)})]

    def _cloud_changed(self, change: dict) -> None:
        # The region's choices follow the cloud; resetting it is part of this change: one refresh, not two.
        self._quiet = True
        try:
            self.region.options = self._regions(change["new"])
            self.region.value = ALL
        finally:
            self._quiet = False
        self._fire(change)

    def _region_changed(self, change: dict) -> None:
        if not self._quiet:
            self._fire(change)

    def _fire(self, change: dict) -> None:
        for callback in self._callbacks:
            callback(change)

    def query(self) -> dict[str, str | None]:
        return {
            "cloud": None if self.cloud.value == ALL else self.cloud.value,
            "region": None if self.region.value == ALL else self.region.value,
        }

    def on_change(self, callback: Callable[..., None]) -> None:
        """`callback(change)` once per change of the scope."""
        self._callbacks.append(callback)
