"""A throwaway database on a PostgreSQL server, for tests and benchmarks that run the emulator there."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


async def _execute(server: str, sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]  # the `postgresql` extra

    conn = await asyncpg.connect(server.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def throwaway_database(server: str, prefix: str = "emulator") -> Iterator[str]:
    """A new database on the server `server` names (a `postgresql+asyncpg://` URL of any database there),
    dropped afterwards, even with connections still open; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_execute(server, f"CREATE DATABASE {name}"))
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_execute(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
