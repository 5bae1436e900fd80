"""Forecasts on series with a known trend: the true day a threshold is crossed lies within the model's band,
through the models alone and through quota_forecast over a stored quota history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pf9lib.analytics import capacity
from pf9lib.analytics.forecast import days_to_threshold, holt, linear_trend
from tests.analytics.estates import quota, write_run

SLOPE, START, DAYS, THRESHOLD = 2.0, 100.0, 90, 400.0
# The last observation is day 89 (value 278 on the trend): the trend reaches 400 on day 150, 61 days on.
TRUE_DAYS = (THRESHOLD - (START + SLOPE * (DAYS - 1))) / SLOPE


def _series(seed: int = 7, noise: float = 4.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(START + SLOPE * np.arange(DAYS) + rng.normal(0, noise, DAYS))


@pytest.mark.parametrize("model", [linear_trend, holt], ids=["ols", "holt"])
def test_days_to_threshold_band_holds_the_true_crossing(model):
    got = days_to_threshold(_series(), THRESHOLD, horizon=120, model=model)
    assert got["note"] == "forecast"
    assert got["days_earliest"] <= TRUE_DAYS <= got["days_latest"]
    assert abs(got["days"] - TRUE_DAYS) <= 3
    assert got["lower"] < got["mean"] < got["upper"]


def test_band_widens_with_noise_and_the_method_is_named():
    quiet = linear_trend(_series(noise=1.0), 30)
    loud = linear_trend(_series(noise=10.0), 30)
    assert (loud["upper"] - loud["lower"]).iloc[-1] > (quiet["upper"] - quiet["lower"]).iloc[-1]
    assert "OLS" in linear_trend.method and "95%" in linear_trend.method


def test_reached_flat_and_short_series_are_said_so():
    assert days_to_threshold(pd.Series([5.0] * 10 + [12.0]), 10, 30)["note"] == "reached"
    assert days_to_threshold(pd.Series([5.0] * 10), 10, 30)["note"] == "flat: not at this rate"
    assert days_to_threshold(pd.Series([1.0, 2.0]), 10, 30)["note"].startswith("fewer than")


def test_quota_forecast_reads_the_stored_daily_usage(tmp_path):
    rng = np.random.default_rng(3)
    for day in range(40):  # cores used grow by 2 a day with a little noise; the limit is 200
        used = int(round(20 + 2 * day + rng.normal(0, 1.5)))
        write_run(
            tmp_path, day, {"quotas": [quota("p1", "compute", {"cores": 200, "ram": -1}, {"cores": used})]}
        )
    got = capacity.quota_forecast(tmp_path, days=40, horizon=200, resource="cores").iloc[0]
    true_days = (200 - (20 + 2 * 39)) / 2  # 51 days after the last day
    assert (got["cloud"], got["region"], got["project_id"], got["limit"]) == ("c1", "R1", "p1", 200)
    assert got["days_earliest"] <= true_days <= got["days_latest"]
    assert abs(got["days"] - true_days) <= 3 and got["method"] == linear_trend.method
    assert capacity.quota_forecast(tmp_path, days=40, resource="ram").empty  # unlimited: nothing to reach


def test_the_batched_linear_trend_is_statsmodels_ols_series_by_series():
    from pf9lib.analytics.forecast import linear_trend_batch

    many = np.vstack([_series(seed).to_numpy() for seed in range(5)] + [np.linspace(0, 9, DAYS)])
    mean, lower, upper = linear_trend_batch(many, 30)
    for i, row in enumerate(many):
        one = linear_trend(pd.Series(row), 30)
        np.testing.assert_allclose(mean[i], one["mean"], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(lower[i], one["lower"], rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(upper[i], one["upper"], rtol=1e-9, atol=1e-6)
