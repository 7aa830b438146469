"""A live call's rows: its transcript rows, voice deliveries and their attempts, made cheaply, written one INSERT
per table.

The engine keeps a live call's rows in memory as entities (readers merge them with what is stored, the bus hands
them to live streams) and writes them in groups. Handing them to an ORM session to flush cost more CPU than the
rest of the call together (unit-of-work bookkeeping and a statement compiled per object), so each table's rows go
out as one Core `executemany` (emulator/store/sql.py) of the values the entities hold; the entities stay what
they were, as detached as they are once an ORM session has committed them. A call's own row is inserted the same
way when it is placed (`insert`).

Since no session tracks them, they need not be made through the ORM's instrumented constructor and attributes
either (an attribute event per value set, a tenth of a turn's CPU): `entity` makes one holding its values as
they are, `assign` changes them. They read like any entity, and a session that is given one inserts what it
holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import configure_mappers

from emulator.store import Delivery, DeliveryAttempt, Transcript, sql
from emulator.store.models import table

Row = Transcript | Delivery | DeliveryAttempt
ORDER = (Transcript, Delivery, DeliveryAttempt)  # a transcript row first: its insertion order is its place
_INSERTS: dict[type[Any], sql.Insert] = {}
T = TypeVar("T")


def _insert(model: type[Any]) -> sql.Insert:
    found = _INSERTS.get(model)
    if found is None:
        found = _INSERTS[model] = sql.Insert(table(model))
    return found


def entity(model: type[T], **values: Any) -> T:
    """An entity of `model` holding `values` (unset columns read as None, and take their defaults when written)."""
    mapper = model.__mapper__  # type: ignore[attr-defined]
    if not mapper.configured:  # as the ORM's constructor would: attributes work once the mappers are configured
        configure_mappers()
    made: T = mapper.class_manager.new_instance()
    made.__dict__.update(values)
    return made


def assign(entity: Any, **values: Any) -> None:
    """Change columns of an entity made by `entity` (or of any entity no session holds)."""
    entity.__dict__.update(values)


def values(entity: Any) -> dict[str, Any]:
    """The columns the entity was given (the others take their defaults, as an ORM insert gives them)."""
    given = entity.__dict__
    return {key: given[key] for key in _insert(type(entity)).defaults if key in given}


async def insert(session: AsyncSession, entity: Any) -> None:
    """Insert one entity of any model with a Core statement (no ORM flush), in the session's transaction; it gets
    its primary key, and is afterwards as detached as a committed entity."""
    query = _insert(type(entity))
    written = await sql.insert(session, query, **values(entity))
    assign(entity, **{query.pk: getattr(written, query.pk)})


async def write(session: AsyncSession, rows: Sequence[Row]) -> None:
    """Insert the rows in the session's transaction, in their order within each table."""
    grouped: dict[type[Any], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(type(row), []).append(values(row))
    for model in ORDER:
        if model in grouped:
            await sql.insert_many(session, _insert(model), grouped[model])
