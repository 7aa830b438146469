"""Writing a live call's rows: its transcript rows, voice deliveries and their attempts, one INSERT per table.

The engine keeps a live call's rows in memory as entities (readers merge them with what is stored, the bus hands
them to live streams) and writes them in groups. Handing them to an ORM session to flush cost more CPU than the
rest of the call together (unit-of-work bookkeeping and a statement compiled per object), so each table's rows go
out as one Core `executemany` (emulator/store/sql.py) of the values the entities hold; the entities stay what
they were, detached, as they are once an ORM session has committed them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from emulator.store import Delivery, DeliveryAttempt, Transcript, sql
from emulator.store.models import table

Row = Transcript | Delivery | DeliveryAttempt
ORDER = (Transcript, Delivery, DeliveryAttempt)  # a transcript row first: its insertion order is its place
_INSERTS: dict[type[Any], sql.Insert] = {model: sql.Insert(table(model)) for model in ORDER}


def values(entity: Row) -> dict[str, Any]:
    """The columns the entity was given (the others take their defaults, as an ORM insert gives them)."""
    given = entity.__dict__
    return {key: given[key] for key in _INSERTS[type(entity)].defaults if key in given}


async def write(session: AsyncSession, rows: Sequence[Row]) -> None:
    """Insert the rows in the session's transaction, in their order within each table."""
    grouped: dict[type[Any], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(type(row), []).append(values(row))
    for model in ORDER:
        if model in grouped:
            await sql.insert_many(session, _INSERTS[model], grouped[model])
