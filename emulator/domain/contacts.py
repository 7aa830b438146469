"""Contacts: one per phone number per account, numbers normalised to E.164."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids, phones
from emulator.domain import numbers
from emulator.domain.paging import page
from emulator.errors import Conflict, Invalid, Refused, not_found
from emulator.store import Contact, sql
from emulator.store.models import table
from emulator.wire.contacts import CreateContact, UpdateContact
from emulator.wire.rules import EMAIL_RULE

EMAIL = re.compile(EMAIL_RULE)


async def get(session: AsyncSession, account_id: str, contact_id: str) -> Contact:
    row = await session.scalar(select(Contact).where(Contact.id == contact_id, Contact.account_id == account_id))
    if row is None:
        raise not_found("Contact", contact_id)
    return row


CONTACTS = table(Contact)
# Every message event and every call's end looks its other party up: a prepared statement (emulator/store/sql.py).
_OF_NUMBER = sql.Query(select(CONTACTS).where(CONTACTS.c.account_id == bindparam("account"),
                                              CONTACTS.c.phone_number == bindparam("e164")))


async def of_number(session: AsyncSession, account_id: str, e164: str | None) -> Any:
    """The account's stored contact (a row, read-only) whose number is `e164` (the other party of a message or
    call), if any."""
    if not e164:
        return None
    return await sql.first(session, _OF_NUMBER, account=account_id, e164=e164)


async def _unique(session: AsyncSession, account_id: str, e164: str, except_id: str | None = None) -> None:
    query = select(Contact.id).where(Contact.account_id == account_id, Contact.phone_number == e164)
    clash = await session.scalar(query)
    if clash is not None and clash != except_id:
        raise Conflict(f"A contact with phone number {e164} already exists ({clash}).")


def _escape(text: str) -> str:
    """Make LIKE's wildcards literal, so searching for "%" finds a "%"."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _email(value: str | None) -> str | None:
    if value is not None and value != "" and EMAIL.fullmatch(value) is None:
        raise Invalid(f"Field 'email' must be an email address (got {value!r}).")
    return value


async def list_page(session: AsyncSession, account_id: str, limit: int, offset: int,
                    search: str | None) -> tuple[list[Contact], int]:
    query = select(Contact).where(Contact.account_id == account_id)
    text = (search or "").strip()
    if text:
        matches = [func.lower(Contact.name).like(f"%{_escape(text.lower())}%", escape="\\")]
        digits = re.sub(r"\D", "", text)
        if digits:  # "(415) 555-0100" finds +14155550100
            matches.append(Contact.phone_number.like(f"%{digits}%"))
        query = query.where(or_(*matches))
    return await page(session, query.order_by(Contact.pk.desc()), limit, offset)


async def create(session: AsyncSession, account_id: str, req: CreateContact, now: datetime) -> Contact:
    e164 = phones.normalize(req.phone_number, "phoneNumber")
    await _unique(session, account_id, e164)
    row = Contact(id=ids.new_id("ct"), account_id=account_id, phone_number=e164, name=req.name,
                  email=_email(req.email), notes=req.notes, created_at=now, updated_at=now)
    session.add(row)
    await session.flush()
    return row


async def update(session: AsyncSession, account_id: str, contact_id: str, req: UpdateContact,
                 now: datetime) -> Contact:
    row = await get(session, account_id, contact_id)
    fields = req.model_fields_set
    if "phone_number" in fields:
        if req.phone_number is None:
            raise Invalid("Field 'phoneNumber' cannot be null.")
        e164 = phones.normalize(req.phone_number, "phoneNumber")
        await _unique(session, account_id, e164, except_id=row.id)
        row.phone_number = e164
    if "name" in fields:
        if req.name is None:
            raise Invalid("Field 'name' cannot be null.")
        row.name = req.name
    if "email" in fields:
        row.email = _email(req.email)
    if "notes" in fields:
        row.notes = req.notes
    row.updated_at = now
    await session.flush()
    return row


async def delete(session: AsyncSession, account_id: str, contact_id: str) -> None:
    await session.delete(await get(session, account_id, contact_id))


async def capabilities(session: AsyncSession, account_id: str, phone_number: str | None) -> tuple[str, bool, bool]:
    """(E.164, iMessage, SMS) for a number. Simulated: every valid number gets SMS, iMessage when its last
    digit is even; like the real check, it needs an active iMessage number on the account."""
    if not phone_number:
        raise Invalid("Query parameter 'phone_number' is required: the number to check, in E.164.")
    e164 = phones.normalize(phone_number, "phone_number")
    if await numbers.imessage_line(session, account_id) is None:
        raise Refused("Checking capabilities needs at least one active iMessage number on the account "
                      "(buy one with type 'imessage').")
    return e164, int(e164[-1]) % 2 == 0, True
