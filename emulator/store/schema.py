"""A new SQLite database's schema, rendered once: the statements the store's schema step (`_create` in
emulator/store/db.py) runs on an empty database, in order, kept in `sqlite_schema.sql` beside this module.

Rendering them from the metadata (tables, indexes, the rollups' triggers, their fingerprint) costs more than
the rest of a new database's start-up; a store whose SQLite database is empty runs the script instead
(`statements()`), in the same transaction. tests/test_startup.py checks that the script is what the schema
step renders now and that both make the same database, so a change to the models, the rollups or the schema
step fails there until the script is written again:

    python -m emulator.store.schema          # writes emulator/store/sqlite_schema.sql

An existing database always goes through the schema step itself (it adds what an older version lacks).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("sqlite_schema.sql")
HEADER = ("-- The schema of a new SQLite database: the statements emulator/store/db.py's `_create` runs on an\n"
          "-- empty one, in order, each to its last character (SQLite keeps a table's text as it was sent).\n"
          "-- Written by `python -m emulator.store.schema`; do not edit by hand.\n")
# What the schema step also runs that changes nothing: reads (the look for tables already there) and transactions.
_NOT_KEPT = ("SELECT", "PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def statements(script: str | None = None) -> list[str]:
    """The script's statements, one by one; [] when the script is not there (the store then renders them)."""
    if script is None:
        try:
            script = SCRIPT.read_text(encoding="utf-8")
        except OSError:
            return []
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        if not pending and (not line.strip() or line.startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.rstrip().removesuffix(";"))  # the whitespace before it is the statement's own
            pending = ""
    if pending.strip():
        raise ValueError(f"{SCRIPT.name} ends inside a statement: {pending.strip()[:80]!r}")
    return out


def render() -> str:
    """The script: the schema step run on an empty in-memory database, each statement it sent (with its values
    written in) that changed something."""
    from sqlalchemy import event
    from sqlalchemy.engine import make_url

    from emulator.store.db import _create, _sqlite_engine

    engine = _sqlite_engine(make_url("sqlite+pysqlite://"))
    kept: list[str] = []
    sent = False

    def sending(*args: Any) -> None:
        nonlocal sent
        if args[-1]:  # executemany: the trace would show its first row only
            raise ValueError("the schema step ran a statement once per row; the script cannot hold it")
        sent = True

    def traced(sql: str) -> None:  # the first statement after each of SQLAlchemy's is its own, values written in
        nonlocal sent
        if sent:
            sent = False
            if sql.lstrip().split(None, 1)[0].upper() not in _NOT_KEPT:
                kept.append(sql.lstrip())  # to the last character: SQLite keeps a table's text as it was sent

    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection)
            event.listen(conn, "before_cursor_execute", sending)
            raw.execute("BEGIN")
            raw.set_trace_callback(traced)
            _create(conn)
            raw.set_trace_callback(None)
            raw.execute("ROLLBACK")
    finally:
        engine.dispose()
    return HEADER + "".join(f"\n{statement};\n" for statement in _indexes_in_order(kept))


def _indexes_in_order(statements: list[str]) -> list[str]:
    """The same statements with each table's indexes by name: SQLAlchemy creates them in no set order."""
    out: list[str] = []
    run: list[str] = []
    for statement in [*statements, ""]:
        if statement.startswith(("CREATE INDEX ", "CREATE UNIQUE INDEX ")):
            run.append(statement)
            continue
        out += sorted(run, key=lambda index: index.split(" ON ", 1)[0].split()[-1])
        run = []
        if statement:
            out.append(statement)
    return out


def main() -> int:
    SCRIPT.write_text(render(), encoding="utf-8")
    print(f"wrote {SCRIPT} ({len(statements())} statements)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
