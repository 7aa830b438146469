"""Listed rows' JSON, kept by SQLite: each agent's, call's and message's document as a list shows it, written
by triggers in the transaction that writes the row, so a page reads 20 stored texts instead of SQLite building
20 JSON objects of 18-25 values each (and Python nothing per row).

A document is exactly what SQLite would write for the row at read time (emulator/wire/sqlite_json.py, the
SQL of emulator/wire/agents.py, calls.py and messages.py), kept in a table of its own keyed by the row's `pk`:

- `agent_documents`: an agent with its active numbers (`written` in emulator/wire/agents.py). Triggers on
  `agents` write it; triggers on `phone_numbers` write it again for the agents a number joins or leaves.
- `call_documents`: a listed call with `"agentName":null` (`listed_sql`): the reading statement writes the
  agent's name in, so a renamed or deleted agent changes no stored document.
- `message_documents`: a message with its reactions; triggers on `reactions` write it again.

A row's document is written after every insert and update of the row. An agent's goes with it (a trigger); calls
and messages are only deleted with their account, and their documents with them, in one statement (`forgotten`:
emulator/domain/accounts.py `remove`; a wipe empties the tables). Reads join the
documents by `pk` and fall back to the expression itself where a row has none (`COALESCE` evaluates it only
then), so a missing document costs time, never a wrong or lost row. Only SQLite keeps them (PostgreSQL's path
renders in Python); a database made before them gets them at start-up (`ensure`), filled from the rows.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, Connection, Delete, Integer, MetaData, Table, Text, delete, select, text

from emulator.store.rollups import store_meta
from emulator.store.sql import json_functions

# Not in Base.metadata: created and removed by the statements below, their rows written by the triggers.
_meta = MetaData()


def _documents(name: str) -> Table:
    return Table(name, _meta, Column("pk", Integer, primary_key=True), Column("body", Text, nullable=False))


agent_documents = _documents("agent_documents")
call_documents = _documents("call_documents")
message_documents = _documents("message_documents")


@dataclass(frozen=True)
class Follows:
    """Another table whose rows are part of a document: a change of one of its rows (of `columns`, for an update;
    None: any) writes again the documents of the source rows `rows` names, given how the changed row is named
    (NEW or OLD)."""

    table: str
    rows: Callable[[str], str]
    columns: tuple[str, ...] | None = None
    when: Callable[[str], str] | None = None  # a changed row that can be part of none: its triggers skip it

    def only(self, *rows: str) -> str:
        return "" if self.when is None else " WHEN " + " OR ".join(f"({self.when(row)})" for row in rows)


@dataclass(frozen=True)
class Kind:
    documents: Table
    source: str  # the table whose rows they are
    body: str  # the SQL of a row's document, over the source table's columns (`source.column`)
    follows: tuple[Follows, ...] = ()

    def written(self, where: str) -> str:
        """The statement writing the documents of the source rows `where` holds for."""
        # an upsert, not INSERT OR REPLACE: a trigger's OR-conflict policy gives way to the outer statement's (an
        # UPDATE OR IGNORE would leave the old document), its ON CONFLICT clause does not
        return (f"INSERT INTO {self.documents.name} (pk, body) SELECT {self.source}.pk, {self.body} "
                f"FROM {self.source} WHERE {where} ON CONFLICT (pk) DO UPDATE SET body = excluded.body")

    def triggers(self) -> list[str]:
        name, source = self.documents.name, self.source
        kept = self.written(f"{source}.pk = NEW.pk")
        out = [f"CREATE TRIGGER {name}_added AFTER INSERT ON {source} BEGIN {kept}; END",
               f"CREATE TRIGGER {name}_changed AFTER UPDATE ON {source} BEGIN {kept}; END"]
        if source not in _WITH_ACCOUNT:  # a row deleted on its own
            out.append(f"CREATE TRIGGER {name}_removed AFTER DELETE ON {source} BEGIN "
                       f"DELETE FROM {name} WHERE pk = OLD.pk; END")
        for other in self.follows:
            prefix = f"{name}_{other.table}"
            changed = f"AFTER UPDATE OF {', '.join(other.columns)}" if other.columns else "AFTER UPDATE"
            either = f"({other.rows('OLD')}) OR ({other.rows('NEW')})"
            out += [
                f"CREATE TRIGGER {prefix}_added AFTER INSERT ON {other.table}{other.only('NEW')} BEGIN "
                f"{self.written(other.rows('NEW'))}; END",
                f"CREATE TRIGGER {prefix}_changed {changed} ON {other.table}{other.only('OLD', 'NEW')} BEGIN "
                f"{self.written(either)}; END",
                f"CREATE TRIGGER {prefix}_removed AFTER DELETE ON {other.table}{other.only('OLD')} BEGIN "
                f"{self.written(other.rows('OLD'))}; END",
            ]
        return out


def kinds() -> tuple[Kind, ...]:
    """The documents kept (their SQL comes from the wire modules, imported only when the schema is made)."""
    from emulator.store.models import Agent, Call, Message, PhoneNumber, Reaction, table
    from emulator.wire.agents import document_sql
    from emulator.wire.calls import listed_sql
    from emulator.wire.messages import message_sql

    agents = table(Agent)
    return (
        Kind(agent_documents, "agents", document_sql(agents, table(PhoneNumber)), (
            Follows("phone_numbers", lambda row: f"agents.id = {row}.agent_id",
                    ("agent_id", "status", "phone_number", "type", "attached_at", "id"),
                    lambda row: f"{row}.agent_id IS NOT NULL"),)),
        Kind(call_documents, "calls", listed_sql(table(Call))),
        Kind(message_documents, "messages", message_sql(table(Message), table(Reaction)), (
            Follows("reactions", lambda row: f"messages.id = {row}.message_id"),)),
    )


# The tables whose rows are deleted only with their account (emulator/store/rollups.py counts them on that
# promise too), and their documents: a trigger per deleted row would make a reset of 20,000 calls and 20,000
# messages 2.7 times slower (0.12 -> 0.33 s), so `forgotten` deletes their documents in one statement first.
_WITH_ACCOUNT = {"calls": call_documents, "messages": message_documents}


def forgotten(source: Table, account_ids: list[str]) -> Delete | None:
    """The statement deleting the documents of the accounts' rows of `source`, to run before those rows are deleted
    (None: `source` has none, or its documents go by trigger)."""
    kept = _WITH_ACCOUNT.get(source.name)
    if kept is None:
        return None
    return delete(kept).where(kept.c.pk.in_(select(source.c.pk).where(source.c.account_id.in_(account_ids))))


def tables() -> list[Table]:
    """Every documents table (a wipe empties them after the rows: a whole table is emptied at once)."""
    return list(_meta.tables.values())


def _statements() -> tuple[list[str], list[str], list[str]]:
    made = kinds()
    tables = [f"CREATE TABLE {kind.documents.name} (pk INTEGER PRIMARY KEY, body TEXT NOT NULL)" for kind in made]
    triggers = [trigger for kind in made for trigger in kind.triggers()]
    fills = [kind.written("1") for kind in made]
    return tables, triggers, fills


def fingerprint() -> str:
    tables, triggers, fills = _statements()
    return hashlib.sha256("\n".join([*tables, *triggers, *fills]).encode()).hexdigest()[:16]


def ensure(conn: Connection, new: bool = False) -> bool:
    """Give a SQLite database the documents as defined now (call after `rollups.ensure`, in the same transaction):
    a new one, or one whose stored fingerprint differs or that lacks a table, gets the tables and triggers afresh
    and, unless `new`, every row's document. Returns whether they were made now. A SQLite without the JSON
    functions gets none (and loses any a database brought: its writes could not run their triggers)."""
    if conn.dialect.name != "sqlite":
        return False
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, sqlite3.Connection)
    if not has_json(raw):
        remove(raw)
        return False
    wanted = fingerprint()
    if not new:
        stored = raw.execute("SELECT value FROM store_meta WHERE name = 'documents'").fetchone()
        present = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if stored is not None and stored[0] == wanted and present >= set(_meta.tables):
            return False
        remove(raw)  # every trigger of an earlier definition too, whatever it was named
    tables, triggers, fills = _statements()
    for statement in tables:
        conn.execute(text(statement))
    if not new:
        for statement in fills:
            conn.execute(text(statement))
    for statement in triggers:
        conn.execute(text(statement))
    conn.execute(store_meta.insert().values(name="documents", value=wanted))
    return True


def remove(raw: sqlite3.Connection) -> None:
    """Drop the documents' triggers, tables and fingerprint (a database made from the schema script on a SQLite
    without the JSON functions, whose writes could not run them; or before the documents are made afresh)."""
    prefixes = tuple(f"{name}_" for name in _meta.tables)
    names = [row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    for name in (name for name in names if name.startswith(prefixes)):
        raw.execute(f"DROP TRIGGER {name}")
    for each in _meta.tables.values():
        raw.execute(f"DROP TABLE IF EXISTS {each.name}")
    raw.execute("DELETE FROM store_meta WHERE name = 'documents'")


def has_json(raw: object) -> bool:
    """Whether the SQLite connection has the JSON functions the documents are written with (every build since
    3.38 has them; without them no trigger is made and the lists render in Python)."""
    return isinstance(raw, sqlite3.Connection) and json_functions(raw)
