"""The request journal: the `/v1` requests each key made (method, path, query, body, status, time), so a
test can prove what its code asked of the API (WireMock-style verification).

Bounded: at most MAX_ENTRIES requests and MAX_BYTES of them in all, the oldest dropped first; a body is
kept up to BODY_LIMIT bytes. Held in memory, and forgotten with the account (reset, fixture loads). When
several processes serve one database (emulator/shared.py) the journal is a table instead, written before
each answer leaves, so any process lists every process's requests (MAX_ENTRIES of them).
Requests the inspector itself sends (marked with the `X-Emulator-Inspector` header) are not journaled.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import bindparam, delete, func, or_, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.clock import Clock
from emulator.keys import KEY_LENGTH
from emulator.shared import Shared
from emulator.store import sql
from emulator.store.models import JournalEntry, table

MAX_ENTRIES = 10_000
MAX_BYTES = 32 * 1024 * 1024
BODY_LIMIT = 64 * 1024
PREFIX = "/v1/"
QUIET_HEADER = b"x-emulator-inspector"
OVERHEAD = 400  # bytes an entry costs besides its path, query and body


@dataclass(slots=True)
class Entry:
    """One journaled request, kept as it came (query and body are parsed when read)."""

    seq: int
    stamp: float  # when, on the emulator clock, as POSIX seconds
    key: str | None  # the bearer key presented (None: none, or not a key)
    account_id: str | None
    sub_account_id: str | None
    method: str
    path: str
    raw_query: bytes
    raw_body: bytes  # its first BODY_LIMIT bytes
    body_truncated: bool
    status: int | None
    duration_ms: float
    size: int  # bytes it holds, roughly (for the journal's bound)

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.stamp, UTC).replace(tzinfo=None)

    @property
    def query(self) -> dict[str, str | list[str]]:
        return _query(self.raw_query)

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
        return entry.seq > self.since_seq and (self.since is None or entry.stamp >= self.since.replace(
            tzinfo=UTC).timestamp())


ENTRIES = table(JournalEntry)
_INSERT = sql.Insert(ENTRIES)
_NEWEST = sql.Query(select(func.max(ENTRIES.c.pk)))
_TRIM = sql.Query(delete(ENTRIES).where(ENTRIES.c.pk <= bindparam("before")))
_COPIED = [column.key for column in ENTRIES.columns if column.key != "pk"]


class Journal:
    def __init__(self, clock: Clock, shared: Shared | None = None) -> None:
        self.clock = clock
        self.shared = shared
        self._entries: deque[Entry] = deque()
        self._bytes = 0
        self._seq = 0
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[int]]] = []  # entries the next batch writes
        self._writer: asyncio.Future[None] | None = None

    @property
    def stored(self) -> bool:
        """Whether entries go to the database (several processes share them) instead of memory."""
        return self.shared is not None and self.shared.enabled

    async def record(self, key: str | None, account_id: str | None, sub_account_id: str | None, method: str,
                     path: str, raw_query: bytes, raw_body: bytes, body_truncated: bool, status: int | None,
                     duration_ms: float) -> Entry:
        """`add`, or where processes share the journal, a row written before the answer leaves."""
        if not self.stored:
            return self.add(key, account_id, sub_account_id, method, path, raw_query, raw_body, body_truncated,
                            status, duration_ms)
        assert self.shared is not None
        stamp = time.time() + self.clock.offset_seconds
        values = {"stamp": stamp, "key": key, "account_id": account_id, "sub_account_id": sub_account_id,
                  "method": method, "path": path.replace("\x00", "\ufffd"), "raw_query": raw_query,
                  "raw_body": raw_body, "body_truncated": body_truncated, "status": status,
                  "duration_ms": duration_ms}
        if self.shared.store.inline:  # SQLite commits concurrent writes together already
            async with self.shared.store.write() as session:
                seq = (await sql.insert(session, _INSERT, **values)).pk
        else:
            seq = await self._batched(values)
        return Entry(seq, stamp, key, account_id, sub_account_id, method, path, raw_query, raw_body,
                     body_truncated, status, duration_ms, 0)

    async def _batched(self, values: dict[str, Any]) -> int:
        """The entry's sequence number, once the batch it joined is written: entries of concurrent requests go
        to the database in one INSERT, one transaction."""
        entry: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((values, entry))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_batches())
        return await entry

    async def _write_batches(self) -> None:
        assert self.shared is not None
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                if self.shared.raw is not None:  # PostgreSQL: numbers drawn from the sequence, rows copied in
                    seqs = await self._copied([values for values, _ in batch])
                else:
                    async with self.shared.store.write() as session:
                        result = await session.execute(
                            ENTRIES.insert().returning(ENTRIES.c.pk, sort_by_parameter_order=True),
                            [values for values, _ in batch])
                        seqs = list(result.scalars().all())
            except Exception as exc:  # every request of the batch answers with the failure
                for _, entry in batch:
                    if not entry.done():
                        entry.set_exception(exc)
                continue
            for (_, entry), seq in zip(batch, seqs, strict=True):
                if not entry.done():
                    entry.set_result(seq)

    async def search(self, where: Filter, limit: int, newest_first: bool = False) -> tuple[list[Entry], int, int]:
        """`find`, in the table when processes share the journal."""
        if not self.stored:
            return self.find(where, limit, newest_first)
        assert self.shared is not None
        query = select(ENTRIES).where(ENTRIES.c.pk > where.since_seq).order_by(ENTRIES.c.pk)
        if where.keys is not None:
            query = query.where(ENTRIES.c.key.in_(sorted(where.keys)))
        if where.method is not None:
            query = query.where(ENTRIES.c.method == where.method.upper())
        async with self.shared.store.read() as session:
            rows = (await session.execute(query)).all()
        entries = [Entry(r.pk, r.stamp, r.key, r.account_id, r.sub_account_id, r.method, r.path, bytes(r.raw_query),
                         bytes(r.raw_body), r.body_truncated, r.status, r.duration_ms, 0) for r in rows]
        found = [entry for entry in entries if where.matches(entry)]
        page = found[::-1][:limit] if newest_first else found[:limit]
        return page, len(found), found[-1].seq if found else 0

    async def _copied(self, rows: list[dict[str, Any]]) -> list[int]:
        assert self.shared is not None and self.shared.raw is not None
        async with self.shared.raw.acquire() as conn:
            seqs = [row[0] for row in await conn.fetch(
                "SELECT nextval(pg_get_serial_sequence('journal_entries', 'pk')) FROM generate_series(1, $1)",
                len(rows))]
            await conn.copy_records_to_table("journal_entries", columns=["pk", *_COPIED], records=[
                (seq, *(row[name] for name in _COPIED)) for seq, row in zip(seqs, rows, strict=True)])
        return seqs

    async def trim(self) -> None:
        """Keep the table's newest MAX_ENTRIES entries."""
        if self.stored:
            assert self.shared is not None
            async with self.shared.store.write() as session:
                newest = await sql.value(session, _NEWEST)
                if newest is not None and newest > MAX_ENTRIES:
                    await sql.run(session, _TRIM, before=newest - MAX_ENTRIES)

    async def forget_stored(self, account_ids: Iterable[str], keys: Iterable[str] = ()) -> None:
        """`forget`, in the table (the accounts' own rows went with them: these are their keys' and
        sub-accounts')."""
        gone, dropped = sorted(set(account_ids)), sorted(set(keys))
        if self.stored and (gone or dropped):
            assert self.shared is not None
            async with self.shared.store.write() as session:
                await session.execute(delete(ENTRIES).where(or_(ENTRIES.c.key.in_(dropped),
                                                                ENTRIES.c.sub_account_id.in_(gone),
                                                                ENTRIES.c.account_id.in_(gone))))

    @property
    def last_seq(self) -> int:
        return self._seq

    def add(self, key: str | None, account_id: str | None, sub_account_id: str | None, method: str, path: str,
            raw_query: bytes, raw_body: bytes, body_truncated: bool, status: int | None, duration_ms: float) -> Entry:
        self._seq += 1
        size = OVERHEAD + len(path) + len(raw_query) + len(raw_body)
        entry = Entry(self._seq, time.time() + self.clock.offset_seconds, key, account_id, sub_account_id, method,
                      path, raw_query, raw_body, body_truncated, status, duration_ms, size)
        self._entries.append(entry)
        self._bytes += size
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


def _bearer(header: bytes | None) -> str | None:
    """The API key of an `Authorization: Bearer sk_...` header, else None."""
    if not header or header[:7].lower() != b"bearer ":
        return None
    key = header[7:].strip()
    return key.decode("latin-1") if key[:8] in (b"sk_test_", b"sk_live_") and len(key) <= KEY_LENGTH else None


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
        auth = sub = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value
            elif name == b"x-sub-account-id":
                sub = value
            elif name == QUIET_HEADER:
                return await self.app(scope, receive, send)
        started = time.perf_counter()
        body, truncated, reading = b"", False, receive
        if scope["method"] not in ("GET", "HEAD"):  # the body's first BODY_LIMIT bytes, read now, then replayed
            early: list[Message] = []
            more = True
            while more and len(body) <= BODY_LIMIT:
                message = await receive()
                early.append(message)
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                more = message.get("more_body", False)
            truncated = more or len(body) > BODY_LIMIT

            async def replaying() -> Message:
                return early.pop(0) if early else await receive()

            reading = replaying
        recorded = False

        async def record(status: int | None) -> None:
            nonlocal recorded
            recorded = True
            key = _bearer(auth)
            entry = await self.journal.record(
                key, self.account_of(key) if key else None, sub.decode("latin-1") if sub else None, scope["method"],
                scope["path"], scope.get("query_string", b""), body[:BODY_LIMIT], truncated, status,
                round((time.perf_counter() - started) * 1000, 3),
            )
            if self.recorded is not None:
                self.recorded(entry)

        async def sending(message: Message) -> None:
            if not recorded and message["type"] == "http.response.start":
                await record(message["status"])
            await send(message)

        try:
            await self.app(scope, reading, sending)
        finally:
            if not recorded:
                await record(None)
