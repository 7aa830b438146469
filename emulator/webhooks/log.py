"""Reading the delivery log: pages, per-agent lists, windowed and all-time statistics.

Counts come from the rollups the database keeps (emulator/store/rollups.py): the all-time tally per agent,
event and status, and the deliveries per hour, event and status (emulator/domain/windows.py), so statistics
cost the same however long the log is."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.domain.paging import Lister
from emulator.domain.windows import Window
from emulator.store import Delivery, sql
from emulator.store.models import table
from emulator.store.rollups import delivery_hours, delivery_tally, usage_buckets

DELIVERIES = table(Delivery)
_LIST = Lister(DELIVERIES, [DELIVERIES.c.account_id == bindparam("account")],
               [DELIVERIES.c.created_at.desc(), DELIVERIES.c.pk.desc()], {
                   "since": lambda value: DELIVERIES.c.created_at >= value,
                   "agent_id": lambda value: DELIVERIES.c.agent_id == value,
               })
_TOTAL = sql.Query(select(func.coalesce(func.sum(delivery_tally.c.deliveries), 0))
                   .where(delivery_tally.c.account_id == bindparam("account")))
_BY_STATUS = sql.Query(select(delivery_tally.c.status, func.sum(delivery_tally.c.deliveries))
                       .where(delivery_tally.c.account_id == bindparam("account"))
                       .group_by(delivery_tally.c.status))
_SINCE = Window(usage_buckets, DELIVERIES, "created_at", {"n": ("n", literal(1))},
                bucket_where=[usage_buckets.c.kind == "delivery"])
_STATS = Window(delivery_hours, DELIVERIES, "created_at", {"n": ("deliveries", literal(1))},
                {"hour": ("bucket", None), "event": ("event_type", DELIVERIES.c.event_type),
                 "status": ("status", DELIVERIES.c.status)}, days=False)


async def list_page(session: AsyncSession, account_id: str, limit: int, offset: int, *, since: datetime | None = None,
                    agent_id: str | None = None) -> tuple[list[Any], int]:
    """A page of the log (rows), newest first, and how many deliveries it has in all (since `since`)."""
    rows = await _LIST.rows(session, limit, offset, account=account_id, since=since, agent_id=agent_id)
    if agent_id is not None:
        total = await _LIST.count(session, account=account_id, since=since, agent_id=agent_id)
    elif since is not None:
        total = (await _SINCE.total(session, since, account=account_id))["n"]
    else:
        total = int(await sql.value(session, _TOTAL, account=account_id))
    return rows, total
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
    totals = Counts()
    by_event: dict[str, Counts] = defaultdict(Counts)
    by_hour: dict[datetime, Counts] = defaultdict(Counts)
    for (bucket, event_type, status), sums in (await _STATS.sum(session, since, account=account_id)).items():
        count = sums["n"]
        if count <= 0:
            continue
        totals.add(status, count)
        by_event[event_type].add(status, count)
        by_hour[datetime.strptime(bucket, "%Y-%m-%d %H")].add(status, count)
    return Stats(hours, totals, dict(by_event), sorted(by_hour.items()))


async def all_time(session: AsyncSession, account_id: str) -> Counts:
    counts = Counts()
    for status, count in await sql.rows(session, _BY_STATUS, account=account_id):
        if count:
            counts.add(status, int(count))
    return counts
