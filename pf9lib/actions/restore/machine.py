"""The step list of a restore plan: the step machine of docs/domain.md §8 laid out for one plan's inputs —
checks, the REPLACE steps, one step per volume and per port (so that a resumed job repeats no create), the
server, the waits, the attachments, the floating IPs of a REPLACE, and the final check."""

from __future__ import annotations

from typing import Any

from pf9lib.actions.plan import Step


def build_steps(inputs: dict[str, Any]) -> list[Step]:
    """The step machine of docs/domain.md §8 for these inputs ("@N" is what step N created)."""
    vm, options = inputs["vm"], inputs["options"]
    steps = [
        Step("restore.validate", {}, "validate the live state (VM, point, flavor, networks, addresses)"),
        Step("restore.service_user", {}, f"ensure the service user's role on project {vm['project_name']}"),
        Step("restore.quota", {}, "check the quotas (instances, cores, RAM, volumes, gigabytes, ports)"),
    ]
    if inputs["mode"] == "REPLACE":
        steps += _replace_steps(inputs)
    volumes = ([{**inputs["root"], "role": "root"}] if inputs["root"] else []) + [
        {**v, "role": "data"} for v in inputs["data_volumes"]
    ]
    volume_steps = _volume_steps(steps, inputs, volumes)
    port_steps = []
    for entry in inputs["ports"]:
        port_steps.append(len(steps))
        text = f"create a port on {entry['network']} ({entry['ip'] or 'a new address'})"
        steps.append(Step("restore.port", {"index": entry["index"]}, text))
    root_ref = f"@{volume_steps[0]}" if inputs["root"] else None
    server = f"@{len(steps)}"
    boot = "its restored root volume" if root_ref else f"image snapshot {inputs['point']['id']}"
    text = f"create server {inputs['name']} ({vm['flavor']['name']}, boot from {boot})"
    steps.append(
        Step("restore.server", {"root_volume": root_ref, "ports": [f"@{n}" for n in port_steps]}, text)
    )
    steps.append(Step("restore.wait_active", {"server": server}, "wait until the server is ACTIVE"))
    for n, entry in zip(port_steps, inputs["ports"], strict=True):
        for fip in entry.get("floating_ips") or []:
            text = f"move floating IP {fip['address']} to port {entry['index'] + 1}"
            steps.append(Step("restore.floating_ip", {"port": f"@{n}", "floating_ip": fip["id"]}, text))
    for n, vol in zip(volume_steps, volumes, strict=True):
        if vol["role"] == "data":
            text = f"attach volume {inputs['name']}-{vol['name'] or vol['id'][:8]} as {vol['device']}"
            spec = {"server": server, "volume": f"@{n}", "device": vol["device"]}
            steps.append(Step("restore.attach", spec, text))
    steps.append(Step("restore.finalize", {"server": server}, "check the restored VM and record it"))
    if options["cleanup_old_volumes"]:
        old = [v["id"] for v in vm["attached"]]
        steps.append(
            Step("restore.cleanup", {"volume_ids": old}, "delete the original's volumes left behind")
        )
    return steps


def _replace_steps(inputs: dict[str, Any]) -> list[Step]:
    vm = inputs["vm"]
    steps = []
    if inputs["options"]["safety_snapshot"]:
        steps.append(Step("restore.safety_snapshot", {}, f"take a safety snapshot of {vm['name']}"))
    ports = {"port_ids": [p["original_port"] for p in inputs["ports"]]}
    return steps + [
        Step("restore.delete_vm", {}, f"delete VM {vm['name']} ({vm['id']})"),
        Step("restore.wait_deleted", {}, f"wait until VM {vm['name']} is gone"),
        Step("restore.clean_ports", ports, "delete the original's ports left behind"),
    ]


def _volume_steps(steps: list[Step], inputs: dict[str, Any], volumes: list[dict[str, Any]]) -> list[int]:
    """One create per volume (the root first), then one wait for them all; their step numbers."""
    numbers = []
    for vol in volumes:
        label = "root" if vol["role"] == "root" else (vol["name"] or vol["id"][:8])
        spec = {
            "role": vol["role"],
            "source_volume": vol["id"],
            "snapshot_id": vol["snapshot_id"],
            "size": vol["size"],
            "name": f"{inputs['name']}-{label}",
            "device": vol["device"],
        }
        numbers.append(len(steps))
        text = f"create volume {spec['name']} ({vol['size']} GB) from {vol['snapshot_id']}"
        steps.append(Step("restore.volume", spec, text))
    if numbers:
        refs = [f"@{n}" for n in numbers]
        steps.append(Step("restore.wait_volumes", {"volumes": refs}, "wait until the volumes are available"))
    return numbers
