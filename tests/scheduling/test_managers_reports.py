"""The managers' scheduled reports (tenant_health_report, capacity_report) as the scheduler runs them on the
shared small history: notebook, HTML without code with its plotly figures, an xlsx whose sheets hold the
library's rows and a MetaData sheet naming the clouds and regions covered; filtered to one cloud of a
two-cloud store, the workbook holds that cloud only."""

from __future__ import annotations

import dataclasses

import nbformat
import openpyxl
import pandas as pd
import pytest

from pf9lib import scheduling
from pf9lib.analytics import capacity, tenants
from pf9lib.store.reader import open_store
from tests.helpers.two_clouds import two_cloud_store

pytestmark = pytest.mark.integration
REPORTS = ("tenant_health_report", "capacity_report")


def _sheet(path, name: str) -> pd.DataFrame:
    return pd.read_excel(path, sheet_name=name)


def _meta(path) -> dict[str, str]:
    meta = _sheet(path, "MetaData")
    return dict(zip(meta["key"], meta["value"].fillna(""), strict=True))


@pytest.mark.parametrize("name", REPORTS)
def test_report_writes_notebook_html_and_xlsx(job_runs, history, name):
    rec = job_runs[name]
    assert rec.status == "success", rec.error
    assert rec.output_dir.parent == history.data_dir / "reports" / name
    executed = nbformat.read(rec.output_dir / f"{name}.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    html = (rec.output_dir / f"{name}.html").read_text()
    assert "import pf9lib" not in html and "reports.write_xlsx" not in html  # no code, only outputs
    assert html.count('class="plotly-graph-div"') >= 2  # plotly.js inlined: the figures work offline
    store = open_store(history.data_dir)
    cloud = store.sql("SELECT DISTINCT cloud FROM runs")["cloud"].tolist()
    assert f"Covers cloud {cloud[0]} (" in html
    (xlsx,) = sorted(rec.output_dir.glob("*.xlsx"))
    meta = _meta(xlsx)
    assert meta["report"] == name and meta["clouds"] == ", ".join(cloud) and meta["cloud_filter"] == "all"


def test_tenant_health_workbook_holds_the_library_rows(job_runs, history):
    (xlsx,) = job_runs["tenant_health_report"].output_dir.glob("*.xlsx")
    store = open_store(history.data_dir)
    health = tenants.tenant_health(store)
    sheet = _sheet(xlsx, "Health").sort_values(["region", "project_id"]).reset_index(drop=True)
    expected = health.sort_values(["region", "project_id"]).reset_index(drop=True)
    assert sheet["project_id"].tolist() == expected["project_id"].tolist()
    assert sheet["health"].round(6).tolist() == expected["health"].round(6).tolist()
    breakdown = _sheet(xlsx, "Breakdown")
    assert len(breakdown) == len(tenants.health_breakdown(health))


def test_capacity_workbook_holds_the_library_rows(job_runs, history):
    (xlsx,) = job_runs["capacity_report"].output_dir.glob("*.xlsx")
    store = open_store(history.data_dir)
    waste = capacity.waste_candidates(store)
    assert sorted(_sheet(xlsx, "Waste")["reason"]) == sorted(waste["reason"])
    hv = capacity.hypervisor_allocation(store)
    assert sorted(_sheet(xlsx, "Hypervisors")["hypervisor"]) == sorted(hv["hypervisor"])
    fc = _sheet(xlsx, "CapacityForecast")
    assert set(fc["method"]) <= {"linear trend (OLS), 95% prediction interval"}
    assert workbook_sheets(xlsx)[-1] == "MetaData"


def workbook_sheets(path) -> list[str]:
    return openpyxl.load_workbook(path, read_only=True).sheetnames


@pytest.fixture(scope="module")
def two_clouds(tmp_path_factory):
    yield from two_cloud_store(tmp_path_factory)


def test_a_report_filtered_to_one_cloud_holds_that_cloud_only(two_clouds):
    job = scheduling.find_job(scheduling.load_jobs(), "tenant_health_report")
    job = dataclasses.replace(job, parameters={**job.parameters, "cloud": "west", "trend_days": 3})
    rec = scheduling.run_job(job, two_clouds)
    assert rec.status == "success", rec.error
    (xlsx,) = rec.output_dir.glob("*.xlsx")
    store = open_store(two_clouds)
    west = tenants.tenant_health(store, cloud="west")
    for sheet in ("Health", "Risk", "Summary", "Quotas"):
        assert set(_sheet(xlsx, sheet)["cloud"]) == {"west"}, sheet
    assert len(_sheet(xlsx, "Health")) == len(west)
    meta = _meta(xlsx)
    assert (meta["clouds"], meta["cloud_filter"]) == ("west", "west")
    assert "Covers cloud west (" in (rec.output_dir / "tenant_health_report.html").read_text()
