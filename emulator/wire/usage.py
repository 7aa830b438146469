"""Usage on the wire: the account overview (both vocabularies), daily/monthly series, per number, per agent."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from emulator.clock import iso
from emulator.wire.base import Out, Timestamp

if TYPE_CHECKING:
    from emulator.domain.usage import AgentActivity, NumberActivity, Point, Summary


class PlanLimits(Out):
    numbers: int
    messages_per_month: int
    voice_minutes_per_month: int
    max_call_duration_minutes: int
    concurrent_calls: int


class PlanInfo(Out):
    name: str
    number_limit: int
    limits: PlanLimits


class NumberSlots(Out):
    used: int
    limit: int
    remaining: int


class UsageStats(Out):
    total_messages: int
    messages_last24h: int = Field(alias="messagesLast24h")
    messages_last7d: int = Field(alias="messagesLast7d")
    messages_last30d: int = Field(alias="messagesLast30d")
    total_calls: int
    calls_last24h: int = Field(alias="callsLast24h")
    calls_last7d: int = Field(alias="callsLast7d")
    calls_last30d: int = Field(alias="callsLast30d")
    minutes_last30d: int = Field(alias="minutesLast30d")
    sms_segments_last30d: int = Field(alias="smsSegmentsLast30d")
    total_webhook_deliveries: int
    successful_webhook_deliveries: int
    failed_webhook_deliveries: int


class Usage(Out):
    plan: PlanInfo
    numbers: NumberSlots
    stats: UsageStats
    balance_cents: int
    period_start: Timestamp
    period_end: Timestamp
    report_generated_at: Timestamp


class UsagePoint(Out):
    """One day's or month's activity; `voiceMinutes` (the call time, rounded up) is what other clients read."""

    messages: int
    calls: int
    webhooks: int
    voice_minutes: int


class DailyPoint(UsagePoint):
    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class MonthlyPoint(UsagePoint):
    month: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")]


class DailyUsage(Out):
    data: list[DailyPoint]
    days: int


class MonthlyUsage(Out):
    data: list[MonthlyPoint]
    months: int


class NumberUsageItem(Out):
    number_id: str
    phone_number: str
    country: str
    status: str
    agent_id: str | None
    agent_name: str | None
    messages: int
    calls: int


class NumberUsage(Out):
    data: list[NumberUsageItem]


class AgentUsageItem(Out):
    agent_id: str | None
    agent_name: str
    messages: int
    calls: int
    total_seconds: int
    is_orphan: bool


class AgentUsage(Out):
    data: list[AgentUsageItem]
    period: Literal["week", "month", "year"]
    period_start: Timestamp
    period_end: Timestamp
    tz: str


def summary(s: Summary) -> dict[str, Any]:
    plan, counts = s.plan, s.counts
    stats: dict[str, int] = {}
    for kind, label in (("messages", "Messages"), ("calls", "Calls")):
        stats[f"total{label}"] = counts[kind]
        for window in ("24h", "7d", "30d"):
            stats[f"{kind}Last{window}"] = counts[f"{kind}:{window}"]
    stats.update(minutesLast30d=math.ceil(s.seconds_30d / 60), smsSegmentsLast30d=s.segments_30d,
                 totalWebhookDeliveries=s.deliveries["total"],
                 successfulWebhookDeliveries=s.deliveries["success"],
                 failedWebhookDeliveries=s.deliveries["failed"])
    return {
        "plan": {"name": plan.name, "numberLimit": plan.number_limit, "limits": plan.limits()},
        "numbers": {"used": s.used, "limit": plan.number_limit, "remaining": max(plan.number_limit - s.used, 0)},
        "stats": stats,
        "balanceCents": s.account.balance_cents,
        "periodStart": iso(s.period_start),
        "periodEnd": iso(s.period_end),
        "reportGeneratedAt": iso(s.now),
    }


def _point(point: Point, label: str) -> dict[str, Any]:
    return {label: point.label, "messages": point.messages, "calls": point.calls, "webhooks": point.webhooks,
            "voiceMinutes": math.ceil(point.seconds / 60)}


def daily(points: list[Point], days: int) -> dict[str, Any]:
    return {"data": [_point(p, "date") for p in points], "days": days}


def monthly(points: list[Point], months: int) -> dict[str, Any]:
    return {"data": [_point(p, "month") for p in points], "months": months}


def by_number(items: list[NumberActivity]) -> dict[str, Any]:
    return {"data": [{
        "numberId": i.number.id, "phoneNumber": i.number.phone_number, "country": i.number.country,
        "status": i.number.status, "agentId": i.number.agent_id, "agentName": i.agent_name,
        "messages": i.messages, "calls": i.calls,
    } for i in items]}


def by_agent(items: list[AgentActivity], period: str, start: datetime, end: datetime, tz: str) -> dict[str, Any]:
    data = [{"agentId": i.agent_id, "agentName": i.agent_name, "messages": i.messages, "calls": i.calls,
             "totalSeconds": i.seconds, "isOrphan": i.orphan} for i in items]
    return {"data": data, "period": period, "periodStart": iso(start), "periodEnd": iso(end), "tz": tz}
