"""`--prometheus-url`: a real Prometheus (Debian's package) scraping the real exporters every second; the
history read through /api/v1/query_range gives the values computed here from the same API's raw series."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from pf9lib.analytics import monitoring
from pf9lib.collect.metrics_prometheus import PrometheusError
from pf9lib.collect.metrics_targets import Host
from pf9lib.pipeline_metrics import MetricsOptions, import_range
from pf9lib.store.reader import open_store

from .conftest import DOMAINS, PROMETHEUS, free_port, need, wait_http

pytestmark = pytest.mark.integration
STEP = 2.0  # twice the scrape interval: every step sees a new scrape


@pytest.fixture(scope="module")
def prometheus(node_exporter, libvirt_exporter, tmp_path_factory) -> Iterator[str]:
    binary = need(PROMETHEUS, "prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    config = workdir / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n"
        f"  - {{job_name: node, static_configs: [{{targets: ['127.0.0.1:{node_exporter.port}']}}]}}\n"
        f"  - {{job_name: libvirt, static_configs: [{{targets: ['127.0.0.1:{libvirt_exporter.port}']}}]}}\n"
    )
    port = free_port()
    with open(workdir / "prometheus.log", "w") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/-/ready", proc=proc)
        deadline = time.monotonic() + 30
        # Enough history for four steps: six scrapes of both jobs.
        while time.monotonic() < deadline and _samples(url, "count_over_time(up[1m])") < 6:
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _api(url: str, path: str, **params: str) -> dict:
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(params)}", timeout=10) as resp:
        return json.load(resp)["data"]


def _samples(url: str, query: str) -> float:
    result = _api(url, "/api/v1/query", query=query)["result"]
    return min((float(r["value"][1]) for r in result), default=0.0) if len(result) >= 2 else 0.0


def test_history_from_query_range_equals_the_raw_series(prometheus, tmp_path):
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(seconds=4 * STEP)
    results = import_range(
        tmp_path, prometheus, start, end, STEP, [Host("local", "127.0.0.1")], {}, MetricsOptions(rules=[])
    )
    assert len(results) == 1 and results[0].down == 0
    store = open_store(tmp_path)
    hosts = monitoring.series(store, "hosts", "local")
    rated = hosts[hosts["cpu_pct"].notna()]
    assert len(rated) >= 2

    # Independently: the same range of node_cpu_seconds_total, summed per step by hand.
    span = {"start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}", "step": f"{STEP:g}"}
    raw = _api(prometheus, "/api/v1/query_range", query="node_cpu_seconds_total", **span)["result"]
    idle, total = {}, {}
    for series in raw:
        for t, v in series["values"]:
            total[t] = total.get(t, 0.0) + float(v)
            if series["metric"]["mode"] == "idle":
                idle[t] = idle.get(t, 0.0) + float(v)
    steps = sorted(total)
    expected = {
        datetime.fromtimestamp(b, UTC): (1 - (idle[b] - idle[a]) / (total[b] - total[a])) * 100
        for a, b in zip(steps, steps[1:], strict=False)
        if total[b] > total[a]
    }
    got = dict(zip(rated["ts"], rated["cpu_pct"], strict=True))
    assert set(got) == set(expected)
    for ts, value in got.items():
        assert value == pytest.approx(expected[ts], abs=1e-9)

    vms = monitoring.latest_vms(store).set_index("instance_uuid")
    for _, uuid, name, flavor, project, _, _, _, running in DOMAINS:
        if running:
            assert (vms.loc[uuid, "instance_name"], vms.loc[uuid, "flavor"]) == (name, flavor)
            assert vms.loc[uuid, "project_name"] == project
            assert 0 <= vms.loc[uuid, "cpu_pct"] <= 100
    assert not monitoring.latest_hosts(store).loc[0, "stale"]


def test_an_unreachable_prometheus_is_a_one_line_error(tmp_path):
    now = datetime.now(UTC)
    with pytest.raises(
        PrometheusError, match="cannot query Prometheus at http://127.0.0.1:9 .*--prometheus-url"
    ):
        import_range(tmp_path, "http://127.0.0.1:9", now - timedelta(minutes=1), now, 15.0)
