"""Work the emulator's clock drives, run by a background sweeper and whenever a clock moves."""

from __future__ import annotations

from emulator.context import Emulator
from emulator.domain import numbers


async def sweep(state: Emulator) -> None:
    """Numbers whose `expiresAt` has passed are released; webhook retries that are due start. Everything is
    judged on the emulator's clock, and again on the clock of each account that runs ahead of it.

    It looks before it writes (through the partial indexes of expiring numbers and pending retries), so an
    idle sweep takes no write lock and reads no table."""
    passes = [(state.clock.base(), None), *((when, account) for account, when in state.clock.ahead().items())]
    for now, account in passes:
        async with state.store.read() as session:
            due = await numbers.any_expired(session, now, account)
        if due:
            async with state.store.write() as session:
                await numbers.release_expired(session, now, account)
    await state.deliverer.retry_due()
