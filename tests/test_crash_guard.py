"""A bug in a handler is a 500 with a sentence, and the client's keep-alive connection survives."""

from __future__ import annotations

import threading

import httpx
import uvicorn
from helpers import wait_until
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.app import CRASH, CrashGuard
from emulator.testing import free_port


async def boom(_request: Request) -> Response:
    raise RuntimeError("a bug")


async def fine(_request: Request) -> Response:
    return JSONResponse({"ok": True})


def test_unhandled_error_is_a_500_detail_and_the_connection_is_reused() -> None:
    app = Starlette(routes=[Route("/boom", boom), Route("/fine", fine)], middleware=[Middleware(CrashGuard)])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), "the server start")
        assert server.started, "the server did not start"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            crashed = client.get("/boom")
            assert crashed.status_code == 500
            assert crashed.json() == {"detail": CRASH}
            again = client.get("/fine")  # the same keep-alive connection
            assert again.status_code == 200 and again.json() == {"ok": True}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
