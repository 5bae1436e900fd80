"""The RVTools-style workbook (docs/domain.md §10): one sheet per resource type with stable headers, plus
Summary, ProjectQuotas and MetaData; the same content as one CSV per sheet.

Headers come from the type's declared columns (pf9lib.resources), never from the data, so they are identical
for every run: tools that read these workbooks break when headers move.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from pf9lib.collect.inventory import GLOBAL_REGION
from pf9lib.resources import RESOURCES, type_columns
from pf9lib.store.reader import Store

LEADING = ["cloud", "region", "id", "name", "project_id", "project_name", "domain_id", "domain_name"]
SUMMARY_HEADERS = ["type", "count", "previous_count", "change", "created", "updated", "deleted"]
QUOTA_HEADERS = [
    "cloud",
    "region",
    "project_id",
    "project_name",
    "service",
    "resource",
    "limit",
    "in_use",
    "reserved",
]
META_HEADERS = ["key", "value"]
SHEET_NAMES = {kind: kind.replace("_", " ").title().replace(" ", "")[:31] for kind in RESOURCES}


def sheet_headers(kind: str) -> list[str]:
    """The documented, stable header row of a type's sheet."""
    own = [name for name, _ in type_columns(kind) if name not in LEADING]
    return LEADING + own


def _type_frame(store: Store, kind: str, cloud: str) -> pd.DataFrame:
    headers = sheet_headers(kind)
    cols = ", ".join(f'"{h}"' for h in headers)
    df = store.sql(
        f'SELECT {cols} FROM "{kind}" WHERE cloud = ? ORDER BY region, project_name NULLS FIRST, name, id',
        [cloud],
    )
    for col in df.columns:  # lists read better as "a, b" in a spreadsheet
        if df[col].dtype == object:
            df[col] = df[col].map(_cell_text)
        if isinstance(df[col].dtype, pd.DatetimeTZDtype):
            df[col] = df[col].dt.tz_convert("UTC").dt.tz_localize(None)
    return df


def _cell_text(value):
    """Lists (DuckDB gives them as arrays) read better as "a, b" in a spreadsheet, maps as "k=v, k=v"."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return value


def _summary(store: Store, run_id: str) -> pd.DataFrame:
    counts = store.sql(
        "SELECT type, sum(count)::BIGINT AS count, sum(created)::BIGINT AS created, "
        "sum(updated)::BIGINT AS updated, sum(deleted)::BIGINT AS deleted FROM run_types "
        "WHERE run_id = ? GROUP BY type",
        [run_id],
    ).set_index("type")
    previous = store.sql(
        "SELECT run_id FROM runs WHERE status IN ('success', 'partial') AND started_at < "
        "(SELECT started_at FROM runs WHERE run_id = ?) ORDER BY started_at DESC LIMIT 1",
        [run_id],
    )
    prev_counts = pd.Series(dtype="Int64")
    if not previous.empty:
        prev_counts = store.sql(
            "SELECT type, sum(count)::BIGINT AS count FROM run_types WHERE run_id = ? GROUP BY type",
            [previous.iloc[0]["run_id"]],
        ).set_index("type")["count"]
    rows = []
    for kind in RESOURCES:
        count = int(counts["count"].get(kind, 0)) if kind in counts.index else 0
        prev = prev_counts.get(kind) if kind in prev_counts.index else None
        rows.append(
            {
                "type": kind,
                "count": count,
                "previous_count": None if prev is None else int(prev),
                "change": None if prev is None else count - int(prev),
                "created": int(counts["created"].get(kind, 0)) if kind in counts.index else 0,
                "updated": int(counts["updated"].get(kind, 0)) if kind in counts.index else 0,
                "deleted": int(counts["deleted"].get(kind, 0)) if kind in counts.index else 0,
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_HEADERS)


def _quotas(store: Store, cloud: str) -> pd.DataFrame:
    raw = store.sql(
        "SELECT cloud, region, project_id, project_name, service, raw FROM quotas WHERE cloud = ?", [cloud]
    )
    rows = []
    for rec in raw.itertuples(index=False):
        body = json.loads(rec.raw)
        for resource, limit in sorted((body.get("limits") or {}).items()):
            usage = (body.get("usage") or {}).get(resource) or {}
            rows.append(
                [
                    rec.cloud,
                    rec.region,
                    rec.project_id,
                    rec.project_name,
                    rec.service,
                    resource,
                    limit,
                    usage.get("in_use"),
                    usage.get("reserved"),
                ]
            )
    return pd.DataFrame(rows, columns=QUOTA_HEADERS)


ACCESS_HEADERS = ["cloud", "holder", "holder_type", "role", "scope_type", "scope", "scope_id", "inherited"]
AUDIT_HEADERS = ["at", "actor", "role", "action", "target", "plan_id", "result", "note"]


def _access(view: Store, cloud: str) -> pd.DataFrame:
    """Who holds which role where, as of the workbook's run (system scope named, never empty)."""
    from pf9lib.analytics.access import user_roles

    df = user_roles(view)[ACCESS_HEADERS]
    return df[df["cloud"] == cloud].reset_index(drop=True)


def _audit(store: Store) -> pd.DataFrame:
    """The audit trail as it stands when the workbook is written: every action, grant and refusal."""
    from pf9lib.actions.audit import audit

    df = audit(store)[AUDIT_HEADERS]
    df["at"] = df["at"].dt.tz_convert("UTC").dt.tz_localize(None)
    return df


def build_sheets(
    store: Store, run_id: str | None = None, cloud: str | None = None
) -> dict[str, pd.DataFrame]:
    """Every sheet as a DataFrame: one cloud's state at `run_id` (default: that cloud's latest visible run;
    the cloud defaults to the run's, else the latest run's). A store holding several clouds gives one workbook
    per cloud; MetaData names the cloud and the regions the sheets cover."""
    from pf9lib import __version__

    run = _pick_run(store, run_id, cloud)
    cloud = run["cloud"]
    view = store.as_of(run["run_id"])
    sheets = {"Summary": _summary(store, run["run_id"])}
    for kind in RESOURCES:
        if kind != "quotas":
            sheets[SHEET_NAMES[kind]] = _type_frame(view, kind, cloud)
    sheets["ProjectQuotas"] = _quotas(view, cloud)
    sheets["Access"] = _access(view, cloud)
    sheets["Audit"] = _audit(store)
    # The regions the sheets cover (Keystone's objects carry the cloud-wide "global", not a region).
    covered = sorted(
        {r for df in sheets.values() if "region" in df for r in df["region"].dropna().unique()}
        - {GLOBAL_REGION}
    )
    visible = store.sql("SELECT DISTINCT cloud FROM runs WHERE status IN ('success', 'partial')")["cloud"]
    others = sorted(c for c in visible if c != cloud)
    sheets["MetaData"] = pd.DataFrame(
        [
            ["tool", "PF9 Workbench"],
            ["tool_version", __version__],
            ["created_at", datetime.now(UTC).isoformat(timespec="seconds")],
            ["cloud", cloud],
            ["regions", ", ".join(covered or run["regions"])],
            ["other_clouds_in_store", ", ".join(others) or "none"],
            ["run_id", run["run_id"]],
            ["run_started_at", str(run["started_at"])],
            ["run_status", run["status"]],
        ],
        columns=META_HEADERS,
    )
    return sheets


def _pick_run(store: Store, run_id: str | None, cloud: str | None) -> dict:
    from pf9lib.errors import Pf9Error

    where, params = ["status IN ('success', 'partial')"], []
    if run_id is not None:
        where.append("run_id = ?")
        params.append(run_id)
    if cloud is not None:
        where.append("cloud = ?")
        params.append(cloud)
    df = store.sql(
        f"SELECT * FROM runs WHERE {' AND '.join(where)} ORDER BY started_at DESC, run_id DESC LIMIT 1",
        params,
    )
    if df.empty:
        what = " ".join(f"{k} {v!r}" for k, v in (("run", run_id), ("of cloud", cloud)) if v is not None)
        raise Pf9Error(
            f"no completed run {what + ' ' if what else ''}in {store.data_dir}: "
            "list runs with `pf9wb runs` (or run `pf9wb collect` first)"
        )
    return df.iloc[0].to_dict()


def export_rvtools(
    store: Store, out_dir: Path | str, run_id: str | None = None, cloud: str | None = None
) -> Path:
    """Write <out_dir>/pf9-inventory-<run>.xlsx and a CSV per sheet beside it (one cloud: see build_sheets);
    returns the workbook path."""
    sheets = build_sheets(store, run_id, cloud)
    run = sheets["MetaData"].set_index("key")["value"]["run_id"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_dir = out / f"pf9-inventory-{run}-csv"
    csv_dir.mkdir(exist_ok=True)
    wb = Workbook(write_only=True)
    for name, df in sheets.items():
        df.to_csv(csv_dir / f"{name}.csv", index=False)
        _write_sheet(wb, name, df)
    path = out / f"pf9-inventory-{run}.xlsx"
    tmp = path.with_suffix(".xlsx.tmp")
    wb.save(tmp)
    tmp.replace(path)
    return path


def _write_sheet(wb: Workbook, name: str, df: pd.DataFrame) -> None:
    ws = wb.create_sheet(title=name)
    ws.freeze_panes = "A2"
    widths = [min(60, max(10, len(str(c)) + 2)) for c in df.columns]
    for i, col in enumerate(df.columns):
        longest = df[col].head(200).astype(str).str.len().max() if len(df) else 0
        widths[i] = min(60, max(widths[i], 0 if pd.isna(longest) else int(longest) + 2))
        ws.column_dimensions[get_column_letter(i + 1)].width = widths[i]
    bold = Font(bold=True)
    from openpyxl.cell import WriteOnlyCell

    header = []
    for col in df.columns:
        cell = WriteOnlyCell(ws, value=str(col))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for row in df.itertuples(index=False):
        ws.append([None if _isna(v) else v for v in row])
    ws.auto_filter.ref = f"A1:{get_column_letter(max(1, len(df.columns)))}{len(df) + 1}"


def _isna(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
