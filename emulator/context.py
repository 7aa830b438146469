"""The state of one running emulator, shared by every request: settings, store, clock, caches."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from emulator.calls.bus import CallBus
from emulator.calls.callees import CalleeBook
from emulator.calls.engine import CallEngine
from emulator.calls.replies import TurnReply, TurnRequest, webhook_turn
from emulator.clock import Clock
from emulator.config import Settings
from emulator.domain import accounts
from emulator.faults import FaultBook
from emulator.store import Account, Store
from emulator.webhooks.delivery import Deliverer


class RateLimiter:
    """At most `per_second` requests per key in any sliding one-second window."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float | None:
        """Record a request; None if allowed, else seconds until one is allowed again."""
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= 1.0:
            hits.popleft()
        if len(hits) >= self.per_second:
            return 1.0 - (now - hits[0])
        hits.append(now)
        return None


@dataclass
class Emulator:
    settings: Settings
    store: Store
    clock: Clock = field(default_factory=Clock)
    started_monotonic: float = field(default_factory=time.monotonic)
    key_cache: dict[str, str] = field(default_factory=dict)  # API key -> account id
    fixture_keys: set[str] = field(default_factory=set)  # keys of fixtures loaded since start (strict mode)
    limiter: RateLimiter | None = None
    deliverer: Deliverer = field(init=False)
    faults: FaultBook = field(default_factory=FaultBook)
    bus: CallBus = field(default_factory=CallBus)
    callees: CalleeBook = field(default_factory=CalleeBook)
    engine: CallEngine = field(init=False)

    def __post_init__(self) -> None:
        self.deliverer = Deliverer(self.store, self.clock, faults=self.faults)
        transport = self.deliverer.transport

        async def voice_turn(request: TurnRequest) -> TurnReply:
            return await webhook_turn(transport, request)

        self.engine = CallEngine(self.store, self.clock, self.deliverer, self.bus, voice_turn,
                                 realtime=self.settings.realtime)
        if self.settings.rate_limit:
            self.limiter = RateLimiter(self.settings.rate_limit)

    async def account_of(self, key: str) -> Account:
        """The account of an API key, made with the default plan and balance on first use."""
        async with self.store.write() as session:
            return await accounts.ensure(session, key, self.settings.default_plan,
                                         self.settings.default_balance_cents, self.clock.now())

    def forget_accounts(self) -> None:
        self.key_cache.clear()
