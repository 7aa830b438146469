"""Work the emulator's clock drives, run by a background sweeper and whenever the clock moves."""

from __future__ import annotations

from emulator.context import Emulator
from emulator.domain import numbers


async def sweep(state: Emulator) -> None:
    """Numbers whose `expiresAt` has passed are released; webhook retries that are due start.

    It looks before it writes, so an idle sweep neither takes the write lock nor invalidates the
    store's read cache."""
    now = state.clock.now()
    async with state.store.read() as session:
        due = await numbers.any_expired(session, now)
    if due:
        async with state.store.write() as session:
            await numbers.release_expired(session, now)
    await state.deliverer.retry_due()
