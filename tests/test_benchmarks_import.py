"""Every benchmark module imports: benchmarks run rarely, so a renamed helper would otherwise go unnoticed
until someone wants a number (bench_dashboard once imported a REPO that pf9lib.demo no longer had)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

MODULES = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_imports(name):
    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(module.main)
