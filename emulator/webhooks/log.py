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

from emulator.domain.paging import Lister, Tally
from emulator.domain.windows import Skip, Window
from emulator.store import Delivery, sql
from emulator.store.models import table
from emulator.store.rollups import delivery_events, delivery_hours, delivery_tally, usage_buckets

DELIVERIES = table(Delivery)
_LIST = Lister(DELIVERIES, [DELIVERIES.c.account_id == bindparam("account")],
               [DELIVERIES.c.created_at.desc(), DELIVERIES.c.pk.desc()], {
                   "since": lambda value: DELIVERIES.c.created_at >= value,
                   "agent_id": lambda value: DELIVERIES.c.agent_id == value,
                   "older_than": lambda value: DELIVERIES.c.created_at < value,
               })
_SKIP = Skip(usage_buckets, usage_buckets.c.kind == "delivery")
DEEP = 1000  # offsets from which a page is located from the day and hour buckets (windows.Skip)
_TOTAL = Tally(delivery_tally, "deliveries", {"agent_id": "agent_id"})
_BY_STATUS = sql.Query(select(delivery_tally.c.status, func.sum(delivery_tally.c.deliveries))
                       .where(delivery_tally.c.account_id == bindparam("account"))
                       .group_by(delivery_tally.c.status))
_SINCE = Window(usage_buckets, DELIVERIES, "created_at", {"n": ("n", literal(1))},
                bucket_where=[usage_buckets.c.kind == "delivery"])
# Deliveries since a time per hour and status, and per event and status (two sums, so each costs as many rows
# as there are hours, or events, in the window; the partial first hour is its own).
_BY_HOUR = Window(delivery_hours, DELIVERIES, "created_at", {"n": ("deliveries", literal(1))},
                  {"hour": ("bucket", None), "status": ("status", DELIVERIES.c.status)}, days=False)
_BY_EVENT = Window(delivery_events, DELIVERIES, "created_at", {"n": ("deliveries", literal(1))},
                   {"event": ("event_type", DELIVERIES.c.event_type), "status": ("status", DELIVERIES.c.status)})


async def list_page(session: AsyncSession, account_id: str, limit: int, offset: int, *, since: datetime | None = None,
                    agent_id: str | None = None) -> tuple[list[Any], int]:
    """A page of the log (rows), newest first, and how many deliveries it has in all (since `since`)."""
    if offset >= DEEP and since is None and agent_id is None:
        found = await _SKIP.locate(session, offset, account=account_id)
        rows = [] if found is None else await _LIST.rows(session, limit, found[1], account=account_id,
                                                         older_than=found[0])
    else:
        rows = await _LIST.rows(session, limit, offset, account=account_id, since=since, agent_id=agent_id)
    if since is None:
        total = await _TOTAL.total(session, account_id, agent_id=agent_id)
    elif agent_id is None:
        total = (await _SINCE.total(session, since, account=account_id))["n"]
    else:  # no rollup has both: counted
        total = await _LIST.count(session, account=account_id, since=since, agent_id=agent_id)
    return rows, total


async def recent(session: AsyncSession, account_id: str, limit: int, agent_id: str | None,
                 since: datetime | None = None) -> list[Any]:
    """The latest deliveries (rows), newest first, of the account or of one of its agents (since `since`)."""
    return await _LIST.rows(session, limit, 0, account=account_id, agent_id=agent_id, since=since)


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
    for (event_type, status), sums in (await _BY_EVENT.sum(session, since, account=account_id)).items():
        if sums["n"] > 0:
            totals.add(status, sums["n"])
            by_event[event_type].add(status, sums["n"])
    for (bucket, status), sums in (await _BY_HOUR.sum(session, since, account=account_id)).items():
        if sums["n"] > 0:
            by_hour[_hour(bucket)].add(status, sums["n"])
    return Stats(hours, totals, dict(by_event), sorted(by_hour.items()))


def _hour(bucket: str) -> datetime:
    """The hour an hour bucket ('YYYY-MM-DD HH') starts."""
    return datetime(int(bucket[:4]), int(bucket[5:7]), int(bucket[8:10]), int(bucket[11:13]))


async def all_time(session: AsyncSession, account_id: str) -> Counts:
    counts = Counts()
    for status, count in await sql.rows(session, _BY_STATUS, account=account_id):
        if count:
            counts.add(status, int(count))
    return counts
