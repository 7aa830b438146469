"""Delivering events: routed, signed (faults included), sent, logged, retried on the emulator's clock.

Every delivery goes through here, voice turns too.

Events: a delivery row is written in the same transaction as the thing that caused it (`prepare`), and
attempted in a background task after that transaction commits (`launch`), so an API call never waits on
a webhook target. Failed deliveries are retried on `RETRY_SCHEDULE`, measured on the emulator's clock,
so a test moves the clock instead of sleeping.

Voice turns: the call engine asks for an attempt (`voice_attempt`), sends it (`send_voice`, which the
engine may cancel when the call is ended) and has it logged (`record_voice`); the row is written with
the call's other rows. A voice turn is never retried: a late turn is silence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.clock import Clock
from emulator.domain import webhooks
from emulator.faults import FaultBook
from emulator.store import Delivery, Store, Webhook
from emulator.webhooks.transport import Outcome, Transport
from emulator.webhooks.voice import TurnReply, TurnRequest, webhook_turn
from emulator.wire import events

log = logging.getLogger("emulator.webhooks")

# Seconds to wait after failed attempt 1, 2, ... before the next one; then the delivery fails for good.
RETRY_SCHEDULE = (10, 60, 300, 1800, 7200)
MAX_ATTEMPTS = 1 + len(RETRY_SCHEDULE)
NO_WEBHOOK = "No webhook is configured for this agent or project; the event was recorded as undeliverable."
NO_VOICE_WEBHOOK = "No webhook is configured for this agent or project; the caller heard silence."

VoiceSender = Callable[[TurnRequest], Awaitable[TurnReply]]


class Target(Protocol):
    """Where a delivery goes: a webhook row, or the engine's read-only view of one."""

    @property
    def id(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def secret(self) -> str: ...

    @property
    def timeout(self) -> int: ...

    @property
    def context_limit(self) -> int: ...


def recent(history: list[dict[str, Any]] | None, hook: Target | None) -> list[dict[str, Any]]:
    """The tail of the history the target asked for (its `contextLimit`), current item last."""
    limit = hook.context_limit if hook is not None else 0
    return (history or [])[-limit:] if limit > 0 else []


@dataclass
class VoiceAttempt:
    delivery: Delivery
    request: TurnRequest | None  # None when there is nowhere to send the turn


class Deliverer:
    def __init__(self, store: Store, clock: Clock, transport: Transport | None = None,
                 faults: FaultBook | None = None, voice: VoiceSender | None = None) -> None:
        self.store = store
        self.clock = clock
        self.transport = transport or Transport()
        self.faults = faults or FaultBook()
        self.voice: VoiceSender = voice or self._post_voice
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inflight: set[str] = set()

    async def _post_voice(self, request: TurnRequest) -> TurnReply:
        return await webhook_turn(self.transport, request)

    async def prepare(
        self, session: AsyncSession, account_id: str, agent_id: str | None, event: str, channel: str | None,
        data: dict[str, Any], *, history: list[dict[str, Any]] | None = None, state: dict[str, Any] | None = None,
        message_id: str | None = None, test: bool = False, hook: Webhook | None = None, routed: bool = False,
    ) -> Delivery:
        """Route the event (unless `routed`: then `hook` is where it goes, None for nowhere) and write its
        delivery row: pending, or failed when there is nowhere to send it."""
        now = self.clock.now()
        if hook is None and not routed:
            hook = await webhooks.route(session, account_id, agent_id)
        payload = events.envelope(event, channel or "", agent_id, data, now, history=recent(history, hook),
                                  state=state, test=test)
        row = Delivery(
            id=ids.new_id("dlv"), account_id=account_id, agent_id=agent_id, message_id=message_id,
            webhook_id=hook.id if hook else None, url=hook.url if hook else None, event_type=event,
            channel=channel, payload=events.encode(payload), status="pending" if hook else "failed",
            error_message=None if hook else NO_WEBHOOK, attempt_count=0, test=test, created_at=now,
        )
        session.add(row)
        await session.flush()
        return row

    def voice_attempt(self, account_id: str, agent_id: str, hook: Target | None, call_id: str,
                      data: dict[str, Any], history: list[dict[str, Any]], at: datetime,
                      cut_after_first: bool, fault: str | None = None) -> VoiceAttempt:
        """A voice turn's signed request (the turn's own `fault`, else an armed one) and its delivery row,
        not yet sent or written."""
        body = events.encode(events.envelope("agent.message", "voice", agent_id, data, at,
                                             history=recent(history, hook)))
        row = Delivery(
            id=ids.new_id("dlv"), account_id=account_id, agent_id=agent_id, message_id=call_id,
            webhook_id=hook.id if hook else None, url=hook.url if hook else None, event_type="agent.message",
            channel="voice", payload=body, attempt_count=0, test=False, created_at=self.clock.now(),
        )
        if hook is None:
            return VoiceAttempt(row, None)
        signed, headers, delay = self.faults.sign(account_id, hook.secret, body.encode(), row.id, "agent.message",
                                                  kind=fault)
        return VoiceAttempt(row, TurnRequest(hook.url, hook.secret, hook.timeout, row.id, signed, cut_after_first,
                                             headers, delay))

    async def send_voice(self, attempt: VoiceAttempt) -> TurnReply:
        if attempt.request is None:
            return TurnReply(error=NO_VOICE_WEBHOOK)
        return await self.voice(attempt.request)

    def record_voice(self, attempt: VoiceAttempt, reply: TurnReply) -> Delivery:
        """Log the turn's one attempt on its row (the engine writes the row with the call's others)."""
        row = attempt.delivery
        if attempt.request is not None:
            row.attempt_count = 1
            row.last_attempt_at = self.clock.now()
        row.status = "success" if reply.ok and attempt.request is not None else "failed"
        row.http_status = reply.http_status
        row.error_message = reply.error
        row.response_body = reply.body
        row.latency_ms = reply.latency_ms
        return row

    def launch(self, rows: Iterable[Delivery]) -> None:
        """Attempt the pending rows in the background (call after their transaction committed)."""
        for row in rows:
            if row.status == "pending":
                self._spawn(row.id)

    def start(self, delivery_id: str) -> asyncio.Task[Any]:
        """Attempt one pending delivery in the background (tracked, so shutdown waits for it)."""
        self._inflight.add(delivery_id)
        task = asyncio.create_task(self._attempt_safely(delivery_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _spawn(self, delivery_id: str) -> None:
        if delivery_id not in self._inflight:
            self.start(delivery_id)

    async def _attempt_safely(self, delivery_id: str) -> Outcome | None:
        try:
            return await self.attempt(delivery_id)
        except Exception:  # a delivery must never take the emulator down
            log.exception("Delivery %s crashed", delivery_id)
            return None
        finally:
            self._inflight.discard(delivery_id)

    async def attempt(self, delivery_id: str) -> Outcome | None:
        """One attempt of a pending delivery, recorded in the log; returns what the target did."""
        async with self.store.read() as session:
            row = await session.scalar(select(Delivery).where(Delivery.id == delivery_id))
            hook = await session.scalar(select(Webhook).where(Webhook.id == row.webhook_id)) if row else None
        if row is None or row.status != "pending":
            return None
        if row.next_retry_at is not None and row.next_retry_at > self.clock.now():
            return None  # a retry already ran and rescheduled it (two sweeps raced for it)
        if hook is None:
            await self._record(row, None, "The webhook was removed before this delivery was attempted.")
            return None
        body, headers, delay = self.faults.sign(row.account_id, hook.secret, row.payload.encode(), row.id,
                                                row.event_type)
        if delay:
            await asyncio.sleep(delay)
        outcome = await self.transport.post(hook.url, body, headers, hook.timeout)
        await self._record(row, outcome)
        return outcome

    async def _record(self, row: Delivery, outcome: Outcome | None, error: str | None = None) -> None:
        """Log the attempt on `row` (as read before it) with one UPDATE."""
        now = self.clock.now()
        attempts = row.attempt_count + 1
        values: dict[str, Any] = {"attempt_count": attempts, "last_attempt_at": now}
        if outcome is not None:
            values.update(http_status=outcome.http_status, error_message=outcome.error,
                          response_body=outcome.snippet, latency_ms=outcome.latency_ms)
        else:
            values["error_message"] = error
        retryable = outcome is not None and not row.test  # test sends are answered at once, never retried
        if outcome is not None and outcome.ok:
            values.update(status="success", next_retry_at=None)
        elif retryable and attempts < MAX_ATTEMPTS:
            values.update(status="pending", next_retry_at=now + timedelta(seconds=RETRY_SCHEDULE[attempts - 1]))
        else:
            values.update(status="failed", next_retry_at=None)
        async with self.store.write() as session:
            await session.execute(update(Delivery).where(Delivery.id == row.id).values(**values))

    async def retry_due(self) -> int:
        """Start the retries whose time has come on the emulator's clock; returns how many."""
        now = self.clock.now()
        async with self.store.read() as session:
            due = (await session.execute(
                select(Delivery.id).where(Delivery.status == "pending", Delivery.next_retry_at.is_not(None),
                                          Delivery.next_retry_at <= now)
            )).scalars().all()
        for delivery_id in due:
            self._spawn(delivery_id)
        return len(due)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for the attempts under way (used at shutdown and by benchmarks)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def recover(self) -> int:
        """At start-up: deliveries a previous process left pending mid-attempt are retried now."""
        async with self.store.write() as session:
            result = await session.execute(
                update(Delivery).where(Delivery.status == "pending", Delivery.next_retry_at.is_(None))
                .values(next_retry_at=self.clock.now())
            )
        return cast(CursorResult[Any], result).rowcount or 0

    async def close(self) -> None:
        """Let attempts under way finish (a few seconds at most), then stop the rest."""
        await self.drain(timeout=5)
        for task in list(self._tasks):
            task.cancel()
        await self.drain(timeout=1)
        await self.transport.close()

