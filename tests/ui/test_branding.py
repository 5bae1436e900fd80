"""Branding: packaged defaults, a data directory's branding.yaml over them, strict colours, escaped names, and
the block an HTML report gets."""

from __future__ import annotations

import base64

import pytest

from pf9lib.errors import ConfigError
from pf9lib.ui import branding, page


def test_packaged_defaults():
    brand = branding.load()
    assert brand.product_name == "PF9 Workbench" and brand.source is None
    assert brand.logo_uri.startswith("data:image/svg+xml;base64,")
    assert brand.palette.critical == "#d62728" and brand.palette.severity("high") == "#d62728"
    assert branding.load("/nonexistent") == brand  # no file: the defaults


def test_data_directory_file_overrides_some_keys(tmp_path):
    (tmp_path / "acme.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "branding.yaml").write_text(
        "product_name: Acme <Cloud> & Co\nlogo: acme.png\n"
        "colours:\n  header_bg: '#003057'\n  critical: crimson\n"
    )
    brand = branding.load(tmp_path)
    assert brand.product_name == "Acme <Cloud> & Co" and brand.source == tmp_path / "branding.yaml"
    assert brand.logo_uri == "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
    assert (brand.palette.header_bg, brand.palette.critical) == ("#003057", "crimson")
    assert brand.palette.ok == branding.load().palette.ok  # the keys not given keep their defaults
    header = branding.header_html(brand, "Cloud <overview>", "as of now")
    assert "Acme &lt;Cloud&gt; &amp; Co" in header and "Cloud &lt;overview&gt;" in header
    assert "--pf9-header-bg: #003057;" in branding.css(brand)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("colours:\n  critical: 'red; } body { display: none'\n", "colours.critical"),
        ("colours:\n  crimson: red\n", "unknown colours ['crimson']"),
        ("motto: hi\n", "unknown keys ['motto']"),
        ("logo: missing.svg\n", "cannot read logo"),
        ("logo: logo.exe\n", "logo logo.exe must be one of"),
        ("- a list\n", "must be a mapping"),
    ],
)
def test_a_broken_file_is_a_config_error_naming_the_key(tmp_path, text, problem):
    (tmp_path / "branding.yaml").write_text(text)
    with pytest.raises(ConfigError, match="branding .*branding.yaml") as exc:
        branding.load(tmp_path)
    assert problem in str(exc.value)
    # A dashboard still renders, with the packaged branding and the problem in one line.
    brand, warning = page.load_branding(tmp_path)
    assert brand == branding.load() and problem in warning and "\n" not in warning


def test_html_report_gets_the_style_and_the_header_bar(tmp_path):
    report = tmp_path / "r.html"
    report.write_text(
        '<html><head><title>r</title></head><body class="jp-Notebook">\n<h1>Report</h1></body></html>'
    )
    branding.brand_html_report(report, branding.load(), "Inventory report")
    text = report.read_text()
    head, body = text.split("</head>")
    assert '<style id="pf9-branding">' in head and "--pf9-accent" in head
    assert body.startswith('<body class="jp-Notebook"><div class="pf9-header">')
    assert body.index("Inventory report") < body.index("<h1>Report</h1>")
