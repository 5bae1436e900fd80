"""Image snapshots of boot-from-image servers in a policy run (docs/domain.md §4).

A server is enrolled through its own metadata, with the volumes' contract keys (`auto_snapshot`,
`snapshot_policies`, `retention_<policy>`): its root disk lives on the hypervisor, not in Cinder, so the only
snapshot of it is a Nova image snapshot (`createImage`, a Glance image with `image_type=snapshot` and the
server's uuid in `instance_uuid`). A boot-from-volume server is covered by its volumes' snapshots instead and
is skipped with that reason.

The plan lines are the volumes' ones: create, skip with the reason (status, boot from volume, already done
today), blocked by quota — Glance's `image_count_total` from Keystone unified limits where the cloud has them
(Nova has checked no quota on createImage since microversion 2.39), else none — and prune. An automatic image
snapshot is one whose properties name the policy (`pf9wb_policy`, or `policy`) and the instance; retention
prunes only those, per server and policy, never a manual one. Creates and prunes happen in the server's own
project as the service user; each create re-checks the server and whether today's image exists already.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pf9lib.actions import live
from pf9lib.actions.client import WriteError
from pf9lib.actions.engine import ActionContext
from pf9lib.actions.plan import Step
from pf9lib.actions.snapshot_run import CREATED_BY, _created, _enrolled, _slug, prunable, retention_of

IMAGEABLE = ("ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED")  # Nova's createImage vm_states
GONE = ("killed", "deleted", "pending_delete")


def image_policy(image: dict[str, Any]) -> str | None:
    return image.get("pf9wb_policy") or image.get("policy")


def auto_image(image: dict[str, Any], server_id: str) -> bool:
    """An automatic image snapshot of this server: a snapshot of it whose properties name a policy."""
    return (
        image.get("image_type") == "snapshot"
        and image.get("instance_uuid") == server_id
        and bool(image_policy(image))
    )


def image_done_on(image: dict[str, Any], policy: str, day: datetime) -> bool:
    """This policy's image for `day`: marked with the day by a run of ours, or made that day."""
    if image_policy(image) != policy or image.get("status") in GONE:
        return False
    return image.get("pf9wb_day") == f"{day:%Y%m%d}" or _created(image).date() == day.date()


def image_name(tenant: str, policy: str, server: dict[str, Any], now: datetime) -> str:
    who = server.get("name") or server["id"][:8]
    return f"auto-{_slug(tenant)}-{policy}-{_slug(who)}-{now:%Y%m%d-%H%M%S}"


def by_instance(images: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for image in images:
        if image.get("image_type") == "snapshot" and image.get("instance_uuid"):
            out.setdefault(image["instance_uuid"], []).append(image)
    return out


class ImageQuota:
    """Images a project may still own, from Keystone unified limits (`image_count_total`); None: no limit
    known. The cloud is asked once per project; a cloud without the limits API is asked once in all."""

    def __init__(self, ctx: ActionContext, images: dict[str, list[dict[str, Any]]]) -> None:
        self.ctx, self.left, self.unsupported = ctx, {}, False
        self.owned: dict[str, int] = {}
        for found in images.values():
            for image in found:
                self.owned[image.get("owner")] = self.owned.get(image.get("owner"), 0) + 1

    def headroom(self, project_id: str) -> int | None:
        if self.unsupported:
            return None
        if project_id not in self.left:
            try:
                body = self.ctx.writer().get(
                    "identity",
                    f"/limits?project_id={project_id}&resource_name=image_count_total",
                    f"image limits of {project_id}",
                )
            except WriteError as exc:
                if exc.status not in (404, 501):
                    raise
                self.unsupported = True
                return None
            limits = [x.get("resource_limit") for x in body.get("limits") or []]
            limit = limits[0] if limits else None
            self.left[project_id] = (
                None if limit is None or limit < 0 else limit - self.owned.get(project_id, 0)
            )
        return self.left[project_id]

    def take(self, project_id: str) -> None:
        if self.left.get(project_id) is not None:
            self.left[project_id] -= 1


# --------------------------------------------------------------------------------------------- planning


def plan_servers(
    ctx: ActionContext,
    region: str,
    servers: list[dict[str, Any]],
    project_of,
    policy_of,
    now: datetime,
) -> list[tuple[str, Step]]:
    """(project id, step) for every enrolled server and due policy of a region: creates, notes, prunes.
    `project_of(pid)` gives {name}; `policy_of(name)` a due Policy, None when not due, or a reason text."""
    enrolled = [s for s in servers if _enrolled(s)]
    if not enrolled:
        return []
    images = by_instance(live.listing(ctx, "images", region))
    quota = ImageQuota(ctx, images)
    out: list[tuple[str, Step]] = []
    for server in sorted(enrolled, key=lambda s: (s.get("tenant_id") or "", s["id"])):
        pid = server.get("tenant_id") or ""
        project = project_of(pid)
        if project is None:
            continue
        for name in _enrolled(server):
            pol = policy_of(name)
            if pol is None:
                continue
            base = {
                "server_id": server["id"],
                "policy": name,
                "region": region,
                "project_id": pid,
                "project": project["name"] or pid,
            }
            who = server.get("name") or server["id"][:8]
            if isinstance(pol, str):
                out.append((pid, _note(base, who, "skip", pol)))
                continue
            step = _decide(server, pol, base, who, images.get(server["id"], []), quota, now)
            out.append((pid, step))
            autos = [i for i in images.get(server["id"], []) if auto_image(i, server["id"])]
            autos = [i for i in autos if image_policy(i) == name and i.get("status") not in GONE]
            keep = retention_of(server, pol) - (1 if step.action == "image.create" else 0)
            for old in prunable(autos, keep, pol.min_retention_days, now):
                kept = keep + (step.action == "image.create")
                label = old.get("name") or old["id"]
                text = f"prune image {label} ({_created(old):%Y-%m-%d}), beyond {kept} kept"
                inputs = {**base, "image_id": old["id"], "keep": keep, "min_days": pol.min_retention_days}
                out.append((pid, Step("image.prune", inputs, text)))
    return out


def _note(base: dict[str, Any], who: str, state: str, reason: str) -> Step:
    return Step(
        "snapshot.note",
        {**base, "state": state, "reason": reason},
        f"{state} {who} ({base['policy']}): {reason}",
    )


def _decide(server, pol, base, who, images, quota: ImageQuota, now: datetime) -> Step:
    if not isinstance(server.get("image"), dict) or not server["image"].get("id"):
        return _note(base, who, "skip", "boots from a volume: enrol its volumes instead")
    status = server.get("status")
    if status not in IMAGEABLE:
        return _note(base, who, "skip", f"status {status}")
    today = [i for i in images if image_done_on(i, pol.name, now)]
    if today:
        return _note(base, who, "skip", f"already done today ({today[0].get('name') or today[0]['id']})")
    left = quota.headroom(base["project_id"])
    if left is not None and left < 1:
        return _note(base, who, "blocked", f"quota: 1 image needed, {left} left (image_count_total)")
    quota.take(base["project_id"])
    name = image_name(base["project"], pol.name, server, now)
    inputs = {**base, "name": name, "day": f"{now:%Y%m%d}"}
    return Step("image.create", inputs, f"create image {name} of server {who}")


# --------------------------------------------------------------------------------------------- applying


class ImageSteps:
    """The image steps of one apply (`run` is snapshot_exec's run: context, plan, service user, clock)."""

    def __init__(self, run) -> None:
        self.run = run
        self.images: dict[str, dict[str, dict[str, Any]]] = {}  # region → id → image

    def fresh(self, region: str) -> dict[str, dict[str, Any]]:
        if region not in self.images:
            found = live.listing(self.run.ctx, "images", region)
            self.images[region] = {i["id"]: i for i in found if i.get("image_type") == "snapshot"}
        return self.images[region]

    def today(self, region: str, server_id: str, policy: str) -> dict[str, Any] | None:
        return next(
            (
                i
                for i in self.fresh(region).values()
                if i.get("instance_uuid") == server_id and image_done_on(i, policy, self.run.now)
            ),
            None,
        )

    def create(self, inputs: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
        region, sid, policy = inputs["region"], inputs["server_id"], inputs["policy"]
        existing = self.today(region, sid, policy)
        if existing is not None:  # this plan before a crash, or another run today: never a second one
            return "adopted", f"exists already today: {existing.get('name')}", [_obj(existing, sid)]
        admin = self.run.ctx.writer(region)
        server = admin.request("GET", "compute", f"/servers/{sid}", f"server {sid}", ok_missing=True)
        server = server.get("server")
        if server is None:
            return "skipped", "the server is gone", []
        if server.get("status") not in IMAGEABLE:
            return "skipped", f"status {server.get('status')}", []
        meta = {
            "created_by": CREATED_BY,
            "pf9wb_policy": policy,
            "pf9wb_run": self.run.plan.plan_id,
            "pf9wb_day": inputs["day"],
        }
        body = {"createImage": {"name": inputs["name"], "metadata": meta}}
        writer = self.run.service.writer(inputs["project_id"], region)

        def found() -> dict[str, Any] | None:
            self.images.pop(region, None)  # look again: the create may have happened
            hit = self.today(region, sid, policy)
            return {"image_id": hit["id"]} if hit else None

        made = writer.create(
            "compute", f"/servers/{sid}/action", f"image of server {sid}", body, found, "2.45"
        )
        image = {"id": made["image_id"], "name": inputs["name"], "image_type": "snapshot", **meta}
        self.fresh(region)[image["id"]] = {
            **image,
            "instance_uuid": sid,
            "created_at": self.run.now.isoformat(),
        }
        return "succeeded", "", [_obj(image, sid)]

    def prune(self, inputs: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
        region, iid, sid = inputs["region"], inputs["image_id"], inputs["server_id"]
        images = self.fresh(region)
        target = images.get(iid)
        if target is None:
            return "skipped", "already gone", []
        autos = [
            i
            for i in images.values()
            if auto_image(i, sid) and image_policy(i) == inputs["policy"] and i.get("status") not in GONE
        ]
        keep = inputs["keep"] + sum(
            1 for c in self.run.created if c.get("server_id") == sid and c.get("policy") == inputs["policy"]
        )
        # Prune only what the plan listed and the fresh listing still allows: never more than planned.
        if target not in prunable(autos, keep, inputs["min_days"], self.run.now) or not auto_image(
            target, sid
        ):
            return "skipped", "no longer beyond the retention", []
        writer = self.run.service.writer(inputs["project_id"], region)
        writer.delete("image", f"/images/{iid}", f"image {target.get('name') or iid}")
        images.pop(iid, None)
        return "succeeded", f"pruned image {target.get('name') or iid}", [_obj(target, sid)]


def _obj(image: dict[str, Any], server_id: str) -> dict[str, Any]:
    return {
        "type": "image",
        "id": image["id"],
        "name": image.get("name"),
        "server_id": server_id,
        "policy": image_policy(image),
    }
