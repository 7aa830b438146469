"""Delivery lanes: each (account, target) gets its own FIFO queue and at most `width` attempts in flight.

A target that answers slowly, or not at all until its timeout, holds only its own lane: its queue grows
(a deque: O(1) to add and take), while every other account's and target's deliveries go out beside it
as fast as their targets answer. Nothing runs for an empty lane, and a lane's workers end when it empties.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

WIDTH = 8  # attempts in flight per (account, target)


class _Lane:
    __slots__ = ("queue", "running")

    def __init__(self) -> None:
        self.queue: deque[str] = deque()
        self.running = 0


class Lanes:
    def __init__(self, attempt: Callable[[str], Awaitable[Any]], width: int = WIDTH,
                 track: Callable[[asyncio.Task[Any]], None] | None = None) -> None:
        self._attempt = attempt
        self.width = width
        self._track = track
        self._lanes: dict[Hashable, _Lane] = {}

    def add(self, lane: Hashable, item: str) -> None:
        """Queue one delivery on its lane; it starts at once if the lane has room."""
        found = self._lanes.get(lane)
        if found is None:
            found = self._lanes[lane] = _Lane()
        found.queue.append(item)
        if found.running < self.width:
            found.running += 1
            task = asyncio.create_task(self._work(lane, found))
            if self._track is not None:
                self._track(task)

    async def _work(self, key: Hashable, lane: _Lane) -> None:
        try:
            while lane.queue:
                await self._attempt(lane.queue.popleft())
        finally:
            lane.running -= 1
            if not lane.running and not lane.queue and self._lanes.get(key) is lane:
                del self._lanes[key]

    def waiting(self) -> int:
        """Deliveries queued and not started, over every lane."""
        return sum(len(lane.queue) for lane in self._lanes.values())

    def busiest(self) -> int:
        """The longest queue of any lane."""
        return max((len(lane.queue) for lane in self._lanes.values()), default=0)
