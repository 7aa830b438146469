"""A real local HTTP webhook receiver for tests and benchmarks.

`Receiver` runs a `ThreadingHTTPServer` on a free loopback port in a background thread. Every request is
recorded (path, headers, raw body bytes, arrival time) and every one that carries a webhook signature is
verified with the official SDK's `agentphone.construct_event` against the secret registered for its path,
so a signing mistake in the emulator is a test failure (`assert_verified()`, called when the `with` block
ends cleanly).

What each path answers is set with `reply(path, *replies)`: a status code, body, content type, a delay
before answering, a slow or endless streamed body, a huge body, or closing the connection without an
answer. Several replies are used in turn, the last one repeating.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from agentphone import WebhookEvent, construct_event

# A streamed body never runs longer than this, whatever the reader does.
STREAM_CAP_SECONDS = 60.0


@dataclass(frozen=True)
class Reply:
    """How the receiver answers one request."""

    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    content_type: str = "application/json"
    delay: float = 0.0  # seconds before anything is sent back
    close: bool = False  # read the request, then drop the connection without an answer
    stream_chunk: bytes = b""  # when set, the body is these bytes written every `stream_interval`...
    stream_interval: float = 0.0
    stream_count: int | None = None  # ...this many times, or for ever (until the reader gives up) when None
    huge: int = 0  # when set, a body of this many bytes (declared in Content-Length)

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


OK = Reply(200, {"ok": True})


def status(code: int, body: bytes | str | dict[str, Any] = b"") -> Reply:
    return Reply(code, body)


def delayed(seconds: float, code: int = 200) -> Reply:
    return Reply(code, {"ok": True}, delay=seconds)


def endless(chunk: bytes = b"x" * 4096, interval: float = 0.005) -> Reply:
    return Reply(200, stream_chunk=chunk, stream_interval=interval, content_type="text/plain")


def dribble(interval: float = 0.2) -> Reply:
    """One byte at a time, slowly, for ever: only a timeout ends it."""
    return Reply(200, stream_chunk=b".", stream_interval=interval, content_type="text/plain")


def huge(size: int = 10 * 1024 * 1024) -> Reply:
    return Reply(200, huge=size, content_type="text/plain")


CLOSE = Reply(close=True)


@dataclass
class Delivery:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    arrived: float  # time.perf_counter() when the request (headers and body) had been read
    arrived_wall: float  # time.time() at the same moment
    event: WebhookEvent | None = None  # the SDK's parse of the body, when verification passed
    error: str | None = None  # why verification failed

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str | None:
        return self.headers.get("x-webhook-id")

    @property
    def event_name(self) -> str | None:
        return self.headers.get("x-webhook-event")


@dataclass
class _Route:
    replies: list[Reply] = field(default_factory=lambda: [OK])
    served: int = 0

    def next(self) -> Reply:
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    on_bug: Callable[[str], None] | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Readers that hang up on a streamed or huge body are expected; anything else is a receiver bug."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.on_bug is None:
            return
        self.on_bug("".join(traceback.format_exception(exc)))


class Receiver:
    """A webhook target on 127.0.0.1; use as a context manager (`with Receiver() as rx:`)."""

    def __init__(self, secret: str | None = None, verify: bool = True) -> None:
        self.verify = verify
        self.default_secret = secret
        self.secrets: dict[str, str] = {}
        self.deliveries: list[Delivery] = []
        self.failures: list[str] = []
        self._routes: dict[str, _Route] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.on_bug = self._bug
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="webhook-receiver", daemon=True)

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop()
        if exc_type is None:
            self.assert_verified()

    # --- configuration ---------------------------------------------------------------------------

    def expect(self, path: str, secret: str) -> None:
        """Verify deliveries to `path` with this webhook secret (the one the set call returned)."""
        with self._cond:
            self.secrets[path] = secret

    def reply(self, path: str, *replies: Reply) -> None:
        """Answer requests to `path` with these replies in turn (the last one repeats)."""
        with self._cond:
            self._routes[path] = _Route(list(replies) or [OK])

    # --- what arrived ----------------------------------------------------------------------------

    def received(self, path: str | None = None, where: Callable[[Delivery], bool] | None = None) -> list[Delivery]:
        with self._cond:
            return [d for d in self.deliveries if (path is None or d.path == path) and (where is None or where(d))]

    def wait_for(self, count: int, timeout: float = 10.0, path: str | None = None,
                 where: Callable[[Delivery], bool] | None = None) -> list[Delivery]:
        """Block until at least `count` matching requests arrived; returns them (oldest first)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [d for d in self.deliveries
                         if (path is None or d.path == path) and (where is None or where(d))]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} webhook request(s){f' on {path}' if path else ''} within {timeout} s, "
                        f"got {len(found)}; all so far: {[(d.path, d.event_name) for d in self.deliveries]}"
                    )
                self._cond.wait(left)

    def wait_event(self, event: str, message_id: str | None = None, timeout: float = 10.0,
                   path: str | None = None) -> Delivery:
        """The first request carrying `event` (for message `message_id`, when given)."""
        def match(d: Delivery) -> bool:
            if d.event_name != event:
                return False
            return message_id is None or _data(d).get("messageId") == message_id
        return self.wait_for(1, timeout, path, match)[0]

    def assert_verified(self) -> None:
        with self._cond:
            failures = list(self.failures)
        assert not failures, "webhook verification failed:\n" + "\n".join(failures)

    # --- the server side -------------------------------------------------------------------------

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        arrived, arrived_wall = time.perf_counter(), time.time()
        delivery = Delivery(path, headers, body, arrived, arrived_wall)
        if self.verify:
            self._check(delivery)
        with self._cond:
            self.deliveries.append(delivery)
            if delivery.error is not None:
                self.failures.append(f"{path} [{headers.get('x-webhook-id')}]: {delivery.error}")
            self._cond.notify_all()

    def _bug(self, text: str) -> None:
        with self._cond:
            self.failures.append(f"the receiver itself crashed: {text}")

    def _check(self, delivery: Delivery) -> None:
        headers = delivery.headers
        secret = self.secrets.get(delivery.path, self.default_secret)
        if secret is None:
            delivery.error = "no secret registered for this path (call expect(path, secret))"
            return
        missing = [name for name in ("x-webhook-signature", "x-webhook-timestamp", "x-webhook-id", "x-webhook-event")
                   if not headers.get(name)]
        if missing:
            delivery.error = f"missing header(s): {', '.join(missing)}"
            return
        try:
            event = construct_event(delivery.body, headers["x-webhook-signature"], secret,
                                    headers["x-webhook-timestamp"])
        except Exception as exc:  # WebhookVerificationError, or a body the SDK cannot parse
            delivery.error = f"construct_event refused the delivery: {type(exc).__name__}: {exc}"
            return
        if event.event != headers["x-webhook-event"]:
            delivery.error = f"X-Webhook-Event {headers['x-webhook-event']!r} != body event {event.event!r}"
            return
        if not headers.get("content-type", "").startswith("application/json"):
            delivery.error = f"Content-Type is {headers.get('content-type')!r}, not application/json"
            return
        delivery.event = event

    def _route(self, path: str) -> Reply:
        with self._cond:
            route = self._routes.get(path)
            return route.next() if route is not None else OK

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._serve(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self._serve(self.rfile.read(length) if length else b"")

            def _serve(self, body: bytes) -> None:
                path = self.path
                headers = {name.lower(): value for name, value in self.headers.items()}
                reply = receiver._route(path)
                receiver._record(path, headers, body)
                if reply.delay and receiver._stop.wait(reply.delay):
                    self.close_connection = True
                    return
                if reply.close:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if reply.stream_chunk:
                    self._stream(reply)
                elif reply.huge:
                    self._huge(reply)
                else:
                    payload = reply.payload()
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def _stream(self, reply: Reply) -> None:
                self.close_connection = True
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Connection", "close")  # the body ends when the connection does
                self.end_headers()
                self.wfile.flush()
                sent, deadline = 0, time.monotonic() + STREAM_CAP_SECONDS
                while reply.stream_count is None or sent < reply.stream_count:
                    if time.monotonic() > deadline or receiver._stop.is_set():
                        return
                    try:
                        self.wfile.write(reply.stream_chunk)
                        self.wfile.flush()
                    except OSError:  # the reader gave up
                        return
                    sent += 1
                    if reply.stream_interval and receiver._stop.wait(reply.stream_interval):
                        return

            def _huge(self, reply: Reply) -> None:
                self.close_connection = True
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(reply.huge))
                self.end_headers()
                block = b"y" * 65536
                left = reply.huge
                while left > 0 and not receiver._stop.is_set():
                    try:
                        self.wfile.write(block[:left])
                    except OSError:
                        return
                    left -= min(left, len(block))

        return Handler


def _data(delivery: Delivery) -> dict[str, Any]:
    try:
        body = json.loads(delivery.body)
    except ValueError:
        return {}
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


def message_ids(deliveries: Iterable[Delivery]) -> list[str | None]:
    return [_data(d).get("messageId") for d in deliveries]


# --- driving the emulator around a receiver --------------------------------------------------------

SENDER = "+14155550123"


def make_agent(api: httpx.Client, name: str = "Webhook agent") -> dict[str, Any]:
    resp = api.post("/v1/agents", json={"name": name})
    assert resp.status_code == 200, resp.text
    return resp.json()


def buy_number(api: httpx.Client, agent_id: str | None = None) -> dict[str, Any]:
    resp = api.post("/v1/numbers", json={"agentId": agent_id} if agent_id else {})
    assert resp.status_code == 200, resp.text
    return resp.json()


def upgrade(control: httpx.Client, key: str, plan: str = "scale") -> None:
    """Room for more than one number."""
    resp = control.patch(f"/_emulator/accounts/{key}", json={"plan": plan, "balanceCents": 1_000_000})
    assert resp.status_code == 200, resp.text


def set_webhook(api: httpx.Client, rx: Receiver, path: str, agent_id: str | None = None,
                **fields: Any) -> dict[str, Any]:
    """Point the project's (or an agent's) webhook at `rx` + `path`; the receiver verifies with its secret."""
    route = f"/v1/agents/{agent_id}/webhook" if agent_id else "/v1/webhooks"
    resp = api.post(route, json={"url": rx.url(path), **fields})
    assert resp.status_code == 200, resp.text
    hook = resp.json()
    rx.expect(path, hook["secret"])
    return hook


def inbound(control: httpx.Client, to: str, body: str, sender: str = SENDER) -> dict[str, Any]:
    """An SMS from the outside world (POST /_emulator/sms); returns the control API's answer."""
    resp = control.post("/_emulator/sms", json={"from": sender, "to": to, "body": body})
    assert resp.status_code == 200, resp.text
    return resp.json()


def delivery_log(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    resp = api.get("/v1/webhooks/deliveries", params={"limit": 100, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def wait_log(api: httpx.Client, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0,
             **params: Any) -> list[dict[str, Any]]:
    """Poll the delivery log until `done(items)` holds; returns the items (newest first)."""
    deadline = time.monotonic() + timeout
    while True:
        items = delivery_log(api, **params)
        if done(items):
            return items
        if time.monotonic() > deadline:
            raise AssertionError(f"the delivery log did not settle within {timeout} s: {items}")
        time.sleep(0.02)


def settled(count: int, status: str | None = None) -> Callable[[list[dict[str, Any]]], bool]:
    """`count` deliveries, each attempted at least once (or in `status` when given)."""
    def done(items: list[dict[str, Any]]) -> bool:
        if len(items) != count:
            return False
        if status is not None:
            return all(i["status"] == status for i in items)
        return all(i["attemptCount"] >= 1 or i["status"] == "failed" for i in items)
    return done
