"""Admin operations on Neutron networks (with a subnet when asked), security groups and their rules
(docs/domain.md §9): validation before any call, plans, and the steps an apply runs."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlencode

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

KINDS = (
    "network.create",
    "network.delete",
    "secgroup.create",
    "secgroup.delete",
    "rule.create",
    "rule.delete",
)
for _kind in KINDS:
    register_kind(f"admin.{_kind}", "admin")
DIRECTIONS = ("ingress", "egress")
PROTOCOLS = ("tcp", "udp", "icmp", "icmpv6", "any")
ETHERTYPES = ("IPv4", "IPv6")
# Neutron's collection paths and body keys.
_API = {
    "network": ("/networks", "networks"),
    "subnet": ("/subnets", "subnets"),
    "security_group": ("/security-groups", "security_groups"),
    "security_group_rule": ("/security-group-rules", "security_group_rules"),
    "port": ("/ports", "ports"),
}


def _list(ctx: ActionContext, kind: str, **filters: Any) -> list[dict[str, Any]]:
    path, key = _API[kind]
    query = f"?{urlencode(filters)}" if filters else ""
    return ctx.writer().get("network", path + query, f"{kind}s").get(key) or []


def _one(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "id": obj["id"], "name": obj.get("name") or obj["id"]}


# --------------------------------------------------------------------------------------------- checks


def _project(ctx: ActionContext, args: dict[str, Any]) -> dict[str, str] | None:
    """The project named or identified by `ref` (Keystone), as {id, name}."""
    ref = args["ref"]
    w = ctx.writer()
    found = w.get("identity", f"/projects?{urlencode({'name': ref})}", f"project {ref}").get("projects") or []
    if not found:
        body = w.request("GET", "identity", f"/projects/{ref}", f"project {ref}", ok_missing=True)
        found = [body["project"]] if body.get("project") else []
    return {"id": found[0]["id"], "name": found[0]["name"]} if len(found) == 1 else None


def _named(kind: str):
    def check(ctx: ActionContext, args: dict[str, Any]) -> str | None:
        hits = _list(ctx, kind, name=args["name"], project_id=args["project_id"])
        return hits[0]["id"] if hits else None

    return check


def _exists(kind: str):
    def check(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any] | None:
        hits = [o for o in _list(ctx, kind, id=args["id"]) if o["id"] == args["id"]]
        return _one(kind, hits[0]) if hits else None

    return check


def _ports_in_use(ctx: ActionContext, args: dict[str, Any]) -> int:
    """Ports on a network other than its DHCP ports (which Neutron removes with the network)."""
    ports = _list(ctx, "port", network_id=args["network_id"])
    return sum(1 for p in ports if p.get("device_owner") != "network:dhcp")


def _group_ports(ctx: ActionContext, args: dict[str, Any]) -> int:
    return len(_list(ctx, "port", security_groups=args["id"]))


def _same_rule(ctx: ActionContext, args: dict[str, Any]) -> str | None:
    """The id of a rule of the group identical to the one planned (Neutron would refuse a duplicate)."""
    rule = args["rule"]
    for r in _list(ctx, "security_group_rule", security_group_id=rule["security_group_id"]):
        if all(r.get(k) == v for k, v in rule.items()):
            return r["id"]
    return None


for _name, _check in (
    ("project.lookup", _project),
    ("network.by_name", _named("network")),
    ("network.lookup", _exists("network")),
    ("network.ports_in_use", _ports_in_use),
    ("secgroup.by_name", _named("security_group")),
    ("secgroup.lookup", _exists("security_group")),
    ("secgroup.ports", _group_ports),
    ("rule.same", _same_rule),
    ("rule.lookup", _exists("security_group_rule")),
):
    register_check(_name, _check)


# --------------------------------------------------------------------------------------------- steps


def _creator(kind: str, body_of):
    """A step that POSTs one object carrying the plan's tag in its description, found again by that tag."""
    path, _ = _API[kind]
    key = kind

    def tagged(ctx: ActionContext, inputs: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [_one(kind, o) for o in _list(ctx, kind, description=plan_tag(ctx.plan_id))]

    def run(ctx: ActionContext, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        body = {key: {**body_of(inputs), "description": plan_tag(ctx.plan_id)}}
        what = f"{kind.replace('_', ' ')} {inputs.get('name') or ''}".strip()

        def found() -> dict[str, Any] | None:
            hits = _list(ctx, kind, description=plan_tag(ctx.plan_id))
            return {key: hits[0]} if hits else None

        made = ctx.writer().create("network", path, what, body, found)
        return [_one(kind, made[key])]

    def undo(ctx: ActionContext, obj: dict[str, Any]) -> None:
        ctx.writer().delete("network", f"{path}/{obj['id']}", f"{kind.replace('_', ' ')} {obj['name']}")

    return StepAction(run, tagged, undo)


def _deleter(kind: str) -> StepAction:
    path, _ = _API[kind]

    def run(ctx: ActionContext, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        ctx.writer().delete("network", f"{path}/{inputs['id']}", f"{kind.replace('_', ' ')} {inputs['name']}")
        return []

    return StepAction(run)


_NETWORK_KEYS = ("name", "project_id", "shared", "router:external")
_SUBNET_KEYS = ("name", "network_id", "cidr", "ip_version", "enable_dhcp", "project_id")
_RULE_KEYS = (
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
)
register_step("network.create", _creator("network", lambda i: {k: i[k] for k in _NETWORK_KEYS if k in i}))
register_step("subnet.create", _creator("subnet", lambda i: {k: i[k] for k in _SUBNET_KEYS if k in i}))
register_step(
    "secgroup.create",
    _creator("security_group", lambda i: {"name": i["name"], "project_id": i["project_id"]}),
)
register_step(
    "rule.create",
    _creator("security_group_rule", lambda i: {k: i[k] for k in _RULE_KEYS if i.get(k) is not None}),
)
register_step("network.delete", _deleter("network"))
register_step("secgroup.delete", _deleter("security_group"))
register_step("rule.delete", _deleter("security_group_rule"))


# --------------------------------------------------------------------------------------------- plans


def _probe(settings, region: str | None, context: ActionContext | None = None) -> ActionContext:
    """The context plans read the cloud through (a caller may pass its own, to reuse one connection)."""
    return context or ActionContext(settings, settings.data_dir, "probe", region)


def _resolve_project(probe: ActionContext, ref: str | None) -> dict[str, str]:
    if not ref:
        raise Pf9Error("a project is required: pass --project NAME_OR_ID")
    project = _project(probe, {"ref": ref})
    if project is None:
        raise Pf9Error(f"no single project named or with id {ref!r}: check it with `openstack project list`")
    return project


def plan_network_create(
    settings,
    who: Identity | str,
    name: str,
    project: str,
    shared: bool = False,
    external: bool = False,
    subnet_cidr: str | None = None,
    enable_dhcp: bool = True,
    region: str | None = None,
) -> Plan:
    """Plan a network in a project (and a subnet on it when a CIDR is given)."""
    kind = "admin.network.create"
    authorize(settings, who, kind, name)
    if not name or len(name) > 255:
        raise Pf9Error("a network needs a name of 1-255 characters")
    cidr = None
    if subnet_cidr:
        try:
            cidr = ipaddress.ip_network(subnet_cidr, strict=True)
        except ValueError as exc:
            raise Pf9Error(
                f"subnet CIDR {subnet_cidr!r} is not valid ({exc}): give e.g. 10.20.0.0/24"
            ) from None
    probe = _probe(settings, region)
    proj = _resolve_project(probe, project)
    taken = _named("network")(probe, {"name": name, "project_id": proj["id"]})
    if taken is not None:
        raise Pf9Error(
            f"project {proj['name']} has a network named {name} already ({taken}): choose another name"
        )
    net = {"name": name, "project_id": proj["id"], "shared": shared, "router:external": external}
    flags = (" (shared)" if shared else "") + (" (external)" if external else "")
    steps = [Step("network.create", net, f"create network {name} in project {proj['name']}{flags}")]
    summary = steps[0].text
    if cidr is not None:
        sub = {
            "name": f"{name}-subnet",
            "network_id": "@0",
            "cidr": str(cidr),
            "ip_version": cidr.version,
            "enable_dhcp": enable_dhcp,
            "project_id": proj["id"],
        }
        dhcp = "on" if enable_dhcp else "off"
        steps.append(Step("subnet.create", sub, f"create subnet {cidr} on network {name} (DHCP {dhcp})"))
        summary += f", with subnet {cidr}"
    checks = [
        ("project.lookup", {"ref": proj["id"]}, f"project {proj['name']} exists", proj),
        (
            "network.by_name",
            {"name": name, "project_id": proj["id"]},
            f"{proj['name']} has no network {name}",
            None,
        ),
    ]
    return make_plan(
        settings, who, kind, name, summary, steps, checks, {"project": proj, **net}, region, probe
    )


def plan_network_delete(settings, who: Identity | str, network_id: str, region: str | None = None) -> Plan:
    """Plan deleting a network (its subnets go with it); refused while ports other than DHCP use it."""
    kind = "admin.network.delete"
    authorize(settings, who, kind, network_id)
    probe = _probe(settings, region)
    net = _exists("network")(probe, {"id": network_id})
    if net is None:
        raise Pf9Error(f"no network with id {network_id!r}: list them with `openstack network list`")
    in_use = _ports_in_use(probe, {"network_id": network_id})
    if in_use:
        raise Pf9Error(f"network {net['name']} has {in_use} port(s) in use: delete or move them first")
    text = f"delete network {net['name']} ({network_id}) and its subnets"
    checks = [
        ("network.lookup", {"id": network_id}, f"network {net['name']} exists", net),
        ("network.ports_in_use", {"network_id": network_id}, f"network {net['name']} has no ports in use", 0),
    ]
    return make_plan(
        settings,
        who,
        kind,
        net["name"],
        text,
        [Step("network.delete", net, text)],
        checks,
        net,
        region,
        probe,
    )


def plan_secgroup_create(
    settings, who: Identity | str, name: str, project: str, region: str | None = None
) -> Plan:
    """Plan a security group in a project."""
    kind = "admin.secgroup.create"
    authorize(settings, who, kind, name)
    if not name or len(name) > 255:
        raise Pf9Error("a security group needs a name of 1-255 characters")
    if name == "default":
        raise Pf9Error("every project has its own `default` security group: choose another name")
    probe = _probe(settings, region)
    proj = _resolve_project(probe, project)
    inputs = {"name": name, "project_id": proj["id"]}
    taken = _named("security_group")(probe, inputs)
    if taken is not None:
        raise Pf9Error(
            f"project {proj['name']} has a security group named {name} already: choose another name"
        )
    text = f"create security group {name} in project {proj['name']}"
    checks = [("secgroup.by_name", inputs, f"project {proj['name']} has no security group {name}", None)]
    return make_plan(
        settings,
        who,
        kind,
        name,
        text,
        [Step("secgroup.create", inputs, text)],
        checks,
        inputs,
        region,
        probe,
    )


def plan_secgroup_delete(settings, who: Identity | str, group_id: str, region: str | None = None) -> Plan:
    """Plan deleting a security group; never `default`, and not while a port uses it."""
    kind = "admin.secgroup.delete"
    authorize(settings, who, kind, group_id)
    probe = _probe(settings, region)
    group = _exists("security_group")(probe, {"id": group_id})
    if group is None:
        raise Pf9Error(
            f"no security group with id {group_id!r}: list them with `openstack security group list`"
        )
    if group["name"] == "default":
        raise Pf9Error("the `default` security group cannot be deleted: every project keeps its own")
    ports = _group_ports(probe, {"id": group_id})
    if ports:
        raise Pf9Error(f"security group {group['name']} is attached to {ports} port(s): detach it first")
    text = f"delete security group {group['name']} ({group_id})"
    checks = [
        ("secgroup.lookup", {"id": group_id}, f"security group {group['name']} exists", group),
        ("secgroup.ports", {"id": group_id}, f"security group {group['name']} is on no port", 0),
    ]
    return make_plan(
        settings,
        who,
        kind,
        group["name"],
        text,
        [Step("secgroup.delete", group, text)],
        checks,
        group,
        region,
        probe,
    )


def validate_rule(
    direction: str,
    protocol: str,
    ethertype: str,
    port_min: int | None,
    port_max: int | None,
    remote_ip_prefix: str | None,
) -> None:
    """One line naming the first invalid part of a rule (nothing is sent to the cloud)."""
    if direction not in DIRECTIONS:
        raise Pf9Error(f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    if protocol not in PROTOCOLS:
        raise Pf9Error(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if ethertype not in ETHERTYPES:
        raise Pf9Error(f"ethertype {ethertype!r} is not one of {', '.join(ETHERTYPES)}")
    if (port_min is not None or port_max is not None) and protocol not in ("tcp", "udp"):
        raise Pf9Error(f"ports apply to tcp and udp only, not {protocol}: drop --port-min/--port-max")
    for label, port in (("minimum port", port_min), ("maximum port", port_max)):
        if port is not None and not 1 <= port <= 65535:
            raise Pf9Error(f"{label} {port} is out of range: give 1-65535")
    if port_min is not None and port_max is not None and port_min > port_max:
        raise Pf9Error(f"minimum port {port_min} is above maximum port {port_max}")
    if remote_ip_prefix:
        try:
            net = ipaddress.ip_network(remote_ip_prefix, strict=False)
        except ValueError:
            raise Pf9Error(f"remote CIDR {remote_ip_prefix!r} is not valid: give e.g. 10.0.0.0/8") from None
        if f"IPv{net.version}" != ethertype:
            raise Pf9Error(
                f"remote CIDR {remote_ip_prefix} is IPv{net.version} but the ethertype is {ethertype}"
            )


def plan_rule_create(
    settings,
    who: Identity | str,
    group_id: str,
    direction: str,
    protocol: str = "tcp",
    ethertype: str = "IPv4",
    port_min: int | None = None,
    port_max: int | None = None,
    remote_ip_prefix: str | None = None,
    region: str | None = None,
    context: ActionContext | None = None,
) -> Plan:
    """Plan a security-group rule; refused when the group has the same rule already."""
    kind = "admin.rule.create"
    authorize(settings, who, kind, group_id)
    validate_rule(direction, protocol, ethertype, port_min, port_max, remote_ip_prefix)
    if port_min is not None and port_max is None:
        port_max = port_min
    probe = _probe(settings, region, context)
    group = _exists("security_group")(probe, {"id": group_id})
    if group is None:
        raise Pf9Error(
            f"no security group with id {group_id!r}: list them with `openstack security group list`"
        )
    rule = {
        "security_group_id": group_id,
        "direction": direction,
        "ethertype": ethertype,
        "protocol": None if protocol == "any" else protocol,
        "port_range_min": port_min,
        "port_range_max": port_max,
        "remote_ip_prefix": remote_ip_prefix,
    }
    same = _same_rule(probe, {"rule": rule})
    if same is not None:
        raise Pf9Error(f"security group {group['name']} has this rule already (id {same})")
    ports = "" if port_min is None else f"/{port_min}" + ("" if port_max == port_min else f"-{port_max}")
    peer = remote_ip_prefix or "any"
    text = f"allow {protocol.upper()}{ports} {direction} {peer} ({ethertype}) in {group['name']}"
    checks = [
        ("secgroup.lookup", {"id": group_id}, f"security group {group['name']} exists", group),
        ("rule.same", {"rule": rule}, "no identical rule exists", None),
    ]
    return make_plan(
        settings,
        who,
        kind,
        group["name"],
        text,
        [Step("rule.create", rule, text)],
        checks,
        rule,
        region,
        probe,
    )


def plan_rule_delete(settings, who: Identity | str, rule_id: str, region: str | None = None) -> Plan:
    """Plan deleting a security-group rule."""
    kind = "admin.rule.delete"
    authorize(settings, who, kind, rule_id)
    probe = _probe(settings, region)
    rule = _exists("security_group_rule")(probe, {"id": rule_id})
    if rule is None:
        raise Pf9Error(f"no security group rule with id {rule_id!r}")
    text = f"delete security group rule {rule_id}"
    checks = [("rule.lookup", {"id": rule_id}, f"rule {rule_id} exists", rule)]
    return make_plan(
        settings, who, kind, rule_id, text, [Step("rule.delete", rule, text)], checks, rule, region, probe
    )
