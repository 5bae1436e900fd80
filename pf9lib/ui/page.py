"""The frame of a dashboard page: the style block, the branded header, section headings, the page column.

The CSS uses JupyterLab's variables (--jp-…), which follow Voilà's light or dark theme, plus the branding
palette's (--pf9-…). Browser tests select on these class names: keep them.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

import ipywidgets as w

from pf9lib.errors import ConfigError
from pf9lib.ui import branding as brand

STYLE = """
.pf9-page { gap: 4px; }
.pf9-section { margin: 14px 0 4px 0; padding-bottom: 2px; border-bottom: 2px solid var(--pf9-accent);
               font-size: 16px; font-weight: 600; color: var(--jp-ui-font-color0); }
.pf9-cards { display: flex; flex-wrap: wrap; gap: 8px; }
.pf9-card { border: 1px solid var(--jp-border-color1); border-radius: 6px; padding: 6px 12px;
            background: var(--jp-layout-color1); min-width: 130px; }
.pf9-card-value { font-size: 22px; font-weight: 600; color: var(--jp-ui-font-color0); }
.pf9-card-label, .pf9-muted { color: var(--jp-ui-font-color2); }
.pf9-cell { display: inline-block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
            vertical-align: middle; padding-right: 6px; box-sizing: border-box; }
.pf9-sev-critical { color: var(--pf9-critical); font-weight: 600; }
.pf9-sev-high { color: var(--pf9-critical); }
.pf9-sev-warning, .pf9-sev-medium { color: var(--pf9-warning); }
.pf9-no-data { padding: 24px; text-align: center; color: var(--jp-ui-font-color2);
               border: 1px dashed var(--jp-border-color2); border-radius: 6px; }
.drift-row { border-bottom: 1px solid var(--jp-border-color2); align-items: center; }
.drift-head { font-weight: 600; padding-left: 30px; color: var(--jp-ui-font-color1); }
.pf9-table { border-collapse: collapse; font-size: 13px; color: var(--jp-ui-font-color0); }
.pf9-table th { text-align: left; font-weight: 600; border-bottom: 2px solid var(--jp-border-color1);
                padding: 3px 10px 3px 0; }
.pf9-table td { border-bottom: 1px solid var(--jp-border-color2); padding: 3px 10px 3px 0;
                white-space: nowrap; }
.pf9-table td.pf9-num { text-align: right; font-variant-numeric: tabular-nums; }
"""


def style(branding: brand.Branding) -> w.HTML:
    """One style block for the page: the palette's variables, the header bar and the widgets' classes."""
    return w.HTML(f"<style>{brand.css(branding)}{STYLE}</style>")


def load_branding(data_dir: Path | str | None) -> tuple[brand.Branding, str]:
    """The data directory's branding, or the packaged one plus a one-line warning when its file is broken:
    a dashboard still shows its numbers with a bad logo path."""
    try:
        return brand.load(data_dir), ""
    except ConfigError as exc:
        return brand.load(None), f"{exc} (packaged branding shown)"


def header(branding: brand.Branding, title: str, as_of: datetime | None, warning: str = "") -> w.HTML:
    """The branded header bar, saying which collection the page describes."""
    stamp = as_of.strftime("%Y-%m-%d %H:%M UTC") if as_of is not None else "no collection yet"
    bar = brand.header_html(branding, title, f"As of the latest collection: {stamp}")
    note = f'<div class="pf9-muted">{html.escape(warning)}</div>' if warning else ""
    return w.HTML(bar + note)


def section(title: str) -> w.HTML:
    return w.HTML(f'<div class="pf9-section">{html.escape(title)}</div>')


def column(*parts: w.Widget, cls: str) -> w.VBox:
    """The page: parts top to bottom, the page's own class on the box."""
    box = w.VBox(list(parts))
    box.add_class("pf9-page")
    box.add_class(cls)
    return box
