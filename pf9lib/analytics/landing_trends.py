"""Landing analytics 10 and 11 (docs/domain.md §6): capacity trends with a forecast, and trendlines.

New VMs, volumes and snapshots count by creation time, from the history (pf9lib.analytics.tenant_trends.
births), so the first run's estate is not "new"; deletions come from the change log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pf9lib.analytics.change_log import change_log
from pf9lib.analytics.forecast import Model, linear_trend, method_of
from pf9lib.analytics.scope import CLOUD_REGIONS, Filter, now_of, query, where
from pf9lib.analytics.tenant_trends import births
from pf9lib.store import as_store
from pf9lib.store.reader import Store


def _daily_births(store: Store, days: int, cloud: Filter, region: Filter, now: datetime | None):
    end = now_of(store, now).date()
    start = end - timedelta(days=days - 1)
    clause, params = where(cloud=cloud, region=region)
    got = query(
        store,
        f"""SELECT CAST(created_at AS DATE) AS day, cloud, region,
                   count(*) FILTER (WHERE type = 'servers') AS new_vms,
                   count(*) FILTER (WHERE type = 'volumes') AS new_volumes,
                   coalesce(sum(gb) FILTER (WHERE type = 'volumes'), 0) AS new_volume_gb,
                   count(*) FILTER (WHERE type = 'snapshots') AS new_snapshots
            FROM "{births(store)}" WHERE {clause} AND CAST(created_at AS DATE) BETWEEN ? AND ?
            GROUP BY ALL""",
        [*params, start, end],
    )
    places = query(store, f"SELECT cloud, region FROM ({CLOUD_REGIONS}) WHERE {clause}", params)
    grid = places.merge(pd.DataFrame({"day": pd.date_range(start, end, freq="D").date}), how="cross")
    got["day"] = pd.to_datetime(got["day"]).dt.date
    out = grid.merge(got, on=["cloud", "region", "day"], how="left").fillna(0)
    for column in ("new_vms", "new_volumes", "new_volume_gb", "new_snapshots"):
        out[column] = out[column].astype("int64")
    return out, start, end


def capacity_trends(
    store: Store | Path | str,
    days: int = 30,
    horizon: int = 14,
    *,
    cloud: Filter = None,
    region: Filter = None,
    model: Model = linear_trend,
    now: datetime | None = None,
) -> pd.DataFrame:
    """10. Daily new VMs, new volumes and new volume GB (by creation time, from the history) per cloud and
    region over `days` days, then `horizon` days forecast by `model` (default OLS trend, 95 % prediction
    interval). Long format: day, cloud, region, metric, value, kind (actual | forecast), lower, upper,
    method; a forecast's `value` is the model's mean."""
    store = as_store(store)
    daily, _, end = _daily_births(store, days, cloud, region, now)
    metrics = ["new_vms", "new_volumes", "new_volume_gb"]
    actual = daily.melt(id_vars=["day", "cloud", "region"], value_vars=metrics, var_name="metric")
    actual = actual.assign(value=actual["value"].astype(float), kind="actual", lower=np.nan, upper=np.nan)
    wide = actual.pivot_table(index=["cloud", "region", "metric"], columns="day", values="value")
    future = [end + timedelta(days=i + 1) for i in range(horizon)]
    parts = [actual]
    if len(wide) and wide.shape[1] >= 3:
        batch = getattr(model, "batch", None)
        if batch is not None:  # every series has one value per day of the window: forecast them together
            mean, lower, upper = batch(wide.to_numpy(), horizon)
        else:
            bands = [model(pd.Series(row), horizon) for row in wide.to_numpy()]
            mean, lower, upper = (
                np.vstack([b[c].to_numpy() for b in bands]) for c in ("mean", "lower", "upper")
            )
        keys = wide.index.to_frame(index=False)
        for k, key in keys.iterrows():
            parts.append(
                pd.DataFrame(
                    {
                        "day": future,
                        **key.to_dict(),
                        "value": mean[k],
                        "kind": "forecast",
                        "lower": lower[k],
                        "upper": upper[k],
                    }
                )
            )
    out = pd.concat(parts, ignore_index=True)
    out["method"] = method_of(model)
    columns = ["day", "cloud", "region", "metric", "value", "kind", "lower", "upper", "method"]
    return out[columns].sort_values(["cloud", "region", "metric", "day"]).reset_index(drop=True)


def trendlines(
    store: Store | Path | str,
    days: int = 30,
    *,
    cloud: Filter = None,
    region: Filter = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """11. Per cloud, region and UTC day: new VMs and new snapshots (by creation time, from the history) and
    deletions of any type (from the change log), zero-filled."""
    store = as_store(store)
    daily, start, end = _daily_births(store, days, cloud, region, now)
    clause, params = where(cloud=cloud, region=region)
    gone = query(
        store,
        f"""SELECT CAST(time AS DATE) AS day, cloud, region, count(*) AS deletions
            FROM "{change_log(store)}"
            WHERE {clause} AND kind = 'deleted' AND CAST(time AS DATE) BETWEEN ? AND ? GROUP BY ALL""",
        [*params, start, end],
    )
    gone["day"] = pd.to_datetime(gone["day"]).dt.date
    out = daily.merge(gone, on=["day", "cloud", "region"], how="left").fillna({"deletions": 0})
    out["deletions"] = out["deletions"].astype("int64")
    return out[["day", "cloud", "region", "new_vms", "new_snapshots", "deletions"]]
