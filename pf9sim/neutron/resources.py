"""Generic Neutron resource handlers: one descriptor per resource type, CRUD and tag routes written once.

Type-specific create/update/delete logic lives in l2.py, l3.py and secgroups.py; each
fills a Resource descriptor. Objects other projects own answer 404 to a non-admin, as in Neutron.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from pf9sim.model.network import DEFAULT_QUOTAS, stamp_change
from pf9sim.neutron.query import list_body, render
from pf9sim.plumbing import SimError, Token, json_response, read_json, region_of, token_of
from pf9sim.state import Estate

V2 = "/{region}/network/v2.0"


@dataclass
class Ctx:
    """One request's view: the estate, its region and who is asking."""

    request: web.Request
    est: Estate
    region: str
    token: Token

    @property
    def is_admin(self) -> bool:
        return self.token.is_admin

    @property
    def project_id(self) -> str:
        return self.token.project_id or ""

    def owns(self, obj: dict[str, Any]) -> bool:
        return self.is_admin or obj.get("project_id") == self.project_id


def ctx_of(request: web.Request) -> Ctx:
    return Ctx(request, request.app["sim"].estate, region_of(request), token_of(request))


@dataclass
class Resource:
    """How one Neutron resource type is served."""

    kind: str  # estate type, e.g. "floating_ips"
    singular: str  # body key, e.g. "floatingip"
    collection: str  # list key, e.g. "floatingips"
    path: str  # URL segment, e.g. "floatingips"
    not_found: Callable[[str], SimError]
    create: Callable[[Ctx, dict[str, Any]], dict[str, Any]]
    update: Callable[[Ctx, dict[str, Any], dict[str, Any]], None]
    delete: Callable[[Ctx, dict[str, Any]], None]
    create_keys: frozenset[str]
    update_keys: frozenset[str]
    quota_key: str = ""
    # Non-admin visibility beyond "own project" (shared networks, ...).
    visible: Callable[[Ctx, dict[str, Any]], bool] | None = None
    extra_filters: dict[str, Callable[[list[str]], Callable[[dict], bool]]] = field(default_factory=dict)
    # Called after an update is stamped (a rule's copy embedded in its group must follow).
    after_update: Callable[[Ctx, dict[str, Any]], None] | None = None
    taggable: bool = True  # standard-attr-tag covers every type here but security group rules

    def can_see(self, ctx: Ctx, obj: dict[str, Any]) -> bool:
        if ctx.owns(obj):
            return True
        return self.visible(ctx, obj) if self.visible else False

    def lookup(self, ctx: Ctx, obj_id: str) -> dict[str, Any]:
        obj = ctx.est.get(self.kind, obj_id)
        if obj is None or obj.get("_region") != ctx.region or not self.can_see(ctx, obj):
            raise self.not_found(obj_id)
        return obj


def not_found(kind: str, template: str) -> Callable[[str], SimError]:
    return lambda obj_id: SimError(404, template.format(id=obj_id), kind=kind)


# -- request body helpers ----------------------------------------------------------------------
def take(body: dict[str, Any], key: str, allowed: frozenset[str]) -> dict[str, Any]:
    """The attributes under `key`; 400 for a missing key or attributes Neutron does not know."""
    attrs = body.get(key)
    if not isinstance(attrs, dict):
        raise SimError(400, f"Resource body required: expected a '{key}' object.", kind="BadRequest")
    unknown = sorted(set(attrs) - allowed)
    if unknown:
        raise SimError(400, f"Unrecognized attribute(s) '{', '.join(unknown)}'", kind="HTTPBadRequest")
    return attrs


def check_type(
    attrs: dict[str, Any], name: str, kind: type | tuple[type, ...], nullable: bool = False
) -> None:
    if name not in attrs or (nullable and attrs[name] is None):
        return
    value = attrs[name]
    bad = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
    if bad:
        raise SimError(
            400, f"Invalid input for {name}. Reason: '{value}' is not a valid value.", kind="HTTPBadRequest"
        )


def owner_of(ctx: Ctx, attrs: dict[str, Any]) -> str:
    """project_id / tenant_id from the body; only an admin may name another project."""
    project = attrs.get("project_id") or attrs.get("tenant_id") or ctx.project_id
    if attrs.get("project_id") and attrs.get("tenant_id") and attrs["project_id"] != attrs["tenant_id"]:
        raise SimError(400, "'project_id' and 'tenant_id' do not match", kind="HTTPBadRequest")
    if project != ctx.project_id and not ctx.is_admin:
        raise SimError(
            400,
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project in "
            "request requires admin privileges",
            kind="HTTPBadRequest",
        )
    return project


def admin_only(ctx: Ctx, attrs: dict[str, Any], names: tuple[str, ...], action: str) -> None:
    for name in names:
        if name in attrs and not ctx.is_admin:
            raise SimError(403, f"(rule:{action}:{name}) is disallowed by policy", kind="PolicyNotAuthorized")


def quota_limit(est: Estate, region: str, project_id: str, key: str) -> int:
    quota = est.get("quotas", f"{region}/network/{project_id}")
    limits = quota["limits"] if quota else {}
    return int(limits.get(key, DEFAULT_QUOTAS.get(key, -1)))


def check_quota(ctx: Ctx, res: Resource, project_id: str) -> None:
    if not res.quota_key:
        return
    limit = quota_limit(ctx.est, ctx.region, project_id, res.quota_key)
    used = len(ctx.est.index(res.kind, "project_id", ctx.region).get(project_id, ()))
    if limit >= 0 and used + 1 > limit:
        raise SimError(409, f"Quota exceeded for resources: ['{res.quota_key}'].", kind="OverQuota")


def check_revision(request: web.Request, obj: dict[str, Any]) -> None:
    """If-Match: revision_number=N (the revision-if-match extension) -> 412 when the object moved on."""
    for part in request.headers.get("If-Match", "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "revision_number" and value.strip() != str(obj.get("revision_number")):
            raise SimError(
                412,
                f"Constrained to {value.strip()}, but current revision is {obj.get('revision_number')}",
                kind="RevisionNumberConstraintFailed",
            )


def apply_simple(obj: dict[str, Any], attrs: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name in attrs:
            obj[name] = attrs[name]


# -- handlers ----------------------------------------------------------------------------------
def _handlers(res: Resource) -> dict[str, Callable]:
    async def list_h(request: web.Request) -> web.Response:
        ctx = ctx_of(request)
        visible = None if ctx.is_admin else (lambda est, obj: res.can_see(ctx, obj))
        body = list_body(
            request, ctx.est, res.kind, res.collection, ctx.region, visible, res.not_found, res.extra_filters
        )
        return json_response(body)

    async def show_h(request: web.Request) -> web.Response:
        ctx = ctx_of(request)
        obj = res.lookup(ctx, request.match_info["id"])
        return json_response({res.singular: render(obj, request)})

    async def create_h(request: web.Request) -> web.Response:
        ctx = ctx_of(request)
        body = await read_json(request)
        if isinstance(body.get(res.collection), list):  # bulk create
            made = []
            for item in body[res.collection]:
                made.append(_create_one(ctx, res, {res.singular: item}))
            return json_response({res.collection: [render(o, request) for o in made]}, status=201)
        obj = _create_one(ctx, res, body)
        return json_response({res.singular: render(obj, request)}, status=201)

    async def update_h(request: web.Request) -> web.Response:
        ctx = ctx_of(request)
        obj = res.lookup(ctx, request.match_info["id"])
        if not ctx.owns(obj):
            raise SimError(
                403, f"(rule:update_{res.singular}) is disallowed by policy", kind="PolicyNotAuthorized"
            )
        attrs = take(await read_json(request), res.singular, res.update_keys | {"id"})
        attrs.pop("id", None)
        check_revision(request, obj)
        res.update(ctx, obj, attrs)
        stamp_change(ctx.est, res.kind, obj)
        if res.after_update is not None:
            res.after_update(ctx, obj)
        return json_response({res.singular: render(obj, request)})

    async def delete_h(request: web.Request) -> web.Response:
        ctx = ctx_of(request)
        obj = res.lookup(ctx, request.match_info["id"])
        if not ctx.owns(obj):
            raise SimError(
                403, f"(rule:delete_{res.singular}) is disallowed by policy", kind="PolicyNotAuthorized"
            )
        check_revision(request, obj)
        res.delete(ctx, obj)
        return web.Response(status=204)

    return {"list": list_h, "show": show_h, "create": create_h, "update": update_h, "delete": delete_h}


def _create_one(ctx: Ctx, res: Resource, body: dict[str, Any]) -> dict[str, Any]:
    attrs = take(body, res.singular, res.create_keys | {"project_id", "tenant_id"})
    check_quota(ctx, res, owner_of(ctx, attrs))
    return res.create(ctx, attrs)


# -- tags (standard-attr-tag) ------------------------------------------------------------------
def _tag_handlers(res: Resource) -> dict[str, Callable]:
    def target(request: web.Request) -> tuple[Ctx, dict[str, Any]]:
        ctx = ctx_of(request)
        obj = res.lookup(ctx, request.match_info["id"])
        if request.method != "GET" and not ctx.owns(obj):
            raise SimError(403, "(rule:update_tags) is disallowed by policy", kind="PolicyNotAuthorized")
        return ctx, obj

    def changed(ctx: Ctx, obj: dict[str, Any], tags: list[str]) -> None:
        for tag in tags:
            if not isinstance(tag, str) or not tag or len(tag) > 255 or "," in tag or "/" in tag:
                raise SimError(
                    400, f"Invalid input for operation: '{tag}' is not a valid tag.", kind="InvalidInput"
                )
        obj["tags"] = sorted(set(tags))
        stamp_change(ctx.est, res.kind, obj)

    async def get_all(request: web.Request) -> web.Response:
        _ctx, obj = target(request)
        return json_response({"tags": obj.get("tags", [])})

    async def replace_all(request: web.Request) -> web.Response:
        ctx, obj = target(request)
        tags = (await read_json(request)).get("tags")
        if not isinstance(tags, list):
            raise SimError(400, "Invalid input for operation: 'tags' must be a list.", kind="InvalidInput")
        changed(ctx, obj, tags)
        return json_response({"tags": obj["tags"]})

    async def add_many(request: web.Request) -> web.Response:
        ctx, obj = target(request)
        tags = (await read_json(request)).get("tags")
        if not isinstance(tags, list):
            raise SimError(400, "Invalid input for operation: 'tags' must be a list.", kind="InvalidInput")
        changed(ctx, obj, list(obj.get("tags", [])) + tags)
        return json_response({"tags": obj["tags"]}, status=201)

    async def delete_all(request: web.Request) -> web.Response:
        ctx, obj = target(request)
        changed(ctx, obj, [])
        return web.Response(status=204)

    async def get_one(request: web.Request) -> web.Response:
        _ctx, obj = target(request)
        tag = request.match_info["tag"]
        if tag not in obj.get("tags", []):
            raise SimError(404, f"Tag {tag} could not be found.", kind="TagNotFound")
        return web.Response(status=204)

    async def put_one(request: web.Request) -> web.Response:
        ctx, obj = target(request)
        changed(ctx, obj, list(obj.get("tags", [])) + [request.match_info["tag"]])
        return web.Response(status=201)

    async def delete_one(request: web.Request) -> web.Response:
        ctx, obj = target(request)
        tag = request.match_info["tag"]
        if tag not in obj.get("tags", []):
            raise SimError(404, f"Tag {tag} could not be found.", kind="TagNotFound")
        changed(ctx, obj, [t for t in obj["tags"] if t != tag])
        return web.Response(status=204)

    return {
        "get_all": get_all,
        "replace_all": replace_all,
        "add_many": add_many,
        "delete_all": delete_all,
        "get_one": get_one,
        "put_one": put_one,
        "delete_one": delete_one,
    }


def register_resource(app: web.Application, res: Resource) -> None:
    h = _handlers(res)
    base = f"{V2}/{res.path}"
    app.router.add_get(base, h["list"])
    app.router.add_post(base, h["create"])
    app.router.add_get(base + "/{id}", h["show"])
    app.router.add_put(base + "/{id}", h["update"])
    app.router.add_delete(base + "/{id}", h["delete"])
    if not res.taggable:
        return
    t = _tag_handlers(res)
    app.router.add_get(base + "/{id}/tags", t["get_all"])
    app.router.add_put(base + "/{id}/tags", t["replace_all"])
    app.router.add_post(base + "/{id}/tags", t["add_many"])
    app.router.add_delete(base + "/{id}/tags", t["delete_all"])
    app.router.add_get(base + "/{id}/tags/{tag}", t["get_one"])
    app.router.add_put(base + "/{id}/tags/{tag}", t["put_one"])
    app.router.add_delete(base + "/{id}/tags/{tag}", t["delete_one"])
