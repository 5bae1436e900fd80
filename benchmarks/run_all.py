"""Run every benchmark in turn (`make bench`); each writes benchmarks/results/<name>.json.

Each runs as `python -m benchmarks.<name>` from the repository root, so that it imports benchmarks._common
and the packages of the repository without touching sys.path.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = (
    "bench_simcloud",
    "bench_collect",
    "bench_metrics",
    "bench_drift",
    "bench_actions",
    "bench_snapshots",
    "bench_restore",
    "bench_wizard",
    "bench_pages",
    "bench_dashboard",
)


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], cwd=REPO).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
