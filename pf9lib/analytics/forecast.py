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
    values: list, thresholds: np.ndarray, horizon: int, model: Model = linear_trend, min_points: int = 7
) -> pd.DataFrame:
    """days_to_threshold for many daily series at once: `values[i]` is series i (oldest first),
    `thresholds[i]` its threshold. Reached, short and flat series are decided without a model; the moving
    series that span the longest window go through the model's `batch` together when it has one, any
    others one by one.
    One row per series with the columns of days_to_threshold, in the order given."""
    n = len(values)
    limit = np.asarray(thresholds, dtype=float)
    lengths = np.array([len(v) for v in values], dtype=int)
    current = np.array([float(v[-1]) if len(v) else np.nan for v in values])
    lo = np.array([min(v) if len(v) else np.nan for v in values], dtype=float)
    hi = np.array([max(v) if len(v) else np.nan for v in values], dtype=float)
    cols = {c: np.full(n, np.nan) for c in ("days", "days_earliest", "days_latest", "mean", "lower", "upper")}
    note = np.full(n, "forecast", dtype=object)
    reached = current >= limit
    short = ~reached & (lengths < min_points)
    flat = ~reached & ~short & (hi == lo)
    for c in ("days", "days_earliest", "days_latest"):
        cols[c][reached] = 0.0
    for c in ("mean", "lower", "upper"):
        cols[c][flat] = current[flat]
    note[reached], note[short], note[flat] = (
        "reached",
        f"fewer than {min_points} days of history",
        ("flat: not at this rate"),
    )
    todo = np.nonzero(~reached & ~short & ~flat)[0]
    batch = getattr(model, "batch", None)
    full = lengths.max() if n else 0
    together = todo[lengths[todo] == full] if batch is not None else todo[:0]
    alone = np.setdiff1d(todo, together)
    bands = []
    if len(together):
        bands.append((together, *batch(np.array([values[i] for i in together], dtype=float), horizon)))
    for i in alone:
        band = model(pd.Series(values[i], dtype=float), horizon)
        bands.append((np.array([i]), *(band[c].to_numpy()[None, :] for c in ("mean", "lower", "upper"))))
    for rows, mean, lower, upper in bands:
        edge = limit[rows, None]
        cols["days"][rows] = _first_at_or_above(mean, edge)
        cols["days_earliest"][rows] = _first_at_or_above(upper, edge)
        cols["days_latest"][rows] = _first_at_or_above(lower, edge)
        cols["mean"][rows], cols["lower"][rows], cols["upper"][rows] = mean[:, -1], lower[:, -1], upper[:, -1]
    return pd.DataFrame({"current": current, "threshold": limit, **cols, "note": note})


def _first_at_or_above(band: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """Per row, the first day (1-based) the band reaches its threshold; NaN when it never does."""
    hits = band >= threshold
    return np.where(hits.any(axis=1), hits.argmax(axis=1) + 1.0, np.nan)


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
