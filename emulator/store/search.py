"""The index a search of calls by number reads (`GET /v1/calls?search=`; the reads are emulator/domain/search.py).

A search matches the text anywhere in a call's from_number or to_number. The `call_numbers` rollup
(emulator/store/rollups.py) holds, per account, how many calls each number is on, by side and by the list's
filters; what this module adds finds the numbers a text is part of without reading every one of them:

- SQLite: `search_numbers`, every number of `call_numbers` once (of any account), and `search_numbers_fts`, an FTS5
  index of them with the trigram tokenizer, which finds the numbers containing a run of three or more characters.
  Triggers on `call_numbers` keep `search_numbers` (a number goes when the last rollup row naming it goes: rows are
  deleted with their account, by a reset, and when the rollups are rebuilt), and triggers on `search_numbers` keep
  the FTS index, all in the transaction that writes the calls.
- PostgreSQL: a `pg_trgm` GIN index on `call_numbers.number`, which serves `LIKE '%text%'` itself. Without the
  extension (it cannot be created), the same query reads the account's rollup rows instead.

A database made before this index gets it at start-up (`ensure`), filled from the rollup.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, text

from emulator.store.rollups import store_meta

log = logging.getLogger("emulator.store")

# Not in Base.metadata: created, wiped and removed by the statements below and their triggers, never by the ORM.
_meta = MetaData()
search_numbers = Table("search_numbers", _meta, Column("id", Integer, primary_key=True),
                       Column("number", String(64), nullable=False), Column("refs", Integer, nullable=False))
search_numbers_fts = Table("search_numbers_fts", _meta, Column("rowid", Integer), Column("number", String(64)))

_SQLITE_TABLES = (
    "CREATE TABLE search_numbers (id INTEGER PRIMARY KEY, number VARCHAR(64) NOT NULL UNIQUE, "
    "refs INTEGER NOT NULL)",
    "CREATE VIRTUAL TABLE search_numbers_fts USING fts5(number, content='search_numbers', content_rowid='id', "
    "tokenize='trigram')",
)
_SQLITE_TRIGGERS = (
    ("search_numbers_added", "CREATE TRIGGER search_numbers_added AFTER INSERT ON search_numbers BEGIN "
     "INSERT INTO search_numbers_fts (rowid, number) VALUES (NEW.id, NEW.number); END"),
    ("search_numbers_removed", "CREATE TRIGGER search_numbers_removed AFTER DELETE ON search_numbers BEGIN "
     "INSERT INTO search_numbers_fts (search_numbers_fts, rowid, number) VALUES ('delete', OLD.id, OLD.number); "
     "END"),
    # A rollup row is added when a number first has calls of its kind; an upsert's DO UPDATE fires no INSERT trigger.
    ("search_call_numbers_added", "CREATE TRIGGER search_call_numbers_added AFTER INSERT ON call_numbers BEGIN "
     "INSERT INTO search_numbers (number, refs) VALUES (NEW.number, 1) "
     "ON CONFLICT (number) DO UPDATE SET refs = refs + 1; END"),
    ("search_call_numbers_removed", "CREATE TRIGGER search_call_numbers_removed AFTER DELETE ON call_numbers BEGIN "
     "UPDATE search_numbers SET refs = refs - 1 WHERE number = OLD.number; "
     "DELETE FROM search_numbers WHERE number = OLD.number AND refs <= 0; END"),
)
_SQLITE_FILL = ("INSERT INTO search_numbers (number, refs) SELECT number, count(*) FROM call_numbers "
                "GROUP BY number",
                "INSERT INTO search_numbers_fts (search_numbers_fts) VALUES ('rebuild')")
_POSTGRESQL = ("CREATE EXTENSION IF NOT EXISTS pg_trgm",
               "CREATE INDEX IF NOT EXISTS ix_call_numbers_number_trgm ON call_numbers USING gin (number gin_trgm_ops)")


def fingerprint(dialect: str) -> str:
    """Everything the index is, as text: a database whose stored fingerprint differs is given it afresh."""
    parts = [*_SQLITE_TABLES, *(sql for _, sql in _SQLITE_TRIGGERS), *_SQLITE_FILL] if dialect == "sqlite" \
        else list(_POSTGRESQL)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def ensure(conn: Connection, new: bool = False) -> bool:
    """Give the database the index (call after `rollups.ensure`, in the same transaction). Returns whether it was
    made now. `new`: every table was just created, so there is nothing to drop or fill."""
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return False
    wanted = fingerprint(dialect)
    if not new and conn.execute(text("SELECT value FROM store_meta WHERE name = 'search'")).scalar() == wanted:
        return False
    if dialect == "sqlite":
        _sqlite(conn, new)
    elif not _postgresql(conn):
        return False  # tried again at the next start
    conn.execute(store_meta.delete().where(store_meta.c.name == "search"))
    conn.execute(store_meta.insert().values(name="search", value=wanted))
    return True


def _sqlite(conn: Connection, new: bool) -> None:
    if not new:
        for name, _ in _SQLITE_TRIGGERS:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        conn.execute(text("DROP TABLE IF EXISTS search_numbers_fts"))
        conn.execute(text("DROP TABLE IF EXISTS search_numbers"))
    for statement in _SQLITE_TABLES:
        conn.execute(text(statement))
    if not new:  # the numbers of the rows already there, indexed before the triggers exist
        for statement in _SQLITE_FILL:
            conn.execute(text(statement))
    for _, statement in _SQLITE_TRIGGERS:
        conn.execute(text(statement))


def _postgresql(conn: Connection) -> bool:
    """The trigram index, if the server lets this database have pg_trgm (a failure leaves the transaction be)."""
    try:
        with conn.begin_nested():
            for statement in _POSTGRESQL:
                conn.execute(text(statement))
    except Exception as exc:  # noqa: BLE001 - any refusal (no contrib package, no privilege) means: no index
        log.info("pg_trgm is not available (%s): a search of calls reads the account's numbers without an index",
                 str(exc).splitlines()[0])
        return False
    return True
