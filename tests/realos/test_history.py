"""History on a real cloud: after real changes (a server stopped, a volume detached, a rule added, a port
deleted) the next run records exactly those changes, and drift raises the matching events. Every change is
undone afterwards, so the seeded estate is back for the next run of the tier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pf9lib.analytics import drift
from pf9lib.store.reader import open_store

pytestmark = [pytest.mark.realos, pytest.mark.realos_mutates]


def _collect(stack, data_dir) -> str:
    result = stack.pf9wb("collect", "--data-dir", str(data_dir), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    return open_store(data_dir).sql("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1")["run_id"][0]


def test_real_changes_are_recorded_exactly_and_raise_drift(stack, admin, demo, data_dir, cleanup):
    first = _collect(stack, data_dir)
    server = admin.compute.find_server("vm-admin-nonet", all_projects=True)
    vm1 = demo.compute.find_server("vm1")
    vol2 = demo.block_storage.find_volume("vol2")
    web = demo.network.find_security_group("web")
    port = demo.network.find_port("port-standalone")
    assert server.status == "ACTIVE" and vol2.status == "in-use" and port is not None

    admin.compute.stop_server(server)
    cleanup.add("start vm-admin-nonet", lambda: _start(admin, server))
    admin.compute.wait_for_server(server, status="SHUTOFF", wait=120)

    demo.compute.delete_volume_attachment(vm1, vol2.id)
    cleanup.add("attach vol2 to vm1 again", lambda: _attach(demo, vm1, vol2))
    demo.block_storage.wait_for_status(vol2, "available", wait=120)

    rule = demo.network.create_security_group_rule(
        security_group_id=web.id, direction="ingress", protocol="tcp", port_range_min=8443,
        port_range_max=8443, remote_ip_prefix="192.0.2.0/24",
    )  # fmt: skip
    cleanup.add("delete the 8443 rule", lambda: demo.network.delete_security_group_rule(rule))

    demo.network.delete_port(port)
    cleanup.add("create port-standalone again", lambda: demo.network.create_port(
        network_id=port.network_id, name="port-standalone"))  # fmt: skip

    second = _collect(stack, data_dir)
    store = open_store(data_dir)
    got = store.sql("SELECT type, id, kind, changed_fields FROM changes WHERE run_id = ?", [second])
    changes = {
        (r.type, r.id, r.kind): sorted(r.changed_fields)
        if isinstance(r.changed_fields, list | np.ndarray)
        else []
        for r in got.itertuples(index=False)
    }
    # Nova shows `progress` only while a server is ACTIVE or busy (BUILD, RESIZE…): it goes with the stop.
    stopped = ["OS-EXT-STS:power_state", "OS-EXT-STS:vm_state", "progress", "status"]
    assert changes == {
        ("servers", server.id, "updated"): stopped,
        ("servers", vm1.id, "updated"): ["os-extended-volumes:volumes_attached"],
        ("volumes", vol2.id, "updated"): ["attachments", "status"],
        ("security_group_rules", rule.id, "created"): [],
        ("security_groups", web.id, "updated"): ["security_group_rules"],
        ("ports", port.id, "deleted"): [],
    }
    assert (
        store.sql("SELECT count(*) AS n FROM changes WHERE run_id = ?", [first])["n"][0] > 0
    )  # the baseline

    events = drift.events(data_dir, run_id=second, limit=None)
    fired = {
        (r.rule_id, r.object_id, r.old_value, None if pd.isna(r.new_value) else r.new_value)
        for r in events.itertuples(index=False)
    }
    assert fired == {
        ("servers.status", server.id, "ACTIVE", "SHUTOFF"),
        ("servers.vm_state", server.id, "active", "stopped"),
        ("volumes.status", vol2.id, "in-use", "available"),
        ("volumes.detached", vol2.id, vm1.id, None),  # a detach is its own (info) rule
        ("ports.deleted", port.id, "DOWN", None),  # graded like ports.status, from its last status
    }, events[["rule_id", "object_id", "old_value", "new_value"]].to_string()


def _start(admin, server) -> None:
    admin.compute.start_server(server)
    admin.compute.wait_for_server(server, status="ACTIVE", wait=120)


def _attach(demo, vm1, vol2) -> None:
    demo.compute.create_volume_attachment(vm1, volume_id=vol2.id)
    demo.block_storage.wait_for_status(vol2, "in-use", wait=120)
