"""Delivering events: routed, signed (faults included), sent, logged, retried on the emulator's clock.

Every delivery goes through here, voice turns too.

Events: a delivery row is written in the same transaction as the thing that caused it (`prepare`), and
attempted in a background task after that transaction commits (`launch`), so an API call never waits on
a webhook target. Failed deliveries are retried on `RETRY_SCHEDULE`, measured on the emulator's clock,
so a test moves the clock instead of sleeping.

Voice turns: the call engine asks for an attempt (`voice_attempt`), sends it (`send_voice`, which the
engine may cancel when the call is ended) and has it logged (`record_voice`, then `turn_attempts` ties the
attempt to its transcript row); the rows are written with the call's other rows. A voice turn is never
retried: a late turn is silence.

Every attempt is also kept as sent and as answered (`DeliveryAttempt`: headers with the signature, the body
when it differs from the payload, the reply), and told to the activity log. `redeliver` sends a delivery
again by hand, as stored or edited, signed afresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import clock as clock_module
from emulator import ids
from emulator.activity import Activity
from emulator.calls.rows import assign, entity
from emulator.calls.rows import values as columns_of
from emulator.clock import Clock
from emulator.domain import webhooks
from emulator.errors import Conflict
from emulator.faults import FaultBook
from emulator.shared import Shared
from emulator.store import Delivery, DeliveryAttempt, Store, Webhook, sql
from emulator.store.models import table
from emulator.webhooks.lanes import Lanes
from emulator.webhooks.transport import Outcome, Transport
from emulator.webhooks.voice import TurnReply, TurnRequest, webhook_turn
from emulator.wire import events

log = logging.getLogger("emulator.webhooks")

# Seconds to wait after failed attempt 1, 2, ... before the next one; then the delivery fails for good.
RETRY_SCHEDULE = (10, 60, 300, 1800, 7200)
MAX_ATTEMPTS = 1 + len(RETRY_SCHEDULE)
NO_WEBHOOK = "No webhook is configured for this agent or project; the event was recorded as undeliverable."
NO_VOICE_WEBHOOK = "No webhook is configured for this agent or project; the caller heard silence."
NOWHERE = ("There is nowhere to redeliver this: the webhook it went to was removed and no webhook is configured "
           "for its agent or project now.")
TURN_LOGS = 1_000  # voice attempts logged but not yet tied to their turn (the engine ties each at once)
NO_VOICE_EVENTS = "The webhook's eventTypes leave out agent.message, so voice turns are not sent to it; the caller " \
                  "heard silence."

VoiceSender = Callable[[TurnRequest], Awaitable[TurnReply]]
DELIVERIES, WEBHOOKS, ATTEMPTS = table(Delivery), table(Webhook), table(DeliveryAttempt)
_INSERT = sql.Insert(table(Delivery))
_PREVIOUS = sql.Query(select(Delivery.id).where(Delivery.account_id == bindparam("account"),
                                                Delivery.id != bindparam("id")).order_by(Delivery.pk.desc()).limit(1))
_INSERT_ATTEMPT = sql.Insert(ATTEMPTS)
# An attempt reads its delivery and its webhook, and logs itself, with prepared statements (emulator/store/sql.py).
_ROW = sql.Query(select(DELIVERIES).where(DELIVERIES.c.id == bindparam("id")))
_HOOK = sql.Query(select(WEBHOOKS).where(WEBHOOKS.c.id == bindparam("id")))
_ATTEMPTS = sql.Query(select(func.count()).select_from(ATTEMPTS).where(ATTEMPTS.c.delivery_id == bindparam("id")))
_LOGGED: dict[frozenset[str], sql.Query] = {}  # UPDATE of a delivery's columns after an attempt, per set of columns
_DUE = sql.Query(select(Delivery.id, Delivery.account_id, Delivery.url).where(
    Delivery.status == "pending", Delivery.next_retry_at.is_not(None), Delivery.next_retry_at <= bindparam("now")))
_DUE_OF = sql.Query(select(Delivery.id, Delivery.account_id, Delivery.url).where(  # of an account ahead of the rest
    Delivery.status == "pending", Delivery.next_retry_at.is_not(None), Delivery.next_retry_at <= bindparam("now"),
    Delivery.account_id == bindparam("account")))
_DELIVERIES = table(Delivery)
# A Core statement: start-up then needs no ORM mapper configured.
_RETRY_LEFT = sql.Query(update(_DELIVERIES)
                        .where(_DELIVERIES.c.status == "pending", _DELIVERIES.c.next_retry_at.is_(None))
                        .values(next_retry_at=bindparam("now")))


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

    @property
    def event_types(self) -> list[str] | None: ...


def recent(history: list[dict[str, Any]] | None, hook: Target | None) -> list[dict[str, Any]]:
    """The tail of the history the target asked for (its `contextLimit`), current item last."""
    limit = hook.context_limit if hook is not None else 0
    return (history or [])[-limit:] if limit > 0 else []


@dataclass
class VoiceAttempt:
    delivery: Delivery
    request: TurnRequest | None  # None when there is nowhere to send the turn
    refusal: str = NO_VOICE_WEBHOOK  # why, when there is not
    raw: bytes = b""  # the payload as bytes, as signed (the request's body unless a fault changed it)


@dataclass
class Sent:
    """What one attempt put on the wire."""

    url: str
    headers: dict[str, str]
    body: bytes


def _body_unless_payload(body: bytes, payload: str) -> str | None:
    """The body sent, kept only when it is not the stored payload (a tampered or edited body)."""
    return None if body == payload.encode() else body.decode("utf-8", errors="replace")


def _attempt_row(row: Delivery, values: dict[str, Any], sent: Sent | None, outcome: Outcome | None, kind: str,
                 now: datetime) -> DeliveryAttempt:
    """An event delivery's attempt as sent and answered; `values` are the delivery's columns after it."""
    return entity(
        DeliveryAttempt, account_id=row.account_id, delivery_id=row.id, kind=kind, url=sent.url if sent else row.url,
        request_headers=dict(sent.headers) if sent else None,
        request_body=_body_unless_payload(sent.body, row.payload) if sent else None,
        http_status=values.get("http_status"), error_message=values.get("error_message"),
        response_body=values.get("response_body"), content_type=outcome.content_type if outcome else None,
        latency_ms=values.get("latency_ms"),
        next_retry_at=values.get("next_retry_at", row.next_retry_at) if values["status"] == "pending" else None,
        attempted_at=now,
    )


def _logged(values: dict[str, Any]) -> sql.Query:
    """The UPDATE that logs an attempt on its delivery: of exactly these columns (bound as `set_<column>`; no bound
    name is a column's, which an UPDATE run with parameters would take for one more column to set)."""
    names = frozenset(values)
    query = _LOGGED.get(names)
    if query is None:
        query = _LOGGED[names] = sql.Query(update(DELIVERIES).where(DELIVERIES.c.id == bindparam("delivery")).values(
            {name: bindparam(f"set_{name}") for name in sorted(names)}))
    return query


class Deliverer:
    def __init__(self, store: Store, clock: Clock, transport: Transport | None = None,
                 faults: FaultBook | None = None, voice: VoiceSender | None = None,
                 activity: Activity | None = None, vocabulary: str = "current", shared: Shared | None = None) -> None:
        self.store = store
        self.shared = shared or Shared(store, enabled=False)  # armed faults, when several processes share them
        self.vocabulary = vocabulary  # the emulator's event vocabulary (an account may choose its own)
        self.clock = clock
        self.transport = transport or Transport()
        self.faults = faults or FaultBook()
        self.voice: VoiceSender = voice or self._post_voice
        self.activity = activity or Activity(clock)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inflight: set[str] = set()
        self._turn_logs: dict[str, DeliveryAttempt] = {}
        self.process: str | None = None  # this process's lease, where processes share the database
        # Event attempts wait in a lane per (account, target URL), a few in flight each (emulator/webhooks/lanes.py):
        # a slow target holds back only its own account's deliveries to it.
        self.lanes = Lanes(self._attempt_safely, track=self._track)

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
        # A Core insert (emulator/store/sql.py): the row comes back as a row of the table, not an entity.
        row: Delivery = await sql.insert(
            session, _INSERT, id=ids.new_id("dlv"), account_id=account_id, agent_id=agent_id, message_id=message_id,
            webhook_id=hook.id if hook else None, url=hook.url if hook else None, event_type=event,
            channel=channel, payload=events.encode(payload), status="pending" if hook else "failed",
            error_message=None if hook else NO_WEBHOOK, attempt_count=0, test=test, created_at=now,
            claimed_by=self.process if hook else None,
        )
        return row

    async def sign(self, account_id: str, secret: str, body: bytes, delivery_id: str, event: str,
                   kind: str | None = None) -> tuple[bytes, dict[str, str], float]:
        """`FaultBook.sign`: where processes share the armed faults, the latest ones, and a fault used here is
        used up for all of them."""
        shared = self.shared
        if shared.enabled:
            await shared.refresh()
            pending = self.faults.pending_webhook(account_id) if kind is None else None
            if pending == "reused-id":  # the previous delivery may have gone out from another process
                async with self.store.read() as session:
                    previous = await sql.value(session, _PREVIOUS, account=account_id, id=delivery_id)
                if previous is not None:
                    self.faults.remember(account_id, previous)
            if pending is not None:
                return await shared.change("faults", lambda: self.faults.sign(account_id, secret, body, delivery_id,
                                                                             event))
        return self.faults.sign(account_id, secret, body, delivery_id, event, kind=kind)

    async def voice_attempt(self, account_id: str, agent_id: str, hook: Target | None, call_id: str,
                      data: dict[str, Any], history: list[dict[str, Any]], at: datetime,
                      cut_after_first: bool, fault: str | None = None) -> VoiceAttempt:
        """A voice turn's signed request (the turn's own `fault`, else an armed one) and its delivery row,
        not yet sent or written."""
        body = events.encode(events.envelope("agent.message", "voice", agent_id, data, at,
                                             history=recent(history, hook)))
        # The row and its attempt are the engine's to write with the call's rows: made without ORM instrumentation.
        row = entity(
            Delivery, id=ids.new_id("dlv"), account_id=account_id, agent_id=agent_id, message_id=call_id,
            webhook_id=hook.id if hook else None, url=hook.url if hook else None, event_type="agent.message",
            channel="voice", payload=body, attempt_count=0, test=False, created_at=self.clock.now(),
        )
        if hook is None:
            return VoiceAttempt(row, None)
        if hook.event_types is not None and "agent.message" not in hook.event_types:
            assign(row, webhook_id=None, url=None)
            return VoiceAttempt(row, None, NO_VOICE_EVENTS)
        raw = body.encode()
        signed, headers, delay = await self.sign(account_id, hook.secret, raw, row.id, "agent.message", kind=fault)
        return VoiceAttempt(row, TurnRequest(hook.url, hook.secret, hook.timeout, row.id, signed, cut_after_first,
                                             headers, delay), raw=raw)

    async def send_voice(self, attempt: VoiceAttempt) -> TurnReply:
        if attempt.request is None:
            return TurnReply(error=attempt.refusal)
        return await self.voice(attempt.request)

    def record_voice(self, attempt: VoiceAttempt, reply: TurnReply) -> Delivery:
        """Log the turn's one attempt on its row (the engine writes the row with the call's others)."""
        row = attempt.delivery
        request = attempt.request
        now = self.clock.now()
        assign(row, status="success" if reply.ok and request is not None else "failed", http_status=reply.http_status,
               error_message=reply.error, response_body=reply.body, latency_ms=reply.latency_ms)
        if request is not None:
            assign(row, attempt_count=1, last_attempt_at=now)
            if len(self._turn_logs) >= TURN_LOGS:
                self._turn_logs.pop(next(iter(self._turn_logs)))
            self._turn_logs[row.id] = entity(
                DeliveryAttempt, account_id=row.account_id, delivery_id=row.id, number=1, kind="first",
                url=request.url, request_headers=dict(request.headers or {}),
                request_body=None if request.body == attempt.raw else _body_unless_payload(request.body, row.payload),
                http_status=reply.http_status, error_message=reply.error, response_body=reply.body,
                content_type="application/x-ndjson" if reply.streamed else None, streamed=reply.streamed,
                latency_ms=reply.latency_ms, attempted_at=now,
            )
        return row

    def turn_attempts(self, delivery: Delivery, turn_id: str) -> list[DeliveryAttempt]:
        """The attempt `record_voice` logged for a voice turn's delivery, tied to the turn's transcript row (for
        the engine to write with the call's rows); none when the turn had nowhere to go."""
        found = self._turn_logs.pop(delivery.id, None)
        if found is None:
            return []
        assign(found, turn_id=turn_id)
        return [found]

    def launch(self, rows: Iterable[Delivery]) -> None:
        """Attempt the pending rows in the background, each in its lane (call after their transaction
        committed)."""
        for row in rows:
            if row.status == "pending":
                self._spawn(row.id, row.account_id, row.url)

    def start(self, delivery_id: str) -> asyncio.Task[Any]:
        """Attempt one pending delivery now, outside the lanes (a call's `call.started`, which the call waits
        for), in the background (tracked, so shutdown waits for it)."""
        self._inflight.add(delivery_id)
        task = asyncio.create_task(self._attempt_safely(delivery_id))
        self._track(task)
        return task

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn(self, delivery_id: str, account_id: str, url: str | None) -> None:
        if delivery_id not in self._inflight:
            self._inflight.add(delivery_id)
            self.lanes.add((account_id, url), delivery_id)

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
            row = await sql.first(session, _ROW, id=delivery_id)
            hook = await sql.first(session, _HOOK, id=row.webhook_id) if row is not None and row.webhook_id else None
        if row is None or row.status != "pending":
            return None
        clock_module.bind(row.account_id)  # the attempt and its log run on the account's clock
        if row.next_retry_at is not None and row.next_retry_at > self.clock.now():
            return None  # a retry already ran and rescheduled it (two sweeps raced for it)
        if hook is None:
            await self._record(row, None, "The webhook was removed before this delivery was attempted.")
            return None
        sent, outcome = await self._send(row, hook, row.payload.encode())
        await self._record(row, outcome, sent=sent)
        return outcome

    async def _send(self, row: Delivery, hook: Target, payload: bytes) -> tuple[Sent, Outcome]:
        body, headers, delay = await self.sign(row.account_id, hook.secret, payload, row.id, row.event_type)
        if delay:
            await asyncio.sleep(delay)
        return Sent(hook.url, headers, body), await self.transport.post(hook.url, body, headers, hook.timeout)

    async def redeliver(self, row: Delivery, body: str | None = None) -> DeliveryAttempt:
        """Send a delivery again now, by hand: its payload as stored, or `body` instead (an edited redelivery),
        signed afresh, to the webhook it went to (or, when that one was removed, the one that would receive it
        now). Its outcome becomes the delivery's; a failure leaves a pending delivery's retries as they were."""
        async with self.store.read() as session:
            hook = await session.scalar(select(Webhook).where(Webhook.id == row.webhook_id)) if row.webhook_id \
                else None
            if hook is None:
                hook = await webhooks.route(session, row.account_id, row.agent_id)
        if hook is None:
            raise Conflict(NOWHERE)
        payload = row.payload.encode() if body is None else body.encode()
        sent, outcome = await self._send(row, hook, payload)
        return await self._record(row, outcome, sent=sent, kind="redeliver" if body is None else "edited", hook=hook)

    async def _record(self, row: Delivery, outcome: Outcome | None, error: str | None = None, *,
                      sent: Sent | None = None, kind: str | None = None,
                      hook: Webhook | None = None) -> DeliveryAttempt:
        """Log the attempt on `row` (as read before it) with one UPDATE, keep it as sent and answered, and tell
        the activity log. `kind` is set for attempts made by hand (then nothing is rescheduled)."""
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
        elif kind is not None:
            values["status"] = "pending" if row.status == "pending" else "failed"
        elif retryable and attempts < MAX_ATTEMPTS:
            values.update(status="pending", next_retry_at=now + timedelta(seconds=RETRY_SCHEDULE[attempts - 1]))
        else:
            values.update(status="failed", next_retry_at=None)
        if hook is not None:
            values.update(webhook_id=hook.id, url=hook.url)
        attempt = _attempt_row(row, values, sent, outcome, kind or ("first" if row.attempt_count == 0 else "retry"),
                               now)
        async with self.store.write() as session:
            await sql.run(session, _logged(values), delivery=row.id, **{f"set_{k}": v for k, v in values.items()})
            assign(attempt, number=1 + (await sql.value(session, _ATTEMPTS, id=row.id) or 0))
            await sql.insert(session, _INSERT_ATTEMPT, **columns_of(attempt))
        self.activity.delivery_attempt(row, attempt)
        return attempt

    async def retry_due(self) -> int:
        """Start the retries whose time has come (on the emulator's clock, and on the clock of each account that
        runs ahead of it); returns how many."""
        passes: list[tuple[datetime, str | None]] = [(self.clock.base(), None)]
        passes += [(when, account) for account, when in self.clock.ahead().items()]
        due: list[Any] = []
        async with self.store.read() as session:
            for now, account in passes:  # the partial index of pending retries: no table scan
                if account is None:
                    due += await sql.rows(session, _DUE, now=now)
                else:
                    due += await sql.rows(session, _DUE_OF, now=now, account=account)
        spawned = {delivery_id: (account_id, url) for delivery_id, account_id, url in due
                   if delivery_id not in self._inflight}
        if spawned and self.shared.enabled:  # other processes sweep the same retries
            spawned = await self._claim(spawned)
        for delivery_id, (account_id, url) in spawned.items():
            self._spawn(delivery_id, account_id, url)
        return len(spawned)

    async def _claim(self, due: dict[str, tuple[str, str | None]]) -> dict[str, tuple[str, str | None]]:
        """On a database several processes share: take the due retries only this process's UPDATE moved from
        due to under way (another process's sweep that got there first takes the rest), so each is sent once."""
        async with self.store.write() as session:
            result = await session.execute(
                update(Delivery).where(Delivery.id.in_(list(due)), Delivery.status == "pending",
                                       Delivery.next_retry_at.is_not(None))
                .values(next_retry_at=None, claimed_by=self.process).returning(Delivery.id))
            claimed = set(result.scalars().all())
        return {delivery_id: where for delivery_id, where in due.items() if delivery_id in claimed}

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for the attempts under way (used at shutdown and by benchmarks)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def recover(self) -> int:
        """At start-up: deliveries a previous process left pending mid-attempt are retried now. On a database
        other processes share, a pending delivery with no retry time may be one of theirs under way: left."""
        if not self.store.is_sqlite:
            return 0
        async with self.store.write() as session:
            return await sql.run(session, _RETRY_LEFT, now=self.clock.now())

    async def close(self) -> None:
        """Let attempts under way finish (a few seconds at most), then stop the rest."""
        await self.drain(timeout=5)
        for task in list(self._tasks):
            task.cancel()
        await self.drain(timeout=1)
        await self.transport.close()

