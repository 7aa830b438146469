"""Product feedback: stored, and readable through the control API."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.domain import records
from emulator.store import Record
from emulator.wire.feedback import Feedback

KIND = "feedback"


async def submit(session: AsyncSession, account_id: str, req: Feedback, now: datetime) -> Record:
    return await records.add(session, account_id, KIND, "fb", req.model_dump(), now)


async def everything(session: AsyncSession, account_ids: Iterable[str] | None = None) -> list[Record]:
    """Feedback of these accounts, or of every account (`account_ids` None: the admin's view)."""
    query = select(Record).where(Record.kind == KIND)
    if account_ids is not None:
        query = query.where(Record.account_id.in_(list(account_ids)))
    return list((await session.execute(query.order_by(Record.pk))).scalars())
