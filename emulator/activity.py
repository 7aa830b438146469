"""What happened, said once: every happening feeds both the activity log and the inspector's live stream.

A happening is one thing a person watching would want to know about: a call placed, answered or ended, a
voice turn, an SMS in or out, a webhook delivery attempt, fixtures loaded, a reset, a fault fired, the clock
moved, a request made. `Activity.publish` writes its human line to the `emulator.activity` logger (at INFO,
so it shows at the default log level) and hands it to every subscriber that may see it.

Who sees what: a happening names the accounts it is about; a subscriber scoped to some accounts sees those
happenings only, and the few about the whole emulator (a reset of everything, the clock moving) too. One
about no account at all (a request with an unknown key) is for the admin only.
Keys are never put into a happening whole (`mask_key`), and webhook secrets never at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from emulator.clock import Clock, iso
from emulator.faults import ApiFault, WebhookFault

if TYPE_CHECKING:
    from emulator.calls.setup import CallSetup
    from emulator.feed import Feed
    from emulator.store import Delivery, DeliveryAttempt, Message, Transcript

log = logging.getLogger("emulator.activity")

BACKLOG = 500  # happenings kept for a subscriber that connects later
QUEUE = 2_000  # happenings a slow subscriber may fall behind by before it is dropped
TEXT = 80  # characters of a spoken line or a message body in a log line


def mask_key(key: str | None) -> str | None:
    """`sk_test_…abcd`: enough to tell keys apart, never enough to use one."""
    if key is None:
        return None
    for prefix in ("sk_test_", "sk_live_"):
        if key.startswith(prefix):
            return f"{prefix}…{key[-4:]}" if len(key) > len(prefix) + 4 else f"{prefix}…"
    return "…" + key[-4:] if len(key) > 8 else "…"


def quote(text: str | None, limit: int = TEXT) -> str:
    """A short quoted excerpt of what someone said or wrote, on one line."""
    flat = " ".join((text or "").split())
    return '"' + (flat if len(flat) <= limit else flat[: limit - 1] + "…") + '"'


def _ms(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f} ms"


def _plural(count: int, word: str) -> str:
    many = word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"
    return f"{count} {word if count == 1 else many}"


@dataclass(frozen=True)
class Happening:
    seq: int
    kind: str  # "call.placed", "call.turn", "sms.in", "delivery.attempt", "reset", ...
    text: str  # the human line
    at: str  # the emulator clock, ISO-8601
    accounts: frozenset[str] = frozenset()
    data: dict[str, Any] = field(default_factory=dict)  # IDs and figures, JSON-safe, no secrets
    log: bool = True  # False: for the live stream only, not the log or the backlog (journaled requests)
    everyone: bool = False  # about the whole emulator: every subscriber sees it

    def visible_to(self, scope: frozenset[str] | None) -> bool:
        return scope is None or self.everyone or bool(self.accounts & scope)


class _Deferred:
    """A happening nobody took when it happened (the log is above INFO, nobody streams): what it is made from, kept
    in the backlog and made into its `Happening` when a subscriber that connects later reads it."""

    __slots__ = ("seq", "kind", "when", "accounts", "make", "_made")
    everyone = False

    def __init__(self, seq: int, kind: str, when: datetime, accounts: frozenset[str],
                 make: Callable[[], tuple[str, dict[str, Any]]]) -> None:
        self.seq, self.kind, self.when, self.accounts, self.make = seq, kind, when, accounts, make
        self._made: Happening | None = None

    def visible_to(self, scope: frozenset[str] | None) -> bool:
        return scope is None or bool(self.accounts & scope)

    def happening(self) -> Happening:
        if self._made is None:
            text, data = self.make()
            self._made = Happening(self.seq, self.kind, text, iso(self.when) or "", self.accounts, data)
        return self._made


class Subscription:
    """One live reader: a bounded queue of happenings; `overflowed` once it fell too far behind."""

    def __init__(self, scope: frozenset[str] | None) -> None:
        self.scope = scope
        self.queue: asyncio.Queue[Happening] = asyncio.Queue(QUEUE)
        self.overflowed = asyncio.Event()

    def offer(self, happening: Happening) -> None:
        if self.overflowed.is_set() or not happening.visible_to(self.scope):
            return
        try:
            self.queue.put_nowait(happening)
        except asyncio.QueueFull:
            self.overflowed.set()


def request_line(method: str, path: str, status: int | None) -> str:
    return f"{method} {path} → {status}"


class Activity:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._seq = 0
        self._backlog: deque[Happening | _Deferred] = deque(maxlen=BACKLOG)
        self._subscribers: set[Subscription] = set()
        self.feed: Feed | None = None  # where processes share the database: every stream reads there instead

    def publish(self, kind: str, text: str, accounts: Iterable[str | None] = (), *, log_it: bool = True,
                everyone: bool = False, **data: Any) -> Happening:
        self._seq += 1
        happening = Happening(self._seq, kind, text, iso(self.clock.now()) or "",
                              frozenset(a for a in accounts if a), data, log_it, everyone)
        if self.feed is not None:  # journaled requests reach the streams from the journal's table
            if log_it:
                log.info(text, extra={"happening": happening})
                self.feed.put(happening, time.time() + self.clock.offset_seconds)
            return happening
        if log_it:  # the others (journaled requests) are kept by the journal, not in the backlog
            log.info(text, extra={"happening": happening})
            self._backlog.append(happening)
        for subscriber in list(self._subscribers):
            subscriber.offer(happening)
        return happening

    def publish_later(self, kind: str, accounts: Iterable[str | None],
                      make: Callable[[], tuple[str, dict[str, Any]]]) -> None:
        """`publish` for a frequent happening (a call's turns, start and end): its line and figures (`make()`) are
        built at once when the log or a subscriber takes them, else only if a subscriber that connects later reads
        the backlog."""
        if self._subscribers or self.feed is not None or log.isEnabledFor(logging.INFO):
            text, data = make()
            self.publish(kind, text, accounts, **data)
            return
        self._seq += 1
        self._backlog.append(_Deferred(self._seq, kind, self.clock.now(), frozenset(a for a in accounts if a), make))

    @property
    def listened_to(self) -> bool:
        """Whether anyone reads the live stream (happenings only for it can be skipped otherwise)."""
        return bool(self._subscribers)  # (never with a feed: there, the streams read the journal's table)

    def subscribe(self, scope: frozenset[str] | None) -> Subscription:
        subscription = Subscription(scope)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def recent(self, scope: frozenset[str] | None, since: int = 0) -> list[Happening]:
        return [h.happening() if isinstance(h, _Deferred) else h
                for h in self._backlog if h.seq > since and h.visible_to(scope)]

    def forget(self, account_ids: Iterable[str]) -> None:
        """Drop the backlog of removed accounts (what was about them and nobody else)."""
        gone = set(account_ids)
        kept = [h for h in self._backlog if h.everyone or not h.accounts or not h.accounts <= gone]
        self._backlog = deque(kept, maxlen=BACKLOG)

    def clear(self) -> None:
        self._backlog.clear()
        if self.feed is not None:
            self.feed.clear()

    # --- what each kind of happening says (one call at the place it happens) ------------------------------
    # -- calls --------------------------------------------------------------------------------------------

    def call_placed(self, setup: CallSetup) -> None:
        self.publish_later("call.placed", (setup.account_id,), lambda: self._placed(setup))

    @staticmethod
    def _placed(setup: CallSetup) -> tuple[str, dict[str, Any]]:
        agent = quote(setup.agent.name, 40)
        if setup.direction == "outbound":
            text = f"call {setup.call_id} placed: {setup.from_number} → {setup.to_number}, agent {agent} " \
                   f"(callee: {setup.callee.source})"
        elif setup.direction == "web":
            text = f"call {setup.call_id} joined from a browser: agent {agent}"
        else:
            text = f"call {setup.call_id} dialled in: {setup.from_number} → {setup.to_number}, agent {agent}"
        return text, {"callId": setup.call_id, "direction": setup.direction, "fromNumber": setup.from_number,
                      "toNumber": setup.to_number, "agentId": setup.agent.id}

    def call_answered(self, setup: CallSetup) -> None:
        def make() -> tuple[str, dict[str, Any]]:
            magic = setup.callee.magic
            how = f" ({magic.description})" if magic is not None else ""
            return f"call {setup.call_id} answered{how}", {"callId": setup.call_id}

        self.publish_later("call.answered", (setup.account_id,), make)

    def call_turn(self, setup: CallSetup, row: Transcript, number: int, delivery: Delivery | None) -> None:
        self.publish_later("call.turn", (setup.account_id,), lambda: self._turn(setup, row, number, delivery))

    def _turn(self, setup: CallSetup, row: Transcript, number: int,
              delivery: Delivery | None) -> tuple[str, dict[str, Any]]:
        details = row.details or {}
        said = self._turn_text(row, details)
        figures = []
        if delivery is not None:
            status = f"HTTP {delivery.http_status}" if delivery.http_status is not None else "failed"
            figures.append(f"{status} in {_ms(delivery.latency_ms)}")
        if delivery is not None and details.get("firstChunkMs") is not None:  # (hosted turns have no timings)
            figures.append(f"first chunk {_ms(details['firstChunkMs'])}, final {_ms(details.get('finalChunkMs'))}, "
                           f"{_plural(len(details.get('chunks') or []), 'chunk')}")
        if details.get("error"):
            figures.append(f"error: {details['error']}")
        tail = f" ({'; '.join(figures)})" if figures else ""
        return f"call {setup.call_id} turn {number} {row.kind}: {said}{tail}", dict(
            callId=setup.call_id, turnId=row.id, turnKind=row.kind,
            deliveryId=delivery.id if delivery is not None else None,
            httpStatus=delivery.http_status if delivery is not None else None,
            latencyMs=delivery.latency_ms if delivery is not None else None,
            firstChunkMs=details.get("firstChunkMs"), finalChunkMs=details.get("finalChunkMs"),
            chunks=len(details.get("chunks") or []), error=details.get("error"))

    @staticmethod
    def _turn_text(row: Transcript, details: dict[str, Any]) -> str:
        if row.kind == "silence":
            return f"caller silent {details.get('seconds', 0):g} s"
        if row.kind == "hangup":
            return "caller hung up"
        if row.kind in ("greeting", "voicemail"):
            return f"agent {quote(row.response)}"
        caller = f"caller pressed {details['callerDigits']}" if details.get("callerDigits") \
            else f"caller {quote(row.transcript)}"
        agent = [f"agent {quote(row.response)}" if row.response else "silence"]
        if details.get("interrupted"):
            agent.append("cut off by the caller")
        if details.get("digits"):
            agent.append(f"agent pressed {details['digits']}")
        if details.get("transferredTo"):
            agent.append(f"transferred to {details['transferredTo']}")
        elif details.get("hangup"):
            agent.append("agent hung up")
        return f"{caller} → {', '.join(agent)}"

    def call_ended(self, setup: CallSetup, status: str, reason: str | None, duration: int, turns: int) -> None:
        def make() -> tuple[str, dict[str, Any]]:
            why = f" ({reason})" if reason else ""
            return (f"call {setup.call_id} ended: {status}{why} after {duration} s, {_plural(turns, 'turn')}",
                    {"callId": setup.call_id, "status": status, "endReason": reason, "durationSeconds": duration,
                     "turns": turns})

        self.publish_later("call.ended", (setup.account_id,), make)

    # -- messages -----------------------------------------------------------------------------------------

    def sms(self, message: Message, deliveries: list[Delivery]) -> None:
        self.publish_later(f"sms.{'in' if message.direction == 'inbound' else 'out'}", (message.account_id,),
                           lambda: self._sms(message, deliveries))

    @staticmethod
    def _sms(message: Message, deliveries: list[Delivery]) -> tuple[str, dict[str, Any]]:
        way = "in" if message.direction == "inbound" else "out"
        channel = "MMS" if message.media_urls and message.channel == "sms" else message.channel.upper()
        channel = "iMessage" if channel == "IMESSAGE" else channel
        sent = [d for d in deliveries if d.status == "pending"]
        hooks = f"{_plural(len(sent), 'delivery')} queued" if sent else "no webhook: undeliverable"
        media = f" + {_plural(len(message.media_urls or []), 'media file')}" if message.media_urls else ""
        return (f"{channel} {way} {message.id} {message.from_number} → {message.to_number}: "
                f"{quote(message.body)}{media} ({hooks})",
                {"messageId": message.id, "conversationId": message.conversation_id, "direction": message.direction,
                 "channel": message.channel, "deliveries": [d.id for d in deliveries]})

    # -- deliveries ---------------------------------------------------------------------------------------

    def delivery_attempt(self, delivery: Delivery, attempt: DeliveryAttempt) -> None:
        if attempt.http_status is not None and attempt.error_message is None:
            outcome = f"HTTP {attempt.http_status}"
        else:
            outcome = f"failed: {attempt.error_message or 'no answer'}"
        which = {"redeliver": "redelivery, ", "edited": "edited redelivery, "}.get(attempt.kind, "")
        if attempt.next_retry_at is not None:
            after = f"; retry at {iso(attempt.next_retry_at)}"
        elif attempt.error_message is not None and attempt.kind in ("first", "retry") and not delivery.test:
            after = "; no more retries"
        else:
            after = ""
        self.publish("delivery.attempt", f"delivery {delivery.id} {delivery.event_type} → {attempt.url or '(none)'}: "
                                         f"{outcome} in {_ms(attempt.latency_ms)} "
                                         f"({which}attempt {attempt.number}){after}", [delivery.account_id],
                     deliveryId=delivery.id, event=delivery.event_type, url=attempt.url, attempt=attempt.number,
                     trigger=attempt.kind, httpStatus=attempt.http_status, latencyMs=attempt.latency_ms,
                     error=attempt.error_message, nextRetryAt=iso(attempt.next_retry_at),
                     callId=delivery.message_id if delivery.channel == "voice" else None)

    # -- the control plane --------------------------------------------------------------------------------

    def fixtures_loaded(self, source: str, counts: dict[str, int], account_ids: list[str]) -> None:
        figures = ", ".join(_plural(n, k.rstrip("s")) for k, n in counts.items() if n) or "nothing"
        self.publish("fixtures.loaded", f"fixtures loaded from {source}: {figures}", account_ids,
                     source=source, counts=counts)

    def reset(self, account_ids: list[str] | None, key: str | None = None) -> None:
        if account_ids is None:
            self.publish("reset", "reset: everything", everyone=True, scope="everything")
            return
        if not account_ids:
            self.publish("reset", f"reset: key {mask_key(key)} (it had no account yet)", scope="account",
                         key=mask_key(key))
            return
        subs = len(account_ids) - 1
        extra = f" and {_plural(subs, 'sub-account')}" if subs > 0 else ""
        self.publish("reset", f"reset: account {account_ids[0]} (key {mask_key(key)}){extra}", account_ids,
                     scope="account", key=mask_key(key))

    def fault_fired(self, fault: ApiFault | WebhookFault, account_id: str | None, where: str) -> None:
        if isinstance(fault, WebhookFault):
            text = f"fault fired: webhook {fault.kind} on delivery {where} ({fault.remaining} left)"
            data: dict[str, Any] = {"fault": fault.kind, "deliveryId": where}
        else:
            text = f"fault fired: API {fault.status} for key {mask_key(fault.key)} on {where} ({fault.remaining} left)"
            data = {"fault": fault.status, "path": where, "key": mask_key(fault.key)}
        self.publish("fault.fired", text, [account_id], remaining=fault.remaining, **data)

    def clock_moved(self, seconds: float, accounts: list[str] | None = None) -> None:
        """The emulator's clock moved (`accounts` None), or only these accounts' clocks."""
        if accounts is None:
            self.publish("clock.moved", f"clock moved forward {seconds:g} s to {iso(self.clock.base())}",
                         everyone=True, seconds=seconds)
            return
        when = iso(self.clock.now(accounts[0])) if accounts else ""
        self.publish("clock.moved", f"clock of account {accounts[0] if accounts else '?'} moved forward {seconds:g} s "
                     f"to {when}", accounts, seconds=seconds)

    def request(self, accounts: list[str | None], method: str, path: str, status: int | None, seq: int) -> None:
        """A /v1 request entered the journal: for the live stream, not the log (access logs are off)."""
        self.publish("request", request_line(method, path, status), accounts, log_it=False,
                     method=method, path=path, status=status, journalSeq=seq)
