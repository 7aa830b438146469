"""Voice webhook replies, per the spec's "Webhook response format".

A reply is a JSON object, or `application/x-ndjson` read as a stream: `"interim": true`
chunks are spoken as they arrive and the first chunk without `interim` closes the turn.
Fields: `text`, `hangup`, `action` ("hangup" | "transfer"), `digits` (aliases
`press_digit`, `dtmf`). Anything else (a non-object, malformed NDJSON, a 4xx/5xx, a
refused connection, no reply within the webhook's timeout) is silence for that turn,
with the reason kept in the delivery log.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from emulator.webhooks import signing
from emulator.webhooks.transport import RESPONSE_LIMIT, SNIPPET, Transport, describe_failure

DIGIT_KEYS = ("digits", "press_digit", "dtmf")
MAX_TURN_SECONDS = 120  # the longest webhook timeout the API allows


@dataclass
class TurnRequest:
    url: str
    secret: str
    timeout: float
    delivery_id: str
    body: bytes
    cut_after_first: bool = False  # the caller barges in: stop after the first spoken chunk
    headers: dict[str, str] | None = None  # as signed (and perhaps faulted) by the deliverer
    delay: float = 0.0  # an injected delay before sending
    max_open: float = MAX_TURN_SECONDS  # however the reply streams, the turn closes after this


@dataclass
class TurnReply:
    chunks: list[str] = field(default_factory=list)
    hangup: bool = False
    action: str | None = None
    digits: str | None = None
    http_status: int | None = None
    error: str | None = None
    first_chunk_ms: float | None = None
    final_ms: float | None = None
    latency_ms: float = 0.0
    body: str | None = None
    streamed: bool = False
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def text(self) -> str:
        return " ".join(chunk.strip() for chunk in self.chunks if chunk.strip())


def apply(reply: TurnReply, obj: Any, elapsed_ms: float) -> bool:
    """Fold one reply object into the turn. Returns True when it closes the turn."""
    if not isinstance(obj, dict):
        reply.error = f"The reply was a JSON {type(obj).__name__}, not an object; the caller heard silence."
        return True
    text = obj.get("text")
    if isinstance(text, str) and text.strip():
        reply.chunks.append(text)
        if reply.first_chunk_ms is None:
            reply.first_chunk_ms = elapsed_ms
    if obj.get("hangup") is True:
        reply.hangup = True
    action = obj.get("action")
    if action in ("hangup", "transfer"):
        reply.action = action
    for key in DIGIT_KEYS:
        value = obj.get(key)
        if isinstance(value, int | str) and not isinstance(value, bool) and str(value):
            reply.digits = (reply.digits or "") + str(value)
            break
    if obj.get("interim") is True:
        return False
    reply.final_ms = elapsed_ms
    return True


async def webhook_turn(transport: Transport, req: TurnRequest) -> TurnReply:
    """POST one signed voice `agent.message` and read the reply as the spec says."""
    reply = TurnReply()
    started = time.perf_counter()
    seen = bytearray()

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000, 3)

    headers = req.headers or signing.headers(req.secret, req.body, req.delivery_id, "agent.message")
    if req.delay:
        await asyncio.sleep(req.delay)
    loop = asyncio.get_running_loop()
    # Each streamed chunk gives the agent another `timeout`, but a turn never stays open past this.
    last_call = loop.time() + req.max_open
    try:
        async with asyncio.timeout(req.timeout) as deadline, transport.stream(req.url, req.body, headers) as response:
            reply.http_status = response.status_code
            ndjson = "ndjson" in (response.headers.get("content-type") or "").lower()
            reply.streamed = ndjson
            if not 200 <= response.status_code < 300:
                async for chunk in response.aiter_raw():
                    seen += chunk
                    if len(seen) > SNIPPET:
                        break
                reply.error = f"The webhook answered HTTP {response.status_code}; the caller heard silence."
            elif ndjson:
                await _read_ndjson(reply, response.aiter_raw(), seen, elapsed, req.cut_after_first,
                                   lambda: deadline.reschedule(min(loop.time() + req.timeout, last_call)))
            else:
                async for chunk in response.aiter_raw():
                    seen += chunk
                    if len(seen) > RESPONSE_LIMIT:
                        raise ValueError(f"the reply exceeded {RESPONSE_LIMIT // 1024} KiB")
                try:
                    apply(reply, json.loads(bytes(seen)), elapsed())
                except ValueError:
                    reply.error = "The reply was not JSON; the caller heard silence."
    except Exception as exc:  # the target's failure is silence, never a crash
        if isinstance(exc, ValueError):
            # Past the size bound nothing of the turn is spoken: an endless stream must not make the call
            # last as long as its text would take to say.
            reply.chunks.clear()
            reply.error = f"The reply was not usable: {exc}; the caller heard silence."
        elif isinstance(exc, TimeoutError) and loop.time() >= last_call:
            reply.chunks.clear()
            reply.error = (f"The streamed reply was still open after {req.max_open:g} s, "
                           "the longest a turn may stay open; the caller heard silence.")
        else:
            reply.error = describe_failure(exc, req.timeout).rstrip(".") + "; the caller heard silence."
    reply.latency_ms = elapsed()
    reply.body = bytes(seen[:SNIPPET]).decode("utf-8", errors="replace") or None
    return reply


async def _read_ndjson(reply: TurnReply, stream: Any, seen: bytearray, elapsed: Any, cut_after_first: bool,
                       extend_deadline: Any) -> None:
    buffer = b""
    total = 0
    async for chunk in stream:
        seen += chunk[: max(0, SNIPPET - len(seen))]
        buffer += chunk
        total += len(chunk)
        if total > RESPONSE_LIMIT:
            raise ValueError(f"the streamed reply exceeded {RESPONSE_LIMIT // 1024} KiB")
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if await _line(reply, line, elapsed, cut_after_first, extend_deadline):
                return
    if buffer.strip():
        await _line(reply, buffer, elapsed, cut_after_first, extend_deadline)


async def _line(reply: TurnReply, line: bytes, elapsed: Any, cut_after_first: bool, extend_deadline: Any) -> bool:
    if not line.strip():
        return False
    try:
        obj = json.loads(line)
    except ValueError:
        reply.error = f"Malformed NDJSON line {line[:80]!r}; the rest of the turn was silence."
        return True
    closed = apply(reply, obj, elapsed())
    if reply.error is not None:
        return True
    extend_deadline()
    if not closed and cut_after_first and reply.chunks:
        reply.interrupted = True
        return True
    return closed
