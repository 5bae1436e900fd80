"""Building blocks of the dashboards (Voilà notebooks under dashboards/): a page composes these parts.

- page:        the style block, the branded header, section headings, the page column
- branding:    product name, logo and palette from <data_dir>/branding.yaml (dashboards and HTML reports)
- cards:       the health-summary card row and the snapshot SLA card
- figures:     plotly charts through the mimetype; "No data for …" instead of empty axes
- tables:      formatted, escaped HTML tables (the firing monitoring alerts) and `format_value`
- filters:     the drift table's filter controls; a cloud/region scope filter
- snapshots:   the snapshot SLA page (compliance, coverage gaps, runs, RPO, trend)
- drift_table: the drift table and its acknowledge flow (the library checks the viewer)
- viewer:      a preheated Voilà kernel waiting for its page request (the viewer's identity)

Modules are imported one by one (`from pf9lib.ui import cards`): nothing here imports ipywidgets up front.
"""
