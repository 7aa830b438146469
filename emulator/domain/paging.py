"""Counting and slicing a filtered query, the way every list endpoint pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def page(session: AsyncSession, query: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    """Rows `offset`..`offset+limit` of `query` (already ordered) and the total it matches."""
    total = (await session.execute(select(func.count()).select_from(query.order_by(None).subquery()))).scalar_one()
    rows = list((await session.execute(query.limit(limit).offset(offset))).scalars())
    return rows, total
