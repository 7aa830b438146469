"""A small HTTP/1.1 client for webhook POSTs: keep-alive connections per origin, responses streamed.

The emulator's outgoing traffic is one shape only: a POST with a known body to a webhook URL, whose answer
is read as it arrives (voice replies stream NDJSON) up to a size bound. A general client (httpx) spends
most of a webhook turn's CPU on machinery this never uses (URL and header models, auth and redirect
hooks, an async-library shim) and assigns queued requests to pooled connections in time quadratic in the
queue. This one writes the request itself, parses the answer with httptools (the C parser uvicorn
uses, a dependency of uvicorn[standard]) on an asyncio protocol, and keeps idle connections per origin
with a FIFO of waiters when an origin is at its connection limit, so every step is O(1). An idle connection
is reused for `IDLE_SECONDS` only, less than the keep-alive timeouts targets close idle connections after.

What it does not do, on purpose: follow redirects (a 3xx is the webhook's answer), decode content
encodings (it asks for none), use proxies from the environment, retry. Timeouts are the caller's
(`asyncio.timeout` around the exchange); a cancelled or unfinished exchange closes its connection.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import httptools

MAX_CONNECTIONS_PER_ORIGIN = 256  # a bound, not a target: concurrency is decided by whoever sends
MAX_IDLE_PER_ORIGIN = 64
# An idle connection is reused for this long only. A target closes its idle connections after a keep-alive timeout
# of its own (gunicorn 2 s, uvicorn and Node.js 5 s), and a request written while that close is on its way is lost:
# the target "closed the connection before its answer was complete" though it was healthy. Under the shortest of
# those timeouts the race does not arise; a new loopback or LAN connection costs far less than a lost turn.
IDLE_SECONDS = 1.5


class ConnectionClosed(ConnectionError):
    """The target closed the connection before its answer was complete."""


class ProtocolError(Exception):
    """The target's answer was not HTTP/1.1 this client understands."""


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def split(url: str) -> tuple[Origin, str]:
    """(origin, request target) of an http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProtocolError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Origin(parts.scheme, parts.hostname, port), target


class Headers(dict[str, str]):
    """Response headers, names lower-cased (the last of repeated headers wins)."""


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection and the response being read on it."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0  # when it last went back to its pool (the client's clock)
        self.parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers = Headers()
        self._name = b""
        self.chunks: collections.deque[bytes] = collections.deque()
        self.complete = False
        self.keep_alive = False
        self.error: BaseException | None = None
        self.head: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.wakeup: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError("the webhook answered with a protocol upgrade"))
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"the webhook's answer is not valid HTTP ({exc})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head.done() and not self.complete and self._until_close():
            self.complete = True  # a body without length or chunks ends with the connection
            self._wake()
        elif not self.complete:
            self._fail(ConnectionClosed("the webhook closed the connection before its answer was complete"
                                        + (f" ({exc})" if exc else "")))

    # -- httptools callbacks ------------------------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()  # asked here: after the body the parser has moved on
        if not self.head.done():
            self.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # -- the exchange -------------------------------------------------------------------------------------------

    def _until_close(self) -> bool:
        return "content-length" not in self.headers and "chunked" not in self.headers.get("transfer-encoding", "")

    def _wake(self) -> None:
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        if not self.head.done():
            self.head.set_exception(error)
            self.head.exception()  # retrieved: whoever waits re-raises it from `error`
        self._wake()
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    @property
    def reusable(self) -> bool:
        return not self.closed and self.complete and self.error is None and self.keep_alive

    async def chunk(self) -> bytes | None:
        """The next piece of the body; None once it is complete."""
        while True:
            if self.chunks:
                return self.chunks.popleft()
            if self.error is not None:
                raise self.error
            if self.complete:
                return None
            self.wakeup = asyncio.get_running_loop().create_future()
            await self.wakeup


class Response:
    """What `Client.stream` yields: the status, the headers, and the body as it arrives."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self.status_code = connection.status
        self.headers = connection.headers

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._connection.chunk()
            if chunk is None:
                return
            yield chunk


class _Pool:
    """The connections to one origin: idle ones (most recent first) and the waiters for a free slot."""

    def __init__(self) -> None:
        self.idle: list[_Connection] = []
        self.open = 0
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()


class Client:
    def __init__(self, max_per_origin: int = MAX_CONNECTIONS_PER_ORIGIN, idle_seconds: float = IDLE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_per_origin = max_per_origin
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._pools: dict[Origin, _Pool] = {}
        self._ssl: ssl.SSLContext | None = None
        self._split: dict[str, tuple[Origin, str]] = {}

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            try:
                import certifi  # the CA bundle httpx uses, where it is installed

                self._ssl = ssl.create_default_context(cafile=certifi.where())
            except ImportError:  # pragma: no cover
                self._ssl = ssl.create_default_context()
        return self._ssl

    def _origin(self, url: str) -> tuple[Origin, str]:
        found = self._split.get(url)
        if found is None:
            found = split(url)
            if len(self._split) > 10_000:
                self._split.clear()
            self._split[url] = found
        return found

    async def _acquire(self, origin: Origin) -> _Connection:
        """An idle connection to the origin (not idle for too long), else a new one once the origin is under its
        limit."""
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool()
        while True:
            now = self._clock()
            while pool.idle:
                connection = pool.idle.pop()
                if not connection.closed and now - connection.idle_since < self.idle_seconds:
                    connection._reset()
                    return connection
                connection.close()  # closed by the target, or idle so long that the target may be closing it
                pool.open -= 1
            if pool.open < self.max_per_origin:
                break
            waiter = asyncio.get_running_loop().create_future()
            pool.waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._next(pool)  # it was handed a slot it will not use: pass it on
                raise
        pool.open += 1
        try:
            _, connection = await asyncio.get_running_loop().create_connection(
                lambda: _Connection(origin), origin.host, origin.port,
                ssl=self._tls() if origin.scheme == "https" else None,
                server_hostname=origin.host if origin.scheme == "https" else None)
        except BaseException:
            pool.open -= 1
            self._next(pool)
            raise
        return connection

    def _next(self, pool: _Pool) -> None:
        while pool.waiters:
            waiter = pool.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release(self, connection: _Connection) -> None:
        pool = self._pools[connection.origin]
        if connection.reusable and len(pool.idle) < MAX_IDLE_PER_ORIGIN:
            connection.idle_since = self._clock()
            pool.idle.append(connection)
        else:
            connection.close()
            pool.open -= 1
        self._next(pool)

    @asynccontextmanager
    async def stream(self, url: str, body: bytes, headers: dict[str, str], method: str = "POST",
                     params: dict[str, str] | None = None) -> AsyncIterator[Response]:
        """Send `body` to `url` (a GET sends none; `params` join the URL's query) and yield the response once its
        headers arrived; leaving the block before the body is complete closes the connection."""
        origin, target = self._origin(url)
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        if method == "GET":
            body, length = b"", ""
        else:
            length = f"Content-Length: {len(body)}\r\n"
        connection = await self._acquire(origin)
        try:
            lines = [f"{method} {target} HTTP/1.1\r\nHost: {origin.host_header}\r\n{length}"
                     "Accept: */*\r\nAccept-Encoding: identity\r\n"]
            lines.extend(f"{name}: {value}\r\n" for name, value in headers.items())
            lines.append("\r\n")
            assert connection.transport is not None
            connection.transport.write("".join(lines).encode("latin-1") + body)
            await connection.head
            yield Response(connection)
        except BaseException:
            connection.close()
            raise
        finally:
            self._release(connection)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            for connection in pool.idle:
                connection.close()
            pool.idle.clear()


def describe(exc: BaseException) -> str | None:
    """This client's own failures in the words the delivery log uses (None for anything else)."""
    if isinstance(exc, ConnectionClosed):
        return f"The webhook connection failed: {exc}."
    if isinstance(exc, ProtocolError):
        return f"The webhook connection failed: {exc}."
    return None

