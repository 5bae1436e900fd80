"""The cloud and region filters and the refresh button every managers' page carries, and the live page frame
that rebuilds its body from the library whenever either changes.

A page is `LivePage(data_dir, title, build, cls)`: `build(store, scope, palette)` returns the body's widgets,
where `scope` is `{"cloud": …, "region": …}` (None = all), the keyword filters of the tenant, landing and
capacity analytics. Refresh opens the store again, so runs collected since the kernel started appear
without restarting it. Bad state in the store (a ConfigError, a Pf9Error) is shown as its one line.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from pf9lib.analytics.scope import CLOUD_REGIONS
from pf9lib.errors import Pf9Error
from pf9lib.store.reader import Store, open_store
from pf9lib.ui import page
from pf9lib.ui.branding import Palette

ALL = ""  # the dropdowns' "all" choice (None is ipywidgets' "nothing selected")
Scope = dict[str, str | None]
Build = Callable[[Store, Scope, Palette], list[w.Widget]]
# The managers' pages' own classes (page.STYLE has the shared ones).
STYLE = """
.pf9-scope-bar { align-items: center; gap: 8px; flex-wrap: wrap; }
.pf9-error { color: var(--pf9-critical); padding: 8px 0; }
.pf9-tile { width: 250px; }
.pf9-tile-title { font-size: 15px; font-weight: 600; margin-bottom: 2px; }
.pf9-tile-title a { color: var(--pf9-accent); text-decoration: none; }
.pf9-tile-title a:hover { text-decoration: underline; }
.pf9-note { color: var(--jp-ui-font-color2); font-size: 12px; margin: 2px 0 6px 0; }
"""


def places(store: Store) -> pd.DataFrame:
    """(cloud, region) of every cloud's newest run: what the filters offer."""
    return store.sql(f"SELECT DISTINCT cloud, region FROM ({CLOUD_REGIONS}) ORDER BY cloud, region")


def scope_text(scope: Scope) -> str:
    """How a page says what it shows: "all clouds · all regions", "east · RegionOne"."""
    return f"{scope.get('cloud') or 'all clouds'} · {scope.get('region') or 'all regions'}"


class ScopeFilter:
    """Cloud and region dropdowns; the regions offered are those of the chosen cloud."""

    def __init__(self, known: pd.DataFrame) -> None:
        self.cloud = w.Dropdown(description="Cloud", layout=w.Layout(width="240px"))
        self.region = w.Dropdown(description="Region", layout=w.Layout(width="240px"))
        self.cloud.add_class("pf9-filter-cloud")
        self.region.add_class("pf9-filter-region")
        self._known = known
        self._callbacks: list[Callable[[], None]] = []
        self._quiet = False
        self.set_places(known)
        self.cloud.observe(self._cloud_changed, names="value")
        self.region.observe(self._changed, names="value")
        self.widget = w.HBox([self.cloud, self.region])
        self.widget.add_class("pf9-scope-filter")

    def set_places(self, known: pd.DataFrame) -> None:
        """New choices (after a refresh), keeping the current ones when they still exist."""
        self._known = known
        self._quiet = True
        try:
            clouds = sorted(set(known["cloud"]))
            keep = self.cloud.value if self.cloud.value in clouds else ALL
            self.cloud.options = [("All clouds", ALL)] + [(c, c) for c in clouds]
            self.cloud.value = keep
            self._set_regions()
        finally:
            self._quiet = False

    def _set_regions(self) -> None:
        known = self._known
        if self.cloud.value:
            known = known[known["cloud"] == self.cloud.value]
        regions = sorted(set(known["region"]))
        keep = self.region.value if self.region.value in regions else ALL
        self.region.options = [("All regions", ALL)] + [(r, r) for r in regions]
        self.region.value = keep

    def _cloud_changed(self, _: Any = None) -> None:
        if self._quiet:
            return
        self._quiet = True
        try:
            self._set_regions()
        finally:
            self._quiet = False
        self._changed()

    def _changed(self, _: Any = None) -> None:
        if not self._quiet:
            for callback in self._callbacks:
                callback()

    def on_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def scope(self) -> Scope:
        """The analytics' keyword filters: None means every cloud / region."""
        return {"cloud": self.cloud.value or None, "region": self.region.value or None}


class LivePage:
    """A dashboard page: branded header, the scope filter with a refresh button, and a body rebuilt by
    `build` from the store for the chosen scope."""

    def __init__(self, data_dir: Path | str, title: str, build: Build, cls: str) -> None:
        self.data_dir = data_dir
        self.title = title
        self.build = build
        self.store = open_store(data_dir)
        self.branding, self.branding_problem = page.load_branding(data_dir)
        self.header = w.HTML()
        self.filters = ScopeFilter(places(self.store))
        self.refresh_button = w.Button(description="Refresh", icon="refresh", tooltip="Read the store again")
        self.refresh_button.add_class("pf9-refresh")
        self.scope_label = w.HTML()
        self.scope_label.add_class("pf9-scope-label")
        self.body = w.VBox()
        self.body.add_class("pf9-body")
        bar = w.HBox([self.filters.widget, self.refresh_button, self.scope_label])
        bar.add_class("pf9-scope-bar")
        self.widget = page.column(
            page.style(self.branding), w.HTML(f"<style>{STYLE}</style>"), self.header, bar, self.body, cls=cls
        )
        self.filters.on_change(self.render)
        self.refresh_button.on_click(self.refresh)
        self.render()

    def scope(self) -> Scope:
        return self.filters.scope()

    def render(self) -> None:
        """Rebuild the header and the body for the current scope."""
        scope = self.scope()
        as_of = self.store.now if not places(self.store).empty else None
        self.header.value = page.header(self.branding, self.title, as_of, self.branding_problem).value
        old = self.body.children
        try:
            self.body.children = merge_html(self.build(self.store, scope, self.branding.palette))
        except Pf9Error as exc:
            self.body.children = [w.HTML(f'<div class="pf9-error">{html.escape(str(exc))}</div>')]
        for widget in old:
            close_tree(widget)
        # Last: the label says the body shows this scope once it does.
        self.scope_label.value = f'<span class="pf9-muted">Showing {html.escape(scope_text(scope))}</span>'

    def refresh(self, *_: Any) -> None:
        """Open the store again (runs collected since appear) and rebuild the page."""
        old, self.store = self.store, open_store(self.data_dir)
        old.close()
        self.filters.set_places(places(self.store))
        self.render()


def merge_html(parts: list[w.Widget]) -> list[w.Widget]:
    """`parts` with each run of plain HTML widgets joined into one, each part's classes kept on a div: every
    widget is three models (itself, its layout, its style) the browser asks the kernel for one by one before
    it draws the page, so fewer widgets render sooner on a busy machine."""
    out: list[w.Widget] = []
    run: list[w.HTML] = []
    for part in [*parts, None]:
        if type(part) is w.HTML:
            run.append(part)
            continue
        if len(run) > 1:
            out.append(w.HTML("".join(_wrapped(p) for p in run)))
        else:
            out.extend(run)
        run = []
        if part is not None:
            out.append(part)
    return out


def _wrapped(part: w.HTML) -> str:
    classes = " ".join(part._dom_classes)
    html_text = f'<div class="{classes}">{part.value}</div>' if classes else part.value
    close_tree(part)  # its text lives on in the joined widget; its models would still be sent
    return html_text


def replace_children(box: w.Box, children: list[w.Widget]) -> None:
    """Show `children` in `box` and close what it showed before (see close_tree)."""
    old, box.children = box.children, merge_html(children)
    for widget in old:
        close_tree(widget)


def close_tree(widget: w.Widget) -> None:
    """Close a widget, its layout and style and every child: a dropped widget otherwise stays a live model
    the page fetches."""
    for child in getattr(widget, "children", ()) or ():
        close_tree(child)
    for attr in ("layout", "style"):
        sub = getattr(widget, attr, None)
        if isinstance(sub, w.Widget):
            sub.close()
    widget.close()


def value_cards(items: list[tuple[str, str, str]]) -> w.HTML:
    """A card row of (key, label, shown value); each card has the class `pf9-card-<key>` as the overview's."""
    parts = [
        f'<div class="pf9-card pf9-card-{html.escape(key)}"><div class="pf9-card-value">{html.escape(value)}'
        f'</div><div class="pf9-card-label">{html.escape(label)}</div></div>'
        for key, label, value in items
    ]
    return w.HTML(f'<div class="pf9-cards">{"".join(parts)}</div>')


def keep(df: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    """Rows of `df` in the scope, for the analytics that answer for every cloud (history, metrics)."""
    for column in ("cloud", "region"):
        if scope.get(column) is not None and column in df:
            df = df[df[column] == scope[column]]
    return df.reset_index(drop=True)
