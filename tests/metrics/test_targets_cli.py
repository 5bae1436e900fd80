"""Scrape targets (PF9_HOSTS, PF9_HOST_MAP, templates) and the `pf9wb metrics` command line's errors."""

from __future__ import annotations

import pytest

from pf9lib.cli import main
from pf9lib.collect.metrics_targets import Host, build_targets, hosts_from_list
from pf9lib.commands.metrics_cmd import parse_duration
from pf9lib.errors import ConfigError


def test_listed_hosts_take_display_names_from_the_host_map():
    hosts = hosts_from_list(["10.0.0.11", " 10.0.0.12 ", "", "fd00::1", "10.0.0.11"], {"10.0.0.11": "kvm-a"})
    assert [(h.name, h.address) for h in hosts] == [
        ("kvm-a", "10.0.0.11"),
        ("10.0.0.12", "10.0.0.12"),
        ("fd00::1", "fd00::1"),
    ]


def test_two_targets_per_host_on_the_default_ports_or_a_template():
    hosts = [Host("kvm-a", "10.0.0.11", "kvm-a.example"), Host("v6", "fd00::1")]
    urls = [t.url for t in build_targets(hosts)]
    assert urls == [
        "http://10.0.0.11:9388/metrics",
        "http://10.0.0.11:9177/metrics",
        "http://[fd00::1]:9388/metrics",
        "http://[fd00::1]:9177/metrics",
    ]
    sim = build_targets(hosts[:1], template="http://127.0.0.1:8780/_sim/exporters/{kind}/{hostname}/metrics")
    assert [(t.kind, t.url) for t in sim] == [
        ("node", "http://127.0.0.1:8780/_sim/exporters/node/kvm-a.example/metrics"),
        ("libvirt", "http://127.0.0.1:8780/_sim/exporters/libvirt/kvm-a.example/metrics"),
    ]
    assert [t.url for t in build_targets(hosts[:1], {"node": 19100}, kinds=["node"])] == [
        "http://10.0.0.11:19100/metrics"
    ]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("http://x/{host}/metrics", "uses ['host']"),
        ("ftp://x/{kind}", "not an http(s) URL"),
        ("http://x/{kind", "malformed"),
    ],
)
def test_bad_templates_are_config_errors(template, message):
    with pytest.raises(ConfigError, match=None) as err:
        build_targets([Host("a", "1.2.3.4")], template=template)
    assert message in str(err.value)


def test_durations():
    assert [parse_duration(t) for t in ("60", "60s", "5m", "1.5h", "2d")] == [60, 60, 300, 5400, 172800]
    for bad in ("", "0s", "5 minutes", "-1"):
        with pytest.raises(ConfigError):
            parse_duration(bad)


def test_no_hosts_anywhere_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PF9_HOSTS", raising=False)
    assert main(["metrics", "collect", "--once", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pf9wb: error: no hosts to scrape: pass --hosts, set PF9_HOSTS") and "\n" not in err


def test_bad_host_map_and_retention_are_one_line_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PF9_HOST_MAP", "10.0.0.1=kvm-a")
    assert main(["metrics", "collect", "--hosts", "10.0.0.1", "--data-dir", str(tmp_path)]) == 2
    assert "PF9_HOST_MAP entry '10.0.0.1=kvm-a' is not ip:hostname" in capsys.readouterr().err
    monkeypatch.delenv("PF9_HOST_MAP")
    args = ["metrics", "collect", "--hosts", "10.0.0.1", "--keep-raw-days", "30", "--keep-hourly-days", "7"]
    assert main([*args, "--data-dir", str(tmp_path)]) == 2
    assert "keep 1 <= raw <= hourly <= daily days" in capsys.readouterr().err
