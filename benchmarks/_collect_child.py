"""Run one collect in a fresh process and print its timings and peak RSS as JSON (used by bench_collect)."""

from __future__ import annotations

import json
import os
import resource
import sys
import time

from pf9lib.collect.inventory import collect_cloud
from pf9lib.config import load_settings


def main() -> None:
    clouds, data_dir = sys.argv[1], sys.argv[2]
    settings = load_settings(
        cloud="pf9sim", data_dir=data_dir, env={**os.environ, "OS_CLIENT_CONFIG_FILE": clouds}
    )
    started = time.perf_counter()
    result = collect_cloud(settings, data_dir)
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "ingest_s": result.ingest_s,
                "status": result.status,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
