"""Reading the delivery log: pages, per-agent lists, windowed and all-time statistics."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.domain.paging import page
from emulator.store import Delivery


async def list_page(session: AsyncSession, account_id: str, limit: int, offset: int, *, since: datetime | None = None,
                    agent_id: str | None = None) -> tuple[list[Delivery], int]:
    query = select(Delivery).where(Delivery.account_id == account_id)
    if since is not None:
        query = query.where(Delivery.created_at >= since)
    if agent_id is not None:
        query = query.where(Delivery.agent_id == agent_id)
    return await page(session, query.order_by(Delivery.created_at.desc(), Delivery.pk.desc()), limit, offset)


@dataclass
class Counts:
    total: int = 0
    success: int = 0
    failed: int = 0
    pending: int = 0

    def add(self, status: str, count: int = 1) -> None:
        self.total += count
        setattr(self, status, getattr(self, status) + count)

    @property
    def success_rate(self) -> float:
        """Percentage of finished deliveries that succeeded (pending ones are not counted)."""
        done = self.success + self.failed
        return round(100.0 * self.success / done, 2) if done else 0.0


@dataclass
class Stats:
    hours: int
    totals: Counts
    by_event: dict[str, Counts]
    by_hour: list[tuple[datetime, Counts]]


async def stats(session: AsyncSession, account_id: str, hours: int, now: datetime) -> Stats:
    since = now - timedelta(hours=hours)
    rows = (await session.execute(
        select(Delivery.event_type, Delivery.status, Delivery.created_at)
        .where(Delivery.account_id == account_id, Delivery.created_at >= since)
    )).all()
    totals = Counts()
    by_event: dict[str, Counts] = defaultdict(Counts)
    by_hour: dict[datetime, Counts] = defaultdict(Counts)
    for event_type, status, created_at in rows:
        totals.add(status)
        by_event[event_type].add(status)
        by_hour[created_at.replace(minute=0, second=0, microsecond=0)].add(status)
    return Stats(hours, totals, dict(by_event), sorted(by_hour.items()))


async def all_time(session: AsyncSession, account_id: str) -> Counts:
    rows = (await session.execute(
        select(Delivery.status, func.count()).where(Delivery.account_id == account_id).group_by(Delivery.status)
    )).all()
    counts = Counts()
    for status, count in rows:
        counts.add(status, count)
    return counts
