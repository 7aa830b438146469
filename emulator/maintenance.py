"""Work the emulator's clock drives, run by a background sweeper and whenever the clock moves."""

from __future__ import annotations

from emulator.context import Emulator
from emulator.domain import numbers


async def sweep(state: Emulator) -> None:
    """Numbers whose `expiresAt` has passed are released; webhook retries that are due start."""
    async with state.store.write() as session:
        await numbers.release_expired(session, state.clock.now())
    await state.deliverer.retry_due()
