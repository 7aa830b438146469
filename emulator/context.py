"""The state of one running emulator, shared by every request: settings, store, clock, caches, and what lives
in memory beside the database (callee scripts, faults, running calls)."""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emulator.activity import Activity
from emulator.bounded import KEY_CACHE_LIMIT, RATE_WINDOW_LIMIT, Lru
from emulator.calls.bus import CallBus
from emulator.calls.callees import CalleeBook
from emulator.clock import Clock
from emulator.config import Settings
from emulator.domain import accounts
from emulator.faults import ApiFault, FaultBook, WebhookFault
from emulator.journal import Journal
from emulator.shared import Shared, processes_share
from emulator.store import Account, Store
from emulator.webhooks.delivery import Deliverer

if TYPE_CHECKING:
    from emulator.calls.engine import CallEngine
    from emulator.leases import Leases


class RateLimiter:
    """At most `per_second` requests per key in any sliding one-second window.

    Windows are kept for at most RATE_WINDOW_LIMIT keys: a window whose latest request is a second old is
    empty and goes first; past the limit, the least recently seen key's window goes (that key then starts
    afresh), so a flood of distinct keys costs bounded memory."""

    def __init__(self, per_second: int, max_keys: int = RATE_WINDOW_LIMIT) -> None:
        self.per_second = per_second
        self._hits: Lru[str, array[float]] = Lru(max_keys)

    def __len__(self) -> int:
        return len(self._hits)

    def _drop_idle(self, now: float) -> None:
        while (oldest := self._hits.oldest()) is not None and (not oldest[1] or now - oldest[1][-1] >= 1.0):
            self._hits.drop_oldest()

    def retry_after(self, key: str) -> float | None:
        """Record a request; None if allowed, else seconds until one is allowed again."""
        now = time.monotonic()
        hits = self._hits.get(key)
        if hits is None:
            self._drop_idle(now)
            hits = self._hits[key] = array("d")
        expired = 0
        while expired < len(hits) and now - hits[expired] >= 1.0:
            expired += 1
        if expired:
            del hits[:expired]
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
    key_cache: Lru[str, str] = field(default_factory=lambda: Lru(KEY_CACHE_LIMIT))  # API key -> account id
    fixture_keys: set[str] = field(default_factory=set)  # keys of fixtures loaded since start (strict mode)
    limiter: RateLimiter | None = None
    deliverer: Deliverer = field(init=False)
    faults: FaultBook = field(default_factory=FaultBook)
    bus: CallBus = field(default_factory=CallBus)
    callees: CalleeBook = field(default_factory=CalleeBook)
    _engine: CallEngine | None = field(default=None, init=False, repr=False)  # made by the first call: `engine`
    activity: Activity = field(init=False)  # what happened: the activity log and the inspector's live stream
    journal: Journal = field(init=False)  # the /v1 requests each key made
    shared: Shared = field(init=False)  # what other processes on the database must see of the above
    leases: Leases | None = field(default=None, init=False)  # where processes share the database

    def __post_init__(self) -> None:
        self._configured_keys = frozenset(self.settings.keys)
        self.activity = Activity(self.clock)
        self.shared = Shared(self.store, processes_share(self.settings.db, self.settings.workers))
        self.journal = Journal(self.clock, self.shared)
        self.faults.fired = self._fault_fired
        self.shared.add("clock", self.clock)
        self.shared.add("faults", self.faults)
        self.shared.add("callees", self.callees)
        self.shared.add("access", _Access(self))
        self.deliverer = Deliverer(self.store, self.clock, faults=self.faults, activity=self.activity,
                                   vocabulary=self.settings.webhook_events, shared=self.shared)
        if self.shared.enabled:  # who runs which call (the engine's, once made), and every process's happenings
            from emulator.feed import Feed
            from emulator.leases import Leases

            self.leases = Leases(self.store)
            self.deliverer.process = self.leases.process
            self.activity.feed = Feed(self.store)
        if self.settings.rate_limit:
            self.limiter = RateLimiter(self.settings.rate_limit, RATE_WINDOW_LIMIT)

    @property
    def engine(self) -> CallEngine:
        """The call engine, made when something first needs it (a server starts without its code)."""
        if self._engine is None:
            from emulator.calls.engine import CallEngine

            engine = CallEngine(self.store, self.clock, self.deliverer, self.bus, realtime=self.settings.realtime,
                                activity=self.activity)
            if self.shared.enabled:
                engine.flush_seconds = 0.0
                engine.leases = self.leases
            self._engine = engine
        return self._engine

    @property
    def engine_made(self) -> CallEngine | None:
        """The call engine if anything made it; else no call runs here and no one waits for one."""
        return self._engine

    def accepts(self, key: str) -> bool:
        """Whether the key may be used: any key, or with --strict-keys only those configured at start and those
        of fixtures loaded since (at start, or through the control API by the admin)."""
        settings = self.settings
        return not settings.strict_keys or key in self._configured_keys or key in self.fixture_keys

    async def account_of(self, key: str) -> Account:
        """The account of an API key, made with the default plan and balance on first use."""
        async with self.store.write() as session:
            account = await accounts.ensure(session, key, self.settings.default_plan,
                                            self.settings.default_balance_cents, self.clock.now())
        return account

    async def account_id_of(self, key: str) -> str:
        """The account ID of an API key: from the key cache, else read, else made (only a new key writes).

        Only authentication fills the key cache (after its strict-keys check): a control route that names a
        key must not let that key past the check."""
        account_id = self.key_cache.get(key)
        if account_id is None:
            async with self.store.read() as session:
                account_id = await accounts.id_by_key(session, key)
            if account_id is None:
                account_id = (await self.account_of(key)).id
        return account_id

    async def remove_accounts(self, account_ids: list[str], keys: Iterable[str] = ()) -> None:
        """Remove accounts with everything they own: running calls, rows, and what memory holds for them."""
        engine = self.engine_made
        if engine is not None:
            await engine.abort(set(account_ids))
        async with self.store.write() as session:
            await accounts.remove(session, account_ids)
        await self.forget(account_ids, keys)
        if engine is not None:
            engine.waits.wake_all()  # waiters of removed calls look again (and find them gone)

    async def rate_limited(self, key: str) -> float | None:
        """Record a request of `key` against the rate limit: None if allowed, else seconds to wait."""
        limiter = self.limiter
        if limiter is None:
            return None
        if self.shared.enabled:
            return await self.shared.rate_window(key, limiter.per_second)
        return limiter.retry_after(key)

    async def take_api_fault(self, key: str, path: str) -> ApiFault | None:
        """The armed API fault this request of `key` on `path` uses up, if any."""
        faults = self.faults
        if not faults.armed:
            return None
        if not self.shared.enabled:
            return faults.take_api(key, path)
        if not faults.pending(key, path):
            return None
        return await self.shared.change("faults", lambda: faults.take_api(key, path))

    def _fault_fired(self, fault: ApiFault | WebhookFault, where: str) -> None:
        account_id = fault.account_id if isinstance(fault, WebhookFault) else self.key_cache.get(fault.key)
        self.activity.fault_fired(fault, account_id, where)

    async def forget(self, account_ids: Iterable[str], keys: Iterable[str] = (),
                     added_keys: Iterable[str] = ()) -> None:
        """Drop what memory holds for these (removed or replaced) accounts and keys: callee scripts, faults,
        cached keys, journaled requests, the activity backlog; and with --strict-keys accept `added_keys` (of
        fixtures just loaded). Every process on the database forgets them."""
        gone, dropped, added = set(account_ids), set(keys), set(added_keys)

        def forgotten() -> None:
            self._forget(gone, dropped)
            if self.settings.strict_keys:
                self.fixture_keys |= added

        await self.shared.change(SHARED, forgotten)
        await self.journal.forget_stored(gone, dropped)
        if self.activity.feed is not None:
            await self.activity.feed.forget(gone)

    def _forget(self, gone: set[str], keys: set[str]) -> None:
        self.clock.forget(gone)
        keys = {*keys, *(key for key, account_id in self.key_cache.items() if account_id in gone)}
        for account_id in gone:
            self.callees.clear(account_id)
        self.faults.forget(gone, keys)
        self.journal.forget(gone, keys)
        self.activity.forget(gone)
        for key in keys:
            self.key_cache.pop(key, None)

    async def reset(self) -> None:
        """Back to an empty emulator: no calls, rows, scripts, faults, cached keys, journaled requests, activity
        backlog or clock offset (in every process on the database)."""
        engine = self.engine_made
        if engine is not None:
            await engine.abort()
        await self.store.wipe()
        if engine is not None:
            engine.waits.wake_all()

        def emptied() -> None:
            self.clock.reset()
            self.key_cache.clear()
            self.faults.clear()
            self.callees.clear()

        await self.shared.change(SHARED, emptied)
        self.journal.clear()
        self.activity.clear()


SHARED = ("access", "callees", "clock", "faults")  # every document of Emulator.shared


class _Access:
    """The shared document of who may use the API: the keys of fixtures loaded since start (strict mode). Any
    change to it, or to the accounts, empties the other processes' key caches (an account was removed or a
    fixture replaced it)."""

    def __init__(self, state: Emulator) -> None:
        self.state = state

    def dump(self) -> dict[str, list[str]]:
        return {"fixtureKeys": sorted(self.state.fixture_keys)}

    def load(self, body: dict[str, list[str]] | None) -> None:
        self.state.fixture_keys = set((body or {}).get("fixtureKeys") or [])
        self.state.key_cache.clear()
