"""SIP trunks, simulated to the depth the vendor documents: generated URIs and credentials, nothing on a network.

The password is shown once: when the trunk is created and when an empty update rotates its credentials."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.domain import records
from emulator.errors import Invalid
from emulator.store import Record
from emulator.wire.sip_trunks import SipTrunkUpdate

KIND = "sip_trunk"
LABEL = "SIP trunk"
# Settings an update may change, and their keys in the stored document.
SETTINGS = {"name": "name", "transfers": "transfers", "transfer_caller_id": "transferCallerId",
            "origination": "origination"}
REQUIRED = ("name", "transfers", "transfer_caller_id")


def _credentials(trunk_id: str) -> dict[str, Any]:
    password = secrets.token_urlsafe(18)
    return {"username": f"{trunk_id}-user", "password": password, "passwordLast4": password[-4:],
            "credentialListName": f"{trunk_id}-credentials"}


async def all_of(session: AsyncSession, account_id: str) -> list[Record]:
    return await records.all_of(session, account_id, KIND)


async def get(session: AsyncSession, account_id: str, trunk_id: str) -> Record:
    return await records.get(session, account_id, KIND, trunk_id, LABEL)


async def create(session: AsyncSession, account_id: str, req: SipTrunkUpdate, now: datetime) -> Record:
    """A trunk with the settings given (defaults for the rest) and fresh credentials."""
    _no_nulls(req)
    trunk_id = ids.new_id("trunk")
    data = {"name": req.name or "SIP trunk", "transfers": req.transfers or "all",
            "transferCallerId": req.transfer_caller_id or "transferee", "origination": req.origination,
            "credential": _credentials(trunk_id)}
    row = Record(id=trunk_id, account_id=account_id, kind=KIND, data=data, created_at=now, updated_at=now)
    session.add(row)
    await session.flush()
    return row


async def update(session: AsyncSession, account_id: str, trunk_id: str, req: SipTrunkUpdate,
                 now: datetime) -> tuple[Record, bool]:
    """Change what the request names; an empty request rotates the credentials. Returns (row, rotated)."""
    _no_nulls(req)
    row = await get(session, account_id, trunk_id)
    data = dict(row.data)
    rotate = not req.model_fields_set
    if rotate:
        data["credential"] = _credentials(row.id)
    for field, key in SETTINGS.items():
        if field in req.model_fields_set:
            data[key] = getattr(req, field)
    records.replace(row, data, now)
    return row, rotate


def _no_nulls(req: SipTrunkUpdate) -> None:
    for field in REQUIRED:
        if field in req.model_fields_set and getattr(req, field) is None:
            raise Invalid(f"Field '{field}' cannot be null; leave it out to keep the current value.")


async def delete(session: AsyncSession, account_id: str, trunk_id: str) -> Record:
    row = await get(session, account_id, trunk_id)
    await session.delete(row)
    return row
