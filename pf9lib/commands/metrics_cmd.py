"""`pf9wb metrics …`: scrape host/VM exporters (or read Prometheus) into the store, and show what it holds."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pf9lib.commands import DATA_DIR_HELP, data_dir_of
from pf9lib.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """`60`, `60s`, `5m`, `1h`, `2d` → seconds; ConfigError otherwise."""
    m = _DURATION.match(text or "")
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(f"{text!r} is not a duration: write e.g. 60s, 5m, 1h or 2d")
    return float(m.group(1)) * _UNITS[m.group(2)]


def register(subparsers: argparse._SubParsersAction) -> None:
    metrics = subparsers.add_parser("metrics", help="host and VM metrics from Prometheus exporters")
    sub = metrics.add_subparsers(dest="metrics_command", metavar="METRICS_COMMAND")
    sub.required = True

    c = sub.add_parser(
        "collect",
        help="scrape node_exporter / libvirt exporter pages (or read Prometheus) into the store",
        description="Targets: --hosts, else PF9_HOSTS, else the hypervisors of the inventory in the store. "
        "PF9_HOST_MAP (ip:name,…) gives display names.",
    )
    when = c.add_mutually_exclusive_group()
    when.add_argument("--once", action="store_true", help="one cycle (the default)")
    when.add_argument("--every", metavar="DURATION", help="a cycle every DURATION (e.g. 60s) until Ctrl-C")
    c.add_argument("--data-dir", help=DATA_DIR_HELP)
    c.add_argument("--hosts", help="comma list of host addresses (default PF9_HOSTS, else the inventory)")
    c.add_argument(
        "--target-template",
        help="exporter URL template with {kind} (node|libvirt), {hostname}, {address}, {port}; e.g. "
        "http://127.0.0.1:8780/_sim/exporters/{kind}/{hostname}/metrics for the simulated cloud",
    )
    c.add_argument("--node-port", type=int, default=9388, help="node_exporter port (default 9388)")
    c.add_argument("--libvirt-port", type=int, default=9177, help="libvirt exporter port (default 9177)")
    c.add_argument("--kinds", default="node,libvirt", help="exporters to scrape (default node,libvirt)")
    c.add_argument("--timeout", default="10s", help="per-target timeout (default 10s)")
    c.add_argument("--concurrency", type=int, default=64, help="targets scraped at once (default 64)")
    c.add_argument("--rules", type=Path, help="alert rules YAML (default: the packaged defaults)")
    c.add_argument("--keep-raw-days", type=int, default=7)
    c.add_argument("--keep-hourly-days", type=int, default=90)
    c.add_argument("--keep-daily-days", type=int, default=730)
    c.add_argument("--prometheus-url", help="read the exporters' series from this Prometheus instead")
    c.add_argument("--since", default="1h", help="with --prometheus-url: how far back the first read goes")
    c.add_argument("--step", default="60s", help="with --prometheus-url: the resolution read (default 60s)")
    c.add_argument("--no-textfile", action="store_true", help="do not write <data-dir>/metrics/pf9wb.prom")
    c.set_defaults(func=cmd_collect)

    latest = sub.add_parser("latest", help="latest values per host (or --vms), stale ones marked")
    latest.add_argument("--data-dir")
    latest.add_argument("--vms", action="store_true")
    latest.set_defaults(func=cmd_latest)

    al = sub.add_parser("alerts", help="metric alert episodes (firing first)")
    al.add_argument("--data-dir")
    al.add_argument("--open", action="store_true", help="only the firing ones")
    al.set_defaults(func=cmd_alerts)

    tf = sub.add_parser("textfile", help="rewrite <data-dir>/metrics/pf9wb.prom from the store")
    tf.add_argument("--data-dir")
    tf.add_argument("--out", type=Path)
    tf.set_defaults(func=cmd_textfile)


def _hosts(args: argparse.Namespace, data_dir: Path) -> list:
    from pf9lib.collect.metrics_targets import hosts_from_inventory, hosts_from_list
    from pf9lib.config import parse_host_map
    from pf9lib.store.reader import open_store

    host_map = parse_host_map(os.environ.get("PF9_HOST_MAP", ""))
    listed = args.hosts if args.hosts is not None else os.environ.get("PF9_HOSTS", "")
    if listed.strip():
        return hosts_from_list(listed.split(","), host_map)
    return hosts_from_inventory(open_store(data_dir), host_map)


def _options(args: argparse.Namespace):
    from pf9lib.analytics.monitoring_alerts import load_rules
    from pf9lib.pipeline_metrics import MetricsOptions
    from pf9lib.store.metrics_store import Retention

    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    retention = Retention(args.keep_raw_days, args.keep_hourly_days, args.keep_daily_days)
    return MetricsOptions(
        timeout_s=parse_duration(args.timeout),
        concurrency=args.concurrency,
        retention=retention,
        rules=load_rules(args.rules),
    )


def cmd_collect(args: argparse.Namespace) -> int:
    from pf9lib.collect.metrics_targets import build_targets

    data_dir = data_dir_of(args)
    options = _options(args)
    interval = parse_duration(args.every) if args.every else None
    if args.prometheus_url:
        return _prometheus_loop(args, data_dir, _hosts(args, data_dir), options, interval)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    ports = {"node": args.node_port, "libvirt": args.libvirt_port}
    code = 0
    for _ in _ticks(interval):
        # Every cycle asks again: hypervisors added to the inventory since are scraped too.
        hosts = _hosts(args, data_dir)
        if not hosts:
            raise ConfigError(
                f"no hosts to scrape: pass --hosts, set PF9_HOSTS, or run `pf9wb collect` first so the "
                f"hypervisors of {data_dir} give them"
            )
        targets = build_targets(hosts, ports, args.target_template, kinds)
        code = _one_cycle(data_dir, targets, options, not args.no_textfile)
    return code


def _ticks(interval: float | None):
    """Yield once, or forever every `interval` seconds on a fixed schedule (a slow cycle skips a beat)."""
    start = time.monotonic()
    n = 0
    while True:
        yield n
        if interval is None:
            return
        n += 1
        due = start + n * interval
        now = time.monotonic()
        if now > due:
            n = int((now - start) // interval) + 1
            due = start + n * interval
        time.sleep(max(0.0, due - now))


def _one_cycle(data_dir: Path, targets: list, options, textfile: bool) -> int:
    from pf9lib import pipeline

    outcome = pipeline.metrics_cycle(data_dir, targets, options, skip_hooks=() if textfile else ("textfile",))
    result = outcome.result
    fired = sum(1 for e in result.alert_events if e["state"] == "firing")
    resolved = len(result.alert_events) - fired
    seconds = (result.ended_at - result.started_at).total_seconds()
    summary = (
        f"metrics {result.batch_id}: {result.up}/{len(result.targets)} targets up, "
        f"{len(result.hosts)} hosts, {len(result.vms)} VMs, {result.samples} samples in {seconds:.2f} s"
    )
    print(f"{summary}; alerts fired {fired}, resolved {resolved}", flush=True)
    for t in result.targets:
        if not t.up:
            print(f"  down {t.target.kind:<8}{t.target.host}: {t.error}", flush=True)
    _warn_hooks(outcome.hooks)
    return 0 if result.down == 0 else 3


def _warn_hooks(hooks) -> None:
    for hook in hooks:
        if not hook.ok:
            print(f"pf9wb: warning: {hook.name} after the run failed: {hook.message}", file=sys.stderr)


def _prometheus_loop(args: argparse.Namespace, data_dir: Path, hosts: list, options, interval) -> int:
    from pf9lib import pipeline
    from pf9lib.config import parse_host_map

    host_map = parse_host_map(os.environ.get("PF9_HOST_MAP", ""))
    step = parse_duration(args.step)
    start = datetime.now(UTC) - timedelta(seconds=parse_duration(args.since))
    for _ in _ticks(interval):
        end = datetime.now(UTC)
        skip = () if not args.no_textfile else ("textfile",)
        outcome = pipeline.metrics_import(
            data_dir, args.prometheus_url, start, end, step, hosts, host_map, options, skip_hooks=skip
        )
        results = outcome.results
        rows = sum(len(r.hosts) + len(r.vms) for r in results)
        events = sum(len(r.alert_events) for r in results)
        span = f"{start:%Y-%m-%d %H:%M:%S}–{end:%H:%M:%S} UTC"
        print(f"prometheus {args.prometheus_url}: {span}, {rows} rows, {events} alert events", flush=True)
        _warn_hooks(outcome.hooks)
        start = end + timedelta(seconds=step)
    return 0


def cmd_latest(args: argparse.Namespace) -> int:
    from pf9lib.analytics import monitoring
    from pf9lib.store.reader import open_store

    store = open_store(data_dir_of(args))
    if args.vms:
        df = monitoring.latest_vms(store)
        cols = [
            "host",
            "instance_name",
            "project_name",
            "flavor",
            "cpu_pct",
            "mem_pct",
            "net_rx_bps",
            "joined_by",
        ]
    else:
        df = monitoring.latest_hosts(store)
        cols = ["host", "cpu_pct", "mem_pct", "fs_pct", "load1", "net_rx_bps", "note"]
    if df.empty:
        print(f"no metrics yet in {data_dir_of(args)}: run `pf9wb metrics collect`")
        return 0
    df = df.assign(stale=df["stale"].map(lambda s: "STALE" if s else ""))
    print(df[[*cols, "stale", "stale_reason"]].round(1).to_string(index=False))
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from pf9lib.analytics.monitoring_alerts import alerts
    from pf9lib.store.reader import open_store

    df = alerts(open_store(data_dir_of(args)), open_only=args.open)
    if df.empty:
        print("no metric alerts")
        return 0
    cols = [
        "state",
        "severity",
        "rule",
        "entity_name",
        "host",
        "value",
        "first_seen",
        "last_seen",
        "resolved_at",
    ]
    print(df[cols].round({"value": 1}).to_string(index=False))
    return 0


def cmd_textfile(args: argparse.Namespace) -> int:
    from pf9lib.reports.textfile import write_workbench_textfile

    print(write_workbench_textfile(data_dir_of(args), args.out))
    return 0
