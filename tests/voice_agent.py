"""A real voice webhook server for call tests: uvicorn + Starlette on a free loopback port, in a thread.

`VoiceServer` runs the server; `server.agent()` adds one webhook target (a `VoiceAgent`) on its own path.
Every request is checked with the official SDK's `agentphone.construct_event` against the webhook
secret the test hands over (`agent.secret = hook["secret"]`); a request that fails verification is
answered 401 and kept in `agent.failures`, and leaving the `with server.agent() as agent:` block cleanly
asserts there were none. Every verified payload is kept in `agent.hits`, in arrival order (`Hit.seq`).

What the agent answers to a voice `agent.message` is programmable:

* `agent.when("caller words", reply, ...)`  — by the caller's transcript (replies used in turn, the last repeats);
* `agent.at(index, reply)`                   — by turn index within the call (0 = first agent.message of the call);
* `agent.default = reply`                    — everything else (initially: echo what was heard);
* `agent.on("call.started", reply)`          — other events (initially answered 200 `{}` at once).

A `Reply` is a JSON value answered at once or after `delay` seconds, or NDJSON lines written with `gap`
seconds between them, or an HTTP error status, or a response dropped part-way (the connection closes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from agentphone import WebhookEvent, construct_event
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

NDJSON = "application/x-ndjson"


@dataclass(frozen=True)
class Reply:
    """How the agent answers one voice turn."""

    body: Any = None  # a JSON value (object, string, array, ...) for a plain reply
    lines: tuple[Any, ...] | None = None  # NDJSON lines: dicts are JSON-encoded, str/bytes are sent as they are
    gap: float = 0.0  # seconds between NDJSON lines
    delay: float = 0.0  # seconds before anything is answered
    status: int = 200
    drop: bool = False  # NDJSON only: after the lines, close the connection without finishing the body


def say(text: str, **fields: Any) -> Reply:
    """A plain JSON object reply: `{"text": text, **fields}`."""
    return Reply(body={"text": text, **fields})


def obj(body: Any, delay: float = 0.0) -> Reply:
    """Any JSON value as the whole reply (objects, strings, arrays, numbers)."""
    return Reply(body=body, delay=delay)


def ndjson(*lines: Any, gap: float = 0.0, delay: float = 0.0) -> Reply:
    return Reply(lines=tuple(lines), gap=gap, delay=delay)


def streamed(*texts: str, gap: float = 0.0, **final: Any) -> Reply:
    """Interim chunks for every text but the last, then the final chunk (with `final` extra fields)."""
    *interim, last = texts
    return ndjson(*({"text": t, "interim": True} for t in interim), {"text": last, **final}, gap=gap)


def http_error(status: int = 500, body: Any = None) -> Reply:
    return Reply(body={"detail": "agent exploded"} if body is None else body, status=status)


def dropped(*lines: Any) -> Reply:
    """Start an NDJSON answer, send these lines, then close the connection mid-body."""
    return Reply(lines=tuple(lines), drop=True)


def slow(seconds: float, reply: Reply | None = None) -> Reply:
    """Answer `reply` (default: a short text) only after `seconds`."""
    return dataclasses.replace(reply or say("Sorry for the wait."), delay=seconds)


def echo(payload: dict[str, Any]) -> Reply:
    data = payload.get("data") or {}
    heard = data.get("transcript") or f"digits {data.get('digits', '')}".strip()
    return say(f"You said: {heard}")


@dataclass
class Hit:
    """One verified request."""

    seq: int
    path: str
    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any]
    event: WebhookEvent
    at: float  # time.monotonic() when the body had been read

    @property
    def name(self) -> str:
        return str(self.payload.get("event"))

    @property
    def data(self) -> dict[str, Any]:
        return self.payload.get("data") or {}

    @property
    def call_id(self) -> str | None:
        return self.data.get("callId")

    @property
    def transcript(self) -> str | None:
        return self.data.get("transcript")


@dataclass
class _Rule:
    replies: list[Reply]
    used: int = 0

    def next(self) -> Reply:
        reply = self.replies[min(self.used, len(self.replies) - 1)]
        self.used += 1
        return reply


@dataclass
class VoiceAgent:
    """One webhook target (its own path on a `VoiceServer`); `url` is what to register as the webhook."""

    url: str
    secret: str | None = None
    default: Reply | Callable[[dict[str, Any]], Reply] = echo
    hits: list[Hit] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _by_text: dict[str, _Rule] = field(default_factory=dict)
    _by_index: dict[int, Reply] = field(default_factory=dict)
    _by_event: dict[str, Reply] = field(default_factory=dict)
    _turns: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: Callable[[], None] | None = None

    # --- programming -----------------------------------------------------------------------------

    def when(self, transcript: str, *replies: Reply) -> VoiceAgent:
        with self._lock:
            self._by_text[transcript] = _Rule(list(replies))
        return self

    def at(self, index: int, reply: Reply) -> VoiceAgent:
        with self._lock:
            self._by_index[index] = reply
        return self

    def on(self, event: str, reply: Reply) -> VoiceAgent:
        """How to answer a non-voice-turn event such as `call.started` (default: 200 `{}` at once)."""
        with self._lock:
            self._by_event[event] = reply
        return self

    def _choose(self, payload: dict[str, Any]) -> Reply:
        data = payload.get("data") or {}
        call_id = str(data.get("callId"))
        with self._lock:
            index = self._turns.get(call_id, 0)
            self._turns[call_id] = index + 1
            rule = self._by_text.get(str(data.get("transcript")))
            if rule is not None:
                return rule.next()
            if index in self._by_index:
                return self._by_index[index]
        return self.default(payload) if callable(self.default) else self.default

    # --- what was received -----------------------------------------------------------------------

    def events(self, name: str | None = None, call_id: str | None = None) -> list[Hit]:
        with self._lock:
            hits = list(self.hits)
        return [h for h in hits if (name is None or h.name == name) and (call_id is None or h.call_id == call_id)]

    def messages(self, call_id: str | None = None) -> list[Hit]:
        """The voice `agent.message` requests (of one call)."""
        return [h for h in self.events("agent.message", call_id) if h.payload.get("channel") == "voice"]

    def wait_for(self, name: str, call_id: str, timeout: float = 5.0) -> Hit:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name, call_id)
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no {name} for {call_id} within {timeout}s; got {[h.name for h in self.events()]}")

    # --- answering -------------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        arrived = time.monotonic()
        try:
            if self.secret is None:
                raise ValueError("no webhook secret was given to the voice agent")
            event = construct_event(body, request.headers.get("x-webhook-signature", ""), self.secret,
                                    request.headers.get("x-webhook-timestamp", ""))
            payload = json.loads(body)
        except Exception as exc:  # a signing or parsing mistake by the emulator is a test failure
            with self._lock:
                self.failures.append(f"{request.url.path}: {type(exc).__name__}: {exc}")
            return Response(status_code=401)
        with self._lock:
            seq = next(_SEQ)
            hit = Hit(seq, request.url.path, dict(request.headers), body, payload, event, arrived)
            self.hits.append(hit)
        if payload.get("event") == "agent.message" and payload.get("channel") == "voice":
            reply = self._choose(payload)
        else:
            with self._lock:
                reply = self._by_event.get(str(payload.get("event")), obj({}))
        if reply.delay and await _client_left(request, reply.delay):
            return Response(status_code=204)
        if reply.lines is None:
            return Response(json.dumps(reply.body), status_code=reply.status, media_type="application/json")
        if reply.drop:
            return _Dropped(reply)
        return StreamingResponse(_lines(reply), status_code=reply.status, media_type=NDJSON)

    def __enter__(self) -> VoiceAgent:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self._release is not None:
            self._release()
        if exc_type is None:
            assert not self.failures, f"webhook requests failed verification: {self.failures}"


_SEQ = itertools.count()


class VoiceServer:
    """uvicorn + Starlette on a free loopback port in a background thread, serving `VoiceAgent`s.

    Each agent gets its own path (`/voice/<n>`), so one server serves a whole test module and a late
    event for a previous test's call lands on a path nobody listens to any more (404) instead of
    failing verification against the next test's secret.
    """

    def __init__(self) -> None:
        self._agents: dict[str, VoiceAgent] = {}
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._sock = sock
        self.port: int = sock.getsockname()[1]
        app = Starlette(routes=[Route("/voice/{name}", self._dispatch, methods=["POST"])])
        config = uvicorn.Config(app, log_level="critical", lifespan="off", access_log=False,
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name="voice-agent")

    def agent(self, secret: str | None = None) -> VoiceAgent:
        name = str(next(self._names))
        agent = VoiceAgent(url=f"http://127.0.0.1:{self.port}/voice/{name}", secret=secret)
        with self._lock:
            self._agents[name] = agent

        def release() -> None:
            with self._lock:
                self._agents.pop(name, None)

        agent._release = release
        return agent

    async def _dispatch(self, request: Request) -> Response:
        with self._lock:
            agent = self._agents.get(request.path_params["name"])
        if agent is None:
            return Response(status_code=404)
        return await agent.handle(request)

    def start(self) -> VoiceServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the voice agent server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> VoiceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _encode(line: Any) -> bytes:
    if isinstance(line, bytes):
        return line if line.endswith(b"\n") else line + b"\n"
    if isinstance(line, str):
        return (line if line.endswith("\n") else line + "\n").encode()
    return json.dumps(line).encode() + b"\n"


async def _lines(reply: Reply) -> AsyncIterator[bytes]:
    for i, line in enumerate(reply.lines or ()):
        if i and reply.gap:
            await asyncio.sleep(reply.gap)
        yield _encode(line)


async def _client_left(request: Request, seconds: float) -> bool:
    """Wait `seconds`, or less when the client hangs up first; True when it did."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnected(), seconds)
    except TimeoutError:
        return False
    return True


class _Dropped(Response):
    """Headers and some NDJSON lines, then the app returns without ending the body: uvicorn closes the socket."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(status_code=reply.status, media_type=NDJSON)
        self.reply = reply

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", NDJSON.encode())]
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        for line in self.reply.lines or ():
            await send({"type": "http.response.body", "body": _encode(line), "more_body": True})


# --- driving calls through the API -----------------------------------------------------------------

TERMINAL_WAIT = 15.0


def fresh_number() -> str:
    """A random North American destination (never one of the +1500555000x magic numbers)."""
    return f"+1{random.randint(201, 989)}{random.randint(200, 999)}{random.randint(0, 9999):04d}"


def ok(resp: httpx.Response) -> Any:
    assert resp.is_success, f"{resp.request.method} {resp.request.url.path} -> {resp.status_code} {resp.text}"
    return resp.json()


def script(api: httpx.Client, turns: list[dict[str, Any]], number: str | None = None) -> str:
    """Register a callee script (`PUT /_emulator/callees/{e164}`) under a fresh number; returns the number."""
    number = number or fresh_number()
    ok(api.put(f"/_emulator/callees/{number}", json={"turns": turns}))
    return number


def wait_ended(api: httpx.Client, call_id: str, timeout: float = TERMINAL_WAIT) -> dict[str, Any]:
    """Poll `GET /v1/calls/{id}` until the call is no longer in progress."""
    deadline = time.monotonic() + timeout
    while True:
        call = ok(api.get(f"/v1/calls/{call_id}"))
        if call["status"] != "in-progress":
            return call
        if time.monotonic() > deadline:
            raise AssertionError(f"call {call_id} still in progress after {timeout}s: {call}")
        time.sleep(0.03)


def deliveries(api: httpx.Client, call_id: str, event: str | None = None) -> list[dict[str, Any]]:
    """The delivery-log rows of one call (all its events, or one kind)."""
    items = ok(api.get("/v1/webhooks/deliveries", params={"limit": 100}))["data"]
    return [d for d in items if d["messageId"] == call_id and (event is None or d["eventType"] == event)]


@dataclass
class Line:
    """An agent with a number (and a webhook pointing at `voice`, unless told otherwise)."""

    api: httpx.Client
    voice: VoiceAgent
    agent: dict[str, Any]
    number: dict[str, Any]
    hook: dict[str, Any] | None

    @classmethod
    def open(cls, api: httpx.Client, voice: VoiceAgent, *, webhook: dict[str, Any] | None = None,
             agent_webhook: bool = False, with_webhook: bool = True, **agent_fields: Any) -> Line:
        agent = ok(api.post("/v1/agents", json={"name": "Voice Bot", **agent_fields}))
        number = ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
        hook = None
        if with_webhook:
            path = f"/v1/agents/{agent['id']}/webhook" if agent_webhook else "/v1/webhooks"
            hook = ok(api.post(path, json={"url": voice.url, **(webhook or {})}))
            voice.secret = hook["secret"]
        return cls(api, voice, agent, number, hook)

    def place(self, turns: list[dict[str, Any]] | None = None, to: str | None = None,
              **body: Any) -> dict[str, Any]:
        """`POST /v1/calls` to `to`, or to a fresh number answering with `turns`."""
        if to is None:
            to = script(self.api, turns or [])
        return ok(self.api.post("/v1/calls", json={"agentId": self.agent["id"], "toNumber": to, **body}))

    def run(self, turns: list[dict[str, Any]] | None = None, to: str | None = None, **body: Any) -> dict[str, Any]:
        """Place a call and wait for it to end; returns `GET /v1/calls/{id}` of the ended call."""
        return wait_ended(self.api, self.place(turns, to, **body)["id"])


def rows(call: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [t for t in call["transcripts"] if kind is None or t["kind"] == kind]


def said(call: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(caller words, agent words) of every row, in order."""
    return [(t["transcript"], t["response"]) for t in call["transcripts"]]
