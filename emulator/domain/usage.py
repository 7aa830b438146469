"""Usage, computed from the stored rows at the emulator's clock (never constants)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.clock import iso
from emulator.domain import accounts
from emulator.domain.numbers import slots_used
from emulator.plans import get_plan
from emulator.store import Agent, Call, Delivery, Message, PhoneNumber

# (model, timestamp column) of each counted kind of row.
_KINDS = {
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


async def summary(session: AsyncSession, account_id: str, now: datetime) -> dict[str, Any]:
    account = await accounts.get(session, account_id)
    plan = get_plan(account.plan)
    used = await slots_used(session, account, plan)
    windows = {"24h": now - timedelta(hours=24), "7d": now - timedelta(days=7), "30d": now - timedelta(days=30)}
    stats: dict[str, int] = {}
    for kind, label in (("messages", "Messages"), ("calls", "Calls")):
        stats[f"total{label}"] = await _count(session, kind, account_id)
        for window, since in windows.items():
            stats[f"{kind}Last{window}"] = await _count(session, kind, account_id, since)
    seconds = (await session.execute(
        select(func.coalesce(func.sum(Call.duration_seconds), 0))
        .where(Call.account_id == account_id, Call.started_at >= windows["30d"])
    )).scalar_one()
    bodies = (await session.execute(
        select(Message.body).where(Message.account_id == account_id, Message.received_at >= windows["30d"])
    )).scalars()
    stats["minutesLast30d"] = math.ceil(seconds / 60)
    stats["smsSegmentsLast30d"] = sum(_segments(body) for body in bodies)
    stats["totalWebhookDeliveries"] = await _count(session, "webhooks", account_id)
    stats["successfulWebhookDeliveries"] = await _count(session, "webhooks", account_id, status="success")
    stats["failedWebhookDeliveries"] = await _count(session, "webhooks", account_id, status="failed")
    start = month_start(now.date())
    return {
        "plan": {"name": plan.name, "numberLimit": plan.number_limit, "limits": plan.limits()},
        "numbers": {"used": used, "limit": plan.number_limit, "remaining": max(plan.number_limit - used, 0)},
        "stats": stats,
        "balanceCents": account.balance_cents,
        "periodStart": iso(start),
        "periodEnd": iso(add_months(start, 1)),
        "reportGeneratedAt": iso(now),
    }


async def _timestamps(session: AsyncSession, account_id: str, since: datetime) -> dict[str, list[datetime]]:
    out: dict[str, list[datetime]] = {}
    for kind, (model, column) in _KINDS.items():
        query = select(column).where(model.account_id == account_id, column >= since)
        out[kind] = list((await session.execute(query)).scalars())
    return out


async def daily(session: AsyncSession, account_id: str, days: int, now: datetime) -> list[dict[str, Any]]:
    first = now.date() - timedelta(days=days - 1)
    stamps = await _timestamps(session, account_id, datetime(first.year, first.month, first.day))
    counts = {kind: Counter(ts.date() for ts in values) for kind, values in stamps.items()}
    out = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        out.append({"date": day.isoformat(), **{kind: counts[kind][day] for kind in _KINDS}})
    return out


async def monthly(session: AsyncSession, account_id: str, months: int, now: datetime) -> list[dict[str, Any]]:
    first = add_months(month_start(now.date()), -(months - 1))
    stamps = await _timestamps(session, account_id, first)
    counts = {kind: Counter(ts.strftime("%Y-%m") for ts in values) for kind, values in stamps.items()}
    out = []
    for offset in range(months):
        label = add_months(first, offset).strftime("%Y-%m")
        out.append({"month": label, **{kind: counts[kind][label] for kind in _KINDS}})
    return out


async def by_number(session: AsyncSession, account_id: str) -> list[dict[str, Any]]:
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
    return [{
        "numberId": n.id, "phoneNumber": n.phone_number, "country": n.country, "status": n.status,
        "agentId": n.agent_id, "agentName": agents.get(n.agent_id) if n.agent_id else None,
        "messages": messages.get(n.id, 0), "calls": calls.get(n.id, 0),
    } for n in numbers]


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


async def by_agent(session: AsyncSession, account_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
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
        out.append({"agentId": agent_id, "agentName": agents.get(agent_id, "Unassigned") if agent_id else "Unassigned",
                    "messages": messages.get(agent_id, 0), "calls": count, "totalSeconds": int(seconds),
                    "isOrphan": orphan})
    return out
