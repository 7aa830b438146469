"""Phone verification codes, simulated: a 6-digit code that expires after CODE_TTL on the emulator's clock and
allows MAX_CHECKS checks. No SMS leaves the emulator; tests read the code through the control API."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids, phones
from emulator.clock import iso, parse_iso
from emulator.domain import records
from emulator.errors import not_found
from emulator.store import Record

CODE_TTL = timedelta(minutes=10)
MAX_CHECKS = 5
KIND = "verification"


async def send(session: AsyncSession, account_id: str, phone_number: str, now: datetime) -> Record:
    e164 = phones.normalize(phone_number, "phone_number")
    code = f"{ids.rng().randrange(1_000_000):06d}"
    return await records.add(session, account_id, KIND, "ver", {
        "phoneNumber": e164, "code": code, "status": "pending", "attempts": 0, "expiresAt": iso(now + CODE_TTL),
    }, now)


async def check(session: AsyncSession, account_id: str, verification_id: str, code: str, now: datetime) -> Record:
    row = await records.get(session, account_id, KIND, verification_id, "Verification")
    data = dict(row.data)
    if data["status"] == "pending":
        if now >= parse_iso(data["expiresAt"]):
            data["status"] = "expired"
        else:
            data["attempts"] += 1
            if code == data["code"]:
                data["status"] = "approved"
            elif data["attempts"] >= MAX_CHECKS:
                data["status"] = "failed"
    records.replace(row, data, now)
    return row


async def find(session: AsyncSession, verification_id: str, account_ids: Iterable[str] | None = None) -> Record:
    """A verification by ID (of these accounts, or of any when `account_ids` is None: the admin's view)."""
    query = select(Record).where(Record.id == verification_id, Record.kind == KIND)
    if account_ids is not None:
        query = query.where(Record.account_id.in_(list(account_ids)))
    row = await session.scalar(query)
    if row is None:
        raise not_found("Verification", verification_id)
    return row
