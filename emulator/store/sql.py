"""Hot statements: SQLAlchemy Core, built once, compiled once per dialect, run without ORM machinery.

A hot query is declared once, at import time, as a Core statement with named bind parameters:

    AGENT = Query(select(agents.c.id, agents.c.name).where(agents.c.id == bindparam("id")))
    row = await first(session, AGENT, id=agent_id)          # row.name, or row[1]

Where the store runs SQLite inline (emulator/store/db.py: reads and writes on the event loop's own
connections) the statement is compiled once for the dialect and each execution goes straight to the
sqlite3 connection; parameters and result values are converted by the column types' own SQLAlchemy
processors (datetimes, JSON, booleans), so a row reads exactly as SQLAlchemy would have returned it, at
a fraction of the cost (no statement construction, cache-key walk, execution context or result object per
call). Anywhere else (an async engine: PostgreSQL) the same statement is handed to
`AsyncSession.execute`. One declaration, one domain code path, both databases.

Rows of both paths read alike, by attribute (the statement's column keys) and by position.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Table, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

Processor = Callable[[Any], Any]
_UNSET = object()


@dataclass(frozen=True)
class Plan:
    """A statement compiled for one dialect: its SQL, how to build its parameters, how to read its rows."""

    sql: str
    binds: tuple[tuple[str, Any, Processor | None], ...]  # (name, literal value or _UNSET, processor)
    expanding: frozenset[str]  # IN (...) parameters, given as sequences
    row: Callable[[Sequence[Any]], Any] | None  # the row class's constructor, None for statements without rows
    results: tuple[tuple[int, Processor], ...]  # (column index, processor) of the columns that need one

    @classmethod
    def of(cls, statement: ClauseElement, dialect: Dialect) -> Plan:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        if not compiled.positional:
            raise ValueError(f"the {dialect.name} dialect uses named parameters; run the statement through "
                             "its engine instead")
        binds = []
        expanding = set()
        for name in compiled.positiontup or ():
            bind: BindParameter[Any] = compiled.binds[name]
            value = _UNSET if bind.callable is None and bind.value is None and bind.required else bind.effective_value
            if bind.expanding:
                expanding.add(name)
            binds.append((name, value, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        row = None
        results: list[tuple[int, Processor]] = []
        columns = getattr(statement, "selected_columns", None)
        returning = getattr(statement, "_returning", ())
        chosen = list(columns) if columns is not None else list(returning)
        if chosen:
            names = [column.key for column in chosen]
            row = namedtuple("Row", names, rename=True)._make  # type: ignore[attr-defined]
            for index, column in enumerate(chosen):
                processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
                if processor is not None:
                    results.append((index, processor))
        return cls(compiled.string, tuple(binds), frozenset(expanding), row, tuple(results))

    def parameters(self, given: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL to run (IN lists expanded) and its positional parameters, converted for the driver."""
        sql = self.sql
        out: list[Any] = []
        for name, literal, process in self.binds:
            value = given.get(name, literal)
            if value is _UNSET:
                raise KeyError(f"no value for the bind parameter {name!r}")
            if name in self.expanding:
                values = list(value)
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * len(values)) or "NULL")
                out.extend(process(v) for v in values) if process else out.extend(values)
                continue
            out.append(process(value) if process is not None and value is not None else value)
        return sql, out

    def read(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        make = self.row
        assert make is not None
        if not self.results:
            return [make(row) for row in rows]
        out = []
        for raw in rows:
            values = list(raw)
            for index, process in self.results:
                values[index] = process(values[index])
            out.append(make(values))
        return out


class Query:
    """A Core statement declared once; `rows`, `first`, `value` and `run` execute it on any store session."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._plans: dict[str, Plan] = {}

    def plan(self, dialect: Dialect) -> Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = Plan.of(self.statement, dialect)
        return plan


class Insert(Query):
    """`INSERT` of one row into a table, every column but the primary key given (a column's scalar default
    where the caller leaves it out); `insert()` returns the row as a `select` of the table would read it."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.columns = [column for column in table.columns if not column.primary_key]
        self.pk = next(column.key for column in table.columns if column.primary_key)
        self.defaults: dict[str, Any] = {}
        for column in self.columns:
            default = column.default
            if default is not None and getattr(default, "is_scalar", False):
                self.defaults[column.key] = default.arg  # type: ignore[attr-defined]
        super().__init__(table.insert().values({column.key: bindparam(column.key) for column in self.columns}))
        self.row = namedtuple("Row", [column.key for column in table.columns])  # type: ignore[misc]

    def values(self, given: dict[str, Any]) -> dict[str, Any]:
        unknown = set(given) - {column.key for column in self.columns}
        if unknown:
            raise KeyError(f"{self.table.name} has no column {', '.join(sorted(unknown))}")
        return {column.key: given[column.key] if column.key in given else self.defaults.get(column.key)
                for column in self.columns}


def _inline(session: Any) -> Any:
    """The session's inline runner, or None when it is an AsyncSession."""
    return getattr(session, "inline", None)


async def rows(session: AsyncSession, query: Query, **params: Any) -> list[Any]:
    """Every row the statement returns."""
    inline = _inline(session)
    if inline is not None:
        return inline.fetch(query, params)
    return list((await session.execute(query.statement, params)).all())


async def first(session: AsyncSession, query: Query, **params: Any) -> Any:
    """The first row, or None."""
    inline = _inline(session)
    if inline is not None:
        found = inline.fetch(query, params, one=True)
        return found[0] if found else None
    return (await session.execute(query.statement, params)).first()


async def value(session: AsyncSession, query: Query, **params: Any) -> Any:
    """The first column of the first row, or None."""
    row = await first(session, query, **params)
    return None if row is None else row[0]


async def insert(session: AsyncSession, query: Insert, **values: Any) -> Any:
    """Insert one row; returns it (primary key included) as a row of the table."""
    full = query.values(values)
    inline = _inline(session)
    if inline is not None:
        pk = inline.insert(query, full)
    else:
        result = cast(CursorResult[Any], await session.execute(query.statement, full))
        pk = result.inserted_primary_key[0] if result.inserted_primary_key else None
    return query.row(**{query.pk: pk, **full})


async def insert_many(session: AsyncSession, query: Insert, rows: Sequence[dict[str, Any]]) -> None:
    """Insert several rows in one statement execution."""
    if not rows:
        return
    full = [query.values(row) for row in rows]
    inline = _inline(session)
    if inline is not None:
        inline.run_many(query, full)
    else:
        await session.execute(query.statement, full)


async def run(session: AsyncSession, query: Query, **params: Any) -> int:
    """Run a statement without rows (INSERT, UPDATE, DELETE); returns the rows it changed."""
    inline = _inline(session)
    if inline is not None:
        return inline.run(query, params)
    result = await session.execute(query.statement, params)
    return int(getattr(result, "rowcount", 0) or 0)
