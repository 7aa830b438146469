"""Memory kept per key or per account is bounded: counted in entries (never measured in bytes or time)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from emulator import bounded, context
from emulator.bounded import Lru
from emulator.calls.callees import CalleeBook
from emulator.config import Settings
from emulator.context import Emulator, RateLimiter
from emulator.errors import Refused
from emulator.faults import ApiFault, FaultBook, WebhookFault
from emulator.testing import new_key
from emulator.testing.inprocess import InProcessEmulator

MANY = 100_000


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(context.time, "monotonic", fake)
    return fake


def test_lru_keeps_the_most_recent_entries() -> None:
    lru: Lru[str, int] = Lru(3)
    for i, name in enumerate("abcd"):
        lru[name] = i
    assert list(lru) == ["b", "c", "d"] and lru.evicted == 1
    assert lru.get("b") == 1  # read: now the most recent
    lru["e"] = 4
    assert list(lru) == ["d", "b", "e"] and "c" not in lru and lru.get("c") is None
    with pytest.raises(ValueError):
        Lru(0)


def test_rate_windows_of_a_hundred_thousand_keys_stay_bounded(clock: Clock) -> None:
    limiter = RateLimiter(5)
    for i in range(MANY):
        assert limiter.retry_after(f"sk_test_{i}") is None
        if i % 1000 == 0:
            clock.now += 0.001  # a flood: all within about a tenth of a second
    assert len(limiter) == bounded.RATE_WINDOW_LIMIT


def test_idle_windows_go_first_and_limits_still_hold(clock: Clock) -> None:
    limiter = RateLimiter(2, max_keys=3)
    assert limiter.retry_after("busy") is None and limiter.retry_after("busy") is None
    assert limiter.retry_after("busy") is not None  # the third within a second is refused
    limiter.retry_after("old")
    clock.now += 0.5
    limiter.retry_after("a")
    clock.now += 0.6  # "busy" and "old" are idle now (their last request 1.1 s ago)
    limiter.retry_after("b")
    assert len(limiter) == 2  # the idle windows were dropped, not "a"
    limiter.retry_after("a")
    assert limiter.retry_after("a") is not None  # "a" kept its window: two within a second already
    clock.now += 1.0
    assert limiter.retry_after("a") is None


def test_past_the_limit_the_least_recently_seen_window_goes(clock: Clock) -> None:
    limiter = RateLimiter(1, max_keys=2)
    limiter.retry_after("x")
    limiter.retry_after("y")
    limiter.retry_after("z")  # none idle: "x" (least recent) goes
    assert len(limiter) == 2
    assert limiter.retry_after("y") is not None and limiter.retry_after("z") is not None
    assert limiter.retry_after("x") is None  # forgotten, so it starts afresh


def test_the_last_webhook_id_is_kept_for_a_bounded_number_of_accounts() -> None:
    book = FaultBook()
    for i in range(bounded.LAST_WEBHOOK_ID_LIMIT + 500):
        book.sign(f"acct_{i}", "secret", b"{}", f"whd_{i}", "agent.message")
    assert len(book._last_id) == bounded.LAST_WEBHOOK_ID_LIMIT


def test_faults_are_bounded_per_key_and_in_total(monkeypatch: pytest.MonkeyPatch) -> None:
    book = FaultBook()
    for _ in range(FaultBook.PER_KEY):
        book.add(ApiFault("sk_test_one", 503, 1))
    with pytest.raises(Refused, match="At most 100 faults may be pending for one key"):
        book.add(ApiFault("sk_test_one", 503, 1))
    book.add(WebhookFault("acct_one", "bad-signature", 1))  # webhook faults count per account
    monkeypatch.setattr(FaultBook, "TOTAL", 150)
    for i in range(MANY // 100):
        book.add(ApiFault(f"sk_test_{i}", 500, 1))
    assert book.armed == 150 and len(book.api) == 150 and book.webhook == []
    assert book.take_api("sk_test_one", "/v1/agents") is None  # the oldest were dropped
    assert book.take_api(f"sk_test_{MANY // 100 - 1}", "/v1/agents") is not None
    assert book.armed == 149
    assert len(book._pending) == 149


def test_callee_scripts_are_bounded_per_account_and_in_total(monkeypatch: pytest.MonkeyPatch) -> None:
    book = CalleeBook()
    for i in range(CalleeBook.PER_SCOPE):
        book.put(f"+1415555{i:04d}", [{"say": "hi"}], "acct_a")
    book.put("+14155550000", [{"say": "again"}], "acct_a")  # replacing one is fine
    with pytest.raises(Refused, match="At most 200 callee scripts"):
        book.put("+14155559999", [{"say": "hi"}], "acct_a")
    monkeypatch.setattr(CalleeBook, "TOTAL", 500)
    for i in range(MANY // 10):
        book.put("+14155550111", [{"say": "hi"}], f"acct_{i}")
    assert book.count() <= 500
    assert book.get("+14155550111", f"acct_{MANY // 10 - 1}") is not None
    assert book.get("+14155550000", "acct_a") is None  # acct_a was the least recently used
    assert book.answer("+14155550111", "acct_1").source == "generated"
    book.remove("+14155550111", f"acct_{MANY // 10 - 1}")
    assert book.count() <= 499


def test_unknown_keys_do_not_grow_memory_without_bound_in_strict_mode() -> None:
    state = Emulator(settings=Settings(db=":memory:", strict_keys=True), store=None)  # type: ignore[arg-type]
    assert state.fixture_keys == set()
    loose = Emulator(settings=Settings(db=":memory:"), store=None)  # type: ignore[arg-type]
    assert loose.key_cache.limit == bounded.KEY_CACHE_LIMIT


@pytest.fixture
def small_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessEmulator]:
    monkeypatch.setattr(context, "KEY_CACHE_LIMIT", 20)
    monkeypatch.setattr(context, "RATE_WINDOW_LIMIT", 30)
    with InProcessEmulator(Settings(db=":memory:", rate_limit=50), serve=True) as server:
        yield server


def test_the_key_cache_of_a_real_server_stays_bounded_and_evicted_keys_still_work(
        small_cache: InProcessEmulator) -> None:
    state: Emulator = small_cache.app.state.emulator  # type: ignore[union-attr]
    keys = [new_key() for _ in range(60)]
    ids = {}
    with httpx.Client(base_url=small_cache.base_url, timeout=10) as http:
        for key in keys:
            made = http.post("/v1/agents", json={"name": "A"}, headers={"Authorization": f"Bearer {key}"})
            assert made.status_code == 200, made.text
            ids[key] = made.json()["id"]
        assert len(state.key_cache) == 20 and keys[0] not in state.key_cache
        assert state.limiter is not None and len(state.limiter) <= 30
        again = http.get(f"/v1/agents/{ids[keys[0]]}", headers={"Authorization": f"Bearer {keys[0]}"})
        assert again.status_code == 200  # re-read from the database: the same account
        other = http.get(f"/v1/agents/{ids[keys[0]]}", headers={"Authorization": f"Bearer {keys[1]}"})
        assert other.status_code == 404
        assert len(state.key_cache) == 20


def test_a_real_server_refuses_the_hundred_and_first_pending_fault(base_url: str, key: str) -> None:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        for _ in range(FaultBook.PER_KEY):
            assert http.post("/_emulator/faults", json={"key": key, "status": 503, "path": f"/v1/{uuid.uuid4().hex}"}) \
                .status_code == 200
        refused = http.post("/_emulator/faults", json={"key": key, "status": 503})
        assert refused.status_code == 400 and "At most 100 faults" in refused.json()["detail"]
        assert len(http.get("/_emulator/faults").json()["api"]) == 100
        assert http.delete("/_emulator/faults").status_code == 200
        assert http.post("/_emulator/faults", json={"key": key, "status": 503, "path": "/v1/none"}).status_code == 200
        http.delete("/_emulator/faults")
