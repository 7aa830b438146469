"""The request journal: the `/v1` requests each key made (method, path, query, body, status, time), so a
test can prove what its code asked of the API (WireMock-style verification).

Bounded: at most MAX_ENTRIES requests and MAX_BYTES of them in all, the oldest dropped first; a body is
kept up to BODY_LIMIT bytes. Held in memory only, and forgotten with the account (reset, fixture loads).
Requests the inspector itself sends (marked with the `X-Emulator-Inspector` header) are not journaled.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.clock import Clock

MAX_ENTRIES = 10_000
MAX_BYTES = 32 * 1024 * 1024
BODY_LIMIT = 64 * 1024
PREFIX = "/v1/"
QUIET_HEADER = b"x-emulator-inspector"
OVERHEAD = 400  # bytes an entry costs besides its path, query and body


@dataclass(frozen=True)
class Entry:
    seq: int
    at: datetime  # the emulator clock
    key: str | None  # the bearer key presented (None: none, or not a key)
    account_id: str | None
    sub_account_id: str | None
    method: str
    path: str
    query: dict[str, str | list[str]]
    raw_body: bytes  # its first BODY_LIMIT bytes
    body_truncated: bool
    status: int | None
    duration_ms: float
    size: int  # bytes it holds, roughly (for the journal's bound)

    @property
    def body(self) -> Any:
        """The JSON value sent, else the text, else None."""
        return _body(self.raw_body, self.body_truncated)


@dataclass(frozen=True)
class Filter:
    keys: frozenset[str] | None = None  # None: every key (the admin)
    method: str | None = None
    path: str | None = None  # exact, or a glob with `*`
    since_seq: int = 0
    since: datetime | None = None

    def matches(self, entry: Entry) -> bool:
        if self.keys is not None and entry.key not in self.keys:
            return False
        if self.method is not None and entry.method != self.method.upper():
            return False
        if self.path is not None and not (fnmatchcase(entry.path, self.path) if "*" in self.path
                                          else entry.path == self.path.rstrip("/") or entry.path == self.path):
            return False
        return entry.seq > self.since_seq and (self.since is None or entry.at >= self.since)


class Journal:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._entries: deque[Entry] = deque()
        self._bytes = 0
        self._seq = 0

    @property
    def last_seq(self) -> int:
        return self._seq

    def add(self, **fields: Any) -> Entry:
        self._seq += 1
        entry = Entry(seq=self._seq, at=self.clock.now(), **fields)
        self._entries.append(entry)
        self._bytes += entry.size
        while self._entries and (len(self._entries) > MAX_ENTRIES or self._bytes > MAX_BYTES):
            self._bytes -= self._entries.popleft().size
        return entry

    def find(self, where: Filter, limit: int, newest_first: bool = False) -> tuple[list[Entry], int, int]:
        """The oldest `limit` matching entries (or the newest, newest first), how many match in all, and the
        newest one's sequence number."""
        found = [entry for entry in self._entries if where.matches(entry)]
        page = found[::-1][:limit] if newest_first else found[:limit]
        return page, len(found), found[-1].seq if found else 0

    def forget(self, account_ids: Iterable[str], keys: Iterable[str] = ()) -> None:
        gone, dropped = set(account_ids), set(keys)
        kept = deque(e for e in self._entries if e.key not in dropped and e.account_id not in gone
                     and e.sub_account_id not in gone)
        self._entries, self._bytes = kept, sum(e.size for e in kept)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0


def _body(raw: bytes, truncated: bool) -> Any:
    if not raw:
        return None
    if not truncated:
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            pass
    return raw.decode("utf-8", errors="replace")


def _query(raw: bytes) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name in out:
            current = out[name]
            out[name] = [*current, value] if isinstance(current, list) else [current, value]
        else:
            out[name] = value
    return out


def _bearer(headers: dict[bytes, bytes]) -> str | None:
    scheme, _, value = headers.get(b"authorization", b"").decode("latin-1").strip().partition(" ")
    key = value.strip()
    return key if scheme.lower() == "bearer" and key.startswith(("sk_test_", "sk_live_")) and len(key) <= 220 \
        else None


class Journaling:
    """ASGI middleware: each `/v1` request into the journal once its answer has started (or it failed)."""

    def __init__(self, app: ASGIApp, journal: Journal, account_of: Callable[[str], str | None],
                 recorded: Callable[[Entry], None] | None = None) -> None:
        self.app = app
        self.journal = journal
        self.account_of = account_of  # key -> account id, as far as the emulator knows it
        self.recorded = recorded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if QUIET_HEADER in headers:
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        early: list[Message] = []  # the body's first BODY_LIMIT bytes, read before the app asks (then replayed)
        body = bytearray()
        more = True
        while more and len(body) <= BODY_LIMIT:
            message = await receive()
            early.append(message)
            if message["type"] != "http.request":
                break
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
        truncated = more or len(body) > BODY_LIMIT
        recorded = False

        async def replaying() -> Message:
            return early.pop(0) if early else await receive()

        def record(status: int | None) -> None:
            nonlocal recorded
            recorded = True
            key = _bearer(headers)
            sub = headers.get(b"x-sub-account-id")
            entry = self.journal.add(
                key=key, account_id=self.account_of(key) if key else None,
                sub_account_id=sub.decode("latin-1") if sub else None, method=scope["method"], path=scope["path"],
                query=_query(scope.get("query_string", b"")), raw_body=bytes(body[:BODY_LIMIT]),
                body_truncated=truncated, status=status, duration_ms=round((time.perf_counter() - started) * 1000, 3),
                size=OVERHEAD + len(scope["path"]) + len(scope.get("query_string", b"")) + min(len(body), BODY_LIMIT),
            )
            if self.recorded is not None:
                self.recorded(entry)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and not recorded:
                record(message["status"])
            await send(message)

        try:
            await self.app(scope, replaying, sending)
        finally:
            if not recorded:
                record(None)
