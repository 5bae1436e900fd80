"""Materialised inputs of the history and drift analytics, kept per open store and rebuilt when it moves on.

The store's `changes` view unions every type's history over every Parquet file; reading it costs seconds once
a store holds months of runs, and a dashboard or report asks it a dozen questions. So the analytics read a
temporary table built from it once per Store connection and rebuilt only when the signature of what it was
built from changes: the number of run end records for the change log (a run becomes visible only by its
end record, written after all its files), the event and acknowledgement counts for the drift state (both
append-only). Nothing is written to disk: the tables live in the Store's in-memory DuckDB and die with it.
"""

from __future__ import annotations

import weakref
from typing import Any

from pf9lib.store.reader import Store

CHANGE_LOG = "pf9_change_log"
_SIGNATURES: weakref.WeakKeyDictionary[Store, dict[str, Any]] = weakref.WeakKeyDictionary()


def materialised(store: Store, name: str, signature_sql: str, build_sql: str) -> str:
    """Name of a temp table holding `build_sql`'s rows, rebuilt when `signature_sql`'s answer changes."""
    signature = store.con.execute(signature_sql).fetchone()
    known = _SIGNATURES.setdefault(store, {})
    if known.get(name) != signature:
        store.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {build_sql}")
        known[name] = signature
    return name


def change_log(store: Store) -> str:
    """The `changes` view as a table, plus `n_fields` (how many fields an update moved), for this store."""
    return materialised(
        store,
        CHANGE_LOG,
        # A run becomes visible (or failed) only by its end record: their count moves whenever the set does.
        "SELECT count(*) FROM run_ends",
        "SELECT *, coalesce(len(changed_fields), 0) AS n_fields FROM changes",
    )
