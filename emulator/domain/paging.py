"""Counting and slicing a filtered query, the way every list endpoint pages."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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


class Lister:
    """One list endpoint's rows as Core statements: `where` always applies (its bind parameters are given to
    every call), each of `filters` when its value is given (not None); rows come in `order`.

    A page's rows hold `columns` (every column of the table unless given: a list that shows a few reads no more).
    The page and count statements of each combination of filters are built on first use and kept
    (emulator/store/sql.py compiles each once)."""

    def __init__(self, table: Table, where: Sequence[ColumnElement[bool]], order: Sequence[Any],
                 filters: Mapping[str, Filter] | None = None, columns: Sequence[str] | None = None,
                 wire: tuple[Sequence[str], str] | None = None) -> None:
        self.table = table
        self.columns = [table.c[name] for name in columns] if columns is not None else list(table.columns)
        self.where = list(where)
        self.order = list(order)
        self.filters = dict(filters or {})
        self._made: dict[frozenset[str], tuple[sql.Query, sql.Query]] = {}
        # (columns, SQL of the row's JSON): where SQLite writes a page's rows as JSON (`sql.renders_json`), rows
        # hold those columns and the JSON text as `wire` (emulator/wire/sqlite_json.py)
        self.wire = wire
        self._wire_made: dict[frozenset[str], sql.Query] = {}

    def _wire_query(self, chosen: frozenset[str]) -> sql.Query:
        made = self._wire_made.get(chosen)
        if made is None:
            assert self.wire is not None
            names, rendered = self.wire
            made = self._wire_made[chosen] = sql.Query(
                select(*(self.table.c[name] for name in names), literal_column(rendered).label("wire"))
                .where(self.table.c.pk.in_(self._keys(chosen))).order_by(*self.order))
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
