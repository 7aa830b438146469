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

import json
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import JSON, CursorResult, Table, bindparam, literal_column
from sqlalchemy.dialects.sqlite import DATETIME as SQLiteDateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, visitors
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.type_api import TypeEngine

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

Processor = Callable[[Any], Any]
_UNSET = object()


@dataclass(frozen=True)
class Plan:
    """A statement compiled for one dialect: its SQL, how to build its parameters, how to read its rows."""

    sql: str
    build: Callable[[Mapping[str, Any]], list[Any]]  # the driver's positional parameters from named values
    expanding: tuple[str, ...]  # IN (...) parameters, given as sequences
    row: Callable[[Sequence[Any]], Any] | None  # the row class's constructor, None for statements without rows
    results: tuple[tuple[int, Processor], ...]  # (column index, processor) of the columns that need one
    reader: Callable[[list[tuple[Any, ...]]], list[Any]] | None = None  # driver rows to rows, written out

    @classmethod
    def of(cls, statement: ClauseElement, dialect: Dialect) -> Plan:
        compiled = cast(SQLCompiler, _with_constants_inline(statement, dialect).compile(dialect=dialect))
        if not compiled.positional:
            raise ValueError(f"the {dialect.name} dialect uses named parameters; run the statement through "
                             "its engine instead")
        binds = []
        expanding = []
        for name in compiled.positiontup or ():
            bind: BindParameter[Any] = compiled.binds[name]
            literal = _UNSET if bind.callable is None and bind.value is None and bind.required else bind.effective_value
            if bind.expanding:
                expanding.append(name)
                literal = _UNSET
            binds.append((name, literal, _bind_processor(bind.type, dialect), bind.expanding))
        row = None
        results: list[tuple[int, Processor]] = []
        columns = getattr(statement, "selected_columns", None)
        chosen = list(columns) if columns is not None else list(getattr(statement, "_returning", ()))
        if chosen:
            names = [column.key for column in chosen]
            row = namedtuple("Row", names, rename=True)._make  # type: ignore[attr-defined]
            for index, column in enumerate(chosen):
                processor = _result_processor(column.type, dialect)
                if processor is not None:
                    results.append((index, processor))
        reader = _reader(row, len(chosen), results) if row is not None else None
        return cls(compiled.string, _builder(binds), tuple(expanding), row, tuple(results), reader)

    def parameters(self, given: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL to run (IN lists expanded) and its positional parameters, converted for the driver."""
        if not self.expanding:
            return self.sql, self.build(given)
        sql = self.sql
        args = self.build(given)
        flat: list[Any] = []
        for value in args:
            if isinstance(value, _Expanded):
                flat.extend(value.values)
                sql = sql.replace(f"__[POSTCOMPILE_{value.name}]", ", ".join("?" * len(value.values)) or "NULL", 1)
            else:
                flat.append(value)
        return sql, flat

    def read(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        assert self.reader is not None
        return self.reader(rows)


def _constant(bind: BindParameter[Any], dialect: Dialect) -> str | None:
    """The SQL literal of a bind parameter that is a constant of its statement (`status == "active"`: an
    anonymous parameter with a plain value), or None for any other parameter."""
    value = bind.value
    if not bind.unique or bind.expanding or bind.callable is not None or type(value) not in (str, int, bool):
        return None
    try:
        if not isinstance(value, bind.type.python_type):
            return None  # a constant of another kind than its column's (`text_column == 5`) stays bound
        render = bind.type.dialect_impl(dialect).literal_processor(dialect)
        return None if render is None else str(render(value))
    except (NotImplementedError, TypeError, ValueError, AttributeError):
        return None


def _with_constants_inline(statement: ClauseElement, dialect: Dialect) -> ClauseElement:
    """The statement with its constants written into the SQL instead of bound at each execution.

    On SQLite this is what keeps a prepared statement prepared: a column that a partial index's WHERE names
    (`calls.status`, `phone_numbers.status`, `webhook_deliveries.status`) compared with a bound value makes
    SQLite prepare the statement again each time that value is bound (the plan may depend on it), which costs
    several times the statement's own run. A literal never changes, so the plan is made once."""
    if dialect.name != "sqlite":
        return statement
    literals: dict[int, str] = {}
    for bind in visitors.iterate(statement):
        if isinstance(bind, BindParameter) and (text := _constant(bind, dialect)) is not None:
            literals[id(bind)] = text
    if not literals:
        return statement

    def replace(element: Any, **_kw: Any) -> Any:
        text = literals.get(id(element))
        return None if text is None else literal_column(text, element.type)

    return cast(ClauseElement, visitors.replacement_traverse(cast(Any, statement), {}, replace))


@dataclass(frozen=True)
class _Expanded:
    name: str
    values: list[Any]


def _builder(binds: list[tuple[str, Any, Processor | None, bool]]) -> Callable[[Mapping[str, Any]], list[Any]]:
    """A function from named values to the positional list, written out for this statement (one expression per
    parameter, as `collections.namedtuple` writes its classes): the hot part of every execution."""
    env: dict[str, Any] = {"_Expanded": _Expanded}
    items = []
    for index, (name, literal, process, expanding) in enumerate(binds):
        get = f"p[{name!r}]" if literal is _UNSET else f"p.get({name!r}, L{index})"
        env[f"L{index}"] = literal
        if process is not None:
            env[f"P{index}"] = process
        if expanding:
            each = f"[P{index}(v) for v in {get}]" if process is not None else f"list({get})"
            items.append(f"_Expanded({name!r}, {each})")
        else:
            items.append(f"P{index}({get})" if process is not None else get)
    source = "def build(p):\n    return [" + ", ".join(items) + "]\n"
    exec(source, env)  # noqa: S102 - the source is made above from the statement's own bind names
    return cast(Callable[[Mapping[str, Any]], list[Any]], env["build"])


def _reader(make: Callable[[Sequence[Any]], Any], width: int,
            results: list[tuple[int, Processor]]) -> Callable[[list[tuple[Any, ...]]], list[Any]]:
    """A function from the driver's rows to rows of the statement, written out for it as `_builder` writes its
    parameters: each value that needs converting goes through its processor in one expression per row."""
    if not results:
        return lambda rows: list(map(make, rows))
    env: dict[str, Any] = {"make": make}
    processed = dict(results)
    items = []
    for index in range(width):
        if index in processed:
            env[f"P{index}"] = processed[index]
            items.append(f"P{index}(r[{index}])")
        else:
            items.append(f"r[{index}]")
    source = "def read(rows):\n    return [make((" + ", ".join(items) + ",)) for r in rows]\n"
    exec(source, env)  # noqa: S102 - the source is made above from column positions only
    return cast(Callable[[list[tuple[Any, ...]]], list[Any]], env["read"])


def _result_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor | None:
    impl = type_.dialect_impl(dialect)
    if dialect.name == "sqlite" and isinstance(impl, JSON) and impl.result_processor(dialect, None) is not None:
        # SQLAlchemy's SQLite JSON reads through two wrappers around the deserializer; this is the same
        # conversion in one (a number stored in a JSON column reads as that number, as SQLAlchemy's does).
        loads = getattr(dialect, "_json_deserializer", None) or json.loads

        def process(value: Any) -> Any:
            if value is None or not isinstance(value, str | bytes):
                return value
            return loads(value)

        return process
    return impl.result_processor(dialect, None)


def _bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor | None:
    impl = type_.dialect_impl(dialect)
    process = impl.bind_processor(dialect)
    if dialect.name == "sqlite" and isinstance(impl, SQLiteDateTime) and \
            impl._storage_format == SQLiteDateTime._storage_format and process is not None:
        # SQLAlchemy's own format for SQLite, "YYYY-MM-DD HH:MM:SS.ffffff", written by isoformat (a C call)
        # instead of a %-format of seven fields; other values (dates, aware datetimes) go to SQLAlchemy's.
        fallback = process

        def process(value: Any) -> Any:
            if type(value) is datetime and value.tzinfo is None:
                return value.isoformat(" ", "microseconds")
            return fallback(value)

    return process


class Query:
    """A Core statement declared once; `rows`, `first`, `value` and `run` execute it on any store session.

    `dialects` gives a statement per dialect name where SQLAlchemy spells one per dialect (an upsert:
    `sqlite.insert(...).on_conflict_do_nothing()` and its PostgreSQL twin); `statement` is the default."""

    def __init__(self, statement: Any, dialects: Mapping[str, Any] | None = None) -> None:
        self.statement = statement
        self.dialects = dict(dialects or {})
        self._plans: dict[str, Plan] = {}

    def statement_for(self, dialect: Dialect) -> Any:
        chosen = self.dialects.get(dialect.name, self.statement)
        if isinstance(chosen, Later):
            chosen = self.dialects[dialect.name] = chosen.build()
        return chosen

    def plan(self, dialect: Dialect) -> Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = Plan.of(self.statement_for(dialect), dialect)
        return plan


class Later:
    """A dialect's statement built the first time it runs there: the PostgreSQL dialect takes long to import,
    and a process on SQLite never needs it."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self.build = build


def postgresql_insert(table: Table) -> Any:
    """`sqlalchemy.dialects.postgresql.insert(table)`, importing the dialect only now."""
    from sqlalchemy.dialects.postgresql import insert

    return insert(table)


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
            scalar = getattr(default, "arg", None) if getattr(default, "is_scalar", False) else None
            self.defaults[column.key] = scalar
        super().__init__(table.insert().values({column.key: bindparam(column.key) for column in self.columns}))
        self.row = namedtuple("Row", [column.key for column in table.columns])  # type: ignore[misc]
        self._known = frozenset(self.defaults)

    def values(self, given: dict[str, Any]) -> dict[str, Any]:
        """Every column's value: the given ones, the defaults (or None) for the others."""
        if not self._known.issuperset(given):
            unknown = set(given) - self._known
            raise KeyError(f"{self.table.name} has no column {', '.join(sorted(unknown))}")
        return {**self.defaults, **given}


def _inline(session: Any) -> Any:
    """The session's inline runner, or None when it is an AsyncSession."""
    return getattr(session, "inline", None)


def _statement(session: AsyncSession, query: Query) -> Any:
    if not query.dialects:
        return query.statement
    bind = session.bind
    assert bind is not None
    return query.statement_for(bind.dialect)


_json_functions: bool | None = None


def json_functions(raw: Any) -> bool:
    """Whether a sqlite3 connection has SQLite's JSON functions (a build without them is rare)."""
    try:
        raw.execute("SELECT json_object('a', 1)").fetchall()
    except Exception:  # noqa: BLE001 - an SQLite built without its JSON functions
        return False
    return True


def renders_json(session: Any) -> bool:
    """Whether the session runs inline on SQLite with its JSON functions, so a list may read its rows as JSON text
    SQLite writes (emulator/wire/sqlite_json.py) instead of rendering them in Python."""
    global _json_functions
    if _inline(session) is None:
        return False
    if _json_functions is None:
        _json_functions = json_functions(session.raw)
    return _json_functions


async def rows(session: AsyncSession, query: Query, **params: Any) -> list[Any]:
    """Every row the statement returns."""
    inline = _inline(session)
    if inline is not None:
        return inline.fetch(query, params)
    return list((await session.execute(_statement(session, query), params)).all())


async def tuples(session: AsyncSession, query: Query, **params: Any) -> list[Any]:
    """Every row the statement returns, by position only, its values as the driver reads them (for columns that
    need no conversion: text, integers)."""
    inline = _inline(session)
    if inline is not None:
        return inline.fetch_raw(query, params)
    return list((await session.execute(_statement(session, query), params)).tuples())


async def first(session: AsyncSession, query: Query, **params: Any) -> Any:
    """The first row, or None."""
    inline = _inline(session)
    if inline is not None:
        found = inline.fetch(query, params, one=True)
        return found[0] if found else None
    return (await session.execute(_statement(session, query), params)).first()


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
    result = await session.execute(_statement(session, query), params)
    return int(getattr(result, "rowcount", 0) or 0)
