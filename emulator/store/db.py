"""The store: one database, reads at once, writes serialised and committed in groups.

SQLite (the default) is served inline, on the event loop's own thread, by two synchronous connections to
the database file (stdlib sqlite3 under SQLAlchemy): a statement takes microseconds, far less than handing
it to a driver thread and back, so the loop is better served doing it at once.

- Reads use the reader connection, in autocommit: each statement sees everything committed before it.
- Writes use the writer connection, one at a time under an asyncio lock, so a limit check and the insert
  it guards run with no other write in between (25 parallel purchases on a one-number plan give exactly one
  number). Each write is a SAVEPOINT inside a batch transaction that stays open until the loop has run the
  writes that are ready: the batch is committed once (group commit), then every write in it returns. A write
  that fails rolls back to its own SAVEPOINT and leaves the rest of the batch alone. Nothing is answered
  before its commit, so a client never sees a write that a crash could lose; other requests read only
  committed data (their connection is the reader), and WAL mode lets them read beside an open batch.

Any other database URL (an async driver, e.g. PostgreSQL through asyncpg) goes through SQLAlchemy's async
engine: one `AsyncSession` per read, one transaction per write under the same lock. The domain code sees
the same AsyncSession methods either way (emulator/store/inline.py), and hot statements are written once as
Core statements that run on both (emulator/store/sql.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Engine, Table, create_engine, delete, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from emulator.store import documents, rollups, search, sql
from emulator.store.inline import InlineSession
from emulator.store.models import Base, postgresql_partial_indexes

MEMORY = ":memory:"
KEPT_BY_WIPE = frozenset({"shared_state"})
SCHEMA_LOCK = 0x4150_454D  # PostgreSQL advisory lock held while the tables are made
log = logging.getLogger("emulator.store")


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


class _Batch:
    """Writes waiting for one commit: each waits on its own future, so a cancelled writer leaves the others be."""

    def __init__(self) -> None:
        self.waiting: list[asyncio.Future[None]] = []

    def wait(self) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        return future

    def settle(self, error: BaseException | None) -> None:
        for future in self.waiting:
            if not future.done():
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)


# Commits between two WAL checkpoints. The writer never checkpoints (the fsync a checkpoint does would stop the
# loop); a thread of the store's own does, on its own connection, without blocking readers or the writer.
CHECKPOINT_EVERY = 500


class Store:
    def __init__(self, db: str) -> None:
        self.label = db
        self.url, self._tmpdir = database_url(db)
        url = make_url(self.url)
        self.is_sqlite = url.get_backend_name() == "sqlite"
        # SQLite on a file (`:memory:` is one too) runs inline; an in-memory URL has no file two connections
        # could share, so it goes through the async engine like any other database.
        self.inline = self.is_sqlite and url.database not in (None, "", MEMORY)
        self._write_lock = asyncio.Lock()
        self.created = False  # whether start() found no schema and made it: a new database, with nothing to recover
        self.engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._reader: Engine | None = None
        self._writer: Engine | None = None
        self._read_conn: Connection | None = None
        self._write_conn: Connection | None = None
        self._batch: _Batch | None = None
        self._commit_scheduled = False
        self._commits = 0
        self._database = url.database if self.inline else None
        self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="wal-checkpoint")
        self._checkpointing: asyncio.Future[None] | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        if self.inline:
            sync_url = url.set(drivername="sqlite+pysqlite")
            self._reader = _sqlite_engine(sync_url)
            self._writer = _sqlite_engine(sync_url, checkpoints=False)
        else:
            self.engine = create_async_engine(self.url)
            if self.is_sqlite:
                event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            self._sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @property
    def dialect_name(self) -> str:
        return make_url(self.url).get_backend_name()

    async def start(self) -> None:
        if self._tmpdir:
            os.makedirs(self._tmpdir, mode=0o700, exist_ok=True)
        if self.inline:
            from emulator.store import schema  # not at the top: `python -m emulator.store.schema` imports this module

            assert self._reader is not None and self._writer is not None
            with self._writer.connect() as conn:
                raw = _raw(conn)
                raw.execute("BEGIN IMMEDIATE")
                script = schema.statements() if _empty(raw) else []
                if script:  # a new database: the schema as rendered once (emulator/store/schema.py)
                    for statement in script:
                        raw.execute(statement)
                    if not documents.has_json(raw):
                        documents.remove(raw)
                    self.created = True
                else:
                    self.created = _create(conn)
                raw.execute("COMMIT")
            self._read_conn = self._reader.connect()
            self._write_conn = self._writer.connect()
            return
        assert self.engine is not None
        async with self.engine.begin() as conn:
            if self.dialect_name == "postgresql":  # emulators starting at once on a new database take turns
                await conn.execute(text(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})"))
            self.created = await conn.run_sync(_create)

    async def row_count(self) -> int:
        """Rows in every table together (0 for a new database)."""
        total = 0
        async with self.read() as session:
            for table in Base.metadata.sorted_tables:
                total += (await session.execute(select(func.count()).select_from(table))).scalar_one()
        return total

    async def close(self) -> None:
        if self._batch is not None:
            self._commit()
        if self._checkpointing is not None:
            await asyncio.wait([self._checkpointing])

        def last_checkpoint() -> None:
            if self._checkpoint_conn is not None:
                self._checkpoint_conn.close()
                self._checkpoint_conn = None

        await asyncio.get_running_loop().run_in_executor(self._checkpointer, last_checkpoint)
        self._checkpointer.shutdown()
        for conn in (self._read_conn, self._write_conn):
            if conn is not None:
                conn.close()
        self._read_conn = self._write_conn = None
        for engine in (self._reader, self._writer):
            if engine is not None:
                engine.dispose()
        if self.engine is not None:
            await self.engine.dispose()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    # -- reads ----------------------------------------------------------------------------------------------

    def read(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for reading (never for writing: use `write()`)."""
        if self._read_conn is None:
            return self._async_read()
        return _InlineRead(self._read_conn)

    @asynccontextmanager
    async def _async_read(self) -> AsyncIterator[AsyncSession]:
        assert self._sessions is not None, "the store is not started"
        async with self._sessions() as session:
            yield session

    # -- writes ---------------------------------------------------------------------------------------------

    def write(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One serialised write: committed if the block ends normally (the block's caller resumes once it is),
        else rolled back."""
        if self._write_conn is None:
            return self._async_write()
        return _InlineWrite(self)

    @asynccontextmanager
    async def _async_write(self) -> AsyncIterator[AsyncSession]:
        assert self._sessions is not None, "the store is not started"
        async with self._write_lock, self._sessions() as session, session.begin():
            yield session

    def _schedule_commit(self) -> None:
        if not self._commit_scheduled and self._batch is not None:
            self._commit_scheduled = True
            asyncio.get_running_loop().call_soon(self._commit)

    def _commit(self) -> None:
        """Commit the open batch: run by the loop once the writes that were ready have had their turn."""
        self._commit_scheduled = False
        if self._write_lock.locked():
            return  # a write is under way (it awaits something); it schedules the commit when it is done
        batch, self._batch = self._batch, None
        if batch is None:
            return
        conn = self._write_conn
        assert conn is not None
        try:
            if conn.in_transaction():  # an ORM session joined the batch: SQLAlchemy commits its transaction
                conn.commit()
            else:
                _raw(conn).execute("COMMIT")
        except Exception as exc:  # the disk is full, the file went away: every write of the batch fails
            try:
                if conn.in_transaction():
                    conn.rollback()
                else:
                    _raw(conn).execute("ROLLBACK")
            finally:
                batch.settle(exc)
            return
        batch.settle(None)
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and self._checkpointing is None:
            self._commits = 0
            self._checkpointing = asyncio.get_running_loop().run_in_executor(self._checkpointer, self._checkpoint)
            self._checkpointing.add_done_callback(self._checkpointed)

    def _checkpoint(self) -> None:
        """Copy the WAL into the database file (runs on the checkpoint thread, with a connection of its own)."""
        if self._checkpoint_conn is None:
            assert self._database is not None
            self._checkpoint_conn = sqlite3.connect(self._database, isolation_level=None)
            self._checkpoint_conn.execute("PRAGMA busy_timeout=5000")
        self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _checkpointed(self, done: asyncio.Future[None]) -> None:
        self._checkpointing = None
        if not done.cancelled() and done.exception() is not None:
            log.warning("WAL checkpoint failed: %s", done.exception())

    async def wipe(self) -> None:
        """Delete every row of every table but the shared state's (a reset writes that afresh, so other processes
        see the change: emulator/shared.py)."""
        async with self.write() as session:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name not in KEPT_BY_WIPE:
                    await session.execute(delete(table))
            if sql.renders_json(session):  # SQLite's documents of listed rows (emulator/store/documents.py), after
                for table in documents.tables():  # the rows: a reaction deleted writes its message's again
                    await session.execute(text(f"DELETE FROM {table.name}"))


def _add_missing_columns(conn: Connection, tables: list[Table]) -> None:
    """A database made by an earlier version lacks the columns added since: add them (every column added after
    the first release is nullable or has a server default, so old rows stay valid). On PostgreSQL, which holds
    text to its declared length, a text column declared shorter than now is widened (no row is rewritten)."""
    inspector = inspect(conn)
    for table in tables:
        present = {column["name"]: column["type"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            kind = column.type.compile(dialect=conn.dialect)
            if column.name not in present:
                server_default = getattr(column.server_default, "arg", None)
                default = f" DEFAULT {server_default!r}" if isinstance(server_default, str) else ""
                conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{default}'))
            elif conn.dialect.name == "postgresql" and _shorter(present[column.name], column.type):
                conn.execute(text(f'ALTER TABLE "{table.name}" ALTER COLUMN "{column.name}" TYPE {kind}'))


def _shorter(found: Any, wanted: Any) -> bool:
    """Whether a text column's declared length is less than the model's."""
    has, needs = getattr(found, "length", None), getattr(wanted, "length", None)
    return isinstance(has, int) and isinstance(needs, int) and has < needs


class _InlineRead:
    """`async with store.read()` on the reader connection (a class, not a generator: it runs on every request)."""

    __slots__ = ("_conn", "_session")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._session: InlineSession | None = None

    async def __aenter__(self) -> AsyncSession:
        self._session = InlineSession(self._conn, _raw(self._conn), writable=False)
        return cast(AsyncSession, self._session)

    async def __aexit__(self, *exc: object) -> None:
        assert self._session is not None
        self._session.abandon()


class _InlineWrite:
    """`async with store.write()` on the writer connection: the lock, the write's SAVEPOINT inside the batch,
    and, once the lock is released, the wait for the batch's commit."""

    __slots__ = ("_store", "_session", "_batch")

    def __init__(self, store: Store) -> None:
        self._store = store
        self._session: InlineSession | None = None
        self._batch: _Batch | None = None

    async def __aenter__(self) -> AsyncSession:
        store = self._store
        await store._write_lock.acquire()
        try:
            conn = store._write_conn
            assert conn is not None
            raw = _raw(conn)
            batch = store._batch
            if batch is None:
                raw.execute("BEGIN IMMEDIATE")  # the batch's transaction (SQLAlchemy's joins it if the ORM is used)
                batch = store._batch = _Batch()
            raw.execute("SAVEPOINT store_write")
        except BaseException:
            store._write_lock.release()
            raise
        self._batch = batch
        self._session = InlineSession(conn, raw, writable=True)
        return cast(AsyncSession, self._session)

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: object) -> None:
        store, session, batch = self._store, self._session, self._batch
        assert session is not None and batch is not None
        ok = kind is None
        try:
            if ok:
                try:
                    session.finish()  # flushes what the ORM holds: that can fail too
                except BaseException:
                    ok = False
                    raise
        finally:
            try:
                if not ok:
                    session.abandon()
                    session.raw.execute("ROLLBACK TO store_write")
                session.raw.execute("RELEASE store_write")
            finally:
                store._write_lock.release()
                store._schedule_commit()  # runs on the loop's next turn: the future below is registered first
        if ok:
            await batch.wait()


def _empty(raw: sqlite3.Connection) -> bool:
    """Whether a SQLite database has no schema at all (a new file)."""
    return raw.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None


def _create(conn: Connection) -> bool:
    """Tables, columns and indexes (an older database gets the ones it lacks) and the rollups with their
    triggers. Returns whether the database had none of the tables (a new one). A new SQLite database runs
    what this renders, from emulator/store/sqlite_schema.sql: a change here shows in `python -m
    emulator.store.schema`."""
    if conn.dialect.name == "postgresql":
        postgresql_partial_indexes()
    present = set(inspect(conn).get_table_names())  # one look, not one per table: none in a new database
    older = [table for table in Base.metadata.sorted_tables if table.name in present]
    Base.metadata.create_all(conn, [table for table in Base.metadata.sorted_tables if table.name not in present],
                             checkfirst=False)
    _add_missing_columns(conn, older)  # the tables just created have every column and index already
    for each in older:
        for index in each.indexes:
            index.create(conn, checkfirst=True)
    rollups.ensure(conn, new=not older)
    search.ensure(conn, new=not older)  # after the rollups: it indexes call_numbers
    documents.ensure(conn, new=not older)
    return not older


def _raw(conn: Connection) -> sqlite3.Connection:
    return cast(sqlite3.Connection, conn.connection.dbapi_connection)


def _sqlite_engine(url: Any, checkpoints: bool = True) -> Engine:
    """A synchronous engine with one connection, in autocommit at the driver: transactions are the store's own
    (BEGIN IMMEDIATE, SAVEPOINT, COMMIT on the writer; none on the reader, where each statement reads what is
    committed). SQLAlchemy's transactions on it begin nothing: on the writer an ORM session joins the batch the
    store opened."""
    engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False},
                           json_serializer=_json_text, json_deserializer=orjson.loads)

    @event.listens_for(engine, "connect")
    def connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # transactions are the store's: BEGIN, SAVEPOINT, COMMIT
        _sqlite_pragmas(dbapi_connection, _record)
        if not checkpoints:  # the writer
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")
            # Each write is a SAVEPOINT inside the batch: the first change to a page copies it to the savepoint's
            # journal, a temporary file by default (a write() per page); in memory, a message with its delivery
            # row is about 30 us quicker to insert.
            dbapi_connection.execute("PRAGMA temp_store=MEMORY")

    return engine


def _json_text(value: Any) -> str:
    """JSON columns as text (orjson; the standard library for what orjson refuses)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
