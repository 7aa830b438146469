"""Counting and slicing a filtered query, the way every list endpoint pages."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from emulator.store import sql

Filter = Callable[[BindParameter[Any]], ColumnElement[bool]]


async def page(session: AsyncSession, query: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    """Rows `offset`..`offset+limit` of `query` (already ordered) and the total it matches."""
    total = (await session.execute(select(func.count()).select_from(query.order_by(None).subquery()))).scalar_one()
    rows = list((await session.execute(query.limit(limit).offset(offset))).scalars())
    return rows, total


@dataclass(frozen=True)
class Wire:
    """How SQLite writes a list's rows as JSON (emulator/wire/sqlite_json.py): the columns a row also holds, the SQL
    of a row's document, and where documents are kept (emulator/store/documents.py) the table of them, read by
    `pk` with the SQL as the fallback; `dress` turns the document read into the one sent (SQL to SQL)."""

    columns: Sequence[str]
    sql: str
    stored: Table | None = None
    dress: Callable[[str], str] | None = None

    def column(self) -> str:
        body = self.sql if self.stored is None else f"coalesce({self.stored.name}.body, {self.sql})"
        return body if self.dress is None else self.dress(body)


class Lister:
    """One list endpoint's rows as Core statements: `where` always applies (its bind parameters are given to
    every call), each of `filters` when its value is given (not None); rows come in `order`.

    A page's rows hold `columns` (every column of the table unless given: a list that shows a few reads no more).
    The page and count statements of each combination of filters are built on first use and kept
    (emulator/store/sql.py compiles each once)."""

    def __init__(self, table: Table, where: Sequence[ColumnElement[bool]], order: Sequence[Any],
                 filters: Mapping[str, Filter] | None = None, columns: Sequence[str] | None = None,
                 wire: Wire | None = None) -> None:
        self.table = table
        self.columns = [table.c[name] for name in columns] if columns is not None else list(table.columns)
        self.where = list(where)
        self.order = list(order)
        self.filters = dict(filters or {})
        self._made: dict[frozenset[str], tuple[sql.Query, sql.Query]] = {}
        # where SQLite writes a page's rows as JSON (`sql.renders_json`), rows hold `wire.columns` and the JSON text
        # as `wire`
        self.wire = wire
        self._wire_made: dict[frozenset[str], sql.Query] = {}

    def _wire_query(self, chosen: frozenset[str]) -> sql.Query:
        made = self._wire_made.get(chosen)
        if made is None:
            wire = self.wire
            assert wire is not None
            rows = select(*(self.table.c[name] for name in wire.columns), literal_column(wire.column()).label("wire"))
            if wire.stored is not None:
                rows = rows.select_from(self.table.outerjoin(wire.stored, wire.stored.c.pk == self.table.c.pk))
            made = self._wire_made[chosen] = sql.Query(
                rows.where(self.table.c.pk.in_(self._keys(chosen))).order_by(*self.order))
        return made

    def _clauses(self, chosen: frozenset[str]) -> list[ColumnElement[bool]]:
        return [*self.where, *(self.filters[name](bindparam(name)) for name in sorted(chosen))]

    def _keys(self, chosen: frozenset[str]) -> Any:
        """The page's keys first, from the index alone (skipping `offset` entries without reading their rows)."""
        keys = select(self.table.c.pk).where(*self._clauses(chosen)).order_by(*self.order)
        return keys.limit(bindparam("limit")).offset(bindparam("offset")).scalar_subquery()

    def _queries(self, chosen: frozenset[str]) -> tuple[sql.Query, sql.Query]:
        made = self._made.get(chosen)
        if made is None:
            rows = select(*self.columns).where(self.table.c.pk.in_(self._keys(chosen))).order_by(*self.order)
            count = select(func.count()).select_from(self.table).where(*self._clauses(chosen))
            made = self._made[chosen] = (sql.Query(rows), sql.Query(count))
        return made

    def _split(self, params: dict[str, Any]) -> tuple[frozenset[str], dict[str, Any]]:
        chosen = frozenset(name for name in self.filters if params.get(name) is not None)
        given = {name: value for name, value in params.items() if name not in self.filters or name in chosen}
        return chosen, given

    async def rows(self, session: AsyncSession, limit: int, offset: int, **params: Any) -> list[Any]:
        chosen, given = self._split(params)
        query = self._wire_query(chosen) if self.wire is not None and sql.renders_json(session) else \
            self._queries(chosen)[0]
        return await sql.rows(session, query, limit=limit, offset=offset, **given)

    async def count(self, session: AsyncSession, **params: Any) -> int:
        chosen, given = self._split(params)
        return int(await sql.value(session, self._queries(chosen)[1], **given))

    async def page(self, session: AsyncSession, limit: int, offset: int, **params: Any) -> tuple[list[Any], int]:
        """The rows of one page and how many match in all."""
        return await self.rows(session, limit, offset, **params), await self.count(session, **params)


class Tally:
    """A list's total from a rollup (emulator/store/rollups.py) instead of counting rows: the sum of `measure`
    over the rollup rows of the account, narrowed by each filter given (filter name -> rollup column)."""

    def __init__(self, table: Table, measure: str, filters: Mapping[str, str]) -> None:
        self.table = table
        self.measure = measure
        self.filters = dict(filters)
        self._made: dict[frozenset[str], sql.Query] = {}

    async def total(self, session: AsyncSession, account_id: str, **params: Any) -> int:
        chosen = frozenset(name for name in self.filters if params.get(name) is not None)
        query = self._made.get(chosen)
        if query is None:
            c = self.table.c
            clauses = [c.account_id == bindparam("account"),
                       *(c[self.filters[name]] == bindparam(name) for name in sorted(chosen))]
            query = self._made[chosen] = sql.Query(select(func.coalesce(func.sum(c[self.measure]), 0))
                                                   .where(*clauses))
        given = {name: params[name] for name in chosen}
        return int(await sql.value(session, query, account=account_id, **given))
