"""The workbench's own metrics as a Prometheus textfile, for node_exporter's textfile collector.

Written after each `pf9wb collect` and metrics cycle to <data_dir>/metrics/pf9wb.prom (atomically, by
prometheus_client), from what the store says — so any process can rewrite it and it is always consistent:

  pf9wb_last_run_timestamp_seconds{job,cloud}   end of the newest run (job = collect | metrics)
  pf9wb_last_run_duration_seconds{job,cloud}    its duration
  pf9wb_last_run_success{job,cloud}             1 success, 0 otherwise (partial/failed; metrics: no target up)
  pf9wb_last_run_errors{job,cloud}              listings that failed (collect) / targets down (metrics)
  pf9wb_objects{source,cloud,type}              objects per type: of the newest run (source=inventory);
                                                hosts and VMs with fresh metrics (source=metrics)
  pf9wb_metrics_samples                         samples parsed in the newest metrics cycle
  pf9wb_metric_alerts_open{severity}            metric alerts firing
  pf9wb_drift_events_open{severity}             open (unacknowledged) drift events, when drift is evaluated
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

TEXTFILE_NAME = "pf9wb.prom"
log = logging.getLogger(__name__)


def textfile_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "metrics" / TEXTFILE_NAME


def write_workbench_textfile(data_dir: Path | str, path: Path | str | None = None) -> Path:
    """Write the textfile from the store's current content; returns its path."""
    from pf9lib.store.reader import open_store

    path = Path(path) if path else textfile_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(data_dir)
    try:
        registry = _registry(store)
    finally:
        store.close()
    write_to_textfile(str(path), registry)
    return path


def _registry(store) -> CollectorRegistry:
    reg = CollectorRegistry()
    labels = ["job", "cloud"]
    ts = Gauge("pf9wb_last_run_timestamp_seconds", "End of the newest run (Unix time)", labels, registry=reg)
    dur = Gauge("pf9wb_last_run_duration_seconds", "Duration of the newest run", labels, registry=reg)
    ok = Gauge("pf9wb_last_run_success", "1 when the newest run succeeded", labels, registry=reg)
    err = Gauge(
        "pf9wb_last_run_errors", "Failed listings / targets down in the newest run", labels, registry=reg
    )
    objects = Gauge("pf9wb_objects", "Objects per type", ["source", "cloud", "type"], registry=reg)
    samples = Gauge("pf9wb_metrics_samples", "Samples parsed in the newest metrics cycle", registry=reg)
    alerts = Gauge("pf9wb_metric_alerts_open", "Metric alerts firing", ["severity"], registry=reg)

    runs = store.sql("""
        SELECT cloud, run_id, status, epoch(ended_at) AS ended, duration_s FROM runs
        WHERE ended_at IS NOT NULL QUALIFY row_number() OVER (PARTITION BY cloud ORDER BY started_at DESC) = 1
    """)
    for r in runs.itertuples(index=False):
        ts.labels("collect", r.cloud).set(r.ended)
        dur.labels("collect", r.cloud).set(_num(r.duration_s))
        ok.labels("collect", r.cloud).set(1 if r.status == "success" else 0)
        per_type = store.sql(
            "SELECT type, sum(count)::BIGINT AS n, count(error)::BIGINT AS errors FROM run_types "
            "WHERE run_id = ? GROUP BY type ORDER BY type",
            [r.run_id],
        )
        err.labels("collect", r.cloud).set(int(per_type["errors"].sum()) if not per_type.empty else 0)
        for t in per_type.itertuples(index=False):
            objects.labels("inventory", r.cloud, t.type).set(int(t.n))

    cycle = store.sql("""
        SELECT epoch(ended_at) AS ended, epoch(ended_at) - epoch(started_at) AS duration, up, down, samples
        FROM metric_cycles ORDER BY started_at DESC LIMIT 1
    """)
    if not cycle.empty:
        c = cycle.iloc[0]
        ts.labels("metrics", "").set(c["ended"])
        dur.labels("metrics", "").set(_num(c["duration"]))
        ok.labels("metrics", "").set(1 if c["up"] > 0 else 0)
        err.labels("metrics", "").set(int(c["down"]))
        samples.set(int(c["samples"]))
        for kind in ("hosts", "vms"):
            n = store.sql(f"SELECT count(*) AS n FROM metric_latest_{kind} WHERE NOT coalesce(stale, false)")
            objects.labels("metrics", "", kind).set(int(n.iloc[0]["n"]))
    from pf9lib.analytics import monitoring_alerts

    firing = monitoring_alerts.alerts(store, open_only=True)
    for severity in monitoring_alerts.SEVERITIES:
        alerts.labels(severity).set(int((firing["severity"] == severity).sum()) if not firing.empty else 0)
    _drift(store, reg)
    return reg


def _drift(store, reg: CollectorRegistry) -> None:
    """Open drift events per severity, when the drift analytics are installed and have run."""
    try:
        from pf9lib.analytics import drift
    except ImportError:
        return
    try:
        counts = drift.open_by_severity(store)
    except Exception as exc:  # the drift store being empty or older must not stop the textfile
        log.warning("no drift counts for the textfile: %s", exc)
        return
    gauge = Gauge("pf9wb_drift_events_open", "Open drift events", ["severity"], registry=reg)
    for row in counts.itertuples(index=False):
        gauge.labels(row.severity).set(int(row.open))


def _num(value) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)
