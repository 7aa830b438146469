"""Conversations, read side: one thread per (our number, participant) pair."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.domain.lookup import owned
from emulator.domain.paging import Lister, Tally, Wire
from emulator.errors import not_found
from emulator.store import Conversation, Message, Reaction, sql
from emulator.store.documents import message_documents
from emulator.store.models import table
from emulator.store.rollups import conversation_tally, message_tally
from emulator.wire.messages import message_sql

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
}, wire=Wire(("id",), message_sql(MESSAGES, REACTIONS), message_documents))
_REACTIONS = sql.Query(select(REACTIONS).where(REACTIONS.c.message_id.in_(bindparam("messages", expanding=True)))
                       .order_by(REACTIONS.c.pk))


_TOTAL = Tally(conversation_tally, "conversations", {"agent_id": "agent_id"})
_NUMBER_MESSAGES = Tally(message_tally, "messages", {"number_id": "phone_number_id"})
_CONVERSATION_MESSAGES = sql.Query(select(CONVERSATIONS.c.message_count)
                                   .where(CONVERSATIONS.c.id == bindparam("conversation")))


async def list_page(session: AsyncSession, account_id: str, limit: int, offset: int,
                    agent_id: str | None = None) -> tuple[list[Any], int]:
    rows = await _LIST.rows(session, limit, offset, account=account_id, agent_id=agent_id)
    return rows, await _TOTAL.total(session, account_id, agent_id=agent_id)


async def messages(session: AsyncSession, limit: int, before: datetime | None = None, after: datetime | None = None,
                   *, conversation_id: str | None = None, number_id: str | None = None,
                   account_id: str | None = None) -> tuple[list[Any], bool, int]:
    """Messages (rows) of a conversation or of a number, newest first; `before`/`after` are exclusive cursors.

    Cursors compare at the millisecond resolution the API shows: stored times carry
    microseconds, so a `receivedAt` sent back as `after` must still exclude its own message.

    Returns the page, whether more match the cursors, and how many match in all (`account_id`: the number's
    account, for its count).
    """
    where = {"conversation_id": conversation_id, "number_id": number_id,
             "before": _ms_start(before) if before is not None else None,
             "after": _ms_end(after) if after is not None else None}
    rows = await _MESSAGES.rows(session, limit, 0, **where)
    if before is not None or after is not None:  # between cursors: the matches are counted
        total = await _MESSAGES.count(session, **where)
    elif conversation_id is not None:  # all of a conversation's, or of a number's: their running counts
        total = int(await sql.value(session, _CONVERSATION_MESSAGES, conversation=conversation_id) or 0)
    else:
        assert account_id is not None
        total = await _NUMBER_MESSAGES.total(session, account_id, number_id=number_id)
    return rows, total > len(rows), total


async def latest(session: AsyncSession, conversation_id: str, limit: int) -> list[Any]:
    """A conversation's newest `limit` messages (rows), newest first."""
    return await _MESSAGES.rows(session, limit, 0, conversation_id=conversation_id)


def _ms_start(when: datetime) -> datetime:
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def _ms_end(when: datetime) -> datetime:
    return when.replace(microsecond=when.microsecond // 1000 * 1000 + 999)


async def reactions_for(session: AsyncSession, messages: list[Any]) -> dict[str, list[Any]]:
    """Reactions (rows) of each message, oldest first (none for rows SQLite wrote as JSON: those hold theirs)."""
    if not messages or getattr(messages[0], "wire", None) is not None:
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


async def entity(session: AsyncSession, account_id: str, conversation_id: str) -> Conversation:
    """The account's conversation as an entity to change (not a read-only row), or the 404."""
    return await owned(session, Conversation, account_id, conversation_id)
