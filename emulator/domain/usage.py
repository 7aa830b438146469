"""Usage at the emulator's clock (never constants), read from the rollups the database keeps beside the
rows (emulator/store/rollups.py): totals from the tallies, windows and series from the day and hour buckets
(emulator/domain/windows.py), so a report costs the same at a hundred rows and at a million."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import bindparam, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from emulator.domain import accounts
from emulator.domain.numbers import slots_used
from emulator.domain.windows import Window, day_bucket
from emulator.errors import Invalid
from emulator.plans import Plan, get_plan
from emulator.store import Account, Agent, Call, Delivery, Message, PhoneNumber, sql
from emulator.store.models import table
from emulator.store.rollups import agent_buckets, call_tally, delivery_tally, message_tally, usage_buckets

CALLS, MESSAGES, DELIVERIES, NUMBERS, AGENTS = (table(Call), table(Message), table(Delivery), table(PhoneNumber),
                                                table(Agent))
ACCOUNT: BindParameter[str] = bindparam("account")


def _segments_sql(body: Any) -> Any:
    """`_segments` in SQL, for the rows of a partial hour."""
    return case((func.length(body) <= 160, 1), else_=(func.length(body) + 152) // 153)


_ONE = literal(1)
# Messages and calls (and deliveries) from `since` on: the counts of the 24 h, 7 d and 30 d windows.
_WINDOWS = {
    "messages": Window(usage_buckets, MESSAGES, "received_at",
                       {"n": ("n", _ONE), "segments": ("segments", _segments_sql(MESSAGES.c.body))},
                       bucket_where=[usage_buckets.c.kind == "message"]),
    "calls": Window(usage_buckets, CALLS, "started_at",
                    {"n": ("n", _ONE), "seconds": ("seconds", func.coalesce(CALLS.c.duration_seconds, 0))},
                    bucket_where=[usage_buckets.c.kind == "call"]),
    "webhooks": Window(usage_buckets, DELIVERIES, "created_at", {"n": ("n", _ONE)},
                       bucket_where=[usage_buckets.c.kind == "delivery"]),
}
_TOTAL_MESSAGES = sql.Query(select(func.coalesce(func.sum(message_tally.c.messages), 0))
                            .where(message_tally.c.account_id == ACCOUNT))
_TOTAL_CALLS = sql.Query(select(func.coalesce(func.sum(call_tally.c.calls), 0))
                         .where(call_tally.c.account_id == ACCOUNT))
_DELIVERIES_BY_STATUS = sql.Query(select(delivery_tally.c.status, func.sum(delivery_tally.c.deliveries))
                                  .where(delivery_tally.c.account_id == ACCOUNT).group_by(delivery_tally.c.status))
# Per day since a date, by kind (with the calls' seconds): the daily and monthly series.
_KIND_NAMES = {"message": "messages", "call": "calls", "delivery": "webhooks"}
_DAYS = sql.Query(select(usage_buckets.c.bucket, usage_buckets.c.kind, func.sum(usage_buckets.c.n),
                         func.sum(usage_buckets.c.seconds))
                  .where(usage_buckets.c.account_id == ACCOUNT, usage_buckets.c.grain == "d",
                         usage_buckets.c.bucket >= bindparam("lo"))
                  .group_by(usage_buckets.c.bucket, usage_buckets.c.kind))
_month = func.substr(usage_buckets.c.bucket, 1, 7)
_MONTHS = sql.Query(select(_month, usage_buckets.c.kind, func.sum(usage_buckets.c.n), func.sum(usage_buckets.c.seconds))
                    .where(usage_buckets.c.account_id == ACCOUNT, usage_buckets.c.grain == "d",
                           usage_buckets.c.bucket >= bindparam("lo"))
                    .group_by(_month, usage_buckets.c.kind))
_NUMBERS = sql.Query(select(NUMBERS).where(NUMBERS.c.account_id == ACCOUNT).order_by(NUMBERS.c.pk))
_AGENT_NAMES = sql.Query(select(AGENTS.c.id, AGENTS.c.name).where(AGENTS.c.account_id == ACCOUNT))
_MESSAGES_BY_NUMBER = sql.Query(select(message_tally.c.phone_number_id, func.sum(message_tally.c.messages))
                                .where(message_tally.c.account_id == ACCOUNT)
                                .group_by(message_tally.c.phone_number_id))
_CALLS_BY_NUMBER = sql.Query(select(call_tally.c.phone_number_id, func.sum(call_tally.c.calls))
                             .where(call_tally.c.account_id == ACCOUNT).group_by(call_tally.c.phone_number_id))
# Per agent ('' for none) within a period: messages, and completed calls with their seconds.
_AGENT_WINDOWS = {
    "message": Window(agent_buckets, MESSAGES, "received_at", {"n": ("n", _ONE), "seconds": ("seconds", literal(0))},
                      {"agent": ("agent_id", func.coalesce(MESSAGES.c.agent_id, ""))},
                      bucket_where=[agent_buckets.c.kind == "message"]),
    "call": Window(agent_buckets, CALLS, "started_at",
                   {"n": ("n", _ONE), "seconds": ("seconds", func.coalesce(CALLS.c.duration_seconds, 0))},
                   {"agent": ("agent_id", func.coalesce(CALLS.c.agent_id, ""))},
                   bucket_where=[agent_buckets.c.kind == "call"], row_where=[CALLS.c.status == "completed"]),
}


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
    account = await accounts.row(session, account_id)
    plan = get_plan(account.plan)
    used = await slots_used(session, account, plan)
    counts: dict[str, int] = {"messages": int(await sql.value(session, _TOTAL_MESSAGES, account=account_id)),
                              "calls": int(await sql.value(session, _TOTAL_CALLS, account=account_id))}
    last_30d: dict[str, dict[str, int]] = {}
    for kind in ("messages", "calls"):
        for window, span in WINDOWS.items():
            sums = await _WINDOWS[kind].total(session, now - span, account=account_id)
            counts[f"{kind}:{window}"] = sums["n"]
            if window == "30d":
                last_30d[kind] = sums
    statuses = dict(await sql.rows(session, _DELIVERIES_BY_STATUS, account=account_id))
    deliveries = {"total": int(sum(statuses.values())), "success": int(statuses.get("success", 0)),
                  "failed": int(statuses.get("failed", 0))}
    start = month_start(now.date())
    return Summary(account, plan, used, counts, last_30d["calls"]["seconds"], last_30d["messages"]["segments"],
                   deliveries, start, add_months(start, 1), now)


@dataclass(frozen=True)
class Point:
    label: str  # a date (YYYY-MM-DD) or a month (YYYY-MM)
    messages: int
    calls: int
    webhooks: int
    seconds: int = 0  # call time of the calls started in the period


def _series(rows: list[Any]) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Counts per kind and label, and the call seconds per label."""
    counts: dict[str, dict[str, int]] = {name: {} for name in _KIND_NAMES.values()}
    seconds: dict[str, int] = {}
    for label, kind, count, spent in rows:
        if kind in _KIND_NAMES:
            counts[_KIND_NAMES[kind]][label] = int(count)
        if kind == "call":
            seconds[label] = int(spent)
    return counts, seconds


async def daily(session: AsyncSession, account_id: str, days: int, now: datetime) -> list[Point]:
    first = now.date() - timedelta(days=days - 1)
    counts, seconds = _series(await sql.rows(session, _DAYS, account=account_id, lo=first.isoformat()))
    labels = [(first + timedelta(days=offset)).isoformat() for offset in range(days)]
    return [Point(label, counts["messages"].get(label, 0), counts["calls"].get(label, 0),
                  counts["webhooks"].get(label, 0), seconds.get(label, 0))
            for label in labels]


async def monthly(session: AsyncSession, account_id: str, months: int, now: datetime) -> list[Point]:
    first = add_months(month_start(now.date()), -(months - 1))
    counts, seconds = _series(await sql.rows(session, _MONTHS, account=account_id, lo=day_bucket(first)))
    labels = [add_months(first, offset).strftime("%Y-%m") for offset in range(months)]
    return [Point(label, counts["messages"].get(label, 0), counts["calls"].get(label, 0),
                  counts["webhooks"].get(label, 0), seconds.get(label, 0))
            for label in labels]


@dataclass(frozen=True)
class NumberActivity:
    number: PhoneNumber
    agent_name: str | None
    messages: int
    calls: int


async def by_number(session: AsyncSession, account_id: str) -> list[NumberActivity]:
    """Every number the account has had, with its message and call counts and linked agent."""
    numbers = await sql.rows(session, _NUMBERS, account=account_id)
    agents = dict(await sql.rows(session, _AGENT_NAMES, account=account_id))
    messages = dict(await sql.rows(session, _MESSAGES_BY_NUMBER, account=account_id))
    calls = dict(await sql.rows(session, _CALLS_BY_NUMBER, account=account_id))
    return [NumberActivity(n, agents.get(n.agent_id) if n.agent_id else None, int(messages.get(n.id, 0)),
                           int(calls.get(n.id, 0))) for n in numbers]


class _Zones(Sequence[str]):
    """The IANA time zone names, sorted, read on first use (finding them walks some 600 files of the zone
    database, which no request but a usage one needs)."""

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(available_timezones()))

    def __getitem__(self, index: Any) -> Any:
        return self.names[index]

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)


ZONES = _Zones()  # the names `zone` accepts (the served document lists them)


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
    agents = dict(await sql.rows(session, _AGENT_NAMES, account=account_id))
    found = {kind: {group[0] or None: sums for group, sums in
                    (await window.sum(session, start, end, account=account_id)).items() if sums["n"]}
             for kind, window in _AGENT_WINDOWS.items()}
    messages = {agent_id: sums["n"] for agent_id, sums in found["message"].items()}
    calls = {agent_id: (sums["n"], sums["seconds"]) for agent_id, sums in found["call"].items()}
    keys = [*agents, *(k for k in {*messages, *calls} if k not in agents)]
    out = []
    for agent_id in keys:
        count, seconds = calls.get(agent_id, (0, 0))
        orphan = agent_id is None or agent_id not in agents
        name = agents.get(agent_id, "Unassigned") if agent_id else "Unassigned"
        out.append(AgentActivity(agent_id, name, messages.get(agent_id, 0), count, int(seconds or 0), orphan))
    return out
