"""Whose is it: the account that owns a number, call, message or record, for work that follows that account
(its clock, its right to what it asked for) before the thing itself is read."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.store import Call, Message, PhoneNumber, Record


async def of_number(session: AsyncSession, e164: str) -> str | None:
    """The account holding the active number `e164`."""
    query = select(PhoneNumber.account_id).where(PhoneNumber.phone_number == e164, PhoneNumber.status == "active")
    return await session.scalar(query.limit(1))


async def of_call(session: AsyncSession, call_id: str) -> str | None:
    return await session.scalar(select(Call.account_id).where(Call.id == call_id))


async def of_message(session: AsyncSession, message_id: str) -> str | None:
    return await session.scalar(select(Message.account_id).where(Message.id == message_id))


async def of_record(session: AsyncSession, record_id: str) -> str | None:
    return await session.scalar(select(Record.account_id).where(Record.id == record_id))


async def call(session: AsyncSession, call_id: str) -> Call | None:
    """Any account's call (the caller's right to it is checked after)."""
    found: Call | None = await session.scalar(select(Call).where(Call.id == call_id))
    return found
