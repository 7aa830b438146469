"""Reading the delivery log: pages, per-agent lists, windowed and all-time statistics."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.clock import iso
from emulator.domain.paging import page
from emulator.store import Delivery

STATUSES = ("success", "failed", "pending")


async def list_page(session: AsyncSession, account_id: str, limit: int, offset: int, *, since: datetime | None = None,
                    agent_id: str | None = None) -> tuple[list[Delivery], int]:
    query = select(Delivery).where(Delivery.account_id == account_id)
    if since is not None:
        query = query.where(Delivery.created_at >= since)
    if agent_id is not None:
        query = query.where(Delivery.agent_id == agent_id)
    return await page(session, query.order_by(Delivery.created_at.desc(), Delivery.pk.desc()), limit, offset)


def _rate(success: int, failed: int) -> float:
    """Percentage of finished deliveries that succeeded (pending ones are not counted)."""
    done = success + failed
    return round(100.0 * success / done, 2) if done else 0.0


async def stats(session: AsyncSession, account_id: str, hours: int, now: datetime) -> dict[str, Any]:
    since = now - timedelta(hours=hours)
    rows = (await session.execute(
        select(Delivery.event_type, Delivery.status, Delivery.created_at)
        .where(Delivery.account_id == account_id, Delivery.created_at >= since)
    )).all()
    totals = dict.fromkeys(STATUSES, 0)
    by_event: dict[str, dict[str, int]] = defaultdict(lambda: {"total": 0, **dict.fromkeys(STATUSES, 0)})
    by_hour: dict[datetime, dict[str, int]] = defaultdict(lambda: {"total": 0, **dict.fromkeys(STATUSES, 0)})
    for event_type, status, created_at in rows:
        totals[status] += 1
        for bucket in (by_event[event_type], by_hour[created_at.replace(minute=0, second=0, microsecond=0)]):
            bucket["total"] += 1
            bucket[status] += 1
    return {
        "total": len(rows),
        **totals,
        "successRate": _rate(totals["success"], totals["failed"]),
        "byEventType": dict(by_event),
        "byHour": [{"hour": iso(hour), **counts} for hour, counts in sorted(by_hour.items())],
        "hours": hours,
    }


async def all_time(session: AsyncSession, account_id: str) -> dict[str, Any]:
    rows = (await session.execute(
        select(Delivery.status, func.count()).where(Delivery.account_id == account_id).group_by(Delivery.status)
    )).all()
    counts = dict.fromkeys(STATUSES, 0) | {status: count for status, count in rows}
    return {"total": sum(counts.values()), **counts, "successRate": _rate(counts["success"], counts["failed"])}
