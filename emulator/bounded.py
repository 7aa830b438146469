"""Memory the emulator keeps per key or per account, with a bound.

Any client can present any number of keys (each is an account on first use), so every map keyed by
key or account is bounded: past its limit the least recently used entries go. What is kept this way
is either a cache (the key -> account map, re-read from the database on a miss) or bookkeeping whose
loss only makes the emulator forget a detail (a rate window, the last webhook ID of an account).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

# The limits, in one place. 10,000 entries of a key (about 70 characters) and an ID cost a few MB.
KEY_CACHE_LIMIT = 10_000  # API key -> account ID
RATE_WINDOW_LIMIT = 10_000  # keys with a rate window open
LAST_WEBHOOK_ID_LIMIT = 10_000  # accounts whose last delivery ID is remembered (for reused-id faults)


class Lru(Generic[K, V]):
    """A mapping of at most `limit` entries; reading or writing an entry makes it the most recent, and adding
    one past the limit drops the least recent."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("an Lru needs a limit of at least 1")
        self.limit = limit
        self._data: OrderedDict[K, V] = OrderedDict()
        self.evicted = 0  # how many entries the limit has dropped so far

    def get(self, key: K, default: V | None = None) -> V | None:
        try:
            self._data.move_to_end(key)
        except KeyError:
            return default
        return self._data[key]

    def __setitem__(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.limit:
            self._data.popitem(last=False)
            self.evicted += 1

    def __getitem__(self, key: K) -> V:
        self._data.move_to_end(key)
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def pop(self, key: K, default: V | None = None) -> V | None:
        return self._data.pop(key, default)

    def oldest(self) -> tuple[K, V] | None:
        """The least recently used entry (left in place), or None when empty."""
        for item in self._data.items():
            return item
        return None

    def drop_oldest(self) -> None:
        self._data.popitem(last=False)

    def items(self) -> list[tuple[K, V]]:
        return list(self._data.items())

    def values(self) -> list[V]:
        return list(self._data.values())

    def clear(self) -> None:
        self._data.clear()
