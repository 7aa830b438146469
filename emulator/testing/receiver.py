"""A local webhook receiver for tests: records what arrives, checks signatures, answers as told.

    with WebhookReceiver(secret="whsec_...") as hook:
        hook.reply({"text": "Hello!"})                             # JSON for every request
        hook.reply_ndjson([{"text": "One moment", "interim": True}, {"text": "Done."}], delay=0.1)
        hook.when("What are your hours?", say("Nine to five."))     # a voice turn, by what the caller said
        ...
        hook.wait_for(2)
        assert hook.requests[0].event["event"] == "agent.message"

A threaded HTTP server on a free loopback port. Every request is kept (`requests`, in arrival order)
with its path, headers, raw body and arrival time. When a secret is known for the request's path
(`secret=`, or `expect(path, secret)`), its signature is verified: with the official SDK's
`agentphone.construct_event` when `agentphone` is installed (the parsed event is `Received.verified`),
else with the same HMAC-SHA256 over `"{timestamp}.{body}"`. A request that fails is listed in
`bad_signatures` and `failures`. With `strict=True` every request must verify (a path without a
secret fails too), a failing one is answered 401, and leaving the `with` block cleanly asserts that
none failed.

What a request is answered, first rule that applies:
  1. `route(path, *replies)`: requests to that path, the replies in turn (the last one repeats);
  2. a voice turn (`agent.message` on the voice channel): `when(transcript, *replies)` by the
     caller's words, `at(index, reply)` by the turn's index within its call, then
     `answer_turns_with(reply_or_fn)`;
  3. `on(event, reply)`: requests carrying that event (`call.started`, `call.ended`, ...);
  4. `answer_with(reply_or_fn)` (also set by `reply(...)` and `reply_ndjson(...)`);
  5. `default` (200 "ok" unless given).
A `Reply` answers at once or after a delay (cut short if the sender hangs up), streams NDJSON lines
with gaps, drops the connection part-way, closes without answering, trickles or streams a body
for ever, declares a huge body, or waits until the test releases it (`held`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
import json
import select
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

try:  # the official SDK's verification, when it is installed
    from agentphone import construct_event as _construct_event  # type: ignore[import-untyped,unused-ignore]
except ImportError:  # pragma: no cover - exercised only without the SDK
    _construct_event = None

NDJSON = "application/x-ndjson"
# A streamed body never runs longer than this, whatever the reader does.
STREAM_CAP_SECONDS = 60.0
# How long `wait_for` waits by default: a cap for something that never comes, not an expectation.
WAIT_CAP_SECONDS = 30.0
REQUIRED_HEADERS = ("x-webhook-signature", "x-webhook-timestamp", "x-webhook-id", "x-webhook-event")


# --- answers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """How the receiver answers one request."""

    status: int = 200
    body: bytes = b"ok"
    content_type: str = "text/plain"
    delay: float = 0.0  # seconds before anything is sent (cut short when the sender hangs up)
    hold: threading.Event | None = None  # answer only once this is set (or the sender hangs up)
    chunks: tuple[bytes, ...] = ()  # a chunked body: these pieces, `gap` seconds apart ...
    gap: float = 0.0
    drop: bool = False  # ... then close the connection without finishing the body
    close: bool = False  # read the request, then close the connection without an answer
    stream: bytes = b""  # a body without a length: these bytes every `interval` seconds ...
    interval: float = 0.0
    count: int | None = None  # ... this many times, or until the reader gives up (None)
    size: int = 0  # a body of this many bytes, declared in Content-Length and then sent


Answer = Reply  # the name `answer_with` callbacks have used
Responder = Callable[["Received"], Reply]


def _bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def json_reply(value: Any, status: int = 200, delay: float = 0.0) -> Reply:
    """Any JSON value (object, string, array, number, null) as the whole body."""
    return Reply(status, json.dumps(value).encode(), "application/json", delay=delay)


def status(code: int, body: bytes | str | dict[str, Any] = b"") -> Reply:
    """Answer `code` with `body` (bytes and text as they are, a dict as JSON)."""
    return Reply(code, _bytes(body), "application/json")


OK = json_reply({"ok": True})
CLOSE = Reply(close=True)


def delayed(seconds: float, code: int = 200) -> Reply:
    return Reply(code, b'{"ok": true}', "application/json", delay=seconds)


def endless(chunk: bytes = b"x" * 4096, interval: float = 0.005) -> Reply:
    return Reply(200, stream=chunk, interval=interval)


def dribble(interval: float = 0.2) -> Reply:
    """One byte at a time, slowly, for ever: only a timeout ends it."""
    return Reply(200, stream=b".", interval=interval)


def huge(size: int = 10 * 1024 * 1024) -> Reply:
    return Reply(200, size=size)


def say(text: str, **fields: Any) -> Reply:
    """A voice turn's plain answer: `{"text": text, **fields}`."""
    return json_reply({"text": text, **fields})


def _line(line: Any) -> bytes:
    if isinstance(line, bytes):
        return line if line.endswith(b"\n") else line + b"\n"
    if isinstance(line, str):
        return (line if line.endswith("\n") else line + "\n").encode()
    return json.dumps(line).encode() + b"\n"


def ndjson(*lines: Any, gap: float = 0.0, delay: float = 0.0) -> Reply:
    """NDJSON lines (dicts are JSON-encoded, str and bytes sent as they are), `gap` seconds apart."""
    return Reply(200, b"", NDJSON, delay=delay, chunks=tuple(_line(line) for line in lines), gap=gap)


def streamed(*texts: str, gap: float = 0.0, **final: Any) -> Reply:
    """Interim chunks for every text but the last, then the final chunk (with `final` extra fields)."""
    *interim, last = texts
    return ndjson(*({"text": t, "interim": True} for t in interim), {"text": last, **final}, gap=gap)


def http_error(code: int = 500, body: Any = None) -> Reply:
    return json_reply({"detail": "agent exploded"} if body is None else body, status=code)


def dropped(*lines: Any) -> Reply:
    """Start an NDJSON answer, send these lines, then close the connection mid-body."""
    return dataclasses.replace(ndjson(*lines), drop=True)


def slow(seconds: float, reply: Reply | None = None) -> Reply:
    """Answer `reply` (default: a short text) only after `seconds`."""
    return dataclasses.replace(reply or say("Sorry for the wait."), delay=seconds)


def held(gate: threading.Event, reply: Reply | None = None) -> Reply:
    """Answer `reply` (default: a short text) only once the test sets `gate`."""
    return dataclasses.replace(reply or say("Sorry for the wait."), hold=gate)


def echo(received: Received) -> Reply:
    """A voice agent that repeats what it heard: `You said: <transcript>` (or the digits pressed)."""
    heard = received.data.get("transcript") or f"digits {received.data.get('digits', '')}".strip()
    return say(f"You said: {heard}")


# --- what arrived --------------------------------------------------------------------------------


@dataclass
class Received:
    """One request the receiver got."""

    seq: int  # arrival order across the receiver
    path: str
    headers: httpx.Headers  # case-insensitive
    body: bytes
    at: float  # time.time() once the request had been read
    arrived: float  # time.perf_counter() at the same moment (for latencies)
    verified: Any = None  # the SDK's parsed event (`agentphone.WebhookEvent`), when verification passed
    error: str | None = None  # why verification failed
    abandoned: bool = False  # the sender hung up while the receiver was still holding its answer back

    @cached_property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def event(self) -> dict[str, Any]:
        """The body as a JSON object (`{}` when it is not one)."""
        return self.json if isinstance(self.json, dict) else {}

    @property
    def name(self) -> str | None:
        """The event name (`agent.message`, `call.ended`, ...)."""
        return self.headers.get("x-webhook-event") or self.event.get("event")

    @property
    def data(self) -> dict[str, Any]:
        data = self.event.get("data")
        return data if isinstance(data, dict) else {}

    @property
    def webhook_id(self) -> str | None:
        value: str | None = self.headers.get("x-webhook-id")
        return value

    @property
    def call_id(self) -> str | None:
        return self.data.get("callId")

    @property
    def message_id(self) -> str | None:
        return self.data.get("messageId")

    @property
    def transcript(self) -> str | None:
        return self.data.get("transcript")

    @property
    def is_voice_turn(self) -> bool:
        return self.event.get("event") == "agent.message" and self.event.get("channel") == "voice"


def message_ids(received: Iterable[Received]) -> list[str | None]:
    return [r.message_id for r in received]


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 of `"{timestamp}.{body}"`: how AgentPhone signs a webhook."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@dataclass
class _Sequence:
    replies: list[Reply]
    used: int = 0

    def next(self) -> Reply:
        reply = self.replies[min(self.used, len(self.replies) - 1)]
        self.used += 1
        return reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    on_bug: Callable[[str], None] | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Senders that hang up on a streamed or huge body are expected; anything else is a receiver bug."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.on_bug is None or exc is None:
            return
        self.on_bug("".join(traceback.format_exception(exc)))


class WebhookReceiver:
    """A webhook target on 127.0.0.1; use it as a context manager (`with WebhookReceiver() as hook:`)."""

    def __init__(self, secret: str | None = None, *, strict: bool = False, path: str = "/webhook",
                 host: str = "127.0.0.1", default: Reply | None = None) -> None:
        self.secret = secret  # verifies every path without a secret of its own
        self.strict = strict
        self.path = path
        self.host = host
        self.default = default or Reply()
        self.requests: list[Received] = []
        self.bad_signatures: list[Received] = []
        self.failures: list[str] = []
        self._secrets: dict[str, str] = {}
        self._routes: dict[str, _Sequence] = {}
        self._by_text: dict[str, _Sequence] = {}
        self._by_index: dict[int, Reply] = {}
        self._by_event: dict[str, Reply] = {}
        self._turns_answer: Reply | Responder | None = None
        self._answer: Reply | Responder | None = None
        self._turn_counts: dict[str, int] = {}
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._open: set[socket.socket] = set()
        self._server = _Server((host, 0), self._handler_class())
        self._server.on_bug = self._bug
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="webhook-receiver", daemon=True)

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The URL to register as the webhook (its `path`, `/webhook` unless given)."""
        return self.url_for(self.path)

    def url_for(self, path: str) -> str:
        """The URL of another path on this receiver (each path can verify and answer on its own)."""
        return f"http://{self.host}:{self.port}{path}"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        with self._cond:
            sockets = list(self._open)
        for sock in sockets:  # kept-alive connections end now, not when the sender gives up
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=10)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop()
        if exc_type is None and self.strict:
            self.assert_verified()

    # --- verification ----------------------------------------------------------------------------

    def expect(self, path: str, secret: str) -> None:
        """Verify requests to `path` with this webhook secret (the one the emulator returned)."""
        with self._cond:
            self._secrets[path] = secret

    def assert_verified(self) -> None:
        with self._cond:
            failures = list(self.failures)
        assert not failures, "webhook verification failed:\n" + "\n".join(failures)

    def _verify(self, received: Received) -> None:
        with self._cond:
            secret = self._secrets.get(received.path, self.secret)
        if secret is None:
            if self.strict:
                received.error = "no secret registered for this path (call expect(path, secret))"
            return
        headers = received.headers
        missing = [name for name in REQUIRED_HEADERS if not headers.get(name)]
        if missing:
            received.error = f"missing header(s): {', '.join(missing)}"
            return
        stamp, given = headers["x-webhook-timestamp"], headers["x-webhook-signature"]
        if _construct_event is None:
            if not hmac.compare_digest(given, signature(secret, stamp, received.body)):
                received.error = "the signature does not match the body and the secret"
                return
            event_name = received.event.get("event")
        else:
            try:
                received.verified = _construct_event(received.body, given, secret, stamp)
            except Exception as exc:  # WebhookVerificationError, or a body the SDK cannot parse
                received.error = f"construct_event refused the delivery: {type(exc).__name__}: {exc}"
                return
            event_name = received.verified.event
        if event_name != headers["x-webhook-event"]:
            received.error = f"X-Webhook-Event {headers['x-webhook-event']!r} != body event {event_name!r}"
        elif not headers.get("content-type", "").startswith("application/json"):
            received.error = f"Content-Type is {headers.get('content-type')!r}, not application/json"

    def _bug(self, text: str) -> None:
        with self._cond:
            self.failures.append(f"the receiver itself crashed: {text}")

    # --- programming the answers -----------------------------------------------------------------

    def reply(self, obj: Any = None, status: int = 200, delay: float = 0.0) -> None:
        """Answer every request with `obj` as JSON (or 200 "ok" when None), after `delay` seconds."""
        self.answer_with(json_reply(obj, status, delay) if obj is not None else Reply(status, delay=delay))

    def reply_ndjson(self, chunks: list[dict[str, Any]], delay: float = 0.0) -> None:
        """Answer every request with these NDJSON lines, `delay` seconds apart."""
        self.answer_with(ndjson(*chunks, gap=delay))

    def answer_with(self, answer: Reply | Responder) -> None:
        """Answer every request with this reply, or with what `answer(received)` returns."""
        with self._cond:
            self._answer = answer

    def route(self, path: str, *replies: Reply) -> None:
        """Answer requests to `path` with these replies in turn (the last one repeats)."""
        with self._cond:
            self._routes[path] = _Sequence(list(replies) or [OK])

    def when(self, transcript: str, *replies: Reply) -> WebhookReceiver:
        """Answer voice turns where the caller said exactly `transcript` (replies in turn, the last repeats)."""
        with self._cond:
            self._by_text[transcript] = _Sequence(list(replies))
        return self

    def at(self, index: int, reply: Reply) -> WebhookReceiver:
        """Answer the voice turn with this index within its call (0 = the call's first turn)."""
        with self._cond:
            self._by_index[index] = reply
        return self

    def answer_turns_with(self, answer: Reply | Responder) -> WebhookReceiver:
        """Answer voice turns that no `when`/`at` rule matched."""
        with self._cond:
            self._turns_answer = answer
        return self

    def on(self, event: str, reply: Reply) -> WebhookReceiver:
        """Answer requests carrying `event` (e.g. `call.started`) with `reply`."""
        with self._cond:
            self._by_event[event] = reply
        return self

    def _choose(self, received: Received) -> Reply:
        with self._cond:
            route = self._routes.get(received.path)
            if route is not None:
                return route.next()
            answer: Reply | Responder | None = None
            if received.is_voice_turn:
                call = str(received.call_id)
                index = self._turn_counts.get(call, 0)
                self._turn_counts[call] = index + 1
                rule = self._by_text.get(str(received.transcript))
                if rule is not None:
                    return rule.next()
                if index in self._by_index:
                    return self._by_index[index]
                answer = self._turns_answer
            if answer is None and received.name in self._by_event:
                return self._by_event[str(received.name)]
            answer = answer or self._answer or self.default
        return answer if isinstance(answer, Reply) else answer(received)

    # --- reading what arrived --------------------------------------------------------------------

    def received(self, path: str | None = None, where: Callable[[Received], bool] | None = None, *,
                 event: str | None = None, call_id: str | None = None) -> list[Received]:
        """The requests so far (oldest first) to `path`, carrying `event`, of `call_id`, matching `where`."""
        with self._cond:
            found = list(self.requests)
        return [r for r in found if (path is None or r.path == path) and (event is None or r.name == event)
                and (call_id is None or r.call_id == call_id) and (where is None or where(r))]

    def wait_for(self, count: int = 1, timeout: float = WAIT_CAP_SECONDS, *, path: str | None = None,
                 where: Callable[[Received], bool] | None = None, event: str | None = None,
                 call_id: str | None = None) -> list[Received]:
        """Block until at least `count` matching requests arrived; returns them (oldest first)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self.received(path, where, event=event, call_id=call_id)
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} webhook request(s){f' on {path}' if path else ''}"
                        f"{f' carrying {event}' if event else ''} within {timeout:g} s, got {len(found)}; "
                        f"all so far: {[(r.path, r.name) for r in self.requests]}")
                self._cond.wait(left)

    def wait_event(self, event: str, message_id: str | None = None, *, call_id: str | None = None,
                   timeout: float = WAIT_CAP_SECONDS, path: str | None = None) -> Received:
        """The first request carrying `event` (for message `message_id`, or of call `call_id`, when given)."""
        def match(r: Received) -> bool:
            return message_id is None or r.message_id == message_id
        return self.wait_for(1, timeout, path=path, where=match, event=event, call_id=call_id)[0]

    def events(self, name: str | None = None, call_id: str | None = None) -> list[dict[str, Any]]:
        """The parsed bodies of the requests so far (carrying `name`, of `call_id`, when given)."""
        return [r.event for r in self.received(event=name, call_id=call_id)]

    def messages(self, call_id: str | None = None) -> list[Received]:
        """The voice turns (`agent.message` on the voice channel) so far, of one call when given."""
        return self.received(event="agent.message", call_id=call_id, where=lambda r: r.is_voice_turn)

    # --- the server side -------------------------------------------------------------------------

    def _record(self, path: str, headers: httpx.Headers, body: bytes) -> Received:
        received = Received(next(self._seq), path, headers, body, time.time(), time.perf_counter())
        self._verify(received)
        with self._cond:
            self.requests.append(received)
            if received.error is not None:
                self.bad_signatures.append(received)
                self.failures.append(f"{path} [{received.webhook_id}]: {received.error}")
            self._cond.notify_all()
        return received

    def _abandoned(self, received: Received) -> None:
        with self._cond:
            received.abandoned = True
            self._cond.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(_Handler):
            owner = receiver

        return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: WebhookReceiver

    def setup(self) -> None:
        super().setup()
        with self.owner._cond:
            self.owner._open.add(self.connection)

    def finish(self) -> None:
        with self.owner._cond:
            self.owner._open.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve(b"")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        self._serve(self.rfile.read(length) if length else b"")

    def _serve(self, body: bytes) -> None:
        owner = self.owner
        received = owner._record(self.path, httpx.Headers(list(self.headers.items())), body)
        if owner.strict and received.error is not None:
            reply = Reply(401, b"bad signature")
        else:
            reply = owner._choose(received)
        if (reply.delay and self._pause(reply.delay)) or (reply.hold and self._pause(None, reply.hold)):
            self.close_connection = True  # the sender hung up, or the receiver is stopping
            if not owner._stop.is_set():
                owner._abandoned(received)
            return
        if reply.close:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif reply.chunks or reply.drop:
            self._chunked(reply)
        elif reply.stream:
            self._stream(reply)
        elif reply.size:
            self._sized(reply)
        else:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

    def _pause(self, seconds: float | None, gate: threading.Event | None = None) -> bool:
        """Wait `seconds` (or until `gate` is set); True when the sender hung up or the receiver stopped."""
        deadline = None if seconds is None else time.monotonic() + seconds
        stop = self.owner._stop
        while not stop.is_set():
            if gate is not None and gate.is_set():
                return False
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                return False
            readable, _, _ = select.select([self.connection], [], [], left)
            if readable:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return True
                except OSError:
                    return True
        return True

    def _chunked(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, chunk in enumerate(reply.chunks):
            if i and reply.gap and self._pause(reply.gap):
                self.close_connection = True
                return
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        if reply.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")

    def _stream(self, reply: Reply) -> None:
        self.close_connection = True
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Connection", "close")  # the body ends when the connection does
        self.end_headers()
        self.wfile.flush()
        sent, deadline = 0, time.monotonic() + STREAM_CAP_SECONDS
        while reply.count is None or sent < reply.count:
            if time.monotonic() > deadline or self.owner._stop.is_set():
                return
            try:
                self.wfile.write(reply.stream)
                self.wfile.flush()
            except OSError:  # the reader gave up
                return
            sent += 1
            if reply.interval and self.owner._stop.wait(reply.interval):
                return

    def _sized(self, reply: Reply) -> None:
        self.close_connection = True
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(reply.size))
        self.end_headers()
        block = b"y" * 65536
        left = reply.size
        while left > 0 and not self.owner._stop.is_set():
            try:
                self.wfile.write(block[:left])
            except OSError:
                return
            left -= min(left, len(block))


__all__ = [
    "CLOSE", "NDJSON", "OK", "Answer", "Received", "Reply", "WebhookReceiver", "delayed", "dribble", "dropped",
    "echo", "endless", "held", "http_error", "huge", "json_reply", "message_ids", "ndjson", "say",
    "signature", "slow", "status", "streamed",
]
