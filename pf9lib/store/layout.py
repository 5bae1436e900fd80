"""Where the store's Parquet files live, and the one way they are written (temp name, then rename).

history/<type>/cloud=<c>/month=<YYYY-MM>/<run_id>-<region>~<fp>.parquet   changed rows + tombstones
runs/start/<run_id>~<fp>.parquet, runs/end/<run_id>~<fp>.parquet          run lifecycle records
run_types/cloud=<c>/<run_id>~<fp>.parquet                                 per type/region stats of a run
events/<kind>/date=<YYYY-MM-DD>/<time>-<uuid>~<fp>.parquet                small appended facts
metrics/…                                                                 see metrics_store
SCHEMA.json, LAYOUT                                                       the declared tables, the version
(all under <data>/store/)

`<fp>` is the fingerprint of the schema the file was written with (schema.Table.fingerprint). Partition values
are strings (`cloud=123` is the cloud "123", never a number): SCHEMA.json declares them so.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pf9lib.errors import Pf9Error
from pf9lib.store.schema import Table

STORE_DIRNAME = "store"
LAYOUT_VERSION = 2
LOCK_NAME = ".maintenance.lock"


class Layout:
    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / STORE_DIRNAME

    def table_dir(self, table: Table) -> Path:
        return self.root / table.path

    def file(self, table: Table, stem: str, **partitions: str) -> Path:
        """The path of a new file of `table`: its partition directories, then `<stem>~<fingerprint>`."""
        missing = [p for p in table.partitions if p not in partitions]
        if missing:
            raise ValueError(f"{table.name}: partition value(s) {missing} not given")
        parts = [f"{p}={safe(partitions[p])}" for p in table.partitions]
        return self.table_dir(table).joinpath(*parts, f"{stem}~{table.fingerprint}.parquet")

    def history_dir(self, kind: str) -> Path:
        return self.root / "history" / kind

    @property
    def version_file(self) -> Path:
        return self.root / "LAYOUT"

    def version(self) -> int:
        """1 for a store written before file fingerprints and split run records, else the recorded one."""
        if self.version_file.exists():
            return int(self.version_file.read_text().strip() or 1)
        # Every writer records the version with its first file: files without it are an older layout's.
        has_files = self.root.is_dir() and next(self.root.rglob("*.parquet"), None) is not None
        return 1 if has_files else LAYOUT_VERSION


def safe(value: str) -> str:
    """Partition values are path components: keep them readable and free of separators."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in value)


def files_by_fingerprint(directory: Path) -> dict[str, list[str]]:
    """Every Parquet file under `directory`, grouped by the schema fingerprint in its name ('' when none).

    One directory walk: os.scandir is several times faster than Path.rglob on thousands of files.
    """
    found: dict[str, list[str]] = {}
    stack = [str(directory)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.name.endswith(".parquet") and not entry.name.startswith("."):
                stem = entry.name[: -len(".parquet")]
                fp = stem.rpartition("~")[2] if "~" in stem else ""
                found.setdefault(fp, []).append(entry.path)
    return found


def write_parquet_atomic(table: pa.Table, path: Path) -> Path:
    """Write to a hidden temporary name beside the target, fsync, rename: readers never see half a file.

    Readers glob `*.parquet` and skip hidden names, so a crash leaves nothing they would read.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def write_table(layout: Layout, table: Table, rows: pa.Table, stem: str, **partitions: str) -> Path:
    """Write rows of a declared table, cast to its schema (a writer can never drift from the declaration)."""
    if not layout.version_file.exists():
        write_schema_document(layout)
    rows = rows.select(table.schema.names).cast(table.schema)
    return write_parquet_atomic(rows, layout.file(table, stem, **partitions))


def write_schema_document(layout: Layout) -> None:
    """SCHEMA.json beside the tables (rewritten only when the catalogue changed), and the layout version."""
    from pf9lib.store.schema import schema_document

    layout.root.mkdir(parents=True, exist_ok=True)
    text = json.dumps(schema_document(), indent=1, sort_keys=True) + "\n"
    path = layout.root / "SCHEMA.json"
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f".SCHEMA.json.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    if not layout.version_file.exists():
        layout.version_file.write_text(f"{LAYOUT_VERSION}\n")


@contextmanager
def maintenance_lock(data_dir: Path | str, exclusive: bool, wait: bool = True) -> Iterator[None]:
    """Shared for collects, exclusive for compaction, pruning and upgrades (flock: released if the process
    dies)."""
    root = Layout(data_dir).root
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_NAME, "a+") as fh:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fh, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Pf9Error("the store is busy (a collect is running): retry when it has finished") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
