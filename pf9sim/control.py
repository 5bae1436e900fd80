"""The control API under /_sim/: advance time, exact mutations, faults, token expiry, exporter pages."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pf9sim.cloud import FaultRule, SimCloud
from pf9sim.evolution import engine as evolution
from pf9sim.exporters.libvirt import libvirt_exporter_page
from pf9sim.exporters.node import node_exporter_page
from pf9sim.plumbing import SimError, json_response, public, read_json
from pf9sim.state import RESOURCE_TYPES
from pf9sim.state import public as public_fields

_FAULT_KEYS = {"method", "path", "status", "rate", "delay_s", "times", "retry_after"}


def _sim(request: web.Request) -> SimCloud:
    return request.app["sim"]


def _summary(sim: SimCloud) -> dict[str, Any]:
    estate = sim.estate
    counts = estate.counts()
    # Every service answers quotas (its defaults at least) for every project in every region.
    counts["quotas"] = counts["projects"] * 3 * len(estate.regions)
    return {
        "clock": estate.now_iso(),
        "seed": estate.seed,
        "size": estate.size,
        "regions": estate.regions,
        "counts": counts,
    }


@public
async def summary(request: web.Request) -> web.Response:
    return json_response(_summary(_sim(request)))


OPTIONS = {"nightly_snapshots": bool}  # the simulator's switchable behaviours


@public
async def get_options(request: web.Request) -> web.Response:
    options = _sim(request).estate.secrets.get("options", {})
    return json_response({name: options.get(name, True) for name in OPTIONS})


@public
async def set_options(request: web.Request) -> web.Response:
    body = await read_json(request)
    bad = [k for k, v in body.items() if k not in OPTIONS or not isinstance(v, OPTIONS[k])]
    if bad or not body:
        names = ', '.join(f'{k} (true/false)' for k in OPTIONS)
        raise SimError(400, f"options are {names}; got {sorted(body)}")
    sim = _sim(request)
    sim.estate.secrets.setdefault("options", {}).update(body)
    sim.save()
    return await get_options(request)


@public
async def advance(request: web.Request) -> web.Response:
    body = await read_json(request)
    hours = body.get("hours")
    if not isinstance(hours, (int, float)) or isinstance(hours, bool) or not 0 < hours <= 24 * 366:
        raise SimError(400, 'advance needs {"hours": N} with 0 < N <= 8784')
    sim = _sim(request)
    changes = evolution.advance(sim.estate, float(hours))
    sim.save()
    return json_response({"clock": sim.estate.now_iso(), "changes": changes})


def _check_type(kind: Any) -> str:
    if kind not in RESOURCE_TYPES:
        raise SimError(400, f"Unknown resource type {kind!r}: use one of {', '.join(RESOURCE_TYPES)}")
    return kind


@public
async def mutate(request: web.Request) -> web.Response:
    body = await read_json(request)
    kind = _check_type(body.get("type"))
    obj_id = body.get("id")
    changes = body.get("set")
    if not isinstance(changes, dict) or not changes:
        raise SimError(400, 'mutate needs "set": {field: value, ...}')
    sim = _sim(request)
    try:
        obj = evolution.mutate(sim.estate, kind, obj_id, changes)
    except KeyError as exc:
        raise SimError(404, f"No {kind} with id {obj_id!r}") from exc
    sim.save()
    return json_response({"object": public_fields(obj)})


@public
async def delete(request: web.Request) -> web.Response:
    body = await read_json(request)
    kind = _check_type(body.get("type"))
    obj_id = body.get("id")
    sim = _sim(request)
    try:
        changes = evolution.delete(sim.estate, kind, obj_id)
    except KeyError as exc:
        raise SimError(404, f"No {kind} with id {obj_id!r}") from exc
    sim.save()
    return json_response({"deleted": obj_id, "changes": changes})


@public
async def get_object(request: web.Request) -> web.Response:
    """One stored object as the estate holds it (hidden keys included): handy for tests and debugging."""
    kind = _check_type(request.match_info["type"])
    obj = _sim(request).estate.get(kind, request.match_info["id"])
    if obj is None:
        raise SimError(404, f"No {kind} with id {request.match_info['id']!r}")
    return json_response(obj)


@public
async def set_faults(request: web.Request) -> web.Response:
    body = await read_json(request)
    rules = body.get("rules")
    if not isinstance(rules, list) or not rules:
        raise SimError(400, 'faults needs {"rules": [{"path": REGEX, "status": 503, ...}]}')
    parsed = []
    for rule in rules:
        if not isinstance(rule, dict) or "path" not in rule:
            raise SimError(400, f"Each fault rule needs a 'path' regex; got {rule!r}")
        unknown = set(rule) - _FAULT_KEYS
        if unknown:
            raise SimError(400, f"Unknown fault rule keys {sorted(unknown)}: use {sorted(_FAULT_KEYS)}")
        parsed.append(FaultRule(**rule))
    sim = _sim(request)
    sim.faults.extend(parsed)
    return json_response({"rules": [r.as_dict() for r in sim.faults]})


@public
async def list_faults(request: web.Request) -> web.Response:
    return json_response({"rules": [r.as_dict() for r in _sim(request).faults]})


@public
async def clear_faults(request: web.Request) -> web.Response:
    sim = _sim(request)
    count = len(sim.faults)
    sim.faults.clear()
    return json_response({"cleared": count})


@public
async def expire_tokens(request: web.Request) -> web.Response:
    return json_response({"expired": _sim(request).tokens.expire_all()})


def _exporter_page(render):
    @public
    async def handler(request: web.Request) -> web.Response:
        try:
            text = render(_sim(request).estate, request.match_info["hypervisor"])
        except KeyError as exc:
            raise SimError(404, f"No hypervisor named {request.match_info['hypervisor']!r}") from exc
        return web.Response(
            text=text, content_type="text/plain", charset="utf-8", headers={"X-Content-Type-Version": "0.0.4"}
        )

    return handler


def register(app: web.Application) -> None:
    app.router.add_get("/_sim/summary", summary)
    app.router.add_post("/_sim/advance", advance)
    app.router.add_post("/_sim/mutate", mutate)
    app.router.add_post("/_sim/delete", delete)
    app.router.add_get("/_sim/objects/{type}/{id}", get_object)
    app.router.add_get("/_sim/options", get_options)
    app.router.add_post("/_sim/options", set_options)
    app.router.add_get("/_sim/faults", list_faults)
    app.router.add_post("/_sim/faults", set_faults)
    app.router.add_delete("/_sim/faults", clear_faults)
    app.router.add_post("/_sim/tokens/expire", expire_tokens)
    app.router.add_get("/_sim/exporters/node/{hypervisor}/metrics", _exporter_page(node_exporter_page))
    app.router.add_get("/_sim/exporters/libvirt/{hypervisor}/metrics", _exporter_page(libvirt_exporter_page))
