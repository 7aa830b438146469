"""A session that does SQL at once, on the event loop's thread, behind the awaitable AsyncSession methods.

The domain code is written once against `AsyncSession` (execute, scalar, get, add, add_all, flush,
delete). On a SQLite store those calls land here and run synchronously on one of the store's two
connections (emulator/store/db.py): a SQLite statement takes microseconds, far less than handing it to a
driver thread and back, so the loop is better served doing it at once. Hot statements skip the ORM
altogether (`fetch` and `run`, used by emulator/store/sql.py); the ORM session behind the other methods
is only made when one of them is called.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from emulator.store.sql import Query


class InlineSession:
    def __init__(self, connection: Connection, raw: sqlite3.Connection, *, writable: bool) -> None:
        self._connection = connection
        self._raw = self.raw = raw
        self._writable = writable
        self._orm: Session | None = None
        self.inline = self  # what emulator/store/sql.py looks for

    # -- hot statements, straight on the driver ---------------------------------------------------------------

    def fetch(self, query: Query, params: dict[str, Any], one: bool = False) -> list[Any]:
        self._flush_pending()
        plan = query.plan(self._connection.dialect)
        sql, args = plan.parameters(params)
        cursor = self._raw.execute(sql, args)
        found = [cursor.fetchone()] if one else cursor.fetchall()
        if one and found[0] is None:
            return []
        return plan.read(found)

    def fetch_raw(self, query: Query, params: dict[str, Any]) -> list[Any]:
        """The driver's rows as they come (tuples, no value converted)."""
        self._flush_pending()
        sql, args = query.plan(self._connection.dialect).parameters(params)
        return self._raw.execute(sql, args).fetchall()

    def run(self, query: Query, params: dict[str, Any]) -> int:
        self._flush_pending()
        plan = query.plan(self._connection.dialect)
        sql, args = plan.parameters(params)
        return self._raw.execute(sql, args).rowcount

    def insert(self, query: Query, params: dict[str, Any]) -> int | None:
        self._flush_pending()
        plan = query.plan(self._connection.dialect)
        sql, args = plan.parameters(params)
        return self._raw.execute(sql, args).lastrowid

    def run_many(self, query: Query, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self._flush_pending()
        plan = query.plan(self._connection.dialect)
        sql = plan.sql
        self._raw.executemany(sql, [plan.parameters(row)[1] for row in rows])

    def _flush_pending(self) -> None:
        """ORM changes not flushed yet go first, so a hot statement sees them (as autoflush would)."""
        orm = self._orm
        if orm is not None and (orm.new or orm.dirty or orm.deleted):
            orm.flush()

    # -- the AsyncSession methods the domain code uses ----------------------------------------------------------

    @property
    def orm(self) -> Session:
        if self._orm is None:
            if self._writable and not self._connection.in_transaction():
                # The store's batch is open at the driver: SQLAlchemy's transaction starts as bookkeeping only
                # (the engine begins nothing) and is committed by the store with the batch.
                self._connection.begin()
            # Writes: the ORM session's work is a SAVEPOINT inside the store's write (itself a SAVEPOINT inside
            # the batch transaction), so rolling it back never touches other writes of the batch.
            self._orm = Session(bind=self._connection, autoflush=False, expire_on_commit=False,
                                join_transaction_mode="create_savepoint" if self._writable else "conditional_savepoint")
        return self._orm

    async def execute(self, statement: Any, params: Any = None) -> Any:
        return self.orm.execute(statement, params)

    async def scalar(self, statement: Any, params: Any = None) -> Any:
        return self.orm.scalar(statement, params)

    async def get(self, model: Any, ident: Any) -> Any:
        return self.orm.get(model, ident)

    def add(self, instance: Any) -> None:
        self.orm.add(instance)

    def add_all(self, instances: Any) -> None:
        self.orm.add_all(instances)

    async def flush(self) -> None:
        if self._orm is not None:
            self._orm.flush()

    async def delete(self, instance: Any) -> None:
        self.orm.delete(instance)

    # -- the end of the session (the store calls these) ---------------------------------------------------------

    def finish(self) -> None:
        """Write what the ORM session holds and end it (a write's SAVEPOINT is released by the store)."""
        if self._orm is not None:
            orm, self._orm = self._orm, None
            try:
                if self._writable:
                    orm.commit()
            finally:
                orm.close()

    def abandon(self) -> None:
        """End the session without writing (rows it loaded stay readable, detached)."""
        if self._orm is not None:
            orm, self._orm = self._orm, None
            try:
                if self._writable:
                    orm.rollback()
            finally:
                orm.close()
