"""The history page: changes per day and the recent ones, the most changed resources, one resource's stored
states with what changed field by field, and the estate on two dates side by side (the store's `as_of`).

Numbers are pf9lib.analytics.history's and the store's; history answers for every cloud, so this page keeps
the rows of the chosen cloud and region (pf9lib.ui.scope.keep).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import ipywidgets as w
import pandas as pd

from pf9lib.analytics import history
from pf9lib.analytics.scope import where
from pf9lib.errors import Pf9Error
from pf9lib.store.reader import Store
from pf9lib.ui import figures, page, tables
from pf9lib.ui.branding import Palette
from pf9lib.ui.scope import LivePage, Scope, keep, replace_children, value_cards

RECENT_DAYS = 7
COMPARED_TYPES = ("servers", "volumes", "snapshots", "networks", "ports", "floating_ips", "security_groups")
RECENT_COLUMNS = (
    ("time", "Time (UTC)"),
    ("kind", "Change"),
    ("type", "Type"),
    ("name", "Name"),
    ("project_name", "Project"),
    ("region", "Region"),
    ("changed_fields", "Fields"),
)
MOST_COLUMNS = (
    ("type", "Type"),
    ("name", "Name"),
    ("project_name", "Project"),
    ("region", "Region"),
    ("changes", "Updates"),
    ("fields_changed", "Fields changed"),
    ("created", "Created"),
    ("deleted", "Deleted"),
    ("last_change", "Last change (UTC)"),
)
STATE_COLUMNS = (
    ("time", "Seen (UTC)"),
    ("change", "Change"),
    ("changed_fields", "Fields"),
    ("details", "What changed (before → after)"),
)
DIFF_COLUMNS = (("field", "Field"), ("before", "Before"), ("after", "After"))
COMPARE_COLUMNS = (("type", "Type"), ("before", "Before"), ("after", "After"), ("difference", "Difference"))


def daily(changes: pd.DataFrame) -> pd.DataFrame:
    """Changes per UTC day and kind (summary.daily_changes' shape: day, kind, n) of a change frame."""
    if changes.empty:
        return pd.DataFrame(columns=["day", "kind", "n"])
    day = pd.to_datetime(changes["time"], utc=True).dt.floor("D")
    return (
        changes.assign(day=day).groupby(["day", "kind"], as_index=False).size().rename(columns={"size": "n"})
    )


class ResourcePanel:
    """A dropdown of the most changed resources; the chosen one's states and its newest change's diff."""

    def __init__(self, store: Store, most: pd.DataFrame) -> None:
        self.store = store
        options = [
            (f"{r.type}: {r.name or r.id} ({r.region})", f"{r.type}\t{r.id}") for r in most.itertuples()
        ]
        self.choice = w.Dropdown(options=options, description="Resource", layout=w.Layout(width="560px"))
        self.choice.add_class("pf9-resource-choice")
        self.detail = w.VBox()
        self.detail.add_class("pf9-resource-detail")
        self.choice.observe(lambda _: self.show(), names="value")
        self.widget = w.VBox([self.choice, self.detail])
        self.show()

    def show(self) -> None:
        if not self.choice.value:
            replace_children(
                self.detail, [figures.no_data("a resource's history", "nothing changed in this scope")]
            )
            return
        kind, obj_id = self.choice.value.split("\t")
        states = history.resource_history(self.store, kind, obj_id)
        states["changed_fields"] = [_fields(f) for f in states["changed_fields"]]
        try:
            diff = history.compare_states(self.store, kind, obj_id)
            diff = diff[diff["changed"] & ~diff["volatile"]]
        except Pf9Error as exc:  # a resource with one stored state has nothing to compare
            diff, why = pd.DataFrame(columns=["field", "before", "after"]), str(exc)
        else:
            why = "The newest state is the only one stored."
        replace_children(
            self.detail,
            [
                tables.table(states, STATE_COLUMNS, "pf9-states", "No stored state."),
                w.HTML(
                    '<div class="pf9-note">The newest state against the one before it, field by field:</div>'
                ),
                tables.table(diff, DIFF_COLUMNS, "pf9-diff", why if diff.empty else ""),
            ],
        )


def counts_as_of(store: Store, at: datetime, scope: Scope) -> pd.DataFrame:
    """Objects per type in the scope as the store described them at `at` (store.as_of)."""
    past = store.as_of(at)
    try:
        clause, params = where(**scope)
        rows = [
            (kind, int(past.sql(f'SELECT count(*) AS n FROM "{kind}" WHERE {clause}', params)["n"][0]))
            for kind in COMPARED_TYPES
        ]
    finally:
        past.close()
    return pd.DataFrame(rows, columns=["type", "n"])


def compare_dates(store: Store, before: date, after: date, scope: Scope) -> pd.DataFrame:
    """Per type: objects at the end of `before` and of `after` (UTC) and the difference."""
    ends = [datetime.combine(d, time.max, UTC) for d in (before, after)]
    a, b = (counts_as_of(store, min(end, store.now), scope) for end in ends)
    out = a.rename(columns={"n": "before"}).merge(b.rename(columns={"n": "after"}), on="type")
    out["difference"] = out["after"] - out["before"]
    return out


class DateComparison:
    """Two date pickers, a Compare button and the estate's counts on each date (end of the day, UTC) with the
    difference."""

    def __init__(self, store: Store, scope: Scope, days: int) -> None:
        self.store, self.scope = store, scope
        end = store.now.astimezone(UTC).date()
        first = store.sql("SELECT min(started_at) AS t FROM runs")["t"][0]
        start = end - timedelta(days=days)
        if not pd.isna(first):  # not before the first collection: nothing was known then
            start = max(start, pd.Timestamp(first).tz_convert(UTC).date())
        self.before = w.DatePicker(description="Before", value=start)
        self.after = w.DatePicker(description="After", value=end)
        self.before.add_class("pf9-date-before")
        self.after.add_class("pf9-date-after")
        # Each date opens the store as of that day (~0.3 s each): asked for, not made with the page.
        self.button = w.Button(description="Compare", icon="exchange")
        self.button.add_class("pf9-compare-button")
        self.button.on_click(lambda _: self.show())
        self.result = w.HTML('<div class="pf9-note">Pick two dates and press Compare.</div>')
        self.result.add_class("pf9-compare")
        self.widget = w.VBox([w.HBox([self.before, self.after, self.button]), self.result])

    def show(self) -> None:
        if self.before.value is None or self.after.value is None:
            self.result.value = '<div class="pf9-error">Pick both dates to compare the estate on them.</div>'
            return
        df = compare_dates(self.store, self.before.value, self.after.value, self.scope)
        self.result.value = tables.html_table(df, COMPARE_COLUMNS, severity_column=None)


def _fields(value: object) -> str:
    """A change's field names as one line (the log holds them as an array)."""
    if value is None or value is pd.NA or isinstance(value, (float, str)):
        return "" if not isinstance(value, str) else value
    return ", ".join(str(v) for v in value)


def build(store: Store, scope: Scope, palette: Palette, days: int = RECENT_DAYS) -> list[w.Widget]:
    changes = keep(history.recent_changes(store, days * 24), scope)
    changes["changed_fields"] = [_fields(f) for f in changes["changed_fields"]]
    day_ago = store.now - timedelta(hours=24)
    last_24h = int((pd.to_datetime(changes["time"], utc=True) > day_ago).sum()) if len(changes) else 0
    most = keep(history.most_changed(store, days, limit=1_000_000), scope)
    cards = value_cards(
        [
            ("changes_24h", "Changes in 24 h", f"{last_24h:,}"),
            ("changes_window", f"Changes in {days} days", f"{len(changes):,}"),
            ("resources_updated", f"Resources updated in {days} days", f"{len(most):,}"),
        ]
    )
    return [
        cards,
        page.section(f"Changes per day (last {days} days)"),
        figures.daily_changes_chart(daily(changes), days, palette),
        page.section("Recent changes (newest 50)"),
        tables.table(
            changes.head(50), RECENT_COLUMNS, "pf9-recent", f"Nothing changed in the last {days} days."
        ),
        page.section("Most changed resources"),
        tables.table(
            most.head(20), MOST_COLUMNS, "pf9-most-changed", "No resource was updated in the window."
        ),
        page.section("One resource's history"),
        ResourcePanel(store, most.head(50)).widget,
        page.section("The estate on two dates"),
        DateComparison(store, scope, days).widget,
    ]


def history_page(data_dir: Path | str, days: int = RECENT_DAYS) -> LivePage:
    return LivePage(
        data_dir,
        "History",
        lambda store, scope, palette: build(store, scope, palette, days),
        cls="pf9-history",
    )
