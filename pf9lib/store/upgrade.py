"""Bring a store written by an earlier version to the current layout (renames only; no row is rewritten).

Layout 1 → 2: run start and end records get folders of their own, event folders are named `date=…`, history
is partitioned by `month=` instead of `date=`, and every file name carries the fingerprint of the schema it
was written with (readers bind one footer per schema). A file keeps its rows and its schema, so every view
reads exactly what it read before; compaction later rewrites old-schema files in the current schema.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyarrow.parquet as pq

from pf9lib.store.layout import LAYOUT_VERSION, Layout, maintenance_lock, write_schema_document
from pf9lib.store.schema import schema_fingerprint

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def upgrade_if_needed(data_dir: Path | str) -> bool:
    """Upgrade when the store is in an older layout; True when something was moved."""
    layout = Layout(data_dir)
    if layout.version() >= LAYOUT_VERSION:
        return False
    return upgrade(data_dir)


def upgrade(data_dir: Path | str) -> bool:
    """Move every file of an older layout to its current place, under the exclusive maintenance lock."""
    layout = Layout(data_dir)
    with maintenance_lock(data_dir, exclusive=True, wait=True):
        if layout.version() >= LAYOUT_VERSION:  # another process did it while we waited
            return False
        root = layout.root
        for path in sorted((root / "runs").glob("*.parquet")):
            stem, _, event = path.name.removesuffix(".parquet").rpartition(".")  # <id>.start / <id>.end
            _move(path, root / "runs" / event / f"{stem}.parquet")
        for path in sorted((root / "history").glob("*/cloud=*/date=*/*.parquet")):
            month = path.parent.name.removeprefix("date=")[:7]
            _move(path, path.parent.parent / f"month={month}" / path.name)
        for path in sorted((root / "events").glob("*/*/*.parquet")):
            if _DAY.match(path.parent.name):
                _move(path, path.parent.parent / f"date={path.parent.name}" / path.name)
        for path in sorted((root / "run_types").glob("cloud=*/*.parquet")):
            _move(path, path)
        metrics = root / "metrics"
        for pattern in ("series/*/date=*/*.parquet", "targets/date=*/*.parquet", "cycles/date=*/*.parquet"):
            for path in sorted(metrics.glob(pattern)):
                _move(path, path)
        for path in sorted(metrics.glob("rollups/*/*/date=*/*.parquet")):
            period, _, digest = path.name.removesuffix(".parquet").partition("~")
            _move(path, path.with_name(f"{period}.{digest}.parquet"))
        for empty in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            if not any(empty.iterdir()):
                empty.rmdir()
        layout.version_file.unlink(missing_ok=True)
        write_schema_document(layout)
    return True


def _move(path: Path, target: Path) -> None:
    """Rename to `target` with the fingerprint of the file's own schema in its name (unless it has one)."""
    if "~" not in target.name.removesuffix(".parquet"):
        fp = schema_fingerprint(pq.read_schema(path))
        target = target.with_name(f"{target.name.removesuffix('.parquet')}~{fp}.parquet")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
