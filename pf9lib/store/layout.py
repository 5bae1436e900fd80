"""Where the store's Parquet files live, and the one way they are written (temp name, then rename).

<data>/store/history/<type>/cloud=<c>/date=<YYYY-MM-DD>/<run_id>.parquet   changed rows + tombstones
<data>/store/runs/<run_id>.start.parquet, <run_id>.end.parquet              run lifecycle events
<data>/store/run_types/cloud=<c>/<run_id>.parquet                           per type/region stats of a run
<data>/store/events/<kind>/<date>/<uuid>.parquet                            small appended facts (acks, ...)
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

STORE_DIRNAME = "store"


class Layout:
    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / STORE_DIRNAME

    def history_dir(self, kind: str) -> Path:
        return self.root / "history" / kind

    def history_file(self, kind: str, cloud: str, date: str, run_id: str) -> Path:
        return self.history_dir(kind) / f"cloud={_safe(cloud)}" / f"date={date}" / f"{run_id}.parquet"

    def history_glob(self, kind: str) -> str:
        return str(self.history_dir(kind) / "*" / "*" / "*.parquet")

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def run_event_file(self, run_id: str, event: str) -> Path:
        return self.runs_dir / f"{run_id}.{event}.parquet"

    def run_types_file(self, cloud: str, run_id: str) -> Path:
        return self.root / "run_types" / f"cloud={_safe(cloud)}" / f"{run_id}.parquet"

    def run_types_glob(self) -> str:
        return str(self.root / "run_types" / "*" / "*.parquet")

    def events_dir(self, kind: str) -> Path:
        return self.root / "events" / kind

    def events_glob(self, kind: str) -> str:
        return str(self.events_dir(kind) / "*" / "*.parquet")

    def has_files(self, pattern_dir: Path) -> bool:
        return pattern_dir.exists() and any(pattern_dir.rglob("*.parquet"))


def _safe(value: str) -> str:
    """Partition values are path components: keep them readable and free of separators."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in value)


def write_parquet_atomic(table: pa.Table, path: Path) -> Path:
    """Write to a hidden temporary name beside the target, fsync, rename: readers never see half a file.

    Readers glob `*.parquet`; the temporary name ends in `.tmp` so a crash leaves nothing they would read.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


LOCK_NAME = ".maintenance.lock"


def _busy(message: str) -> Exception:
    from pf9lib.errors import Pf9Error

    return Pf9Error(message)


@contextmanager
def maintenance_lock(data_dir: Path | str, exclusive: bool, wait: bool = True) -> Iterator[None]:
    """Shared for collects, exclusive for compaction and pruning (flock: released if the process dies)."""
    root = Layout(data_dir).root
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_NAME, "a+") as fh:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fh, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy("the store is busy (a collect is running): retry when it has finished") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
