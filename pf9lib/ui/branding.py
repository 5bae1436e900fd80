"""Product name, logo and colours of the dashboards and the scheduled HTML reports.

`load(data_dir)` reads `<data_dir>/branding.yaml` over the packaged defaults (branding_default.yaml beside
this module); every key is optional and a missing one keeps its default:

    product_name: Acme Cloud Insight      # shown in every page and report header
    logo: acme.svg                        # SVG, PNG, JPEG or GIF, ≤ 256 KB; relative to the branding file's
                                          # directory or absolute; "" for no logo. Embedded (works offline).
    colours:                              # CSS: #rgb, #rrggbb, #rrggbbaa, rgb(…), rgba(…), hsl(…), a name
      header_bg: "#1f3a5f"                # header bar background
      header_fg: "#ffffff"                # header bar text
      accent: "#2a7ab0"                   # section headings' rule, table headers of reports
      ok: "#1f77b4"                       # bars below the critical line (top hosts)
      info: "#4c78a8"                     # severities: drift events, monitoring alerts, bars above
      warning: "#e69500"                  #   the critical line
      critical: "#d62728"
      created: "#2ca02c"                  # the changes-per-day series
      updated: "#1f77b4"
      deleted: "#d62728"

An unknown key, a value that is not a colour, or a logo that cannot be read raises ConfigError naming the file
and the key. Colours are checked strictly because they are written into CSS.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

from pf9lib.errors import ConfigError

FILE_NAME = "branding.yaml"
DEFAULTS = Path(__file__).with_name("branding_default.yaml")
LOGO_MAX_BYTES = 256 * 1024
_LOGO_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}
# A colour lands in CSS and style attributes: only these shapes, so no value can close a rule or a tag.
_COLOUR = re.compile(
    r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})"
    r"|(?:rgb|rgba|hsl|hsla)\([0-9.,%\s/]+\)"
    r"|[a-zA-Z]{3,20}"
)


@dataclass(frozen=True)
class Palette:
    header_bg: str
    header_fg: str
    accent: str
    ok: str
    info: str
    warning: str
    critical: str
    created: str
    updated: str
    deleted: str

    def severity(self, name: str) -> str:
        """Colour of a drift or alert severity (critical, high → critical; warning, medium → warning)."""
        if name in ("critical", "high"):
            return self.critical
        if name in ("warning", "medium"):
            return self.warning
        return self.info


@dataclass(frozen=True)
class Branding:
    product_name: str
    logo_uri: str  # a data: URI, "" without a logo
    palette: Palette
    source: Path | None = None  # the data directory's branding file, when one was read


def load(data_dir: Path | str | None = None) -> Branding:
    """The packaged branding overridden by `<data_dir>/branding.yaml` when that file exists."""
    base = _from_file(DEFAULTS, None)
    if data_dir is None:
        return base
    path = Path(data_dir) / FILE_NAME
    if not path.exists():
        return base
    return _from_file(path, base)


def _from_file(path: Path, base: Branding | None) -> Branding:
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read branding {path}: {exc.strerror}; fix or remove the file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"branding {path} is not valid YAML ({exc}); fix the file") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"branding {path} must be a mapping of product_name, logo, colours")
    unknown = sorted(set(doc) - {"product_name", "logo", "colours"})
    if unknown:
        raise ConfigError(f"branding {path}: unknown keys {unknown}; use product_name, logo, colours")
    name = str(doc["product_name"]).strip() if "product_name" in doc else (base.product_name if base else "")
    logo = _logo(path, doc["logo"]) if "logo" in doc else (base.logo_uri if base else "")
    palette = _palette(path, doc.get("colours") or {}, base.palette if base else None)
    return Branding(name, logo, palette, path if base else None)


def _palette(path: Path, colours: Any, base: Palette | None) -> Palette:
    keys = [f.name for f in fields(Palette)]
    if not isinstance(colours, dict):
        raise ConfigError(f"branding {path}: colours must be a mapping of {', '.join(keys)}")
    unknown = sorted(set(colours) - set(keys))
    if unknown:
        raise ConfigError(f"branding {path}: unknown colours {unknown}; use {', '.join(keys)}")
    for key, value in colours.items():
        if not isinstance(value, str) or not _COLOUR.fullmatch(value.strip()):
            raise ConfigError(
                f"branding {path}: colours.{key} = {value!r} is not a CSS colour (e.g. '#1f77b4')"
            )
    clean = {k: v.strip() for k, v in colours.items()}
    if base is None:
        missing = sorted(set(keys) - set(clean))
        if missing:
            raise ConfigError(f"packaged branding {path} lacks colours {missing}")
        return Palette(**clean)
    return replace(base, **clean)


def _logo(path: Path, value: Any) -> str:
    if value in (None, ""):
        return ""
    logo = Path(str(value))
    logo = logo if logo.is_absolute() else path.parent / logo
    kind = _LOGO_TYPES.get(logo.suffix.lower())
    if kind is None:
        raise ConfigError(f"branding {path}: logo {logo.name} must be one of {', '.join(_LOGO_TYPES)}")
    try:
        data = logo.read_bytes()
    except OSError as exc:
        raise ConfigError(f"branding {path}: cannot read logo {logo}: {exc.strerror}; fix the path") from None
    if len(data) > LOGO_MAX_BYTES:
        raise ConfigError(
            f"branding {path}: logo {logo} is over {LOGO_MAX_BYTES // 1024} KB; use a smaller file"
        )
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


# ------------------------------------------------------------------------------------------- rendering


def css(branding: Branding) -> str:
    """CSS variables of the palette and the header bar's rules: shared by dashboards and HTML reports."""
    p = branding.palette
    variables = "".join(f"--pf9-{f.name.replace('_', '-')}: {getattr(p, f.name)}; " for f in fields(Palette))
    return (
        f":root {{ {variables}}}\n"
        ".pf9-header { display: flex; align-items: center; gap: 12px; padding: 8px 14px; border-radius: 6px;"
        " background: var(--pf9-header-bg); color: var(--pf9-header-fg); margin-bottom: 8px; }\n"
        ".pf9-header img { height: 32px; width: auto; }\n"
        ".pf9-header-product { font-size: 13px; opacity: 0.85; }\n"
        ".pf9-header-title { font-size: 20px; font-weight: 600; }\n"
        ".pf9-header-sub { margin-left: auto; font-size: 12px; opacity: 0.85; }\n"
    )


def header_html(branding: Branding, title: str, subtitle: str = "") -> str:
    """The header bar: logo, product name, page title and a right-aligned subtitle (all text escaped)."""
    logo = f'<img src="{branding.logo_uri}" alt="">' if branding.logo_uri else ""
    sub = f'<div class="pf9-header-sub">{html.escape(subtitle)}</div>' if subtitle else ""
    return (
        f'<div class="pf9-header">{logo}<div><div class="pf9-header-product">'
        f"{html.escape(branding.product_name)}</div>"
        f'<div class="pf9-header-title">{html.escape(title)}</div></div>{sub}</div>'
    )


_REPORT_CSS = (
    ".jp-RenderedHTMLCommon h2 { border-bottom: 2px solid var(--pf9-accent); padding-bottom: 2px; }\n"
    ".jp-RenderedHTMLCommon thead th { background: var(--pf9-accent); color: #fff; }\n"
)


def brand_html_report(path: Path | str, branding: Branding, title: str) -> None:
    """Brand an nbconvert HTML report: the CSS goes into its head, the header bar first into its body."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    style = f'<style id="pf9-branding">\n{css(branding)}{_REPORT_CSS}</style>\n'
    header = header_html(branding, title)
    text = text.replace("</head>", style + "</head>", 1) if "</head>" in text else style + text
    body = re.search(r"<body[^>]*>", text)
    text = text[: body.end()] + header + text[body.end() :] if body else header + text
    path.write_text(text, encoding="utf-8")
