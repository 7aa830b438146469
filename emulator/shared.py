"""State held in memory that every process serving one database must agree on.

One process alone keeps its clock offsets, armed faults, callee scripts and accepted fixture keys in memory,
and that is the whole truth. Several processes on one database (`serve --workers N`, or several emulators on
one PostgreSQL database) each keep a copy, and the database keeps the truth: one row per kind in
`shared_state`, a JSON document and a version that changes with every change.

- `change(names, mutate)` runs `mutate` on the in-memory copy inside a write transaction that first locks
  the rows and loads what other processes wrote since, then writes the result back with new versions. Two
  processes changing the same kind at once take turns on the row lock (SQLite: its one writer), so no
  change is lost, and a fault armed for one request is used by one request only, wherever it lands.
- `refresh()` runs before each request (and before background work that reads the state): one read of the
  versions, and of a document only when its version moved. What another process changed is seen by the next
  request here, so a test that arms a fault through one process sees it fire in the other.

With one process (`enabled` false) both are plain calls: `change` runs `mutate`, `refresh` does nothing.

Versions are random (not counters), so a document rewritten after a reset can never pass for the one a
process loaded before it. The rate limit has its own rows, one per key (`rate_window`).

On a server database a look at the versions is a round trip, so concurrent requests share one: a request
waits for a look that began after it arrived (that one sees every change committed before), starting one
if there is none, and many requests in flight cost a few looks between them instead of one each. On
PostgreSQL the looks (and the request journal's entries) go through a few asyncpg connections of their own
(`raw`), a prepared statement each, without an ORM session around it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url

from emulator.store import Store, sql
from emulator.store.models import RateWindow, SharedState, table

T = TypeVar("T")

STATE = table(SharedState)
WINDOWS = table(RateWindow)
_VERSIONS = sql.Query(select(STATE.c.name, STATE.c.version))
_BODIES = sql.Query(select(STATE.c.name, STATE.c.version, STATE.c.body)
                    .where(STATE.c.name.in_(bindparam("names", expanding=True))))
_LOCKED = sql.Query(select(STATE.c.name, STATE.c.version, STATE.c.body)
                    .where(STATE.c.name.in_(bindparam("names", expanding=True))).order_by(STATE.c.name)
                    .with_for_update())
_WRITE = sql.Query(update(STATE).where(STATE.c.name == bindparam("key"))
                   .values(version=bindparam("version"), body=bindparam("body")))
_ROW: dict[str, Any] = {"name": bindparam("name"), "version": bindparam("version"), "body": bindparam("body")}
_MISSING = sql.Query(sqlite_insert(STATE).values(_ROW).on_conflict_do_nothing(index_elements=["name"]),
                     {"postgresql": sql.Later(lambda: sql.postgresql_insert(STATE).values(_ROW)
                                              .on_conflict_do_nothing(index_elements=["name"]))})
_WINDOW = sql.Query(select(WINDOWS.c.hits).where(WINDOWS.c.key == bindparam("key")).with_for_update())
_WINDOW_ROW: dict[str, Any] = {"key": bindparam("key"), "hits": bindparam("hits"), "last": bindparam("last")}
_SAVE_WINDOW = sql.Query(
    sqlite_insert(WINDOWS).values(_WINDOW_ROW).on_conflict_do_update(
        index_elements=["key"], set_={"hits": bindparam("hits"), "last": bindparam("last")}),
    {"postgresql": sql.Later(lambda: sql.postgresql_insert(WINDOWS).values(_WINDOW_ROW).on_conflict_do_update(
        index_elements=["key"], set_={"hits": bindparam("hits"), "last": bindparam("last")}))})
_IDLE_WINDOWS = sql.Query(delete(WINDOWS).where(WINDOWS.c.last < bindparam("before")))

_DIRTY = "dirty"  # a change is under way, or failed: load the document again whatever its version says


class Doc(Protocol):
    """A piece of in-memory state that can be written out and read back (None: the empty state)."""

    def dump(self) -> Any: ...

    def load(self, body: Any) -> None: ...


def processes_share(db: str, workers: int) -> bool:
    """Whether several processes may serve this database: more than one worker, or a server database (another
    emulator may be pointed at it)."""
    return workers > 1 or ("://" in db and not db.startswith("sqlite"))


class Shared:
    def __init__(self, store: Store, enabled: bool) -> None:
        self.store = store
        self.enabled = enabled
        self.docs: dict[str, Doc] = {}
        self._seen: dict[str, str | None] = {}
        self._lock = asyncio.Lock()
        self._looks = 0  # looks at the versions begun so far
        self._look: asyncio.Future[None] | None = None  # the one under way
        self._look_number = 0  # its number
        self.raw: Any = None  # PostgreSQL: a small asyncpg pool for the hot statements of shared state

    def add(self, name: str, doc: Doc) -> None:
        self.docs[name] = doc
        self._seen[name] = None

    async def start(self) -> None:
        """Make the rows this process reads (another process may have made them first), and read them."""
        if not self.enabled:
            return
        async with self.store.write() as session:
            for name in self.docs:
                await sql.run(session, _MISSING, name=name, version="", body=None)
        if self.store.dialect_name == "postgresql":
            import asyncpg  # type: ignore[import-untyped]

            url = make_url(self.store.url).set(drivername="postgresql")
            self.raw = await asyncpg.create_pool(url.render_as_string(hide_password=False), min_size=1, max_size=4)
        await self.refresh()

    async def close(self) -> None:
        if self.raw is not None:
            pool, self.raw = self.raw, None
            await pool.close()

    async def refresh(self) -> None:
        """Load what other processes changed since this one last looked."""
        if not self.enabled:
            return
        if self.store.inline:  # SQLite: a look takes microseconds, and no await
            return await self._look_now()
        arrived = self._looks
        while True:
            look = self._look
            if look is None or look.done():
                self._looks += 1
                number = self._look_number = self._looks
                look = self._look = asyncio.ensure_future(self._look_now())
                try:
                    return await asyncio.shield(look)
                finally:
                    if self._look_number == number:
                        self._look = None
            if self._look_number > arrived:  # begun after this request arrived: it sees what this one must
                return await asyncio.shield(look)
            await asyncio.wait([look])  # begun before: let it end, then look again

    async def _look_now(self) -> None:
        if self.raw is not None:
            async with self.raw.acquire() as conn:
                versions = [tuple(row) for row in await conn.fetch("SELECT name, version FROM shared_state")]
        else:
            async with self.store.read() as session:
                versions = await sql.rows(session, _VERSIONS)
        seen = self._seen
        stale = [name for name, version in versions if name in seen and seen[name] != version]
        if not stale:
            return
        async with self._lock:
            async with self.store.read() as session:
                found = await sql.rows(session, _BODIES, names=stale)
            for name, version, body in found:
                self.docs[name].load(body)
                seen[name] = version

    async def change(self, names: str | Iterable[str], mutate: Callable[[], T]) -> T:
        """Run `mutate` on the latest state of these documents, and publish the result."""
        if not self.enabled:
            return mutate()
        chosen = sorted({names} if isinstance(names, str) else set(names))
        async with self._lock:
            before = {name: self._seen[name] for name in chosen}
            for name in chosen:
                self._seen[name] = _DIRTY
            loaded: dict[str, str | None] = {}
            async with self.store.write() as session:
                for name, version, body in await sql.rows(session, _LOCKED, names=chosen):
                    if version != before[name]:
                        self.docs[name].load(body)
                    loaded[name] = version
                try:
                    result = mutate()
                except BaseException:
                    self._seen.update(loaded)  # nothing was written: memory is what was loaded
                    raise
                written = {name: uuid.uuid4().hex for name in chosen}
                for name in chosen:
                    await sql.run(session, _WRITE, key=name, version=written[name], body=self.docs[name].dump())
            self._seen.update(written)
        return result

    async def rate_window(self, key: str, per_second: int) -> float | None:
        """The shared rate limit: record a request of `key`; None if allowed, else seconds until one is."""
        now = time.time()
        async with self.store.write() as session:
            hits = [hit for hit in (await sql.value(session, _WINDOW, key=key) or []) if now - hit < 1.0]
            if len(hits) >= per_second:
                return 1.0 - (now - hits[0])
            hits.append(now)
            await sql.run(session, _SAVE_WINDOW, key=key, hits=hits, last=now)
        return None

    async def drop_idle_windows(self) -> None:
        """Forget the rate windows of keys that made no request in the last second."""
        if self.enabled:
            async with self.store.write() as session:
                await sql.run(session, _IDLE_WINDOWS, before=time.time() - 1.0)
