"""Progress on long work: a bar on a terminal, one plain line per step anywhere else (cron, CI, papermill).

A cron log of redrawn carriage-return bars is one unreadable line; a line per step reads as a log.
"""

from __future__ import annotations

import sys
import time
from typing import IO


class Progress:
    """`update(n, note)` after each step; `close()` at the end (or use it as a context manager)."""

    def __init__(
        self, desc: str, total: int | None = None, unit: str = "step", stream: IO[str] | None = None
    ):
        self.desc, self.total, self.unit = desc, total, unit
        self.stream = stream or sys.stderr
        self.count = 0
        self._t0 = time.monotonic()
        self._bar = None
        if self.stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(desc=desc, total=total, unit=unit, file=self.stream, leave=False)

    def update(self, n: int = 1, note: str = "") -> None:
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
            if note:
                self._bar.set_postfix_str(note)
            return
        of = f"/{self.total}" if self.total else ""
        tail = f" {note}" if note else ""
        elapsed = time.monotonic() - self._t0
        print(
            f"{self.desc}: {self.count}{of} {self.unit}{tail} ({elapsed:.1f} s)", file=self.stream, flush=True
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
