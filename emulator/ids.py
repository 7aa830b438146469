"""Resource IDs with the real service's prefixes, from one random source that `--seed` can fix."""

from __future__ import annotations

import random
import secrets

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


def token(nbytes: int = 12) -> str:
    if _rng is None:
        return secrets.token_hex(nbytes)
    return "".join(f"{_rng.randrange(256):02x}" for _ in range(nbytes))


def new_id(prefix: str) -> str:
    return f"{prefix}_{token(12)}"


def new_secret() -> str:
    return f"whsec_{token(24)}"
