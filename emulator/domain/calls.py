"""Calls, read side: filtered lists and transcripts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.domain.paging import page
from emulator.store import Account, Call, Store, Transcript

STATUSES = ("registered", "in-progress", "completed", "failed", "busy", "no-answer", "voicemail", "canceled")
DIRECTIONS = ("inbound", "outbound", "web")
TYPES = ("pstn", "web")


async def list_page(
    session: AsyncSession, account_id: str, limit: int, offset: int, *, status: str | None = None,
    direction: str | None = None, call_type: str | None = None, search: str | None = None,
    agent_id: str | None = None, number_id: str | None = None,
) -> tuple[list[Call], int]:
    query = select(Call).where(Call.account_id == account_id)
    if status:
        query = query.where(Call.status == status)
    if direction:
        query = query.where(Call.direction == direction)
    if call_type:
        query = query.where(Call.type == call_type)
    if search:
        pattern = f"%{search.strip()}%"
        query = query.where(or_(Call.from_number.like(pattern), Call.to_number.like(pattern)))
    if agent_id:
        query = query.where(Call.agent_id == agent_id)
    if number_id:
        query = query.where(Call.phone_number_id == number_id)
    return await page(session, query.order_by(Call.started_at.desc(), Call.pk.desc()), limit, offset)


async def transcripts(session: AsyncSession, call_id: str) -> list[Transcript]:
    query = select(Transcript).where(Transcript.call_id == call_id).order_by(Transcript.pk)
    return list((await session.execute(query)).scalars())


async def recording_enabled(session: AsyncSession, account_id: str) -> bool:
    """Whether the account's recording add-on is on (recording URLs are shown only then)."""
    flag = await session.execute(select(Account.recording_enabled).where(Account.id == account_id))
    return bool(flag.scalar_one_or_none())


async def abandon_unfinished(store: Store, now: datetime) -> int:
    """Calls left in progress by a previous process can never finish: mark them failed at start-up."""
    async with store.write() as session:
        result = await session.execute(
            update(Call).where(Call.status == "in-progress")
            .values(status="failed", end_reason="emulator-restarted", ended_at=now)
        )
    return result.rowcount or 0
