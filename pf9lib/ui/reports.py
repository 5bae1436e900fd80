"""What the managers' scheduled reports (scheduled/tenant_health_report, capacity_report) share: the scope
from their parameters, the sentence saying which clouds and regions a report covers, and the xlsx with a
MetaData sheet naming them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from pf9lib import __version__
from pf9lib.store.reader import Store
from pf9lib.ui.scope import Scope, places


def scope_of(cloud: str = "", region: str = "") -> Scope:
    """The analytics' filters from a report's parameters ("" = every cloud / region)."""
    return {"cloud": cloud or None, "region": region or None}


def covered(store: Store, scope: Scope) -> pd.DataFrame:
    """(cloud, region) pairs the report covers: those the store knows, within the scope."""
    known = places(store)
    for column in ("cloud", "region"):
        if scope.get(column) is not None:
            known = known[known[column] == scope[column]]
    return known.reset_index(drop=True)


def covered_text(store: Store, scope: Scope) -> str:
    """ "Covers cloud east (RegionOne, RegionTwo)", or why it covers nothing."""
    known = covered(store, scope)
    if known.empty:
        asked = ", ".join(f"{k} {v}" for k, v in scope.items() if v) or "any cloud"
        return f"Covers nothing: the store has no collection for {asked} (see `pf9wb runs`)."
    parts = [f"{cloud} ({', '.join(group['region'])})" for cloud, group in known.groupby("cloud", sort=True)]
    return "Covers cloud " + "; cloud ".join(parts) + "."


def _naive(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel has no time zones: UTC times without their zone; lists as text."""
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
        elif frame[column].dtype == object:
            frame[column] = [
                ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v for v in frame[column]
            ]
    return frame


def write_xlsx(
    path: Path, sheets: dict[str, pd.DataFrame], store: Store, scope: Scope, generated: datetime, report: str
) -> Path:
    """The report's workbook: one sheet per frame, then MetaData (report, tool version, generated, the time
    the store describes, clouds and regions covered)."""
    known = covered(store, scope)
    meta = pd.DataFrame(
        [
            ("report", report),
            ("tool_version", __version__),
            ("generated_at", generated.strftime("%Y-%m-%d %H:%M:%S UTC")),
            ("store_as_of", store.now.strftime("%Y-%m-%d %H:%M:%S UTC")),
            ("clouds", ", ".join(sorted(set(known["cloud"])))),
            ("regions", ", ".join(f"{c}/{r}" for c, r in zip(known["cloud"], known["region"], strict=True))),
            ("cloud_filter", scope.get("cloud") or "all"),
            ("region_filter", scope.get("region") or "all"),
        ],
        columns=["key", "value"],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path) as writer:
        for name, frame in {**sheets, "MetaData": meta}.items():
            _naive(frame).to_excel(writer, sheet_name=name[:31], index=False)
    return path
