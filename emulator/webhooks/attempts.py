"""Reading deliveries with their attempts: one delivery, the attempts of several, the voice delivery of each
of a call's turns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.store import Delivery, DeliveryAttempt


async def find(session: AsyncSession, delivery_id: str) -> Delivery | None:
    return await session.scalar(select(Delivery).where(Delivery.id == delivery_id))


async def of_deliveries(session: AsyncSession, delivery_ids: Collection[str]) -> dict[str, list[DeliveryAttempt]]:
    """Each delivery's attempts, first to last."""
    found: dict[str, list[DeliveryAttempt]] = defaultdict(list)
    if delivery_ids:
        rows = (await session.execute(
            select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(list(delivery_ids)))
            .order_by(DeliveryAttempt.number)
        )).scalars()
        for row in rows:
            found[row.delivery_id].append(row)
    return found


async def deliveries(session: AsyncSession, delivery_ids: Collection[str]) -> dict[str, Delivery]:
    if not delivery_ids:
        return {}
    rows = (await session.execute(select(Delivery).where(Delivery.id.in_(list(delivery_ids))))).scalars()
    return {row.id: row for row in rows}


async def of_turns(session: AsyncSession, turn_ids: Collection[str]) -> dict[str, str]:
    """Transcript row ID -> the ID of the voice delivery that asked the agent on that turn."""
    if not turn_ids:
        return {}
    rows = await session.execute(select(DeliveryAttempt.turn_id, DeliveryAttempt.delivery_id)
                                 .where(DeliveryAttempt.turn_id.in_(list(turn_ids))))
    return {turn_id: delivery_id for turn_id, delivery_id in rows.all() if turn_id}
