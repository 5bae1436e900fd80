"""PF9 Workbench: inventory, history and analytics for Platform9 / OpenStack clouds."""

__version__ = "0.1.0"


def open_store(data_dir="data"):
    """Open the history store of a data directory: `store.con` has the views, `store.sql(...)` a DataFrame."""
    from pf9lib.store.reader import open_store as _open

    return _open(data_dir)
