"""`pf9wb demo`: start the simulated cloud, collect its inventory into the store, export the workbook."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from pf9lib.simcloud.client import DEFAULT_PORT, SimProcess


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="the demo on the simulated cloud (collect, export, serve)")
    demo.add_argument("--size", default="small", choices=("tiny", "small", "large", "xl"))
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--port", type=int, default=DEFAULT_PORT)
    demo.add_argument("--data-dir", help="data directory (default PF9WB_DATA_DIR or ./data)")
    demo.add_argument("--no-serve", action="store_true", help="stop the simulated cloud when done")
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from pf9lib.collect.inventory import collect_cloud
    from pf9lib.commands.collect_cmd import _print_summary, _ProgressBar
    from pf9lib.config import load_settings
    from pf9lib.reports.rvtools import export_rvtools
    from pf9lib.store.reader import open_store

    data_dir = Path(args.data_dir or os.environ.get("PF9WB_DATA_DIR") or "data").expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    state = data_dir / f"simcloud-{args.size}-{args.seed}.json"
    print(f"Starting the simulated cloud ({args.size}, seed {args.seed}); estate kept in {state}")
    sim = SimProcess(
        size=args.size, seed=args.seed, port=args.port, state=state, log_path=data_dir / "simcloud.log"
    ).start()
    try:
        clouds = sim.write_clouds_yaml(data_dir / "clouds.yaml")
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds)}
        settings = load_settings(cloud="pf9sim", data_dir=str(data_dir), env=env)
        print(f"Simulated cloud at {sim.base_url} (regions {', '.join(sim.regions)}); collecting…")
        progress = _ProgressBar()
        try:
            result = collect_cloud(settings, data_dir, progress=progress)
        finally:
            progress.close()
        _print_summary(result)
        workbook = export_rvtools(open_store(data_dir), data_dir / "reports" / "rvtools")
        print(f"\nRVTools-style workbook: {workbook}")
        print(f"History store: {data_dir / 'store'}  (python: pf9lib.open_store({str(data_dir)!r}))")
        if args.no_serve:
            return result.exit_code
        print(
            f"\nThe simulated cloud keeps serving; try:\n  OS_CLIENT_CONFIG_FILE={clouds} "
            f"openstack --os-cloud pf9sim server list --all-projects\n"
            f"  pf9wb sim advance 24 --url {sim.base_url} && OS_CLIENT_CONFIG_FILE={clouds} "
            f"pf9wb collect --cloud pf9sim --data-dir {data_dir}\nCtrl-C stops it."
        )
        while sim.proc.poll() is None:
            time.sleep(1)
        return 0
    except KeyboardInterrupt:
        print("\nstopping the simulated cloud")
        return 0
    finally:
        sim.stop()
