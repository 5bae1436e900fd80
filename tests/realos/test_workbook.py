"""The workbook of a real run opens and has exactly the sheets and headers of a simulated run's workbook."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from pf9lib.collect.inventory import collect_cloud
from pf9lib.config import load_settings
from pf9lib.reports.rvtools import sheet_headers

pytestmark = pytest.mark.realos


def _export(stack, data_dir: Path, out: Path) -> Path:
    result = stack.pf9wb("export", "rvtools", "--data-dir", str(data_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    (path,) = out.glob("*.xlsx")
    return path


def _headers(path: Path) -> dict[str, list[str]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {sheet.title: [c.value for c in next(sheet.iter_rows(max_row=1))] for sheet in book.worksheets}
    finally:
        book.close()


def test_real_workbook_opens_with_the_simulated_runs_sheets_and_headers(stack, real_run, sim, tmp_path):
    real = _headers(_export(stack, real_run, tmp_path / "real"))
    sim_data = tmp_path / "sim-data"
    collect_cloud(load_settings(cloud=sim.cloud_name, data_dir=str(sim_data), env=sim.env()), sim_data)
    simulated = _headers(_export(stack, sim_data, tmp_path / "sim"))
    assert list(real) == list(simulated)
    for sheet in real:
        assert real[sheet] == simulated[sheet], sheet
    assert real["Servers"] == sheet_headers("servers")
    assert {"Summary", "ProjectQuotas", "MetaData"} <= set(real)
