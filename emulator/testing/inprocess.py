"""An emulator running in this process: `create_app(settings)` with its lifespan started, on an event
loop of its own in a background thread.

    with InProcessEmulator(serve=True) as emu:
        with emu.client("sk_test_me") as api:          # sync httpx.Client, no sockets (ASGI)
            api.post("/v1/agents", json={"name": "Bot"})
        AgentPhone(api_key="sk_test_me", base_url=emu.base_url)   # real HTTP (uvicorn, same app)

`client()` hands each request to the app through `httpx.ASGITransport` on the emulator's loop. That
transport reads a whole response before returning it, so an endless stream (the SSE transcript of a
live call) needs real HTTP: start with `serve=True` and use `base_url` (or `http_client()`), which
uvicorn serves on a free loopback port from the same loop and the same app.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import shutil
import socket
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.types import Message

from emulator.app import create_app
from emulator.config import Settings
from emulator.testing.control import ControlClient

T = TypeVar("T")

# Caps, not expectations: start-up takes milliseconds; a request as long as the app needs.
START_CAP_SECONDS = 120.0
REQUEST_CAP_SECONDS = 120.0
ADMIN_HEADER = "X-Emulator-Admin-Token"


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (uvicorn's own choice): with the stdlib loop on a non-main thread, each
    loopback HTTP request was measured to take about 40 ms instead of about 1 ms."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard] on Linux and macOS
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopTransport(httpx.BaseTransport):
    """A sync transport that runs each request through `httpx.ASGITransport` on another thread's loop."""

    def __init__(self, app: Starlette, loop: asyncio.AbstractEventLoop) -> None:
        self._asgi = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        self._loop = loop

    async def _send(self, request: httpx.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        response = await self._asgi.handle_async_request(request)
        body = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
        return response.status_code, response.headers.raw, body

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # the body as bytes, so the other thread can stream it again
        timeouts = request.extensions.get("timeout") or {}
        cap = timeouts.get("read") or REQUEST_CAP_SECONDS
        future = asyncio.run_coroutine_threadsafe(self._send(request), self._loop)
        try:
            status, headers, body = future.result(cap)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise httpx.ReadTimeout(f"the in-process app did not answer within {cap:g} s "
                                    "(an endless stream needs real HTTP: serve=True)", request=request) from None
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body), request=request)


class _Lifespan:
    """Drives the app's ASGI lifespan (start-up before the first request, shutdown at stop)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _send(self, message: Message) -> None:
        await self.outbox.put(message)

    async def _next(self) -> Message:
        assert self.task is not None
        reply = asyncio.ensure_future(self.outbox.get())
        done, _ = await asyncio.wait({reply, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if reply in done:
            return reply.result()
        reply.cancel()
        self.task.result()  # raises what the app raised
        raise RuntimeError("the app's lifespan ended without answering")

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self._send))
        await self.inbox.put({"type": "lifespan.startup"})
        message = await self._next()
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the emulator did not start: {message.get('message') or message['type']}")

    async def shutdown(self) -> None:
        if self.task is None or self.task.done():
            return
        await self.inbox.put({"type": "lifespan.shutdown"})
        message = await self._next()
        await self.task
        if message["type"] != "lifespan.shutdown.complete":
            raise RuntimeError(f"the emulator did not shut down cleanly: {message.get('message')}")


class InProcessEmulator:
    """`create_app(settings)` on a loop thread of this process; `serve=True` adds uvicorn on loopback.

    Without `settings`, the app gets a SQLite file in a temporary directory of its own (removed at
    `stop()`). With `serve=True`, uvicorn listens on 127.0.0.1 and `settings.port` becomes its port
    (`port=0`: a free one), so the links the emulator returns (recordingUrl) point at it.
    """

    def __init__(self, settings: Settings | None = None, *, serve: bool = False, port: int = 0) -> None:
        self._own_dir: str | None = None
        if settings is None:
            self._own_dir = tempfile.mkdtemp(prefix="emulator-inprocess-")
            settings = Settings(db=str(Path(self._own_dir) / "emulator.db"))
        self.settings = settings
        self.serve = serve
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lifespan: _Lifespan | None = None
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._transport: LoopTransport | None = None
        self.app: Starlette | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> InProcessEmulator:
        sock = None
        if self.serve:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self._port))
            self.settings.port = sock.getsockname()[1]
        loop = _new_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="emulator-loop", daemon=True)
        self._thread.start()
        try:
            self.app = create_app(self.settings)
            self._transport = LoopTransport(self.app, loop)
            self.run(self._start(sock), timeout=START_CAP_SECONDS)
        except BaseException:
            self.stop()
            raise
        return self

    async def _start(self, sock: socket.socket | None) -> None:
        assert self.app is not None
        self._lifespan = _Lifespan(self.app)
        await self._lifespan.startup()
        if sock is None:
            return
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False,
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serving.done():
                self._serving.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.005)

    async def _stop(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._serving, timeout=10)
            if not self._serving.done():
                self._server.force_exit = True
                await asyncio.wait({self._serving}, timeout=5)
        if self._lifespan is not None:
            await self._lifespan.shutdown()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            try:
                if self.app is not None:
                    self.run(self._stop(), timeout=60)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=30)
                if not thread.is_alive():
                    loop.close()
        self._loop = self._thread = None
        if self._own_dir:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    def __enter__(self) -> InProcessEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- reaching it -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Where uvicorn serves it (with `serve=True`, whatever `public_url` says); its own URL otherwise."""
        if self.serve:
            return f"http://127.0.0.1:{self.settings.port}"
        return self.settings.base_url

    @property
    def db(self) -> str:
        return self.settings.db

    @property
    def state(self) -> Any:
        """The running emulator's state object (`app.state.emulator`)."""
        assert self.app is not None, "start() the emulator first"
        return self.app.state.emulator

    def transport(self) -> LoopTransport:
        assert self._transport is not None, "start() the emulator first"
        return self._transport

    def _headers(self, key: str | None, headers: dict[str, str] | None) -> dict[str, str]:
        out = {"Authorization": f"Bearer {key}"} if key else {}
        return {**out, **(headers or {})}

    def client(self, key: str | None = None, *, headers: dict[str, str] | None = None,
               timeout: float = 30.0) -> httpx.Client:
        """A sync client that calls the app directly (no sockets); `key` becomes `Authorization: Bearer`."""
        return httpx.Client(base_url=self.base_url, headers=self._headers(key, headers), timeout=timeout,
                            transport=self.transport())

    def http_client(self, key: str | None = None, *, headers: dict[str, str] | None = None,
                    timeout: float = 30.0) -> httpx.Client:
        """A client over real HTTP to the uvicorn listener (`serve=True`)."""
        assert self.serve, "real HTTP needs InProcessEmulator(serve=True)"
        return httpx.Client(base_url=self.base_url, headers=self._headers(key, headers), timeout=timeout)

    def control(self, admin_token: str | None = None) -> ControlClient:
        """A control-API client that calls the app directly."""
        token = admin_token if admin_token is not None else self.settings.admin_token
        return ControlClient(self.base_url, token, transport=self.transport())

    def run(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the emulator's loop and return its result (for tests that need its state)."""
        assert self._loop is not None, "start() the emulator first"
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)
