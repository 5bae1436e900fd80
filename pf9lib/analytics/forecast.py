"""Forecast models for the capacity analytics, and the days until a forecast reaches a threshold.

A model is any function `(series, horizon) -> DataFrame` where `series` is a daily pandas Series (oldest
first, one value per day) and the frame has `horizon` rows (day 1 … horizon after the last observation) with
columns `mean`, `lower` and `upper`; its `method` attribute names it in results. Two are shipped:

- `linear_trend` (the default): ordinary least squares of the value on the day, with the 95 % prediction
  interval of a new observation (statsmodels OLS). Quota and allocation series grow by steps and churn;
  a straight line with an honest band says "about when" without pretending to see seasons.
- `holt`: Holt's additive-trend exponential smoothing (statsmodels ExponentialSmoothing), band from 500
  simulated future paths; slower, follows a recent change of pace.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

Model = Callable[[pd.Series, int], pd.DataFrame]
LEVEL = 0.95


def linear_trend(series: pd.Series, horizon: int) -> pd.DataFrame:
    """OLS trend with the 95 % prediction interval for each of the next `horizon` days."""
    from scipy import stats
    from statsmodels.regression.linear_model import OLS  # not statsmodels.api: that imports all of it

    y = np.asarray(series, dtype=float)
    t = np.arange(len(y), dtype=float)
    fit = OLS(y, np.column_stack([np.ones(len(y)), t])).fit()
    future = np.column_stack([np.ones(horizon), np.arange(len(y), len(y) + horizon, dtype=float)])
    mean = future @ fit.params
    # Variance of a new observation: the line's own uncertainty plus the residual scatter.
    var = np.einsum("ij,jk,ik->i", future, fit.cov_params(), future) + fit.scale
    half = stats.t.ppf(0.5 + LEVEL / 2, max(fit.df_resid, 1)) * np.sqrt(np.maximum(var, 0.0))
    return pd.DataFrame({"mean": mean, "lower": mean - half, "upper": mean + half})


def linear_trend_batch(values: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`linear_trend` for many series of one length at once (rows = series): the same OLS estimates and
    prediction intervals, in closed form, so a thousand quota series cost one matrix product instead of a
    thousand fits (tests check it against statsmodels series by series)."""
    from scipy import stats

    y = np.asarray(values, dtype=float)
    n = y.shape[1]
    t = np.arange(n, dtype=float)
    t_mean, sxx = t.mean(), ((t - t.mean()) ** 2).sum()
    slope = ((t - t_mean) * (y - y.mean(axis=1, keepdims=True))).sum(axis=1) / sxx
    intercept = y.mean(axis=1) - slope * t_mean
    residual = y - (intercept[:, None] + slope[:, None] * t)
    scale = (residual**2).sum(axis=1) / max(n - 2, 1)
    future = np.arange(n, n + horizon, dtype=float)
    mean = intercept[:, None] + slope[:, None] * future
    var = scale[:, None] * (1 + 1 / n + (future - t_mean) ** 2 / sxx)
    half = stats.t.ppf(0.5 + LEVEL / 2, max(n - 2, 1)) * np.sqrt(var)
    return mean, mean - half, mean + half


linear_trend.method = "linear trend (OLS), 95% prediction interval"  # type: ignore[attr-defined]
linear_trend.batch = linear_trend_batch  # type: ignore[attr-defined]


def holt(series: pd.Series, horizon: int) -> pd.DataFrame:
    """Holt's additive trend; mean forecast and the 2.5 / 97.5 % quantiles of 500 simulated paths."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = np.asarray(series, dtype=float)
    fit = ExponentialSmoothing(y, trend="add", initialization_method="estimated").fit()
    paths = fit.simulate(horizon, repetitions=500, error="add", rng=np.random.default_rng(0))
    paths = np.asarray(paths).reshape(horizon, -1)
    tail = (1 - LEVEL) / 2
    return pd.DataFrame(
        {
            "mean": np.asarray(fit.forecast(horizon)),
            "lower": np.quantile(paths, tail, axis=1),
            "upper": np.quantile(paths, 1 - tail, axis=1),
        }
    )


holt.method = "Holt additive trend (exponential smoothing), 95% simulated band"  # type: ignore[attr-defined]


def method_of(model: Model) -> str:
    return getattr(model, "method", getattr(model, "__name__", "model"))


def forecast_many(
    series: pd.DataFrame,
    thresholds: pd.Series,
    horizon: int,
    model: Model = linear_trend,
    min_points: int = 7,
) -> pd.DataFrame:
    """days_to_threshold for every row of `series` (rows = series, columns = days oldest first, NaN before a
    series began) against its threshold; a model with a `batch` attribute forecasts the complete, moving
    series together. One row per series with the columns of days_to_threshold."""
    values = series.to_numpy(dtype=float)
    limit = thresholds.reindex(series.index).to_numpy(dtype=float)
    out = [None] * len(series)
    batch = getattr(model, "batch", None)
    if batch is not None and values.shape[1] >= min_points:
        complete = ~np.isnan(values).any(axis=1)
        moving = complete & (np.nanmax(values, axis=1) != np.nanmin(values, axis=1))
        fit = moving & (values[:, -1] < limit)
        rows = np.nonzero(fit)[0]
        if len(rows):
            mean, lower, upper = batch(values[rows], horizon)
            for k, i in enumerate(rows):
                out[i] = {
                    "current": values[i, -1],
                    "threshold": limit[i],
                    "days": crossing(mean[k], limit[i]),
                    "days_earliest": crossing(upper[k], limit[i]),
                    "days_latest": crossing(lower[k], limit[i]),
                    "mean": mean[k, -1],
                    "lower": lower[k, -1],
                    "upper": upper[k, -1],
                    "note": "forecast",
                }
    for i, key in enumerate(series.index):
        if out[i] is None:
            out[i] = days_to_threshold(series.loc[key], limit[i], horizon, model, min_points)
    return pd.DataFrame(out, index=series.index)


def crossing(values: pd.Series | np.ndarray, threshold: float) -> float:
    """Days until `values` (day 1 … n) first reach `threshold`; NaN when they never do within the horizon."""
    hits = np.nonzero(np.asarray(values, dtype=float) >= threshold)[0]
    return float(hits[0] + 1) if len(hits) else float("nan")


def days_to_threshold(
    series: pd.Series, threshold: float, horizon: int, model: Model = linear_trend, min_points: int = 7
) -> dict:
    """When a daily series reaches `threshold`: `days` by the mean forecast, `days_earliest` when the upper
    band reaches it, `days_latest` when the lower band does (NaN: not within `horizon` days), `note` on how
    it was decided, and the forecast's last day `mean`, `lower`, `upper`."""
    y = pd.Series(series, dtype=float).dropna()
    current = float(y.iloc[-1]) if len(y) else float("nan")
    out = {
        "current": current,
        "threshold": float(threshold),
        "days": np.nan,
        "days_earliest": np.nan,
        "days_latest": np.nan,
        "mean": np.nan,
        "lower": np.nan,
        "upper": np.nan,
    }
    if len(y) and current >= threshold:
        return {**out, "days": 0.0, "days_earliest": 0.0, "days_latest": 0.0, "note": "reached"}
    if len(y) < min_points:
        return {**out, "note": f"fewer than {min_points} days of history"}
    if y.nunique() == 1:
        return {**out, "mean": current, "lower": current, "upper": current, "note": "flat: not at this rate"}
    band = model(y, horizon)
    last = band.iloc[-1]
    return {
        **out,
        "days": crossing(band["mean"], threshold),
        "days_earliest": crossing(band["upper"], threshold),
        "days_latest": crossing(band["lower"], threshold),
        "mean": float(last["mean"]),
        "lower": float(last["lower"]),
        "upper": float(last["upper"]),
        "note": "forecast",
    }
