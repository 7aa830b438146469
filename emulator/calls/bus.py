"""Live call events for transcript streams: each subscriber of a call gets its own queue.

The engine publishes typed events; whoever reads them (the SSE endpoint) decides their wire shape."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass

from emulator.store import Delivery, DeliveryAttempt, Transcript


@dataclass(frozen=True)
class TurnEvent:
    """A transcript row was recorded (with the voice delivery that asked the agent, and its attempt, if any)."""

    row: Transcript
    delivery: Delivery | None = None
    attempt: DeliveryAttempt | None = None


@dataclass(frozen=True)
class EndedEvent:
    call_id: str
    status: str
    duration_seconds: int
    end_reason: str | None


Event = TurnEvent | EndedEvent


class CallBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)

    def subscribe(self, call_id: str) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers[call_id].add(queue)
        return queue

    def unsubscribe(self, call_id: str, queue: asyncio.Queue[Event]) -> None:
        queues = self._subscribers.get(call_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._subscribers[call_id]

    def listening(self, call_id: str) -> bool:
        """Whether anyone follows the call (its events need not be built otherwise)."""
        return call_id in self._subscribers

    def publish(self, call_id: str, event: Event) -> None:
        for queue in self._subscribers.get(call_id, ()):
            queue.put_nowait(event)
