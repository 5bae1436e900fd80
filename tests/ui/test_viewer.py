"""pf9lib.ui.viewer.wait_for_request against a real websocket server answering as Voilà's voila/query does:
the request's variables reach os.environ even when the server is slow to accept or not up yet (Voilà's own
helper gives up after a 5 s open and leaves the viewer unknown)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time

import pytest
import tornado.web
import tornado.websocket

from pf9lib.ui import viewer

KERNEL = "3f1c2a9e-0000-4000-8000-000000000001"
INFO = {"HTTP_X_FORWARDED_USER": "alice@example.test", "QUERY_STRING": "token=x"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Query(tornado.websocket.WebSocketHandler):
    """Voilà's RequestInfoSocketHandler in short: the request's variables to the kernel that connects."""

    async def prepare(self):
        await asyncio.sleep(self.settings["accept_after_s"])  # a busy server, slow to take the handshake

    def open(self, kernel_id: str) -> None:
        self.settings["seen"].append(kernel_id)
        self.write_message(INFO)


def _serve(port: int, accept_after_s: float, seen: list[str]) -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        app = tornado.web.Application(
            [(r"/voila/query/(.*)", _Query)], accept_after_s=accept_after_s, seen=seen
        )
        app.listen(port, address="127.0.0.1")
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    return loop


@pytest.fixture()
def preheated(monkeypatch) -> int:
    """The variables Voilà gives a preheated kernel, for a free port; returns the port."""
    port = _free_port()
    for name, value in {
        "VOILA_PREHEAT": "True",
        "VOILA_APP_PORT": str(port),
        "VOILA_SERVER_URL": "/",
        "VOILA_KERNEL_ID": KERNEL,
    }.items():
        monkeypatch.setenv(name, value)
    for name in INFO:
        monkeypatch.delenv(name, raising=False)
    return port


def test_outside_a_preheated_kernel_it_returns_at_once(monkeypatch):
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    started = time.monotonic()
    assert viewer.wait_for_request() is None
    assert time.monotonic() - started < 0.1


def test_slow_handshake_still_delivers_the_viewer(preheated):
    seen: list[str] = []
    loop = _serve(preheated, accept_after_s=6.0, seen=seen)  # over voila.utils' 5 s open timeout
    try:
        assert viewer.wait_for_request() == INFO
    finally:
        loop.call_soon_threadsafe(loop.stop)
    assert seen == [KERNEL]
    assert os.environ["HTTP_X_FORWARDED_USER"] == "alice@example.test"


def test_a_server_not_up_yet_is_retried(preheated):
    seen: list[str] = []
    timer = threading.Timer(2.5, lambda: holder.append(_serve(preheated, 0.0, seen)))
    holder: list = []
    timer.start()
    try:
        assert viewer.wait_for_request() == INFO
    finally:
        timer.join()
        for loop in holder:
            loop.call_soon_threadsafe(loop.stop)
    assert seen == [KERNEL]


def test_gives_up_after_the_retry_window(preheated):
    started = time.monotonic()
    assert viewer.wait_for_request(retry_for_s=2.0) is None  # nothing listens: run on without the request
    assert 2.0 <= time.monotonic() - started < 10
    assert "HTTP_X_FORWARDED_USER" not in os.environ
