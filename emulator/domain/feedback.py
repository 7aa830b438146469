"""Product feedback: stored, and readable through the control API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.domain import records
from emulator.store import Record
from emulator.wire.feedback import Feedback

KIND = "feedback"


async def submit(session: AsyncSession, account_id: str, req: Feedback, now: datetime) -> Record:
    return await records.add(session, account_id, KIND, "fb", req.model_dump(), now)


async def everything(session: AsyncSession, account_id: str | None = None) -> list[Record]:
    """Feedback of one account, or of every account (`account_id` None: the admin's view)."""
    query = select(Record).where(Record.kind == KIND)
    if account_id is not None:
        query = query.where(Record.account_id == account_id)
    return list((await session.execute(query.order_by(Record.pk))).scalars())
