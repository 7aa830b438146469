"""Webhooks on the wire: settings, the delivery log and its statistics, test sends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, ConfigDict, Field, RootModel

from emulator.clock import iso
from emulator.store import Delivery as DeliveryRow
from emulator.store import Webhook as WebhookRow
from emulator.wire.base import Model, Out, Timestamp, Whole, columns, page
from emulator.wire.events import EVENTS
from emulator.wire.rules import WebUrl

if TYPE_CHECKING:
    from emulator.webhooks.log import Counts, Stats
    from emulator.webhooks.transport import Outcome

# --- requests ----------------------------------------------------------------------------------------------


def _known_events(names: list[str]) -> list[str]:
    unknown = [name for name in names if name not in EVENTS]
    if unknown:
        raise ValueError(f"names unknown events {unknown}; events are {', '.join(EVENTS)}")
    return list(dict.fromkeys(names))


# The events one webhook receives, from either vocabulary (emulator/webhooks/notify.py).
EventTypes = Annotated[list[str], Field(min_length=1, max_length=len(EVENTS)), AfterValidator(_known_events)]


class SetWebhook(Model):
    url: WebUrl
    context_limit: Annotated[int, Field(ge=0, le=50), Whole] | None = None
    timeout: Annotated[int, Field(ge=5, le=120), Whole] | None = None
    event_types: Annotated[EventTypes | None, Field(validation_alias=AliasChoices("eventTypes", "event_types"))] = None


class WebhookTest(Model):
    sender: str | None = Field(default=None, alias="from")
    to: str | None = None
    message: Annotated[str, Field(max_length=1600)] | None = None
    channel: Literal["sms", "imessage", "mms", "whatsapp", "rcs", "voice"] | None = None


# --- responses ---------------------------------------------------------------------------------------------


class Webhook(Out):
    id: str
    url: str
    secret: str
    status: str
    context_limit: int
    timeout: int
    agent_id: str | None
    event_types: list[str] | None
    created_at: Timestamp
    updated_at: Timestamp


class Delivery(Out):
    """A delivery attempt log row; `event`, `statusCode`, `success`, `deliveredAt` and `responseMs` repeat the
    vendor's fields in the spelling other clients read."""

    id: str
    message_id: str | None
    event_type: str
    channel: str | None
    status: Literal["pending", "success", "failed"]
    http_status: int | None
    error_message: str | None
    response_body: str | None
    attempt_count: int
    latency_ms: float | None
    agent_id: str | None
    webhook_id: str | None
    url: str | None
    test: bool
    last_attempt_at: Timestamp | None
    next_retry_at: Timestamp | None
    created_at: Timestamp
    event: str
    status_code: int | None
    success: bool
    delivered_at: Timestamp | None
    response_ms: float | None


class Deliveries(RootModel[list[Delivery]]):
    """An agent's delivery log: a bare array, as the vendor sends it."""

    model_config = ConfigDict(defer_build=True)


class DeliveryPage(Out):
    """The vendor's `{items, total, offset, limit}` plus the shared `data` and `hasMore`."""

    items: list[Delivery]
    data: list[Delivery]
    total: int
    offset: int
    limit: int
    has_more: bool


class StatusCounts(Out):
    total: int
    success: int
    failed: int
    pending: int


class HourCounts(StatusCounts):
    hour: Timestamp


class AllTimeStats(StatusCounts):
    success_rate: float


class DeliveryStats(AllTimeStats):
    by_event_type: dict[str, StatusCounts]
    by_hour: list[HourCounts]
    hours: int


class WebhookTestResult(Out):
    success: bool
    delivered: bool
    delivery_id: str
    webhook_id: str
    url: str
    event: str
    channel: str
    agent_id: str | None
    http_status: int | None
    latency_ms: float | None
    response_snippet: str | None
    error: str | None
    status_code: int | None
    response_ms: float | None


# --- rendering ---------------------------------------------------------------------------------------------

webhook = columns(Webhook)
_delivery = columns(Delivery, skip=("event", "status_code", "success", "delivered_at", "response_ms"))


def delivery(row: DeliveryRow) -> dict[str, Any]:
    success = row.status == "success"
    return {**_delivery(row), "event": row.event_type, "statusCode": row.http_status, "success": success,
            "deliveredAt": iso(row.last_attempt_at) if success else None, "responseMs": row.latency_ms}


def delivery_page(rows: list[DeliveryRow], total: int, offset: int, limit: int) -> dict[str, Any]:
    items = [delivery(row) for row in rows]
    return {**page(items, total, offset), "items": items, "offset": offset, "limit": limit}


def _counts(counts: Counts) -> dict[str, int]:
    return {"total": counts.total, "success": counts.success, "failed": counts.failed, "pending": counts.pending}


def all_time(counts: Counts) -> dict[str, Any]:
    return {**_counts(counts), "successRate": counts.success_rate}


def stats(result: Stats) -> dict[str, Any]:
    return {
        **all_time(result.totals),
        "byEventType": {event: _counts(counts) for event, counts in result.by_event.items()},
        "byHour": [{"hour": iso(hour), **_counts(counts)} for hour, counts in result.by_hour],
        "hours": result.hours,
    }


def test_result(row: DeliveryRow, hook: WebhookRow, channel: str, agent_id: str | None,
                outcome: Outcome | None) -> dict[str, Any]:
    delivered = outcome is not None and outcome.ok
    return {
        "success": delivered,
        "delivered": delivered,
        "deliveryId": row.id,
        "webhookId": hook.id,
        "url": hook.url,
        "event": row.event_type,
        "channel": channel,
        "agentId": agent_id,
        "httpStatus": outcome.http_status if outcome else None,
        "latencyMs": outcome.latency_ms if outcome else None,
        "statusCode": outcome.http_status if outcome else None,
        "responseMs": outcome.latency_ms if outcome else None,
        "responseSnippet": outcome.snippet if outcome else None,
        "error": outcome.error if outcome else "The delivery could not be attempted.",
    }
