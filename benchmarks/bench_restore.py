"""Restore benchmark, on the `small` estate (~200 VMs) in its own process:
(a) plan time for a boot-from-volume VM with 4 volumes (root + 3 data), each snapshotted and collected:
    `points` from the store (opening it, and with a store kept open as a wizard does), then `plan_restore`
    (live checks, network plan, quotas, a new authenticated session each), median of repeats;
(b) API calls per restore (ActionContext.calls: the admin session and the service user's), by service;
(c) end-to-end restore time (execute, from PLANNED to SUCCEEDED) for NEW restores, and one REPLACE with
    its safety snapshot. The simulated cloud answers at once (volumes available, servers ACTIVE), so (c) is
    the workbench's own cost per restore: a real cloud adds its build and copy times.

Run: .venv/bin/python -m benchmarks.bench_restore [--size small] [--repeat 5]
     → benchmarks/results/bench_restore.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from dataclasses import replace

import openstack

from benchmarks._common import peak_rss_mb, start_sim, workdir, write_results
from pf9lib import identity, pipeline
from pf9lib.actions import restore
from pf9lib.actions.restore import RestoreContext
from pf9lib.config import Secret
from pf9lib.store.reader import Store

SERVICE = ("snapshot-svc@pf9sim.local", "pf9sim-snapshots")


def _settings(settings):
    return replace(
        settings,
        snapshot_service_user_email=SERVICE[0],
        snapshot_service_user_password=Secret(SERVICE[1]),
        restore_enabled=True,
        restore_dry_run=False,
    )


def _scoped(sim, conn, project_id: str):
    admin = conn.identity.get("/users?name=admin").json()["users"][0]
    role = conn.identity.get("/roles?name=admin").json()["roles"][0]
    conn.identity.put(f"/projects/{project_id}/users/{admin['id']}/roles/{role['id']}")
    return openstack.connect(
        auth_url=f"{sim.base_url}/identity/v3",
        username="admin",
        password="pf9sim-admin",
        user_domain_name="Default",
        project_id=project_id,
        region_name=sim.regions[0],
    )


def _four_volume_vm(sim, conn) -> dict:
    """An ACTIVE boot-from-volume VM given data volumes until it has four, a snapshot of each, and its
    project's quotas lifted (the benchmark measures restores, not refusals)."""
    servers = conn.compute.get("/servers/detail?all_tenants=1", microversion="2.96").json()["servers"]
    vm = min(
        (s for s in servers if not s["image"] and s["status"] == "ACTIVE"),
        key=lambda s: (-len(s["os-extended-volumes:volumes_attached"]), s["name"]),
    )
    pid = vm["tenant_id"]
    conn.compute.put(f"/os-quota-sets/{pid}", json={"quota_set": {"instances": -1, "cores": -1, "ram": -1}})
    conn.block_storage.put(f"/os-quota-sets/{pid}", json={"quota_set": {"volumes": -1, "gigabytes": -1}})
    conn.network.put(f"/quotas/{pid}", json={"quota": {"port": -1}})
    own = _scoped(sim, conn, pid)
    for n in range(4 - len(vm["os-extended-volumes:volumes_attached"])):
        body = {"volume": {"size": 10, "name": f"{vm['name']}-bench{n}"}}
        volume = own.block_storage.post("/volumes", json=body).json()["volume"]
        attach = {"volumeAttachment": {"volumeId": volume["id"]}}
        own.compute.post(f"/servers/{vm['id']}/os-volume_attachments", json=attach)
    attached = conn.compute.get(f"/servers/{vm['id']}/os-volume_attachments").json()["volumeAttachments"]
    for att in attached:
        body = {
            "snapshot": {"volume_id": att["volumeId"], "name": f"bench-{att['device'][-3:]}", "force": True}
        }
        conn.block_storage.post("/snapshots", json=body)
    return {**vm, "volumes": len(attached)}


def _calls(ctx: RestoreContext) -> dict[str, int]:
    by = Counter()
    writers = list(ctx._writers.values())  # noqa: SLF001 - the benchmark reads the counters it measures
    for other in ctx.others:
        writers += list(getattr(other, "_writers", {}).values())
    for writer in writers:
        for (method, service), n in writer.calls.items():
            by[f"{method} {service}"] += n
    return dict(sorted(by.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="small")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = workdir("restore")
    sim, settings = start_sim(args.size, tmp)
    try:
        settings = _settings(settings)
        identity.grant(settings.data_dir, "bench", "bench", "admin")
        sim.client.options(nightly_snapshots=False)
        conn = openstack.connection.Connection(config=settings.cloud_region())
        vm = _four_volume_vm(sim, conn)
        pipeline.collect(settings, settings.data_dir)
        cold_ms, warm_ms, plan_s, plans = [], [], [], []
        store = Store(settings.data_dir)  # a wizard keeps one store open; a command opens its own
        for n in range(args.repeat):
            t = time.perf_counter()
            found = restore.points(settings.data_dir, vm["id"])
            cold_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            restore.points(store, vm["id"])
            warm_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            point = found.iloc[0]["point_id"]
            plans.append(restore.plan_restore(settings, "bench", vm["id"], point, name=f"b{n}", store=store))
            plan_s.append(time.perf_counter() - t)
        runs = []
        for plan in plans[:3]:
            ctx = RestoreContext(settings, settings.data_dir, "", poll_s=0.2)
            t = time.perf_counter()
            result = restore.execute(settings, plan.plan_id, "bench", context=ctx)
            seconds = time.perf_counter() - t
            assert result.status == "succeeded", result.message
            runs.append(
                {"seconds": seconds, "calls": result.calls, "by": _calls(ctx), "steps": len(plan.steps)}
            )
        point = restore.points(settings.data_dir, vm["id"]).iloc[0]["point_id"]
        confirm = restore.confirmation(vm["name"])
        replace_plan = restore.plan_restore(
            settings, "bench", vm["id"], point, mode="replace", name=vm["name"], confirm=confirm
        )
        ctx = RestoreContext(settings, settings.data_dir, "", poll_s=0.2)
        t = time.perf_counter()
        result = restore.execute(settings, replace_plan.plan_id, "bench", context=ctx)
        replace_s = time.perf_counter() - t
        assert result.status == "succeeded", result.message
        replaced = {"seconds": round(replace_s, 2), "calls": result.calls, "by": _calls(ctx)}
        counts = sim.client.summary()["counts"]
    finally:
        sim.stop()
    write_results(
        "bench_restore",
        {
            "size": args.size,
            "servers": counts["servers"],
            "vm_volumes": vm["volumes"],
            "plan": {
                "points_ms_median_store_opened": round(statistics.median(cold_ms), 1),
                "points_ms_median_store_kept": round(statistics.median(warm_ms), 1),
                "plan_s_median": round(statistics.median(plan_s), 3),
                "plan_s_runs": [round(s, 3) for s in plan_s],
            },
            "restore_new": {
                "steps": runs[0]["steps"],
                "calls_per_restore": [r["calls"] for r in runs],
                "calls_by_service": runs[0]["by"],
                "end_to_end_s_median": round(statistics.median(r["seconds"] for r in runs), 2),
                "end_to_end_s_runs": [round(r["seconds"], 2) for r in runs],
            },
            "restore_replace": {**replaced, "steps": len(replace_plan.steps)},
            "peak_rss_mb": round(peak_rss_mb()),
        },
    )


if __name__ == "__main__":
    main()
