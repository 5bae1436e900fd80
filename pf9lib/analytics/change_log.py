"""The change log: the `changes` view as a table the store keeps, for the history and drift analytics.

The store's `changes` view unions every type's history over every Parquet file; reading it costs seconds once
a store holds months of runs, and a dashboard or report asks it a dozen questions. The store builds the table
once per open store and rebuilds it when a run became visible (run ends are append-only: their count moves).
"""

from __future__ import annotations

from pf9lib.store.reader import Store

CHANGE_LOG = "pf9_change_log"


def change_log(store: Store) -> str:
    """The `changes` view as a table, plus `n_fields` (how many fields an update moved), for this store."""
    return store.cached(
        CHANGE_LOG,
        "SELECT *, coalesce(len(changed_fields), 0) AS n_fields FROM changes",
        ("run_ends",),
    )
