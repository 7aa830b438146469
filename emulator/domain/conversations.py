"""Conversations, read side: one thread per (our number, participant) pair."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.domain.lookup import owned
from emulator.domain.paging import page
from emulator.store import Conversation, Message, Reaction


async def list_page(session: AsyncSession, account_id: str, limit: int, offset: int,
                    agent_id: str | None = None) -> tuple[list[Conversation], int]:
    query = select(Conversation).where(Conversation.account_id == account_id)
    if agent_id is not None:
        query = query.where(Conversation.agent_id == agent_id)
    query = query.order_by(Conversation.last_message_at.desc(), Conversation.pk.desc())
    return await page(session, query, limit, offset)


async def messages(session: AsyncSession, limit: int, before: datetime | None = None, after: datetime | None = None,
                   *, conversation_id: str | None = None, number_id: str | None = None
                   ) -> tuple[list[Message], bool, int]:
    """Messages of a conversation or of a number, newest first; `before`/`after` are exclusive cursors.

    Cursors compare at the millisecond resolution the API shows: stored times carry
    microseconds, so a `receivedAt` sent back as `after` must still exclude its own message.

    Returns the page, whether more match the cursors, and how many match in all.
    """
    query = select(Message)
    if conversation_id is not None:
        query = query.where(Message.conversation_id == conversation_id)
    if number_id is not None:
        query = query.where(Message.phone_number_id == number_id)
    if before is not None:
        query = query.where(Message.received_at < _ms_start(before))
    if after is not None:
        query = query.where(Message.received_at > _ms_end(after))
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    query = query.order_by(Message.received_at.desc(), Message.pk.desc()).limit(limit)
    rows = list((await session.execute(query)).scalars())
    return rows, total > len(rows), total


def _ms_start(when: datetime) -> datetime:
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def _ms_end(when: datetime) -> datetime:
    return when.replace(microsecond=when.microsecond // 1000 * 1000 + 999)


async def reactions_for(session: AsyncSession, messages: list[Message]) -> dict[str, list[Reaction]]:
    """Reactions of each message, oldest first."""
    if not messages:
        return {}
    rows = await session.execute(select(Reaction).where(Reaction.message_id.in_([m.id for m in messages]))
                                 .order_by(Reaction.pk))
    out: dict[str, list[Reaction]] = {}
    for row in rows.scalars():
        out.setdefault(row.message_id, []).append(row)
    return out


async def get(session: AsyncSession, account_id: str, conversation_id: str) -> Conversation:
    return await owned(session, Conversation, account_id, conversation_id)
