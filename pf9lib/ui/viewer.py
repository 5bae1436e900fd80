"""Who is looking at a dashboard: the page request's headers reaching a preheated Voilà kernel.

A preheated kernel runs the notebook before anyone asks for the page, so the request (and with it the
authenticating proxy's X-Forwarded-User, which `pf9lib.identity.dashboard_identity` reads as
HTTP_X_FORWARDED_USER)
arrives later, over Voilà's `voila/query/<kernel id>` websocket. `wait_for_request` is the dashboards' last
cell: it blocks until a page takes the kernel, then puts the request's variables into os.environ.

It replaces `voila.utils.wait_for_request` for two reasons measured on a loaded 2-core machine:
- importing voila.utils in the kernel imports jupyter_server, jupyter_events and jsonschema (whose
  rfc3987_syntax builds a grammar at import): ~2.5 s of CPU per kernel unloaded, 12–16 s under load, paid
  while a waiting page needed that kernel;
- Voilà's helper gives up when the websocket takes over 5 s to open and then runs on without the headers:
  the viewer's acknowledgements are refused. This one keeps trying.
The kernel stays busy while it waits, which is also what keeps Jupyter's culler off a pooled kernel.
"""

from __future__ import annotations

import json
import os
import time

RETRY_FOR_S = 120.0  # give up (and run without the request's variables) after this long without a connection
OPEN_TIMEOUT_S = 30.0


def query_url(env: dict[str, str] | None = None) -> str:
    """The websocket on which Voilà sends this kernel its request info (from the variables Voilà sets)."""
    env = os.environ if env is None else env
    protocol = env.get("VOILA_WS_PROTOCOL", "ws")
    ip = env.get("VOILA_APP_IP", "127.0.0.1")
    port = env.get("VOILA_APP_PORT", "8866")
    base = env.get("VOILA_WS_BASE_URL") or env.get("VOILA_SERVER_URL", "/")
    return f"{protocol}://{ip}:{port}{base}voila/query/{env.get('VOILA_KERNEL_ID', '')}"


def wait_for_request(retry_for_s: float = RETRY_FOR_S) -> dict[str, str] | None:
    """In a preheated Voilà kernel: wait for the page request and copy its variables into os.environ.

    Returns them; None outside a preheated kernel (plain Jupyter, papermill, nbval, a Voilà kernel started
    for the request, which has them already) or when no connection could be made for `retry_for_s`."""
    if os.environ.get("VOILA_PREHEAT") != "True":
        return None
    from websockets.exceptions import WebSocketException
    from websockets.sync.client import connect

    url = query_url()
    failing_since: float | None = None
    while True:
        try:
            # No client pings: the kernel may wait in the pool for hours; Voilà pings and we answer.
            with connect(url, open_timeout=OPEN_TIMEOUT_S, ping_interval=None, max_size=2**20) as ws:
                failing_since = None
                info = json.loads(ws.recv())
            break
        except (OSError, TimeoutError, WebSocketException):
            # Voilà not answering yet, or the connection dropped: Voilà keeps a request that came meanwhile
            # and sends it when we are back.
            now = time.monotonic()
            failing_since = failing_since or now
            if now - failing_since > retry_for_s:
                return None
            time.sleep(1.0)
    info = {str(k): str(v) for k, v in info.items()}
    os.environ.update(info)
    return info
