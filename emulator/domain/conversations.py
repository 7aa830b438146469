"""Conversations, read side: one thread per (our number, participant) pair."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.domain.paging import Lister
from emulator.errors import not_found
from emulator.store import Conversation, Message, Reaction, sql
from emulator.store.models import table

CONVERSATIONS, MESSAGES, REACTIONS = table(Conversation), table(Message), table(Reaction)
_GET = sql.Query(select(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("id"),
                                             CONVERSATIONS.c.account_id == bindparam("account")))
_LIST = Lister(CONVERSATIONS, [CONVERSATIONS.c.account_id == bindparam("account")],
               [CONVERSATIONS.c.last_message_at.desc(), CONVERSATIONS.c.pk.desc()],
               {"agent_id": lambda value: CONVERSATIONS.c.agent_id == value})
# The messages of a conversation or of a number (one of the two is always given), between the cursors.
_MESSAGES = Lister(MESSAGES, [], [MESSAGES.c.received_at.desc(), MESSAGES.c.pk.desc()], {
    "conversation_id": lambda value: MESSAGES.c.conversation_id == value,
    "number_id": lambda value: MESSAGES.c.phone_number_id == value,
    "before": lambda value: MESSAGES.c.received_at < value,
    "after": lambda value: MESSAGES.c.received_at > value,
})
_REACTIONS = sql.Query(select(REACTIONS).where(REACTIONS.c.message_id.in_(bindparam("messages", expanding=True)))
                       .order_by(REACTIONS.c.pk))


async def list_page(session: AsyncSession, account_id: str, limit: int, offset: int,
                    agent_id: str | None = None) -> tuple[list[Any], int]:
    return await _LIST.page(session, limit, offset, account=account_id, agent_id=agent_id)


async def messages(session: AsyncSession, limit: int, before: datetime | None = None, after: datetime | None = None,
                   *, conversation_id: str | None = None, number_id: str | None = None
                   ) -> tuple[list[Any], bool, int]:
    """Messages (rows) of a conversation or of a number, newest first; `before`/`after` are exclusive cursors.

    Cursors compare at the millisecond resolution the API shows: stored times carry
    microseconds, so a `receivedAt` sent back as `after` must still exclude its own message.

    Returns the page, whether more match the cursors, and how many match in all.
    """
    where = {"conversation_id": conversation_id, "number_id": number_id,
             "before": _ms_start(before) if before is not None else None,
             "after": _ms_end(after) if after is not None else None}
    rows = await _MESSAGES.rows(session, limit, 0, **where)
    total = await _MESSAGES.count(session, **where)
    return rows, total > len(rows), total


def _ms_start(when: datetime) -> datetime:
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def _ms_end(when: datetime) -> datetime:
    return when.replace(microsecond=when.microsecond // 1000 * 1000 + 999)


async def reactions_for(session: AsyncSession, messages: list[Any]) -> dict[str, list[Any]]:
    """Reactions (rows) of each message, oldest first."""
    if not messages:
        return {}
    out: dict[str, list[Any]] = {}
    for row in await sql.rows(session, _REACTIONS, messages=[m.id for m in messages]):
        out.setdefault(row.message_id, []).append(row)
    return out


async def get(session: AsyncSession, account_id: str, conversation_id: str) -> Any:
    """The account's conversation as a row (read-only), or the 404."""
    row = await sql.first(session, _GET, id=conversation_id, account=account_id)
    if row is None:
        raise not_found("Conversation", conversation_id)
    return row
