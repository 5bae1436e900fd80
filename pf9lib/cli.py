"""`pf9wb`: the command line for collect, metrics, export, schedule, sim and the demo."""

from __future__ import annotations

import argparse
import importlib
import sys

from pf9lib.errors import Pf9Error

# Command groups, each a module in pf9lib.commands with register(subparsers).
COMMAND_MODULES = (
    "config_cmd",
    "sim_cmd",
    "collect_cmd",
    "demo_cmd",
    "drift_cmd",
    "metrics_cmd",
    "schedule_cmd",
    "admin_cmd",
    "snapshots_cmd",
    "tenants_cmd",
    "restore_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pf9wb", description="PF9 Workbench command line")
    parser.add_argument("--version", action="version", version=f"pf9wb {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"pf9lib.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Pf9Error as exc:
        # One line naming the problem and the fix; never a traceback for an expected failure.
        print(f"pf9wb: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pf9wb: interrupted", file=sys.stderr)
        return 130


def _version() -> str:
    from pf9lib import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
