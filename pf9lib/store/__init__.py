"""pf9lib.store: the only package that touches the store's files (Parquet written, DuckDB views read)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pf9lib.store.reader import Store


def as_store(store_or_data_dir: Store | Path | str) -> Store:
    """A Store as given, or the store of a data directory (for the library's public entry points)."""
    from pf9lib.store.reader import Store

    return store_or_data_dir if isinstance(store_or_data_dir, Store) else Store(store_or_data_dir)
