"""Counts kept by the database: rollups of calls, messages, deliveries and conversations, maintained by
triggers in the same transaction as the rows they count.

Lists need totals, usage needs counts per window, delivery statistics need counts per hour and event;
counting the rows each time costs as much as there are rows. A rollup holds the same numbers per group
(an account's calls per agent, number, status, direction and type; messages per day; deliveries per hour,
event and status...), so a read sums a handful of rollup rows however many rows there are.

Each rollup is declared once (`Rollup`): its table, the table it counts, its group keys and summed
measures as SQL over one row, an optional condition, and the columns whose change moves a row from one
group to another. From the declarations come the tables (in `Base.metadata`, so they are created, wiped
and removed with an account like every other table), one AFTER INSERT and one AFTER UPDATE trigger per
counted table (SQLite's, and PostgreSQL's as a PL/pgSQL function), and the statements that rebuild every
rollup from the rows (a database made before a rollup existed, or by another definition of it, is rebuilt
at start-up: `ensure`).

Rows of the counted tables are never deleted one by one (only with their account, whose rollup rows go
too), so there are no DELETE triggers. Time buckets are text: the day `YYYY-MM-DD` and the hour
`YYYY-MM-DD HH` of a timestamp (`grain` 'd' or 'h'), so a window of any length is a few full days, a few
hours at its edges and the rows of the partial hours (emulator/domain/windows.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, String, Table, text

from emulator.store.models import Base, Call, Conversation, Delivery, Message, table

# An expression over one row: given how the row is named (NEW, OLD, or the table) and the dialect.
Expr = Callable[[str, str], str]


def col(name: str) -> Expr:
    return lambda row, _dialect: f"{row}.{name}"


def key(name: str) -> Expr:
    """A grouping column where NULL is '' (a primary key column cannot be NULL)."""
    return lambda row, _dialect: f"coalesce({row}.{name}, '')"


def const(value: str) -> Expr:
    return lambda _row, _dialect: value


def day(name: str) -> Expr:
    """'YYYY-MM-DD' of a timestamp column (SQLite stores them as text in this form already)."""
    return lambda row, dialect: (f"substr({row}.{name}, 1, 10)" if dialect == "sqlite"
                                 else f"to_char({row}.{name}, 'YYYY-MM-DD')")


def hour(name: str) -> Expr:
    """'YYYY-MM-DD HH' of a timestamp column."""
    return lambda row, dialect: (f"substr({row}.{name}, 1, 13)" if dialect == "sqlite"
                                 else f"to_char({row}.{name}, 'YYYY-MM-DD HH24')")


def segments(name: str) -> Expr:
    """SMS segments of a text: 1 up to 160 characters, else one per 153 (emulator/domain/usage.py)."""
    return lambda row, _dialect: (f"CASE WHEN length({row}.{name}) <= 160 THEN 1 "
                                  f"ELSE (length({row}.{name}) + 152) / 153 END")


def where(condition: str) -> Expr:
    """SQL over the row (a condition, a value), written with `{row}` where the row's name goes."""
    return lambda row, _dialect: condition.format(row=row)


@dataclass(frozen=True)
class Rollup:
    table: Table
    source: Table
    keys: tuple[tuple[str, Expr], ...]  # (rollup column, expression); the rollup's primary key, in order
    measures: tuple[tuple[str, Expr], ...]  # (rollup column, expression) added up
    watch: tuple[str, ...] = ()  # source columns an UPDATE may change that move the row between groups
    only: Expr | None = None  # count only the rows this holds for

    def condition(self, row: str, dialect: str) -> str:
        return self.only(row, dialect) if self.only is not None else "1 = 1"

    def upsert(self, row: str, dialect: str, sign: str = "", extra: str = "") -> str:
        """Add (or with sign '-' take away) one row's contribution."""
        names = [name for name, _ in (*self.keys, *self.measures)]
        values = [expr(row, dialect) for _, expr in self.keys]
        values += [f"{sign}({expr(row, dialect)})" for _, expr in self.measures]
        condition = self.condition(row, dialect) + (f" AND ({extra})" if extra else "")
        conflict = ", ".join(name for name, _ in self.keys)
        sets = ", ".join(f"{name} = {self.table.name}.{name} + excluded.{name}" for name, _ in self.measures)
        return (f"INSERT INTO {self.table.name} ({', '.join(names)}) SELECT {', '.join(values)} "
                f"WHERE {condition} ON CONFLICT ({conflict}) DO UPDATE SET {sets}")

    def changed(self, dialect: str) -> str:
        differs = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
        return " OR ".join(f"OLD.{name} {differs} NEW.{name}" for name in self.watch)

    def rebuild(self, dialect: str) -> str:
        """Every group of the rollup from the rows as they are."""
        src = self.source.name
        names = [name for name, _ in (*self.keys, *self.measures)]
        groups = [expr(src, dialect) for _, expr in self.keys]
        sums = [f"sum({expr(src, dialect)})" for _, expr in self.measures]
        return (f"INSERT INTO {self.table.name} ({', '.join(names)}) SELECT {', '.join(groups + sums)} "
                f"FROM {src} WHERE {self.condition(src, dialect)} "
                # by position: a key may be a constant, which PostgreSQL refuses as a GROUP BY expression
                f"GROUP BY {', '.join(str(i) for i in range(1, len(groups) + 1))}")


def _table(name: str, keys: Iterable[str], measures: Iterable[str]) -> Table:
    columns: list[Column[Any]] = [Column(k, String(64), primary_key=True) for k in keys]
    columns += [Column(m, BigInteger(), nullable=False, default=0) for m in measures]
    # On SQLite the primary key is the table itself (WITHOUT ROWID): an upsert touches one B-tree, not two.
    return Table(name, Base.metadata, *columns, sqlite_with_rowid=False)


CALLS, MESSAGES, DELIVERIES, CONVERSATIONS = table(Call), table(Message), table(Delivery), table(Conversation)
ONE = const("1")
ZERO = const("0")

# All-time totals per group: list totals with equality filters, all-time figures, usage per number.
call_tally = _table("call_tally", ("account_id", "agent_id", "phone_number_id", "status", "direction", "type"),
                    ("calls", "seconds"))
message_tally = _table("message_tally", ("account_id", "agent_id", "phone_number_id"), ("messages",))
delivery_tally = _table("delivery_tally", ("account_id", "agent_id", "event_type", "status"), ("deliveries",))
conversation_tally = _table("conversation_tally", ("account_id", "agent_id"), ("conversations",))
# Per day and per hour (grain 'd' or 'h'), by kind (message, call, delivery): usage windows and series.
usage_buckets = _table("usage_buckets", ("account_id", "grain", "bucket", "kind"), ("n", "seconds", "segments"))
# Deliveries per hour and status, and per day and hour, event and status: delivery statistics (by hour, by event).
delivery_hours = _table("delivery_hours", ("account_id", "bucket", "status"), ("deliveries",))
delivery_events = _table("delivery_events", ("account_id", "grain", "bucket", "event_type", "status"),
                         ("deliveries",))
# Per day and per hour by agent: messages, and completed calls with their seconds (usage per agent).
agent_buckets = _table("agent_buckets", ("account_id", "grain", "bucket", "agent_id", "kind"), ("n", "seconds"))
# Calls per number on each side of the call, with the call list's filters: a search's total
# (emulator/domain/search.py). A call counts under its from_number, and under its to_number when that differs.
call_numbers = _table("call_numbers", ("account_id", "number", "side", "agent_id", "phone_number_id", "status",
                                       "direction", "type"), ("calls",))

_CALL_SECONDS = where("coalesce({row}.duration_seconds, 0)")
_COMPLETED = where("{row}.status = 'completed'")


def _grains(rollup: Callable[[str, Expr], Rollup], column: str) -> list[Rollup]:
    return [rollup("d", day(column)), rollup("h", hour(column))]


ROLLUPS: tuple[Rollup, ...] = (
    Rollup(call_tally, CALLS, (("account_id", col("account_id")), ("agent_id", key("agent_id")),
                               ("phone_number_id", key("phone_number_id")), ("status", col("status")),
                               ("direction", col("direction")), ("type", col("type"))),
           (("calls", ONE), ("seconds", _CALL_SECONDS)),
           watch=("agent_id", "phone_number_id", "status", "direction", "type", "duration_seconds")),
    Rollup(message_tally, MESSAGES, (("account_id", col("account_id")), ("agent_id", key("agent_id")),
                                     ("phone_number_id", col("phone_number_id"))),
           (("messages", ONE),), watch=("agent_id", "phone_number_id")),
    Rollup(delivery_tally, DELIVERIES, (("account_id", col("account_id")), ("agent_id", key("agent_id")),
                                        ("event_type", col("event_type")), ("status", col("status"))),
           (("deliveries", ONE),), watch=("agent_id", "event_type", "status")),
    Rollup(conversation_tally, CONVERSATIONS, (("account_id", col("account_id")), ("agent_id", key("agent_id"))),
           (("conversations", ONE),), watch=("agent_id",)),
    *_grains(lambda grain, bucket: Rollup(
        usage_buckets, MESSAGES, (("account_id", col("account_id")), ("grain", const(f"'{grain}'")),
                                  ("bucket", bucket), ("kind", const("'message'"))),
        (("n", ONE), ("seconds", ZERO), ("segments", segments("body"))), watch=("received_at", "body")),
        "received_at"),
    *_grains(lambda grain, bucket: Rollup(
        usage_buckets, CALLS, (("account_id", col("account_id")), ("grain", const(f"'{grain}'")),
                               ("bucket", bucket), ("kind", const("'call'"))),
        (("n", ONE), ("seconds", _CALL_SECONDS), ("segments", ZERO)), watch=("started_at", "duration_seconds")),
        "started_at"),
    *_grains(lambda grain, bucket: Rollup(
        usage_buckets, DELIVERIES, (("account_id", col("account_id")), ("grain", const(f"'{grain}'")),
                                    ("bucket", bucket), ("kind", const("'delivery'"))),
        (("n", ONE), ("seconds", ZERO), ("segments", ZERO))),
        "created_at"),
    Rollup(delivery_hours, DELIVERIES, (("account_id", col("account_id")), ("bucket", hour("created_at")),
                                        ("status", col("status"))),
           (("deliveries", ONE),), watch=("status",)),
    *_grains(lambda grain, bucket: Rollup(
        delivery_events, DELIVERIES, (("account_id", col("account_id")), ("grain", const(f"'{grain}'")),
                                      ("bucket", bucket), ("event_type", col("event_type")), ("status", col("status"))),
        (("deliveries", ONE),), watch=("event_type", "status")),
        "created_at"),
    *_grains(lambda grain, bucket: Rollup(
        agent_buckets, MESSAGES, (("account_id", col("account_id")), ("grain", const(f"'{grain}'")),
                                  ("bucket", bucket), ("agent_id", key("agent_id")), ("kind", const("'message'"))),
        (("n", ONE), ("seconds", ZERO)), watch=("received_at", "agent_id")),
        "received_at"),
    *_grains(lambda grain, bucket: Rollup(
        agent_buckets, CALLS, (("account_id", col("account_id")), ("grain", const(f"'{grain}'")),
                               ("bucket", bucket), ("agent_id", key("agent_id")), ("kind", const("'call'"))),
        (("n", ONE), ("seconds", _CALL_SECONDS)), watch=("started_at", "agent_id", "status", "duration_seconds"),
        only=_COMPLETED),
        "started_at"),
    *(Rollup(call_numbers, CALLS, (("account_id", col("account_id")), ("number", col(f"{side}_number")),
                                   ("side", const(f"'{side}'")), ("agent_id", key("agent_id")),
                                   ("phone_number_id", key("phone_number_id")), ("status", col("status")),
                                   ("direction", col("direction")), ("type", col("type"))),
             (("calls", ONE),), watch=("from_number", "to_number", "agent_id", "phone_number_id", "status", "direction",
                                       "type"),
             only=where("{row}.to_number <> {row}.from_number") if side == "to" else None)
      for side in ("from", "to")),
)
TABLES = tuple(dict.fromkeys(rollup.table for rollup in ROLLUPS))
SOURCES = tuple(dict.fromkeys(rollup.source for rollup in ROLLUPS))


def _of(source: Table) -> list[Rollup]:
    return [rollup for rollup in ROLLUPS if rollup.source is source]


def trigger_names(source: Table) -> tuple[str, str]:
    return f"rollup_{source.name}_insert", f"rollup_{source.name}_update"


def sqlite_triggers(source: Table) -> list[str]:
    """The AFTER INSERT and AFTER UPDATE triggers that keep the rollups of `source` (SQLite)."""
    insert, update = trigger_names(source)
    rollups = _of(source)
    adds = ";\n  ".join(rollup.upsert("NEW", "sqlite") for rollup in rollups)
    out = [f"CREATE TRIGGER {insert} AFTER INSERT ON {source.name} BEGIN\n  {adds};\nEND"]
    watched = sorted({name for rollup in rollups for name in rollup.watch})
    moving = [rollup for rollup in rollups if rollup.watch]
    if moving:
        moves = []
        for rollup in moving:
            changed = rollup.changed("sqlite")
            moves.append(rollup.upsert("OLD", "sqlite", "-", changed))
            moves.append(rollup.upsert("NEW", "sqlite", "", changed))
        out.append(f"CREATE TRIGGER {update} AFTER UPDATE OF {', '.join(watched)} ON {source.name} BEGIN\n  "
                   + ";\n  ".join(moves) + ";\nEND")
    return out


def postgresql_triggers(source: Table) -> list[str]:
    """The same triggers for PostgreSQL: one PL/pgSQL function per counted table, called after each row."""
    insert, update = trigger_names(source)
    rollups = _of(source)
    adds = "\n    ".join(rollup.upsert("NEW", "postgresql") + ";" for rollup in rollups)
    moves = []
    for rollup in rollups:
        if rollup.watch:
            changed = rollup.changed("postgresql")
            moves.append(rollup.upsert("OLD", "postgresql", "-", changed) + ";")
            moves.append(rollup.upsert("NEW", "postgresql", "", changed) + ";")
    body = (f"CREATE OR REPLACE FUNCTION {insert}() RETURNS trigger AS $$\nBEGIN\n"
            f"  IF TG_OP = 'INSERT' THEN\n    {adds}\n  ELSE\n    " + ("\n    ".join(moves) or "NULL;")
            + "\n  END IF;\n  RETURN NULL;\nEND $$ LANGUAGE plpgsql")
    watched = sorted({name for rollup in rollups for name in rollup.watch})
    out = [body, f"CREATE TRIGGER {insert} AFTER INSERT ON {source.name} FOR EACH ROW EXECUTE FUNCTION {insert}()"]
    if watched:
        out.append(f"CREATE TRIGGER {update} AFTER UPDATE OF {', '.join(watched)} ON {source.name} "
                   f"FOR EACH ROW EXECUTE FUNCTION {insert}()")
    return out


def definition(dialect: str) -> str:
    """Everything the rollups are, as text: a database whose stored fingerprint differs is rebuilt."""
    triggers = sqlite_triggers if dialect == "sqlite" else postgresql_triggers
    parts = [statement for source in SOURCES for statement in triggers(source)]
    parts += [rollup.rebuild(dialect) for rollup in ROLLUPS]
    return "\n".join(parts)


def fingerprint(dialect: str) -> str:
    return hashlib.sha256(definition(dialect).encode()).hexdigest()[:16]


store_meta = Table("store_meta", Base.metadata, Column("name", String(64), primary_key=True),
                   Column("value", String(200), nullable=False))


def ensure(conn: Connection, new: bool = False) -> bool:
    """Make the triggers and rollups match their definitions (call after `create_all`, in a transaction).
    Returns whether they were rebuilt: a new database, one made before rollups or by other definitions.
    `new`: every table was just created, so there is no trigger to drop and no row to count."""
    dialect = conn.dialect.name
    wanted = fingerprint(dialect)
    stored = None if new else conn.execute(text("SELECT value FROM store_meta WHERE name = 'rollups'")).scalar()
    if stored == wanted:
        return False
    if not new:
        for source in SOURCES:
            for name in trigger_names(source):
                drop = f"DROP TRIGGER IF EXISTS {name}" + ("" if dialect == "sqlite" else f" ON {source.name}")
                conn.execute(text(drop))
        for rollup_table in TABLES:
            conn.execute(rollup_table.delete())
        for rollup in ROLLUPS:
            conn.execute(text(rollup.rebuild(dialect)))
    triggers = sqlite_triggers if dialect == "sqlite" else postgresql_triggers
    for source in SOURCES:
        for statement in triggers(source):
            conn.execute(text(statement))
    conn.execute(store_meta.delete().where(store_meta.c.name == "rollups"))
    conn.execute(store_meta.insert().values(name="rollups", value=wanted))
    return True
