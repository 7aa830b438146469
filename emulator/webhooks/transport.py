"""One signed POST to a webhook target, bounded in time and in how much of the answer is read.

Whatever the target does (refuses, never resolves, stalls, answers 5xx, streams forever, sends
a huge body) the result is an `Outcome`; no exception escapes. The HTTP client is the emulator's own
(emulator/webhooks/http.py): keep-alive connections per origin, the answer streamed.
"""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from emulator.webhooks import http

RESPONSE_LIMIT = 64 * 1024  # bytes of an answer we read at most
SNIPPET = 1000  # characters of an answer kept in the delivery log


@dataclass
class Outcome:
    ok: bool
    http_status: int | None
    error: str | None
    body: bytes
    latency_ms: float
    content_type: str | None = None

    @property
    def snippet(self) -> str | None:
        if not self.body:
            return None
        return self.body[:SNIPPET].decode("utf-8", errors="replace")


def describe_failure(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"No complete response within {timeout:g} s (the webhook's timeout)."
    ours = http.describe(exc)
    if ours is not None:
        return ours
    if isinstance(exc, OSError):  # refused, unreachable, reset while connecting, a TLS failure
        text = str(exc) or type(exc).__name__
        if _dns_failure(exc):
            return f"Could not resolve the webhook host: {text}"
        return f"Could not connect to the webhook: {text}"
    return f"Delivery failed: {type(exc).__name__}: {exc}"


def _dns_failure(exc: BaseException) -> bool:
    """A `socket.gaierror` anywhere in the chain, whatever the resolver's wording (EAI_NONAME, EAI_AGAIN, ...)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror) or any(isinstance(arg, socket.gaierror) for arg in current.args):
            return True
        current = current.__cause__ or current.__context__
    return False


class Transport:
    def __init__(self) -> None:
        self.client = http.Client()

    def stream(self, url: str, body: bytes, headers: dict[str, str], method: str = "POST",
               params: dict[str, str] | None = None) -> AbstractAsyncContextManager[http.Response]:
        """The raw streamed response, for readers that consume it incrementally (voice NDJSON)."""
        return self.client.stream(url, body, headers, method, params)

    async def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        return await self.request("POST", url, body, headers, timeout)

    async def request(self, method: str, url: str, body: bytes, headers: dict[str, str], timeout: float,
                      params: dict[str, str] | None = None) -> Outcome:
        """One request (a webhook delivery, or a hosted agent's tool call), bounded in time and in size."""
        started = time.perf_counter()
        status: int | None = None
        content_type: str | None = None
        received = bytearray()
        try:
            async with asyncio.timeout(timeout), self.stream(url, body, headers, method, params) as response:
                status = response.status_code
                content_type = response.headers.get("content-type")
                async for chunk in response.aiter_raw():
                    received += chunk
                    if len(received) > RESPONSE_LIMIT:
                        return Outcome(False, status, f"The response body exceeded {RESPONSE_LIMIT // 1024} KiB; "
                                       "reading stopped there.", bytes(received[:RESPONSE_LIMIT]),
                                       _ms(started), content_type)
        except Exception as exc:  # any failure of the target is an outcome, never a crash
            return Outcome(False, status, describe_failure(exc, timeout), bytes(received), _ms(started), content_type)
        ok = status is not None and 200 <= status < 300
        error = None if ok else f"The webhook answered HTTP {status}."
        return Outcome(ok, status, error, bytes(received), _ms(started), content_type)

    async def close(self) -> None:
        await self.client.aclose()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
