"""`python -m pf9sim` (also `pf9wb sim`): serve the simulated cloud and drive its control API."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import sys
from pathlib import Path

# The product's error classes, so that `pf9wb sim` reports a failure as every pf9wb command does.
from pf9lib.errors import ConfigError, Pf9Error
from pf9sim.client import DEFAULT_PORT, READY_PREFIX, SimClient, clouds_yaml

SIZES = ("tiny", "small", "large", "xl")
PROG = "python -m pf9sim"
DESCRIPTION = "The simulated OpenStack cloud: serve it, or drive a running one through its control API."


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except Pf9Error as exc:
        # One line naming the problem and the fix, as pf9wb prints it.
        print(f"pf9sim: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pf9sim: interrupted", file=sys.stderr)
        return 130


def run(argv: list[str] | None, prog: str = PROG, description: str | None = DESCRIPTION) -> int:
    """Parse one command line and run it; a Pf9Error is the caller's to report (pf9wb and main differ)."""
    args = build_parser(prog, description).parse_args(argv)
    return int(args.func(args) or 0)


def build_parser(prog: str = PROG, description: str | None = DESCRIPTION) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="sim_command", metavar="SIM_COMMAND")
    sub.required = True

    serve = sub.add_parser("serve", help="serve a simulated cloud on 127.0.0.1")
    serve.add_argument("--size", choices=SIZES, default="small")
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    serve.add_argument("--state", type=Path, help="keep the estate in this file across restarts")
    serve.set_defaults(func=cmd_serve)

    cy = sub.add_parser("clouds-yaml", help="print a clouds.yaml with the entry pf9sim")
    cy.add_argument("--host", default="127.0.0.1")
    cy.add_argument("--port", type=int, default=DEFAULT_PORT)
    cy.add_argument("--cloud-name", default="pf9sim")
    cy.add_argument("--regions", help="comma list; default: ask the running simulator")
    cy.set_defaults(func=cmd_clouds_yaml)

    def client_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--url", default=f"http://127.0.0.1:{DEFAULT_PORT}", help="simulator base URL")
        return p

    client_parser("summary", "clock and object counts").set_defaults(func=cmd_summary)
    adv = client_parser("advance", "move the simulated clock and evolve the estate")
    adv.add_argument("hours", type=float)
    adv.set_defaults(func=cmd_advance)
    mut = client_parser("mutate", "set fields of one object: TYPE ID FIELD=JSON ...")
    mut.add_argument("type")
    mut.add_argument("id")
    mut.add_argument("assignments", nargs="+", metavar="FIELD=VALUE")
    mut.set_defaults(func=cmd_mutate)
    dele = client_parser("delete", "delete one object")
    dele.add_argument("type")
    dele.add_argument("id")
    dele.set_defaults(func=cmd_delete)
    faults = client_parser("faults", "inject faults (add) or remove them (clear)")
    faults.add_argument("action", choices=("add", "clear", "list"))
    faults.add_argument("--path", help="regex searched in the request path")
    faults.add_argument("--method", default="*")
    faults.add_argument("--status", type=int, default=503)
    faults.add_argument("--rate", type=float, default=1.0)
    faults.add_argument("--delay-s", type=float, default=0.0)
    faults.add_argument("--times", type=int)
    faults.add_argument("--retry-after", type=int)
    faults.set_defaults(func=cmd_faults)
    client_parser("expire-tokens", "invalidate every issued token").set_defaults(func=cmd_expire_tokens)
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    from pf9sim.cloud import SimCloud
    from pf9sim.generator.estate import generate
    from pf9sim.state import Estate

    if args.state and args.state.exists():
        estate = Estate.load(args.state)
    else:
        estate = generate(seed=args.seed, size=args.size)
        if args.state:
            estate.save(args.state)
    # At xl the estate is ~10^6 long-lived dicts: freezing them keeps full GC passes off every page.
    gc.collect()
    gc.freeze()
    sim = SimCloud(estate, host=args.host, port=args.port, state_path=args.state)
    asyncio.run(_serve_until_signalled(sim))
    return 0


async def _serve_until_signalled(sim) -> None:
    from pf9sim.app import serve

    ready = asyncio.Event()
    task = asyncio.create_task(serve(sim, ready))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():  # failed to start (e.g. port in use)
        task.result()
    info = {
        "base_url": sim.base_url,
        "auth_url": f"{sim.base_url}/identity/v3",
        "regions": sim.estate.regions,
        "size": sim.estate.size,
        "seed": sim.estate.seed,
    }
    print(READY_PREFIX + json.dumps(info), flush=True)
    print(
        f"Simulated cloud ({sim.estate.size}, seed {sim.estate.seed}) serving; auth URL {info['auth_url']}",
        file=sys.stderr,
        flush=True,
    )
    try:
        await task
    except asyncio.CancelledError:
        pass


def cmd_clouds_yaml(args: argparse.Namespace) -> int:
    base_url = f"http://{args.host}:{args.port}"
    if args.regions:
        regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    else:
        regions = SimClient(base_url, timeout=10).summary()["regions"]
    print(clouds_yaml(base_url, regions, args.cloud_name), end="")
    return 0


def _print(obj) -> int:
    print(json.dumps(obj, indent=2))
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    return _print(SimClient(args.url).summary())


def cmd_advance(args: argparse.Namespace) -> int:
    result = SimClient(args.url).advance(args.hours)
    kinds: dict[str, int] = {}
    for change in result["changes"]:
        key = f"{change['type']} {change['kind']}"
        kinds[key] = kinds.get(key, 0) + 1
    print(f"clock now {result['clock']}; {len(result['changes'])} changes")
    for key in sorted(kinds):
        print(f"  {key}: {kinds[key]}")
    return 0


def cmd_mutate(args: argparse.Namespace) -> int:
    changes = {}
    for item in args.assignments:
        field, sep, raw = item.partition("=")
        if not sep or not field:
            raise ConfigError(
                f"bad assignment {item!r}: write FIELD=VALUE (VALUE is JSON, or a plain string)"
            )
        try:
            changes[field] = json.loads(raw)
        except json.JSONDecodeError:
            changes[field] = raw
    return _print(SimClient(args.url).mutate(args.type, args.id, changes))


def cmd_delete(args: argparse.Namespace) -> int:
    return _print(SimClient(args.url).delete(args.type, args.id))


def cmd_faults(args: argparse.Namespace) -> int:
    client = SimClient(args.url)
    if args.action == "clear":
        return _print(client.clear_faults())
    if args.action == "list":
        return _print(client._call("GET", "/_sim/faults"))
    if not args.path:
        raise ConfigError(
            "faults add needs --path REGEX (searched in the request path), e.g. --path /servers"
        )
    rule = {
        "path": args.path,
        "method": args.method,
        "status": args.status,
        "rate": args.rate,
        "delay_s": args.delay_s,
        "times": args.times,
        "retry_after": args.retry_after,
    }
    return _print(client.add_faults(rule))


def cmd_expire_tokens(args: argparse.Namespace) -> int:
    return _print(SimClient(args.url).expire_tokens())
