"""Waiting for calls to end (`GET /v1/calls/{id}?wait=true`, `POST /v1/calls` with `waitForCompletion`).

Each call someone waits for has one asyncio event, made by its first waiter and set by the engine when the
call has ended and its rows are written (or the call was dropped by a reset). A waiter holds nothing else
while it waits: no lock, no database session; many waiters of one call share its event. The event is
forgotten when the last waiter leaves, whether the call ended, the wait ran out or the client went away.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

Outcome = Literal["ended", "woken", "timeout", "gone"]


class CallWaits:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._waiters: dict[str, int] = {}

    def ended(self, call_id: str) -> None:
        """The engine's signal: the call has ended (every waiter of it wakes)."""
        event = self._events.pop(call_id, None)
        if event is not None:
            event.set()

    def wake_all(self) -> None:
        """Wake every waiter to look again (after a reset removed calls, or their rows)."""
        for call_id in list(self._events):
            self.ended(call_id)

    def waiting(self, call_id: str | None = None) -> int:
        """How many waiters there are (of one call, or of all)."""
        if call_id is not None:
            return self._waiters.get(call_id, 0)
        return sum(self._waiters.values())

    @contextlib.asynccontextmanager
    async def _registered(self, call_id: str) -> AsyncIterator[asyncio.Event]:
        event = self._events.setdefault(call_id, asyncio.Event())
        self._waiters[call_id] = self._waiters.get(call_id, 0) + 1
        try:
            yield event
        finally:
            self._waiters[call_id] -= 1
            if self._waiters[call_id] == 0:
                del self._waiters[call_id]
                if self._events.get(call_id) is event:
                    del self._events[call_id]

    async def wait(self, call_id: str, timeout: float, live: Callable[[], Awaitable[bool]],
                   gone: Callable[[], Awaitable[object]] | None = None) -> Outcome:
        """Wait until the call ends, `timeout` seconds pass, or `gone()` returns (the client hung up).

        `live()` tells whether the call is still running; it is asked after the waiter is registered, so an end
        that happens between the two is never missed. "woken" means the event fired: look again (a reset wakes
        every waiter, ended or not)."""
        async with self._registered(call_id) as event:
            if not await live():
                return "ended"
            woken = asyncio.ensure_future(event.wait())
            left = asyncio.ensure_future(gone()) if gone is not None else None
            watched = [woken] if left is None else [woken, left]
            try:
                await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in watched:
                    task.cancel()
            if event.is_set():
                return "woken"
            return "gone" if left is not None and left.done() and not left.cancelled() else "timeout"
