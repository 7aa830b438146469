"""A live call that another process runs, followed through the database it writes to.

The process running a call tells its own streams about each turn on its bus (emulator/calls/bus.py). A stream
in another process (several processes on one database, emulator/shared.py) cannot hear that bus, so it looks
at what the call has written instead, every LOOK_SECONDS: the call's row first, then what the stream reads
(its turns, their deliveries), until the row says the call has ended. Where processes share the database,
the running process writes each turn as it happens (`flush_seconds` in emulator/calls/engine.py), and the
last ones in the same transaction as the call's end, so such a stream sees every turn within a look of its
happening, and the end after the last turn.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from emulator.domain import calls, owners

if TYPE_CHECKING:
    from emulator.context import Emulator
    from emulator.store import Call

T = TypeVar("T")

LOOK_SECONDS = 0.25


def elsewhere(state: Emulator, call_id: str) -> bool:
    """Whether the call's turns, if it is live, happen in another process (this one does not run it)."""
    return state.shared.enabled and call_id not in state.engine.runs


def live(row: Call) -> bool:
    return row.status in calls.LIVE


async def looks(state: Emulator, call_id: str, read: Callable[[Any], Awaitable[T]]) -> AsyncIterator[tuple[Call, T]]:
    """The call's row and what `read(session)` found, at once and then every LOOK_SECONDS, until a look finds the
    call ended (that look is the last yielded) or gone (removed by a reset: nothing more is yielded)."""
    while True:
        async with state.store.read() as session:
            row = await owners.call(session, call_id)
            if row is None:
                return
            found = await read(session)
        yield row, found
        if not live(row):
            return
        await asyncio.sleep(LOOK_SECONDS)


class Quiet:
    """When a stream has sent nothing for `seconds`: time for a heartbeat comment."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.since = time.monotonic()

    def sent(self) -> None:
        self.since = time.monotonic()

    def due(self) -> bool:
        if time.monotonic() - self.since < self.seconds:
            return False
        self.since = time.monotonic()
        return True
