"""The home page: one tile per dashboard, a link with its headline number for the chosen cloud and region.

Every number comes from the analytic behind that dashboard (`headlines` computes them without widgets, so
tests compare the tiles with it). A tile without data says so instead of showing 0; a dashboard not in this
installation's dashboards/ yet is still linked, and says so.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as w
import pandas as pd

from pf9lib.analytics import capacity, history, landing, tenants
from pf9lib.store.reader import Store
from pf9lib.ui import monitoring as ui_monitoring
from pf9lib.ui.branding import Palette
from pf9lib.ui.scope import LivePage, Scope, keep, places

NO_DATA = "no data"


@dataclass(frozen=True)
class Headline:
    value: float | None  # None: the page has no data for this scope
    text: str  # how the tile shows it ("no data" when value is None)
    label: str  # what the number is
    why: str = ""  # when there is no data, why


@dataclass(frozen=True)
class Dashboard:
    notebook: str
    title: str
    what: str
    headline: Callable[[Store, Scope, pd.DataFrame], Headline]


def _cards(cards: pd.DataFrame, key: str) -> float | None:
    part = cards[cards["key"] == key]
    if part.empty:
        return None
    if key == "tenants":  # Keystone is per cloud: each region's row repeats the cloud's count
        return float(part.groupby("cloud")["value"].max().sum())
    return float(part["value"].sum())


def _count(value: float | None, label: str, why: str) -> Headline:
    if value is None:
        return Headline(None, NO_DATA, label, why)
    return Headline(value, f"{value:,.0f}", label)


def _overview(store: Store, scope: Scope, cards: pd.DataFrame) -> Headline:
    return _count(_cards(cards, "vms"), "VMs", "no collection in this scope")


def _tenant_health(store: Store, scope: Scope, cards: pd.DataFrame) -> Headline:
    health = tenants.tenant_health(store, **scope)
    if health.empty:
        return Headline(None, NO_DATA, "tenants not healthy", "no tenant in this scope")
    bad = int((health["status"] != "healthy").sum())
    return Headline(
        bad, f"{bad:,}", f"of {len(health):,} tenants not healthy (health < {tenants.HEALTHY:.0f})"
    )


def _capacity(store: Store, scope: Scope, cards: pd.DataFrame) -> Headline:
    if _cards(cards, "hosts") in (None, 0.0):
        return Headline(None, NO_DATA, "waste candidates", "no hypervisor in this scope")
    n = len(capacity.waste_candidates(store, **scope))
    return Headline(n, f"{n:,}", "right-sizing and waste candidates")


def _monitoring(store: Store, scope: Scope, cards: pd.DataFrame) -> Headline:
    if ui_monitoring.scoped_hosts(store, scope).empty:
        return Headline(None, NO_DATA, "alerts firing", "no host metrics in this scope")
    n = len(ui_monitoring.scoped_alerts(store, scope, open_only=True))
    return Headline(n, f"{n:,}", "monitoring alerts firing")


def _history(store: Store, scope: Scope, cards: pd.DataFrame) -> Headline:
    if _cards(cards, "vms") is None:
        return Headline(None, NO_DATA, "changes in 24 h", "no collection in this scope")
    n = len(keep(history.recent_changes(store, 24), scope))
    return Headline(n, f"{n:,}", "changes in the last 24 h")


def _snapshots(store: Store, scope: Scope, cards: pd.DataFrame) -> Headline:
    sla = landing.sla_compliance(store, **scope)
    enrolled = pd.to_numeric(sla["enrolled"], errors="coerce").fillna(0).sum() if not sla.empty else 0
    if sla.empty or enrolled == 0:
        why = str(sla["sla_status"].iloc[0]) if not sla.empty else "no collection in this scope"
        return Headline(None, NO_DATA, "snapshot SLA compliance", why)
    pct = float(pd.to_numeric(sla["compliant"]).sum() / enrolled * 100.0)
    return Headline(pct, f"{pct:.0f} %", "snapshot SLA compliance")


def _restore(store: Store, scope: Scope, cards: pd.DataFrame) -> Headline:
    return _count(_cards(cards, "snapshots"), "snapshots to restore from", "no collection in this scope")


def _admin(store: Store, scope: Scope, cards: pd.DataFrame) -> Headline:
    return _count(_cards(cards, "tenants"), "projects", "no collection in this scope")


DASHBOARDS: tuple[Dashboard, ...] = (
    Dashboard("overview.ipynb", "Cloud overview", "health cards, busiest hosts, changes, drift", _overview),
    Dashboard(
        "tenant_health.ipynb", "Tenant health", "risk heatmap, per-tenant health and quotas", _tenant_health
    ),
    Dashboard("capacity.ipynb", "Capacity", "allocation, forecast, right-sizing and waste", _capacity),
    Dashboard("monitoring.ipynb", "Monitoring", "host and VM metrics, hotspots, alerts", _monitoring),
    Dashboard("history.ipynb", "History", "recent changes, a resource's history, two dates", _history),
    Dashboard("snapshots.ipynb", "Snapshots", "policies and SLA compliance", _snapshots),
    Dashboard("restore_wizard.ipynb", "Restore a VM", "restore points and the restore wizard", _restore),
    Dashboard("admin.ipynb", "Administration", "projects, flavors, access", _admin),
)


def headlines(store: Store, scope: Scope) -> dict[str, Headline]:
    """{notebook: Headline} for the scope, computed as the tiles show them."""
    cards = landing.health_summary(store, **scope)
    if places(store).empty:
        cards = cards.iloc[0:0]
    return {d.notebook: d.headline(store, scope, cards) for d in DASHBOARDS}


def tile_html(dashboard: Dashboard, headline: Headline, available: bool) -> str:
    key = Path(dashboard.notebook).stem
    title = html.escape(dashboard.title)
    # Linked even when its notebook is not installed yet (other branches add snapshots, restore, admin): the
    # tile says so rather than hide a page the product has.
    name = f'<a href="./{html.escape(dashboard.notebook)}">{title}</a>'
    missing = "" if available else '<div class="pf9-muted">not in this installation yet</div>'
    why = f'<div class="pf9-muted">{html.escape(headline.why)}</div>' if headline.value is None else ""
    cls = "pf9-no-value" if headline.value is None else ""
    return (
        f'<div class="pf9-card pf9-tile pf9-tile-{key} {cls}"><div class="pf9-tile-title">{name}</div>'
        f'<div class="pf9-card-value">{html.escape(headline.text)}</div>'
        f'<div class="pf9-card-label">{html.escape(headline.label)}</div>{why}'
        f'<div class="pf9-muted">{html.escape(dashboard.what)}</div>{missing}</div>'
    )


def tiles(store: Store, scope: Scope, dashboards_dir: Path) -> w.HTML:
    got = headlines(store, scope)
    parts = [tile_html(d, got[d.notebook], (dashboards_dir / d.notebook).exists()) for d in DASHBOARDS]
    widget = w.HTML(f'<div class="pf9-cards pf9-tiles">{"".join(parts)}</div>')
    widget.add_class("pf9-home-tiles")
    return widget


def home_page(data_dir: Path | str, dashboards_dir: Path | str = ".") -> LivePage:
    """The home page; `dashboards_dir` is where the linked notebooks are (Voilà runs a page in its folder)."""
    folder = Path(dashboards_dir)

    def build(store: Store, scope: Scope, palette: Palette) -> list[w.Widget]:
        return [tiles(store, scope, folder)]

    return LivePage(data_dir, "Home", build, cls="pf9-home")
