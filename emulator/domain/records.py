"""Small simulated resources kept as JSON documents of one kind per account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.errors import not_found
from emulator.store import Record


async def add(session: AsyncSession, account_id: str, kind: str, prefix: str, data: dict[str, Any],
              now: datetime, record_id: str | None = None) -> Record:
    row = Record(id=record_id or ids.new_id(prefix), account_id=account_id, kind=kind, data=data, created_at=now,
                 updated_at=now)
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, account_id: str, kind: str, record_id: str, label: str) -> Record:
    row = await session.scalar(select(Record).where(Record.id == record_id, Record.account_id == account_id,
                                                    Record.kind == kind))
    if row is None:
        raise not_found(label, record_id)
    return row


async def latest(session: AsyncSession, account_id: str, kind: str) -> Record | None:
    query = select(Record).where(Record.account_id == account_id, Record.kind == kind).order_by(Record.pk.desc())
    return (await session.execute(query.limit(1))).scalars().first()


async def all_of(session: AsyncSession, account_id: str, kind: str) -> list[Record]:
    query = select(Record).where(Record.account_id == account_id, Record.kind == kind).order_by(Record.pk)
    return list((await session.execute(query)).scalars())


def replace(row: Record, data: dict[str, Any], now: datetime) -> None:
    row.data = data  # a new object, so the JSON column is written
    row.updated_at = now
