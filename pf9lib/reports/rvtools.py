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


def _type_frame(store: Store, kind: str) -> pd.DataFrame:
    headers = sheet_headers(kind)
    cols = ", ".join(f'"{h}"' for h in headers)
    df = store.sql(f'SELECT {cols} FROM "{kind}" ORDER BY cloud, region, project_name NULLS FIRST, name, id')
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


def _quotas(store: Store) -> pd.DataFrame:
    raw = store.sql("SELECT cloud, region, project_id, project_name, service, raw FROM quotas")
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


def _access(view: Store) -> pd.DataFrame:
    """Who holds which role where, as of the workbook's run (system scope named, never empty)."""
    from pf9lib.analytics.access import user_roles

    return user_roles(view)[ACCESS_HEADERS]


def _audit(store: Store) -> pd.DataFrame:
    """The audit trail as it stands when the workbook is written: every action, grant and refusal."""
    from pf9lib.actions.audit import audit

    df = audit(store)[AUDIT_HEADERS]
    df["at"] = df["at"].dt.tz_convert("UTC").dt.tz_localize(None)
    return df


def build_sheets(store: Store, run_id: str | None = None) -> dict[str, pd.DataFrame]:
    """Every sheet as a DataFrame, for the state at `run_id` (default: the latest visible run)."""
    from pf9lib import __version__
    from pf9lib.errors import Pf9Error

    run = store.latest_run() if run_id is None else _run(store, run_id)
    if run is None:
        raise Pf9Error(f"no completed run in {store.data_dir}: run `pf9wb collect` first")
    view = store.as_of(run["run_id"])
    sheets = {"Summary": _summary(store, run["run_id"])}
    for kind in RESOURCES:
        if kind != "quotas":
            sheets[SHEET_NAMES[kind]] = _type_frame(view, kind)
    sheets["ProjectQuotas"] = _quotas(view)
    sheets["Access"] = _access(view)
    sheets["Audit"] = _audit(store)
    sheets["MetaData"] = pd.DataFrame(
        [
            ["tool", "PF9 Workbench"],
            ["tool_version", __version__],
            ["created_at", datetime.now(UTC).isoformat(timespec="seconds")],
            ["cloud", run["cloud"]],
            ["regions", ", ".join(run["regions"])],
            ["run_id", run["run_id"]],
            ["run_started_at", str(run["started_at"])],
            ["run_status", run["status"]],
        ],
        columns=META_HEADERS,
    )
    return sheets


def _run(store: Store, run_id: str) -> dict:
    from pf9lib.errors import Pf9Error

    df = store.sql("SELECT * FROM runs WHERE run_id = ? AND status IN ('success', 'partial')", [run_id])
    if df.empty:
        raise Pf9Error(f"no completed run {run_id!r} in {store.data_dir}: list runs with `pf9wb runs`")
    return df.iloc[0].to_dict()


def export_rvtools(store: Store, out_dir: Path | str, run_id: str | None = None) -> Path:
    """Write <out_dir>/pf9-inventory-<run>.xlsx and a CSV per sheet beside it; returns the workbook path."""
    sheets = build_sheets(store, run_id)
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
