"""The store: an async engine, sessions for reads, and serialised write transactions.

SQLite has one writer at a time; the store makes that explicit with an in-process
write lock, so a limit check and the insert it guards run in one transaction that
no other write can interleave with (25 parallel purchases on a one-number plan
give exactly one number).

Writes go through SQLAlchemy's async engine on aiosqlite. Reads of a SQLite store run
inline: a synchronous SQLAlchemy session on the stdlib driver, behind the few awaitable
methods the domain code uses (`InlineSession`). A read is a handful of microseconds of
SQLite work, far less than the thread hand-offs of an async driver, so the event loop
is better served doing it at once. WAL mode lets these reads run beside a write.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, create_engine, delete, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from emulator.store.models import Base

MEMORY = ":memory:"


def database_url(db: str) -> tuple[str, str | None]:
    """Turn `--db` into a SQLAlchemy async URL. Returns (url, temp dir to remove at shutdown).

    `:memory:` is a SQLite file in a fresh temporary directory (RAM-backed /dev/shm
    where it exists), deleted at shutdown: every connection sees the same data, as
    with a file, and nothing survives the process.
    """
    if "://" in db:
        return db, None
    if db == MEMORY:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
        tmp = os.path.join(base, f"agentphone-emulator-{uuid.uuid4().hex}")  # made by Store.start()
        return f"sqlite+aiosqlite:///{tmp}/emulator.db", tmp
    path = Path(db).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{path}", None


class Store:
    def __init__(self, db: str) -> None:
        self.label = db
        self.url, self._tmpdir = database_url(db)
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        self.engine: AsyncEngine = create_async_engine(self.url)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write_lock = asyncio.Lock()
        # Bumped by every write transaction; cached reads are valid only for the version they saw.
        self.version = 0
        self._cache: dict[tuple[str, ...], tuple[int, Any]] = {}
        self.reader: Engine | None = None
        self._read_sessions: sessionmaker[Session] | None = None
        url = make_url(self.url)
        if self.is_sqlite and url.database not in (None, "", MEMORY):
            self.reader = create_engine(url.set(drivername="sqlite+pysqlite"), poolclass=StaticPool,
                                        connect_args={"check_same_thread": False})
            event.listen(self.reader, "connect", _sqlite_pragmas)
            self._read_sessions = sessionmaker(self.reader, expire_on_commit=False, autoflush=False)

    async def start(self) -> None:
        if self._tmpdir:
            os.makedirs(self._tmpdir, mode=0o700, exist_ok=True)
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
            await conn.run_sync(_add_missing_columns)

    async def row_count(self) -> int:
        """Rows in every table together (0 for a new database)."""
        total = 0
        async with self.read() as session:
            for table in Base.metadata.sorted_tables:
                total += (await session.execute(select(func.count()).select_from(table))).scalar_one()
        return total

    async def close(self) -> None:
        await self.engine.dispose()
        if self.reader is not None:
            self.reader.dispose()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading (never for writing: use `write()`)."""
        if self._read_sessions is None:
            async with self._sessions() as session:
                yield session
            return
        with self._read_sessions() as sync_session:
            yield cast(AsyncSession, InlineSession(sync_session))

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One serialised transaction: committed if the block ends normally, else rolled back."""
        async with self._write_lock:
            try:
                async with self._sessions() as session, session.begin():
                    yield session
            finally:
                self.version += 1

    def cached(self, key: tuple[str, ...]) -> Any:
        """A value cached by `remember` since the last write, else None.

        The emulator is its database's only writer, so a read remembered at a version stays
        true until the next write transaction; any write forgets everything."""
        entry = self._cache.get(key)
        if entry is None or entry[0] != self.version:
            return None
        return entry[1]

    def remember(self, key: tuple[str, ...], version: int, value: Any) -> None:
        """Cache a value read at `version` (taken before the read began)."""
        if version == self.version:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (version, value)

    async def wipe(self) -> None:
        """Delete every row of every table."""
        async with self.write() as session:
            for table in reversed(Base.metadata.sorted_tables):
                await session.execute(delete(table))


def _add_missing_columns(conn: Connection) -> None:
    """A database made by an earlier version lacks the columns added since: add them (every column added after
    the first release is nullable or has a server default, so old rows stay valid)."""
    inspector = inspect(conn)
    for table in Base.metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=conn.dialect)
                server_default = getattr(column.server_default, "arg", None)
                default = f" DEFAULT {server_default!r}" if isinstance(server_default, str) else ""
                conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{default}'))


class InlineSession:
    """The awaitable read methods of AsyncSession, done at once by a synchronous session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def execute(self, statement: Any, params: Any = None) -> Any:
        return self._session.execute(statement, params)

    async def scalar(self, statement: Any, params: Any = None) -> Any:
        return self._session.scalar(statement, params)

    async def get(self, model: Any, ident: Any) -> Any:
        return self._session.get(model, ident)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
