"""A response model's rows rendered by SQLite itself: one `json_object(...)` per row, keys and values as the
model's render function (`emulator/wire/base.py` `columns`) writes them.

A page of 20 agents is 480 values: SQLite turning each into a Python object, Python converting the timestamps
to datetimes and back to ISO text and building a dict per row, then orjson encoding them costs several times
what SQLite spends writing the same JSON text in C. So on SQLite the hot lists read each row as the JSON text
this SQL writes (stored when the row is written: emulator/store/documents.py) and hand it to orjson as a
`Fragment`; the Python render functions stay the reference (and PostgreSQL's path).

Values are written as the Python side writes them:

* timestamps: SQLAlchemy stores them as `YYYY-MM-DD HH:MM:SS.ffffff`; the wire form is the first 23 characters
  with a `T` for the space and a `Z` (milliseconds truncated, as `datetime.isoformat(timespec="milliseconds")`
  does); a value stored in another form (no fraction) goes through `strftime`;
* booleans (stored 0/1) as `true`/`false`; JSON columns as the JSON they hold, spelled as stored (the store
  writes it compact, as orjson does);
* floats as the shortest of 15 or 17 significant digits that reads back as the same double (SQLite's JSON
  writes 15, which for a few values is not the same number): the same float a client parses from
  Python's shortest form, if not always the same digits (`1.0e-05` for `1e-05`).

Strings are escaped as orjson escapes them (control characters as `\\u00XX`, but for `\\b\\t\\n\\f\\r`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel

from emulator.wire.base import wire_fields

if TYPE_CHECKING:  # the wire models load without SQLAlchemy (the scenario commands use them); these functions
    from sqlalchemy import Column, Table  # are called by the store's code, which has it


def stamp_sql(column: str) -> str:
    """ISO-8601 with milliseconds and a Z of a timestamp column (NULL stays NULL)."""
    return (f"CASE WHEN length({column}) = 26 THEN replace(substr({column}, 1, 23), ' ', 'T') || 'Z' "
            f"ELSE strftime('%Y-%m-%dT%H:%M:%fZ', {column}) END")


def _float_sql(column: str) -> str:
    return (f"CASE WHEN {column} IS NULL OR {column} = CAST(printf('%!.15g', {column}) AS REAL) THEN {column} "
            f"ELSE json(printf('%!.17g', {column})) END")


def value_sql(column: Column[object], name: str) -> str:
    """The JSON value of one column of the row, as SQL (`name`: the column's qualified name)."""
    from sqlalchemy import JSON, Boolean, DateTime, Float

    kind = column.type
    if isinstance(kind, DateTime):
        return stamp_sql(name)
    if isinstance(kind, Boolean):
        # json('true') is a constant: SQLite makes it once per statement, not once per row
        return f"CASE WHEN {name} THEN json('true') WHEN {name} IS NULL THEN NULL ELSE json('false') END"
    if isinstance(kind, JSON):
        return f"json({name})"
    if isinstance(kind, Float):
        return _float_sql(name)
    return name


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def column_sql(table: Table, attr: str) -> str:
    """The JSON value of the column `attr` of a row of `table`, as SQL."""
    return value_sql(table.c[attr], f"{table.name}.{attr}")


def pairs_sql(pairs: Iterable[tuple[str, str]]) -> str:
    """`json_object(...)` of (wire name, SQL value) pairs, in their order."""
    return "json_object(" + ", ".join(f"{quote(wire)}, {value}" for wire, value in pairs) + ")"


def object_sql(model: type[BaseModel], table: Table, *, skip: Iterable[str] = (),
               source: dict[str, str] | None = None, extra: Iterable[tuple[str, str]] = ()) -> str:
    """`json_object(...)` of a row of `table` with the fields `columns(model, skip=..., source=...)` renders, in
    its order, followed by `extra` (wire name, SQL value) pairs."""
    pairs = [(wire, column_sql(table, attr)) for wire, attr, _stamp in wire_fields(model, skip=skip, source=source)]
    return pairs_sql([*pairs, *extra])
