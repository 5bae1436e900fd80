"""The cron subset of scheduled/jobs.yaml: parsing, matching, the last fire time, and the jobs file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pf9lib import scheduling
from pf9lib.errors import ConfigError


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expr", "when", "expected"),
    [
        ("15 6 * * *", "2026-11-26 06:15", True),
        ("15 6 * * *", "2026-11-26 06:16", False),
        ("*/20 * * * *", "2026-11-26 13:40", True),
        ("*/20 * * * *", "2026-11-26 13:50", False),
        ("30 6 * * 1-5", "2026-11-27 06:30", True),  # a Friday
        ("30 6 * * 1-5", "2026-11-28 06:30", False),  # a Saturday
        ("0 0 * * 7", "2026-11-29 00:00", True),  # Sunday written 7
        ("0 0 * * 0", "2026-11-29 00:00", True),
        ("0 12 1,15 * *", "2026-12-15 12:00", True),
        ("0 12 1 * 1", "2026-11-30 12:00", True),  # both day fields restricted: a Monday matches
        ("0 12 1 * 1", "2026-11-29 12:00", False),
        ("5-10/5 * * 2 *", "2027-02-03 08:10", True),
    ],
)
def test_cron_matches(expr, when, expected):
    assert scheduling.cron_matches(expr, t(when)) is expected


@pytest.mark.parametrize("expr", ["* * * *", "60 * * * *", "* 24 * * *", "a * * * *", "*/0 * * * *"])
def test_bad_cron_is_a_config_error(expr):
    with pytest.raises(ConfigError):
        scheduling.parse_cron(expr)


def test_last_fire_time():
    assert scheduling.last_fire_time("15 6 * * *", t("2026-11-26 06:14:59")) == t("2026-11-25 06:15")
    assert scheduling.last_fire_time("15 6 * * *", t("2026-11-26 06:15:30")) == t("2026-11-26 06:15")
    assert scheduling.last_fire_time("0 0 1 1 *", t("2026-11-26 00:00")) is None  # beyond the lookback


def test_the_shipped_jobs_file():
    jobs = {j.name: j for j in scheduling.load_jobs()}
    assert list(jobs) == [
        "collect",
        "metrics",
        "compact",
        "auto_snapshots",
        "inventory_report",
        "drift_report",
        "snapshot_sla_report",
        "tenant_health_report",
        "capacity_report",
    ]
    assert [jobs[n].command for n in ("collect", "metrics", "compact", "auto_snapshots")] == [
        "collect",
        "metrics",
        "compact",
        "snapshots",
    ]
    assert jobs["auto_snapshots"].parameters == {"apply": False}  # a dry run unless the file says apply
    assert all(j.timeout_s > 0 for j in jobs.values())
    assert all(jobs[n].notebook.exists() for n in ("inventory_report", "drift_report", "snapshot_sla_report"))
    drift = {"window_days": 7, "min_severity": "info", "as_of": "latest-run"}
    assert jobs["drift_report"].parameters == drift


def test_jobs_file_errors(tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text("jobs:\n  - name: x\n    notebook: a.ipynb\n")
    with pytest.raises(ConfigError, match="needs name, notebook \\(or command\\) and schedule"):
        scheduling.load_jobs(path)
    path.write_text("jobs:\n  - {name: x, notebook: a.ipynb, schedule: '61 * * * *'}\n")
    with pytest.raises(ConfigError, match="out of range"):
        scheduling.load_jobs(path)
    with pytest.raises(ConfigError, match="no jobs file"):
        scheduling.load_jobs(tmp_path / "missing.yaml")
