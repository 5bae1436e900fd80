"""`pf9wb demo` / `pf9wb demo stop`: the simulated cloud, ~30 days of history, Voilà serving dashboards/.

The first run builds the history (advance 24 h + collect + drift + metrics per simulated day); later runs
find it in the data directory, restart the simulated cloud from its saved estate and serve again. A pid file
in the data directory lets `pf9wb demo stop` (another terminal) stop everything the demo started.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from pf9lib.commands import DATA_DIR_HELP, data_dir_of


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="the demo: simulated cloud, ~30 days of history, dashboards served by Voilà",
        description="Start the simulated cloud, build ~30 simulated days of history (once; reused after), "
        "export the RVTools workbook and serve dashboards/ with Voilà on 127.0.0.1 with a token. "
        "Ctrl-C or `pf9wb demo stop` stops everything it started.",
    )
    demo.add_argument("action", nargs="?", choices=("start", "stop"), default="start")
    demo.add_argument("--size", default="small", choices=("tiny", "small", "large", "xl"))
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--days", type=int, default=30, help="simulated days of history to build (default 30)")
    # No default here (it is pf9sim's): building the parser must not import the simulator.
    demo.add_argument("--port", type=int, help="simulated cloud port")
    demo.add_argument("--voila-port", type=int, default=8866)
    demo.add_argument(
        "--theme", default="light", choices=("light", "dark"), help="dashboard theme (the preheated one)"
    )
    demo.add_argument("--data-dir", help=DATA_DIR_HELP)
    demo.add_argument("--no-serve", action="store_true", help="build the history, then stop")
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from pf9lib import demo

    data_dir = data_dir_of(args)
    if args.action == "stop":
        stopped = demo.stop_demo(data_dir)
        print("stopped " + ", ".join(stopped) if stopped else f"no demo running for {data_dir}")
        return 0
    data_dir.mkdir(parents=True, exist_ok=True)
    if (data_dir / demo.PID_FILE).exists():
        demo.stop_demo(data_dir)  # a previous demo left running (or killed): stop what is still alive
    # SIGTERM (from `pf9wb demo stop`) takes the same clean path as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    state = data_dir / f"simcloud-{args.size}-{args.seed}.json"
    print(f"Starting the simulated cloud ({args.size}, seed {args.seed}); estate kept in {state}")
    sim = demo.start_sim(args.size, args.seed, args.port, state, log_path=data_dir / "simcloud.log")
    voila = None
    try:
        demo.write_pid_file(data_dir, {"demo": os.getpid(), "simcloud": sim.proc.pid}, {})
        have = demo.stored_runs(data_dir)
        if have >= args.days:
            print(f"Reusing the history in {data_dir} ({have} runs); `rm -r {data_dir}` to rebuild it")
        else:
            _build(sim, data_dir, args.days - have, advance_first=have > 0)
            _export(data_dir)
        if args.no_serve:
            return 0
        token = os.environ.get("PF9WB_VOILA_TOKEN") or None
        # The viewer identity for acknowledgements when no authenticating proxy sets X-Forwarded-User.
        os.environ.setdefault("PF9WB_USER", _os_user())
        voila, url, token = demo.start_voila(
            data_dir,
            port=args.voila_port,
            token=token,
            log_path=data_dir / "voila.log",
            theme=args.theme,
            extra_env=demo.dashboard_env(sim, data_dir),
        )
        demo.write_pid_file(
            data_dir,
            {"demo": os.getpid(), "simcloud": sim.proc.pid, "voila": voila.pid},
            {"url": url, "token": token},
        )
        print(
            "\nDashboards (Voilà, 127.0.0.1 only, token required):\n"
            f"  {demo.dashboard_url(url, token, 'home.ipynb')}\n"
            f"  all dashboards: {url}/?token={token}\n"
            f"Simulated cloud: {sim.base_url}  (clouds.yaml: {data_dir / 'clouds.yaml'}, cloud pf9sim)\n"
            f"Analyst notebooks: PF9WB_DATA_DIR={data_dir} .venv/bin/jupyter lab notebooks/\n"
            "Ctrl-C (or `pf9wb demo stop`) stops the simulated cloud and Voilà.",
            flush=True,
        )
        while sim.proc.poll() is None and voila.poll() is None:
            time.sleep(1)
        print("a demo process exited: stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping the demo")
        return 0
    finally:
        if voila is not None:
            demo.stop_process(voila.pid)
        sim.stop()
        pid_file = data_dir / demo.PID_FILE
        if pid_file.exists():
            pid_file.unlink(missing_ok=True)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _build(sim, data_dir: Path, days: int, advance_first: bool) -> None:
    from tqdm import tqdm

    from pf9lib import demo

    print(f"Building {days} simulated days of history (advance 24 h, collect, drift, metrics per day)…")
    with tqdm(total=days, desc="history", unit="day", file=sys.stderr) as bar:
        result = demo.build_history(
            sim, data_dir, days=days, progress=bar.update, advance_first=advance_first
        )
    print(f"{result.runs_added} runs stored in {result.seconds:.0f} s")


def _export(data_dir: Path) -> None:
    from pf9lib.reports.rvtools import export_rvtools
    from pf9lib.store.reader import open_store

    store = open_store(data_dir)
    try:
        workbook = export_rvtools(store, data_dir / "reports" / "rvtools")
    finally:
        store.close()
    print(f"RVTools-style workbook: {workbook}")


def _os_user() -> str:
    from pf9lib.identity import os_login

    return os_login()
