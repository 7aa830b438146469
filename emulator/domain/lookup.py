"""Fetch one row of an account by public ID, or raise the 404 every route gives."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.errors import not_found
from emulator.store import Agent, Call, Conversation, Message, PhoneNumber

Row = TypeVar("Row", Agent, PhoneNumber, Call, Conversation, Message)

_NAMES = {Agent: "Agent", PhoneNumber: "Phone number", Call: "Call", Conversation: "Conversation",
          Message: "Message"}


async def owned(session: AsyncSession, model: type[Row], account_id: str, ident: str) -> Row:
    row = (
        await session.execute(select(model).where(model.id == ident, model.account_id == account_id))
    ).scalar_one_or_none()
    if row is None:
        raise not_found(_NAMES[model], ident)
    return row
