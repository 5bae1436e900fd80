"""`pf9wb sim ...`: the simulated cloud's own command line (`python -m pf9sim`, pf9sim/cli.py) under pf9wb.

The simulator is imported only when `pf9wb sim` runs (the product does not depend on it), so its parser is not
built here: pf9sim.cli parses the rest of the line, with pf9wb's name in its usage and errors.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    sim = subparsers.add_parser("sim", help="the simulated OpenStack cloud", add_help=False)
    # Declared so that argparse passes `pf9wb sim --help` on instead of rejecting it; pf9sim.cli answers it.
    sim.add_argument("-h", "--help", action="store_true", dest="sim_help", help=argparse.SUPPRESS)
    sim.add_argument("sim_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    sim.set_defaults(func=cmd_sim)


def cmd_sim(args: argparse.Namespace) -> int:
    from pf9sim.cli import run

    argv = (["--help"] if args.sim_help else []) + args.sim_args
    # No description: `pf9wb sim --help` reads as the sub-command's help always has.
    return run(argv, prog="pf9wb sim", description=None)
