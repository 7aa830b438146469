"""Resource IDs with the real service's prefixes, from one random source that `--seed` can fix.

An ID is its prefix and 24 hex digits. Unseeded, the first 11 are the time in milliseconds and the other 13
random: the IDs of rows written one after another sort together, so the unique index on each table's `id`
grows at its end (a page or two touched per batch of writes) instead of at a random leaf per row, which
costs a page read and a WAL frame each once an index outgrows the cache. Seeded, every digit comes from the
seeded source, as reproducible as before."""

from __future__ import annotations

import os
import random
import secrets
import time

_rng: random.Random | None = None


def seed(value: int | None, salt: int = 0) -> None:
    """Make every generated ID, secret and number reproducible (None: back to OS randomness).

    `salt` (the number of rows a reopened database already holds) keeps a seeded emulator
    from generating again the IDs it generated in an earlier run on the same file.
    """
    global _rng
    _rng = random.Random(f"{value}:{salt}" if salt else value) if value is not None else None


def rng() -> random.Random:
    """The random source for generated data (seeded or not)."""
    return _rng if _rng is not None else _system


_system = random.SystemRandom()
# Unseeded, the source for generated data that guards nothing (phone numbers): a Mersenne Twister seeded by the
# OS, drawn from without the system call each draw from the OS source costs (a bought number takes about ten);
# a forked worker seeds its own.
_plain = random.Random()
os.register_at_fork(after_in_child=_plain.seed)


def plain_rng() -> random.Random:
    """The random source for generated data no secret depends on (seeded or not)."""
    return _rng if _rng is not None else _plain


def token(nbytes: int = 12) -> str:
    if _rng is None:
        return secrets.token_hex(nbytes)
    return "".join(f"{_rng.randrange(256):02x}" for _ in range(nbytes))


def new_id(prefix: str) -> str:
    if _rng is None:
        return f"{prefix}_{time.time_ns() // 1_000_000:011x}{os.urandom(7).hex()[:13]}"
    return f"{prefix}_{token(12)}"


def new_secret() -> str:
    return f"whsec_{token(24)}"
