"""A bug in a handler is a 500 with a sentence, and the client's keep-alive connection survives; a text
PostgreSQL refuses as too long for its column (a length rule missing) is a 400 that says so."""

from __future__ import annotations

import threading

import httpx
import uvicorn
from helpers import wait_until
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.app import CRASH, TOO_LONG_DETAIL, CrashGuard
from emulator.testing import free_port


async def boom(_request: Request) -> Response:
    raise RuntimeError("a bug")


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate  # as SQLAlchemy's asyncpg adapter names the server's error code


async def too_long(_request: Request) -> Response:
    raise DBAPIError("INSERT INTO t VALUES ($1)", ("x" * 300,), _DriverError("22001"))


async def other_database_error(_request: Request) -> Response:
    raise DBAPIError("INSERT INTO t VALUES ($1)", ("x",), _DriverError("23505"))


async def fine(_request: Request) -> Response:
    return JSONResponse({"ok": True})


def test_unhandled_error_is_a_500_detail_and_the_connection_is_reused() -> None:
    app = Starlette(routes=[Route("/boom", boom), Route("/fine", fine), Route("/too-long", too_long),
                            Route("/other", other_database_error)], middleware=[Middleware(CrashGuard)])
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
            refused = client.get("/too-long")
            assert refused.status_code == 400 and refused.json() == {"detail": TOO_LONG_DETAIL}
            other = client.get("/other")
            assert other.status_code == 500 and other.json() == {"detail": CRASH}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
