"""The steps only a REPLACE has (docs/domain.md §8): a safety snapshot of the VM as it is (kept whatever
happens next), the delete of the VM, the wait until it is gone, the clean-up of the ports it was given (they
outlive it, unbound, holding its addresses) and, when asked, of the volumes it leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pf9lib.actions.client import WriteError
from pf9lib.actions.restore import cloud
from pf9lib.actions.restore.executor import STEPS, Created, Job, RestoreStep
from pf9lib.actions.restore.steps import CREATED_BY, made_obj


def safety_snapshot(job: Job, inputs: dict[str, Any]) -> list[Created]:
    """Snapshots of the VM as it is, kept whatever happens next: each attached volume's (forced), and an
    image snapshot of an image-backed VM."""
    vm, now, w = job.inputs["vm"], datetime.now(UTC), job.admin
    tag = _safety_tag(job)
    made = []
    for att in cloud.attachments(w, vm["id"]):
        vid, device = att["volumeId"], att["device"].rsplit("/", 1)[-1]
        body = {
            "snapshot": {
                "volume_id": vid,
                "name": f"pf9wb-safety-{vm['name']}-{device}-{now:%Y%m%d-%H%M%S}",
                "description": job.tag,
                "metadata": {**tag, "created_by": CREATED_BY},
                "force": True,
            }
        }

        def found(vid: str = vid) -> dict[str, Any] | None:
            hits = [s for s in cloud.snapshots_tagged(w, tag) if s["volume_id"] == vid]
            return {"snapshot": hits[0]} if hits else None

        snap = job.act.create("block-storage", "/snapshots", f"safety snapshot of {vid}", body, found)
        made.append(made_obj("snapshot", snap["snapshot"]))
    if vm["boot"] == "image":
        name = f"pf9wb-safety-{vm['name']}-{now:%Y%m%d-%H%M%S}"
        body = {"createImage": {"name": name, "metadata": {**tag, "created_by": CREATED_BY}}}

        def found_image() -> dict[str, Any] | None:
            hits = _safety_images(job)
            return {"image_id": hits[0]["id"]} if hits else None

        answer = job.act.create(
            "compute", f"/servers/{vm['id']}/action", "safety image", body, found_image, "2.45"
        )
        made.append({"type": "image", "id": answer["image_id"], "name": name})
    for obj in made:
        if obj["type"] == "snapshot":
            fetch = lambda o=obj: cloud.snapshot(w, o["id"])  # noqa: E731
            job.wait(f"snapshot {obj['name']}", fetch, {"available"}, {"error"})
        else:
            job.wait(f"image {obj['name']}", lambda o=obj: cloud.image(w, o["id"]), {"active"}, {"killed"})
    return made


def _safety_tag(job: Job) -> dict[str, str]:
    return {"pf9wb_plan": job.plan.plan_id, "pf9wb_safety_for": job.inputs["vm"]["id"]}


def _safety_images(job: Job) -> list[dict[str, Any]]:
    images = cloud.images_of(job.admin, job.inputs["vm"]["id"])
    return [i for i in images if i.get("pf9wb_plan") == job.plan.plan_id]


def find_safety(job: Job, inputs: dict[str, Any]) -> list[Created]:
    made = [made_obj("snapshot", s) for s in cloud.snapshots_tagged(job.admin, _safety_tag(job))]
    return made + [made_obj("image", i) for i in _safety_images(job)]


def delete_vm(job: Job, inputs: dict[str, Any]) -> list[Created]:
    vm = job.inputs["vm"]
    job.admin.delete("compute", f"/servers/{vm['id']}", f"server {vm['name']}")
    job.notes.append(f"deleted VM {vm['name']} ({vm['id']})")
    return []


def wait_deleted(job: Job, inputs: dict[str, Any]) -> list[Created]:
    vm = job.inputs["vm"]
    job.wait(f"VM {vm['name']}", lambda: cloud.server(job.admin, vm["id"]), set(), {"error"}, gone_ok=True)
    return []


def clean_ports(job: Job, inputs: dict[str, Any]) -> list[Created]:
    """Ports the VM was given (rather than Nova's own) outlive it, unbound: they hold its addresses."""
    for port_id in inputs["port_ids"]:
        port = cloud.port(job.admin, port_id)
        if port is None:
            continue
        if port.get("device_id") not in ("", job.inputs["vm"]["id"]):
            job.notes.append(f"port {port_id} is in use by {port.get('device_id')}: left alone")
            continue
        job.admin.delete("network", f"/ports/{port_id}", f"port {port_id}")
        job.notes.append(f"deleted the original's port {port_id}")
    return []


def cleanup(job: Job, inputs: dict[str, Any]) -> list[Created]:
    """The original's volumes, detached by its delete; Cinder keeps those that have snapshots."""
    for vid in inputs["volume_ids"]:
        vol = cloud.volume(job.admin, vid)
        if vol is None or vol.get("status") != "available":
            continue
        try:
            job.admin.delete("block-storage", f"/volumes/{vid}", f"volume {vol.get('name') or vid}")
            job.notes.append(f"deleted the original's volume {vol.get('name') or vid}")
        except WriteError as exc:
            job.notes.append(f"kept the original's volume {vol.get('name') or vid}: {exc}")
    return []


for _name, _step in (
    ("restore.safety_snapshot", RestoreStep(safety_snapshot, find_safety)),
    ("restore.delete_vm", RestoreStep(delete_vm)),
    ("restore.wait_deleted", RestoreStep(wait_deleted)),
    ("restore.clean_ports", RestoreStep(clean_ports)),
    ("restore.cleanup", RestoreStep(cleanup)),
):
    STEPS[_name] = _step
