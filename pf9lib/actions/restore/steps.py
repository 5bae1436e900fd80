"""What each restore step does (executor.py runs them): checks, the REPLACE steps, and the creates, each
tagged with the plan id — volume metadata `pf9wb_plan`, port description, server metadata and description —
so that a resumed job finds what it made instead of making it twice. Volumes, the server and attachments are
made as the service user in the VM's own project; ports by the admin session with the project's id (a fixed
address on a shared network needs an admin), deletes by the admin session."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from pf9lib.actions.client import WriteError
from pf9lib.actions.restore import cloud
from pf9lib.actions.restore.executor import STEPS, Created, Job, RestoreStep
from pf9lib.actions.restore.planning import POLICY_KEYS, confirm_point
from pf9lib.errors import Pf9Error

CREATED_BY = "pf9wb"


def made_obj(kind: str, body: dict[str, Any], **extra: Any) -> Created:
    return {"type": kind, "id": body["id"], "name": body.get("name") or body["id"], **extra}


def _replaced(job: Job) -> bool:
    """Whether the original VM was deleted by this job (its delete step is done)."""
    return any(job.plan.steps[n].action == "restore.delete_vm" for n in job.done)


# --------------------------------------------------------------------------------------------- checks


def validate(job: Job, inputs: dict[str, Any]) -> list[Created]:
    vm, w = job.inputs["vm"], job.admin
    confirm_point(
        w, {**job.inputs["point"], "point_id": job.inputs["point"]["id"]}, vm["id"], job.inputs["root"]
    )
    for vol in job.inputs["data_volumes"]:
        snap = cloud.snapshot(w, vol["snapshot_id"])
        if snap is None or snap.get("status") != "available":
            raise Pf9Error(f"snapshot {vol['snapshot_id']} of {vol['name'] or vol['id']} is gone: plan again")
    flavor = vm["flavor"]
    if not w.request(
        "GET", "compute", f"/flavors/{flavor['id']}", f"flavor {flavor['name']}", ok_missing=True
    ):
        raise Pf9Error(f"flavor {flavor['name']} no longer exists: recreate it or plan again")
    for entry in job.inputs["ports"]:
        what = f"network {entry['network']}"
        if not w.request("GET", "network", f"/networks/{entry['network_id']}", what, ok_missing=True):
            raise Pf9Error(f"network {entry['network']} no longer exists: plan again with --network")
    live = cloud.server(w, vm["id"])
    if job.inputs["mode"] == "REPLACE" and live is None and not _replaced(job):
        raise Pf9Error(f"VM {vm['name']} is gone, not by this job: restore it in NEW mode")
    if (
        live is not None
    ):  # user data is only read from the original: never kept in the plan (it may hold secrets)
        job.user_data = live.get("OS-EXT-SRV-ATTR:user_data")
    _forget_lost_volumes(job)
    _addresses_still_free(job, live)
    return []


def _forget_lost_volumes(job: Job) -> None:
    """A volume kept from an earlier attempt that someone deleted since is made again."""
    for n in [n for n in job.done if job.plan.steps[n].action == "restore.volume"]:
        if cloud.volume(job.admin, job.done[n][0]["id"]) is None:
            job.notes.append(f"volume {job.done[n][0]['name']} of an earlier attempt is gone: made again")
            del job.done[n]


def _addresses_still_free(job: Job, live: dict[str, Any] | None) -> None:
    """A fixed address the plan counts on is still free, or held by this job's port, or (REPLACE) by the VM
    being replaced and its ports."""
    if job.inputs["ip_strategy"] not in ("SAME_IPS_OR_FAIL", "MANUAL_IP"):
        return
    own = {c["id"] for n in job.done for c in job.done[n] if c["type"] == "port"}
    original = {p["original_port"] for p in job.inputs["ports"]}
    vm_id, replace = job.inputs["vm"]["id"], job.inputs["mode"] == "REPLACE"
    for entry in (e for e in job.inputs["ports"] if e["ip"]):
        for holder in cloud.ip_holders(job.admin, entry["network_id"], entry["ip"]):
            theirs = replace and (holder.get("device_id") == vm_id or holder["id"] in original)
            if holder["id"] not in own and not theirs:
                raise Pf9Error(f"{entry['ip']} was taken since the plan (port {holder['id']}): plan again")


def service_user(job: Job, inputs: dict[str, Any]) -> list[Created]:
    vm = job.inputs["vm"]
    if not job.service.enabled:
        raise Pf9Error(
            "no service user (SNAPSHOT_SERVICE_USER_EMAIL): a restore makes the VM in its own project as "
            "that user; set it and its password (docs/domain.md §4)"
        )
    if job.service.ensure_role(vm["project_id"]):
        job.notes.append(f"granted {job.service.email} admin on project {vm['project_name']}")
    job.act = job.service.writer(vm["project_id"], vm["region"])
    return []


def quota(job: Job, inputs: dict[str, Any]) -> list[Created]:
    """The quotas for what is still to be made (volumes kept from an earlier attempt are in use already)."""
    left = [job.plan.steps[n] for n in range(len(job.plan.steps)) if n not in job.done]
    volumes = [s.inputs for s in left if s.action == "restore.volume"]
    replaced = job.inputs["mode"] == "REPLACE"
    flavor = job.inputs["vm"]["flavor"]
    server = 0 if replaced or any(job.plan.steps[n].action == "restore.server" for n in job.done) else 1
    needs = {
        "instances": server,
        "cores": server * flavor["vcpus"],
        "ram": server * flavor["ram"],
        "volumes": len(volumes),
        "gigabytes": sum(int(v["size"] or 0) for v in volumes),
        "ports": 0 if replaced else sum(1 for s in left if s.action == "restore.port"),
    }
    short = cloud.shortfalls(cloud.quotas(job.admin, job.inputs["vm"]["project_id"]), needs)
    if short:
        raise Pf9Error("quota is short: " + "; ".join(short) + ": raise the quota or free resources")
    return []


# --------------------------------------------------------------------------------------------- creates


def _volume_tag(job: Job, inputs: dict[str, Any]) -> dict[str, str]:
    return {"pf9wb_plan": job.plan.plan_id, "pf9wb_restore_of": inputs["source_volume"]}


def create_volume(job: Job, inputs: dict[str, Any]) -> list[Created]:
    tag = _volume_tag(job, inputs)
    body = {
        "volume": {
            "snapshot_id": inputs["snapshot_id"],
            "name": inputs["name"],
            "size": inputs["size"],
            "description": job.tag,
            "metadata": {**tag, "created_by": CREATED_BY, "pf9wb_role": inputs["role"]},
        }
    }

    def found() -> dict[str, Any] | None:
        hits = cloud.volumes_tagged(job.admin, tag)
        return {"volume": hits[0]} if hits else None

    made = job.act.create(
        "block-storage", "/volumes", f"volume {inputs['name']}", body, found, cloud.VOLUME_MV
    )
    return [made_obj("volume", made["volume"], source=inputs["source_volume"], role=inputs["role"])]


def find_volume(job: Job, inputs: dict[str, Any]) -> list[Created]:
    hits = cloud.volumes_tagged(job.admin, _volume_tag(job, inputs))
    return [made_obj("volume", hits[0], source=inputs["source_volume"], role=inputs["role"])] if hits else []


def undo_volume(job: Job, obj: Created) -> bool:
    if not job.inputs["options"]["delete_volumes_on_failure"]:
        return False
    job.wait(
        f"volume {obj['name']}", lambda: cloud.volume(job.admin, obj["id"]), {"available", "error"}, set()
    )
    job.admin.delete("block-storage", f"/volumes/{obj['id']}", f"volume {obj['name']}")
    return True


def wait_volumes(job: Job, inputs: dict[str, Any]) -> list[Created]:
    for vid in inputs["volumes"]:
        job.wait(f"volume {vid}", lambda v=vid: cloud.volume(job.admin, v), {"available"}, {"error"})
    return []


def _port_name(job: Job, index: int) -> str:
    return f"{job.inputs['name']}-port{index + 1}"


def create_port(job: Job, inputs: dict[str, Any]) -> list[Created]:
    entry = job.inputs["ports"][inputs["index"]]
    name = _port_name(job, entry["index"])
    spec = {
        "network_id": entry["network_id"],
        "project_id": job.inputs["vm"]["project_id"],
        "name": name,
        "description": job.tag,
        "security_groups": entry["security_groups"],
    }
    fixed = {"ip_address": entry["ip"]} if entry["ip"] else {}
    if entry["subnet_id"]:
        fixed["subnet_id"] = entry["subnet_id"]
    if fixed:
        spec["fixed_ips"] = [fixed]

    def found() -> dict[str, Any] | None:
        hits = cloud.ports(job.admin, description=job.tag, name=name)
        return {"port": hits[0]} if hits else None

    try:
        made = job.admin.create("network", "/ports", f"port {name}", {"port": spec}, found)
    except WriteError as exc:
        # TRY_SAME_IPS: an address taken since the plan falls back to a new one, and the step says so.
        if exc.status != 409 or not entry["ip"] or job.inputs["ip_strategy"] != "TRY_SAME_IPS":
            raise
        spec["fixed_ips"] = [{"subnet_id": entry["subnet_id"]}] if entry["subnet_id"] else []
        job.notes.append(
            f"{entry['ip']} was taken since the plan: port {entry['index'] + 1} got a new address"
        )
        made = job.admin.create("network", "/ports", f"port {name}", {"port": spec}, found)
    port = made["port"]
    ips = [f["ip_address"] for f in port.get("fixed_ips") or []]
    return [made_obj("port", port, network_id=port["network_id"], ips=ips)]


def find_port(job: Job, inputs: dict[str, Any]) -> list[Created]:
    hits = cloud.ports(job.admin, description=job.tag, name=_port_name(job, inputs["index"]))
    return [
        made_obj("port", p, network_id=p["network_id"], ips=[f["ip_address"] for f in p["fixed_ips"]])
        for p in hits
    ]


def undo_port(job: Job, obj: Created) -> bool:
    job.admin.delete("network", f"/ports/{obj['id']}", f"port {obj['name']}")
    return True


def _server_metadata(job: Job) -> dict[str, str]:
    vm, point = job.inputs["vm"], job.inputs["point"]
    meta = dict(vm["metadata"])
    if job.inputs["mode"] == "NEW":  # the original keeps its enrolment; a copy would double its snapshots
        meta = {k: v for k, v in meta.items() if k not in POLICY_KEYS and not k.startswith("retention_")}
    meta.update(pf9wb_plan=job.plan.plan_id, pf9wb_restored_from=vm["id"], pf9wb_point=point["id"])
    return {k: str(v)[:255] for k, v in list(meta.items())[:128]}


def create_server(job: Job, inputs: dict[str, Any]) -> list[Created]:
    vm = job.inputs["vm"]
    spec: dict[str, Any] = {
        "name": job.inputs["name"],
        "flavorRef": vm["flavor"]["id"],
        "networks": [{"port": p} for p in inputs["ports"]] or "none",
        "metadata": _server_metadata(job),
        "description": job.tag,
    }
    if vm.get("availability_zone"):
        spec["availability_zone"] = vm["availability_zone"]
    if job.user_data:
        spec["user_data"] = job.user_data
    elif vm.get("has_user_data"):
        job.notes.append("the original's user data could not be read (the VM is gone): booted without it")
    if inputs["root_volume"]:
        spec["block_device_mapping_v2"] = [
            {
                "boot_index": 0,
                "uuid": inputs["root_volume"],
                "source_type": "volume",
                "destination_type": "volume",
                "delete_on_termination": False,
            }
        ]
    else:
        spec["imageRef"] = job.inputs["point"]["id"]

    def found() -> dict[str, Any] | None:
        hits = _tagged_servers(job)
        return {"server": hits[0]} if hits else None

    made = job.act.create(
        "compute", "/servers", f"server {spec['name']}", {"server": spec}, found, cloud.CREATE_MV
    )
    return [made_obj("server", {**made["server"], "name": spec["name"]})]


def _tagged_servers(job: Job) -> list[dict[str, Any]]:
    query = urlencode({"all_tenants": "1", "name": f"^{re.escape(job.inputs['name'])}$"})
    body = job.admin.get("compute", f"/servers/detail?{query}", "servers", cloud.SHOW_MV)
    return [
        s
        for s in body.get("servers") or []
        if (s.get("metadata") or {}).get("pf9wb_plan") == job.plan.plan_id
    ]


def find_server(job: Job, inputs: dict[str, Any]) -> list[Created]:
    return [made_obj("server", s) for s in _tagged_servers(job)[:1]]


def undo_server(job: Job, obj: Created) -> bool:
    job.admin.delete("compute", f"/servers/{obj['id']}", f"server {obj['name']}")
    try:  # the ports it held are deleted next: give Nova the time to let go of them
        job.wait(
            f"server {obj['name']}", lambda: cloud.server(job.admin, obj["id"]), set(), set(), gone_ok=True
        )
    except WriteError as exc:
        job.notes.append(f"server {obj['name']} not seen gone: {exc}")
    return True


def wait_active(job: Job, inputs: dict[str, Any]) -> list[Created]:
    sid = inputs["server"]
    job.wait(f"server {job.inputs['name']}", lambda: cloud.server(job.admin, sid), {"ACTIVE"}, {"ERROR"})
    return []


def attach(job: Job, inputs: dict[str, Any]) -> list[Created]:
    sid, vid = inputs["server"], inputs["volume"]
    body = {"volumeAttachment": {"volumeId": vid, "device": inputs["device"]}}
    path = f"/servers/{sid}/os-volume_attachments"

    def found() -> dict[str, Any] | None:
        return {"volumeAttachment": {"volumeId": vid}} if find_attachment(job, inputs) else None

    job.act.create("compute", path, f"attachment of volume {vid}", body, found)
    job.wait(f"volume {vid}", lambda: cloud.volume(job.admin, vid), {"in-use"}, {"error", "error_attaching"})
    return [{"type": "attachment", "id": vid, "name": f"{vid} on {sid}", "server_id": sid}]


def find_attachment(job: Job, inputs: dict[str, Any]) -> list[Created]:
    sid, vid = inputs["server"], inputs["volume"]
    hits = [a for a in cloud.attachments(job.admin, sid) if a.get("volumeId") == vid]
    return [{"type": "attachment", "id": vid, "name": f"{vid} on {sid}", "server_id": sid}] if hits else []


def undo_attach(job: Job, obj: Created) -> bool:
    path = f"/servers/{obj['server_id']}/os-volume_attachments/{obj['id']}"
    job.admin.delete("compute", path, f"attachment of volume {obj['id']}")
    job.wait(f"volume {obj['id']}", lambda: cloud.volume(job.admin, obj["id"]), {"available"}, set())
    return True


def move_floating_ip(job: Job, inputs: dict[str, Any]) -> list[Created]:
    """REPLACE: the floating IP the original's port had goes to the new port (Neutron left it unassociated
    when the original went)."""
    fid, port = inputs["floating_ip"], inputs["port"]
    body = {"floatingip": {"port_id": port}}
    answer = job.admin.request("PUT", "network", f"/floatingips/{fid}", f"floating IP {fid}", body)
    fip = answer.get("floatingip") or {"id": fid}
    return [
        {"type": "floating_ip", "id": fid, "name": fip.get("floating_ip_address") or fid, "port_id": port}
    ]


def undo_floating_ip(job: Job, obj: Created) -> bool:
    body = {"floatingip": {"port_id": None}}
    job.admin.request("PUT", "network", f"/floatingips/{obj['id']}", f"floating IP {obj['name']}", body)
    return True


# --------------------------------------------------------------------------------------------- the end


def finalize(job: Job, inputs: dict[str, Any]) -> list[Created]:
    """The restored VM as the cloud has it: ACTIVE, its ports bound, its data volumes attached."""
    sid, w = inputs["server"], job.admin
    server = cloud.server(w, sid)
    if server is None or server.get("status") != "ACTIVE":
        raise Pf9Error(f"restored server {sid} is {server and server.get('status') or 'gone'}, not ACTIVE")
    bound = cloud.ports(w, device_id=sid)
    if len(bound) != len(job.inputs["ports"]):
        raise Pf9Error(f"restored server {sid} has {len(bound)} port(s), {len(job.inputs['ports'])} planned")
    attached = {a["volumeId"] for a in cloud.attachments(w, sid)}
    wanted = {c["id"] for n in job.done for c in job.done[n] if c["type"] == "attachment"}
    if not wanted <= attached:
        raise Pf9Error(f"restored server {sid} lacks volume(s) {', '.join(sorted(wanted - attached))}")
    ips = ", ".join(f["ip_address"] for p in bound for f in p.get("fixed_ips") or [])
    job.notes.append(
        f"server {server['name']} ({sid}) ACTIVE with {ips or 'no address'}, {len(attached)} volume(s)"
    )
    return []


for _name, _step in (
    ("restore.validate", RestoreStep(validate)),
    ("restore.service_user", RestoreStep(service_user)),
    ("restore.quota", RestoreStep(quota)),
    ("restore.volume", RestoreStep(create_volume, find_volume, undo_volume)),
    ("restore.wait_volumes", RestoreStep(wait_volumes)),
    ("restore.port", RestoreStep(create_port, find_port, undo_port)),
    ("restore.server", RestoreStep(create_server, find_server, undo_server)),
    ("restore.wait_active", RestoreStep(wait_active)),
    ("restore.floating_ip", RestoreStep(move_floating_ip, None, undo_floating_ip)),
    ("restore.attach", RestoreStep(attach, find_attachment, undo_attach)),
    ("restore.finalize", RestoreStep(finalize)),
):
    STEPS[_name] = _step
