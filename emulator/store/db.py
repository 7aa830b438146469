"""The store: an async engine, sessions for reads, and serialised write transactions.

SQLite has one writer at a time; the store makes that explicit with an in-process
write lock, so a limit check and the insert it guards run in one transaction that
no other write can interleave with (50 parallel purchases on a one-number plan
give exactly one number).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import delete, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from emulator.store.models import Account, Base

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
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        tmp = tempfile.mkdtemp(prefix="agentphone-emulator-", dir=base)
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

    async def start(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def row_count(self) -> int:
        """Rows in every table together (0 for a new database)."""
        total = 0
        async with self.read() as session:
            for table in Base.metadata.sorted_tables:
                total += (await session.execute(select(func.count()).select_from(table))).scalar_one()
        return total

    async def close(self) -> None:
        await self.engine.dispose()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One serialised transaction: committed if the block ends normally, else rolled back."""
        async with self._write_lock, self._sessions() as session, session.begin():
            yield session

    async def wipe(self, account_ids: list[str] | None = None) -> None:
        """Delete every row (or every row of the given accounts, the accounts included)."""
        async with self.write() as session:
            if account_ids is None:
                for table in reversed(Base.metadata.sorted_tables):
                    await session.execute(delete(table))
            else:
                await delete_accounts(session, account_ids)


async def delete_accounts(session: AsyncSession, account_ids: list[str]) -> None:
    for table in reversed(Base.metadata.sorted_tables):
        column = table.c.get("account_id")
        if column is not None:
            await session.execute(delete(table).where(column.in_(account_ids)))
    await session.execute(delete(Account).where(Account.id.in_(account_ids)))


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
