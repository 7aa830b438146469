"""Usage, computed from the stored rows at the emulator's clock (never constants)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.domain import accounts
from emulator.domain.numbers import slots_used
from emulator.errors import Invalid
from emulator.plans import Plan, get_plan
from emulator.store import Account, Agent, Call, Delivery, Message, PhoneNumber

# (model, timestamp column) of each counted kind of row.
_KINDS: dict[str, tuple[Any, Any]] = {
    "messages": (Message, Message.received_at),
    "calls": (Call, Call.started_at),
    "webhooks": (Delivery, Delivery.created_at),
}


async def _count(session: AsyncSession, kind: str, account_id: str, since: datetime | None = None,
                 **where: Any) -> int:
    model, column = _KINDS[kind]
    query = select(func.count()).select_from(model).where(model.account_id == account_id)
    if since is not None:
        query = query.where(column >= since)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return (await session.execute(query)).scalar_one()


def _segments(body: str) -> int:
    if len(body) <= 160:
        return 1
    return math.ceil(len(body) / 153)


def month_start(day: date) -> datetime:
    return datetime(day.year, day.month, 1)


def add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Summary:
    account: Account
    plan: Plan
    used: int  # number slots that count against the plan
    counts: dict[str, int]  # "{kind}" totals and "{kind}:{window}" counts (kinds: messages, calls)
    seconds_30d: int
    segments_30d: int
    deliveries: dict[str, int]  # total, success, failed
    period_start: datetime
    period_end: datetime
    now: datetime


WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


async def summary(session: AsyncSession, account_id: str, now: datetime) -> Summary:
    account = await accounts.get(session, account_id)
    plan = get_plan(account.plan)
    used = await slots_used(session, account, plan)
    counts: dict[str, int] = {}
    for kind in ("messages", "calls"):
        counts[kind] = await _count(session, kind, account_id)
        for window, span in WINDOWS.items():
            counts[f"{kind}:{window}"] = await _count(session, kind, account_id, now - span)
    since = now - WINDOWS["30d"]
    seconds = (await session.execute(
        select(func.coalesce(func.sum(Call.duration_seconds), 0))
        .where(Call.account_id == account_id, Call.started_at >= since)
    )).scalar_one()
    bodies = (await session.execute(
        select(Message.body).where(Message.account_id == account_id, Message.received_at >= since)
    )).scalars()
    deliveries = {"total": await _count(session, "webhooks", account_id),
                  "success": await _count(session, "webhooks", account_id, status="success"),
                  "failed": await _count(session, "webhooks", account_id, status="failed")}
    start = month_start(now.date())
    return Summary(account, plan, used, counts, int(seconds or 0), sum(_segments(body) for body in bodies), deliveries,
                   start, add_months(start, 1), now)


@dataclass(frozen=True)
class Point:
    label: str  # a date (YYYY-MM-DD) or a month (YYYY-MM)
    messages: int
    calls: int
    webhooks: int
    seconds: int = 0  # call time of the calls started in the period


async def _call_seconds(session: AsyncSession, account_id: str, since: datetime) -> list[tuple[datetime, int]]:
    query = select(Call.started_at, Call.duration_seconds).where(Call.account_id == account_id,
                                                                 Call.started_at >= since)
    return [(started, seconds or 0) for started, seconds in (await session.execute(query)).all()]


async def _timestamps(session: AsyncSession, account_id: str, since: datetime) -> dict[str, list[datetime]]:
    out: dict[str, list[datetime]] = {}
    for kind, (model, column) in _KINDS.items():
        query = select(column).where(model.account_id == account_id, column >= since)
        out[kind] = list((await session.execute(query)).scalars())
    return out


async def daily(session: AsyncSession, account_id: str, days: int, now: datetime) -> list[Point]:
    first = now.date() - timedelta(days=days - 1)
    stamps = await _timestamps(session, account_id, datetime(first.year, first.month, first.day))
    counts = {kind: Counter(ts.date().isoformat() for ts in values) for kind, values in stamps.items()}
    seconds: Counter[str] = Counter()
    for started, spent in await _call_seconds(session, account_id, datetime(first.year, first.month, first.day)):
        seconds[started.date().isoformat()] += spent
    labels = [(first + timedelta(days=offset)).isoformat() for offset in range(days)]
    return [Point(label, counts["messages"][label], counts["calls"][label], counts["webhooks"][label], seconds[label])
            for label in labels]


async def monthly(session: AsyncSession, account_id: str, months: int, now: datetime) -> list[Point]:
    first = add_months(month_start(now.date()), -(months - 1))
    stamps = await _timestamps(session, account_id, first)
    counts = {kind: Counter(ts.strftime("%Y-%m") for ts in values) for kind, values in stamps.items()}
    seconds: Counter[str] = Counter()
    for started, spent in await _call_seconds(session, account_id, first):
        seconds[started.strftime("%Y-%m")] += spent
    labels = [add_months(first, offset).strftime("%Y-%m") for offset in range(months)]
    return [Point(label, counts["messages"][label], counts["calls"][label], counts["webhooks"][label], seconds[label])
            for label in labels]


@dataclass(frozen=True)
class NumberActivity:
    number: PhoneNumber
    agent_name: str | None
    messages: int
    calls: int


async def by_number(session: AsyncSession, account_id: str) -> list[NumberActivity]:
    """Every number the account has had, with its message and call counts and linked agent."""
    numbers = list((await session.execute(
        select(PhoneNumber).where(PhoneNumber.account_id == account_id).order_by(PhoneNumber.pk)
    )).scalars())
    agents = dict((await session.execute(select(Agent.id, Agent.name).where(Agent.account_id == account_id))).all())
    messages = dict((await session.execute(
        select(Message.phone_number_id, func.count()).where(Message.account_id == account_id)
        .group_by(Message.phone_number_id)
    )).all())
    calls = dict((await session.execute(
        select(Call.phone_number_id, func.count()).where(Call.account_id == account_id).group_by(Call.phone_number_id)
    )).all())
    return [NumberActivity(n, agents.get(n.agent_id) if n.agent_id else None, messages.get(n.id, 0),
                        calls.get(n.id, 0)) for n in numbers]


ZONES = tuple(sorted(available_timezones()))  # the names `zone` accepts (the served document lists them)


def zone(name: str) -> ZoneInfo:
    """An IANA time zone by name, refused with a sentence when there is none of that name."""
    try:
        if name not in ZONES:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory ("Europe"), a name too long
        raise Invalid(f"Query parameter 'tz' must be an IANA time zone, like America/New_York (got {name!r}).") \
            from None


def period_window(period: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The current calendar week (from Monday), month or year in `tz`, as naive UTC bounds."""
    local = now.replace(tzinfo=UTC).astimezone(tz)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = add_months(start.replace(tzinfo=None), 1).replace(tzinfo=tz)
    else:
        start = day.replace(month=1, day=1)
        end = start.replace(year=start.year + 1)
    return start.astimezone(UTC).replace(tzinfo=None), end.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class AgentActivity:
    agent_id: str | None
    agent_name: str
    messages: int
    calls: int
    seconds: int
    orphan: bool


async def by_agent(session: AsyncSession, account_id: str, start: datetime, end: datetime) -> list[AgentActivity]:
    """Messages, completed calls and call seconds per agent; rows with no agent are "Unassigned"."""
    agents = dict((await session.execute(select(Agent.id, Agent.name).where(Agent.account_id == account_id))).all())
    messages = dict((await session.execute(
        select(Message.agent_id, func.count()).where(
            Message.account_id == account_id, Message.received_at >= start, Message.received_at < end)
        .group_by(Message.agent_id)
    )).all())
    calls = {agent_id: (count, seconds) for agent_id, count, seconds in (await session.execute(
        select(Call.agent_id, func.count(), func.coalesce(func.sum(Call.duration_seconds), 0)).where(
            Call.account_id == account_id, Call.status == "completed", Call.started_at >= start,
            Call.started_at < end)
        .group_by(Call.agent_id)
    )).all()}
    keys = [*agents, *(k for k in {*messages, *calls} if k not in agents)]
    out = []
    for agent_id in keys:
        count, seconds = calls.get(agent_id, (0, 0))
        orphan = agent_id is None or agent_id not in agents
        name = agents.get(agent_id, "Unassigned") if agent_id else "Unassigned"
        out.append(AgentActivity(agent_id, name, messages.get(agent_id, 0), count, int(seconds or 0), orphan))
    return out
