"""`pf9wb` sub-commands: one module per command group, each exposing `register(subparsers)`."""

from __future__ import annotations

import argparse
from pathlib import Path

DATA_DIR_HELP = "data directory (default PF9WB_DATA_DIR, else ./data)"


def data_dir_of(args: argparse.Namespace) -> Path:
    """The data directory a command works on: --data-dir, else the workspace's (pf9lib.workspace)."""
    from pf9lib.workspace import resolve_data_dir

    return resolve_data_dir(getattr(args, "data_dir", None))
