"""Admin operations on Nova flavors (docs/domain.md §9): validate, plan, and the steps an apply runs."""

from __future__ import annotations

import re
from typing import Any

from pf9lib.actions.client import plan_tag
from pf9lib.actions.engine import (
    ActionContext,
    StepAction,
    authorize,
    make_plan,
    register_check,
    register_kind,
    register_step,
)
from pf9lib.actions.plan import Plan, Step
from pf9lib.errors import Pf9Error
from pf9lib.identity import Identity

MV = "2.55"  # flavors carry a description from 2.55: that is where the plan's tag goes
NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
KIND_CREATE, KIND_DELETE = "admin.flavor.create", "admin.flavor.delete"
register_kind(KIND_CREATE, "admin")
register_kind(KIND_DELETE, "admin")


def validate_flavor(name: str, vcpus: int, ram_mb: int, disk_gb: int) -> None:
    """One line naming the first value out of range (nothing is sent to the cloud)."""
    if not NAME.match(name or ""):
        raise Pf9Error(
            f"flavor name {name!r} is not 1-64 of letters, digits, '.', '_' or '-': choose another"
        )
    for label, value, low, high, unit in (
        ("vCPUs", vcpus, 1, 64, ""),
        ("RAM", ram_mb, 128, 131072, " MB"),
        ("disk", disk_gb, 0, 2048, " GB"),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise Pf9Error(f"flavor {label} {value!r} is out of range: give {low}-{high}{unit}")


def _flavors(ctx: ActionContext) -> list[dict[str, Any]]:
    body = ctx.writer().get("compute", "/flavors/detail?is_public=None", "flavors", MV)
    return body.get("flavors") or []


def _by_name(ctx: ActionContext, args: dict[str, Any]) -> str | None:
    """The id of the flavor with this name (None when there is none)."""
    return next((f["id"] for f in _flavors(ctx) if f.get("name") == args["name"]), None)


def _flavor(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any] | None:
    found = next((f for f in _flavors(ctx) if args["ref"] in (f.get("id"), f.get("name"))), None)
    return None if found is None else {"id": found["id"], "name": found["name"]}


def _servers_using(ctx: ActionContext, args: dict[str, Any]) -> int:
    """How many servers (every project) use the flavor."""
    path = f"/servers?all_tenants=1&flavor={args['id']}&limit=1000"
    return len(ctx.writer().get("compute", path, f"servers of flavor {args['id']}").get("servers") or [])


register_check("flavor.by_name", _by_name)
register_check("flavor.lookup", _flavor)
register_check("flavor.servers_using", _servers_using)


def _create(ctx: ActionContext, inputs: dict[str, Any]) -> list[dict[str, Any]]:
    body = {
        "flavor": {
            "name": inputs["name"],
            "vcpus": inputs["vcpus"],
            "ram": inputs["ram_mb"],
            "disk": inputs["disk_gb"],
            "os-flavor-access:is_public": inputs.get("public", True),
            "description": plan_tag(ctx.plan_id),
        }
    }
    what = f"flavor {inputs['name']}"
    made = ctx.writer().create("compute", "/flavors", what, body, lambda: _tagged_one(ctx), MV)
    flavor = made.get("flavor", made)
    return [{"type": "flavor", "id": flavor["id"], "name": flavor["name"]}]


def _tagged(ctx: ActionContext, inputs: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    tag = plan_tag(ctx.plan_id)
    return [
        {"type": "flavor", "id": f["id"], "name": f["name"]}
        for f in _flavors(ctx)
        if f.get("description") == tag
    ]


def _tagged_one(ctx: ActionContext) -> dict[str, Any] | None:
    found = _tagged(ctx)
    return {"flavor": found[0]} if found else None


def _delete(ctx: ActionContext, inputs: dict[str, Any]) -> list[dict[str, Any]]:
    ctx.writer().delete("compute", f"/flavors/{inputs['id']}", f"flavor {inputs['name']}")
    return []


def _undo_create(ctx: ActionContext, obj: dict[str, Any]) -> None:
    ctx.writer().delete("compute", f"/flavors/{obj['id']}", f"flavor {obj['name']}")


register_step("flavor.create", StepAction(_create, _tagged, _undo_create))
register_step("flavor.delete", StepAction(_delete))


def plan_flavor_create(
    settings,
    who: Identity | str,
    name: str,
    vcpus: int,
    ram_mb: int,
    disk_gb: int,
    public: bool = True,
    region: str | None = None,
) -> Plan:
    """Plan a new flavor (nothing is created until the plan is applied)."""
    authorize(settings, who, KIND_CREATE, name)
    validate_flavor(name, vcpus, ram_mb, disk_gb)
    probe = ActionContext(settings, settings.data_dir, "probe", region)
    existing = _by_name(probe, {"name": name})
    if existing is not None:
        raise Pf9Error(f"a flavor named {name} exists already (id {existing}): choose another name")
    inputs = {"name": name, "vcpus": vcpus, "ram_mb": ram_mb, "disk_gb": disk_gb, "public": public}
    scope = "public" if public else "private"
    text = f"create flavor {name} ({vcpus} vCPU, {ram_mb} MB RAM, {disk_gb} GB disk, {scope})"
    return make_plan(
        settings,
        who,
        KIND_CREATE,
        name,
        text,
        [Step("flavor.create", inputs, text)],
        [("flavor.by_name", {"name": name}, f"no flavor is named {name}", None)],
        inputs,
        region,
        probe,
    )


def plan_flavor_delete(settings, who: Identity | str, ref: str, region: str | None = None) -> Plan:
    """Plan deleting a flavor by name or id; refused while servers use it."""
    authorize(settings, who, KIND_DELETE, ref)
    probe = ActionContext(settings, settings.data_dir, "probe", region)
    found = _flavor(probe, {"ref": ref})
    if found is None:
        raise Pf9Error(f"no flavor named or with id {ref!r}: list them with `openstack flavor list --all`")
    using = _servers_using(probe, {"id": found["id"]})
    if using:
        raise Pf9Error(f"flavor {found['name']} is used by {using} server(s): resize or delete them first")
    text = f"delete flavor {found['name']} ({found['id']})"
    return make_plan(
        settings,
        who,
        KIND_DELETE,
        found["name"],
        text,
        [Step("flavor.delete", found, text)],
        [
            ("flavor.lookup", {"ref": found["id"]}, f"flavor {found['name']} exists", found),
            ("flavor.servers_using", {"id": found["id"]}, f"no server uses flavor {found['name']}", 0),
        ],
        found,
        region,
        probe,
    )
