"""The simulated cloud's aiohttp application: routing, token checks, fault injection, service registration.

This is the one module that imports the services (to build the routes); they import their request plumbing
from plumbing.py and the shared SimCloud from cloud.py, never from here.

URL layout on one port (the catalog advertises it, so clients never guess):
  /identity                 Keystone v3 (shared by all regions)
  /{region}/compute         Nova        /{region}/volume   Cinder v3
  /{region}/network         Neutron     /{region}/image    Glance v2
  /_sim/...                 control API and exporter pages (no token needed)
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from pf9sim import control
from pf9sim.cinder import routes as cinder
from pf9sim.cloud import SimCloud, matching_fault
from pf9sim.glance import routes as glance
from pf9sim.keystone import routes as keystone
from pf9sim.neutron import routes as neutron
from pf9sim.nova import routes as nova
from pf9sim.plumbing import SimError, error_response, service_of


@web.middleware
async def fault_and_auth_middleware(request: web.Request, handler):
    sim: SimCloud = request.app["sim"]
    service = service_of(request.path)
    try:
        if service != "sim":
            rule = matching_fault(sim, request.method, request.path)
            if rule is not None:
                if rule.delay_s:
                    await asyncio.sleep(rule.delay_s)
                if rule.status is not None and rule.status >= 400:
                    headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
                    return error_response(request, rule.status, f"Injected fault ({rule.status})", headers)
            if not getattr(handler, "public", False):
                token = sim.tokens.validate(request.headers.get("X-Auth-Token"))
                if token is None:
                    raise SimError(401, "The request you have made requires authentication.")
                request["token"] = token
        return await handler(request)
    except SimError as exc:
        return error_response(request, exc.status, exc.message, exc.headers, exc.kind)


def build_app(sim: SimCloud) -> web.Application:
    app = web.Application(middlewares=[fault_and_auth_middleware], client_max_size=64 * 1024**2)
    app["sim"] = sim
    for module in (keystone, nova, cinder, neutron, glance, control):
        module.register(app)
    return app


async def serve(sim: SimCloud, ready: asyncio.Event | None = None) -> None:
    """Run until cancelled; saves the estate on the way out when a state file is set."""
    app = build_app(sim)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, sim.host, sim.port)
    await site.start()
    if sim.port == 0:  # an ephemeral port was asked for: learn which one we got
        sim.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
    if ready is not None:
        ready.set()
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        sim.save()
        await runner.cleanup()


def monotonic_ms() -> float:
    return time.monotonic() * 1000
