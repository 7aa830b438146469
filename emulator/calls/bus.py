"""Live call events for transcript streams: each subscriber of a call gets its own queue."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

Event = tuple[str, dict[str, Any]]  # ("turn" | "ended", payload)


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

    def publish(self, call_id: str, kind: str, payload: dict[str, Any]) -> None:
        for queue in self._subscribers.get(call_id, ()):
            queue.put_nowait((kind, payload))
