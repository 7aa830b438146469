"""The emulator's clock: wall time plus an offset that the control API can move, for everyone and per account.

Everything that asks "what time is it" (timestamps on rows, usage windows, retry schedules, number
expiries) asks this clock, so a test can jump forward in time instead of sleeping.

Each account may run ahead of the emulator's clock by an offset of its own, so parallel test runs that
move time do not collide: an account's time is wall time + the emulator's offset + the account's. Whose
time "now" is follows the work being done: a request made with an account's key, and everything it starts
(calls, deliveries, their retries), run on that account's clock (`bound`); anything else on the
emulator's. Code that knows the account it works for may also pass it to `now(account_id)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

_current: ContextVar[str | None] = ContextVar("emulator_clock_account", default=None)
MAX_ACCOUNTS = 10_000  # accounts with an offset of their own (the oldest moved is dropped past that)

_YEAR = r"(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"
_LEAP = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_DAYS = (r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
         r"|02-(?:0[1-9]|1[0-9]|2[0-8]))")
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
_ZONE = r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])"
# The ISO-8601 timestamps the emulator reads: a date, optionally a time (to the minute, second or a fraction)
# and Z or an offset (none: UTC). The served OpenAPI document states the same pattern.
ISO_RULE = rf"^(?:{_YEAR}-{_DAYS}|{_LEAP}-02-29)(?:[Tt ]{_TIME}{_ZONE}?)?$"
_ISO = re.compile(ISO_RULE)


def utcnow() -> datetime:
    """Naive UTC wall-clock time (rows store naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._accounts: dict[str, timedelta] = {}  # each account's offset beyond the emulator's

    def now(self, account_id: str | None = None) -> datetime:
        """The time of `account_id`, else of the account the current work is bound to, else the emulator's."""
        account = account_id or _current.get()
        extra = self._accounts.get(account) if account is not None else None
        return utcnow() + self._offset + (extra or timedelta(0))

    def base(self) -> datetime:
        """The emulator's own time, whatever account the current work is bound to."""
        return utcnow() + self._offset

    @property
    def offset_seconds(self) -> float:
        """The emulator's offset (every account's clock includes it)."""
        return self._offset.total_seconds()

    def account_offset_seconds(self, account_id: str) -> float:
        """How far `account_id`'s clock is from wall time (the emulator's offset and its own)."""
        return (self._offset + self._accounts.get(account_id, timedelta(0))).total_seconds()

    def ahead(self) -> dict[str, datetime]:
        """The accounts that run ahead of the emulator's clock, with their time."""
        base = utcnow() + self._offset
        return {account: base + extra for account, extra in self._accounts.items()}

    def advance(self, seconds: float, account_ids: Iterable[str] | None = None) -> datetime:
        """Move the emulator's clock (every account's with it), or only these accounts' clocks."""
        if seconds < 0:
            raise ValueError("The clock only moves forward.")
        step = timedelta(seconds=seconds)
        if account_ids is None:
            self._offset += step
            return self.now()
        chosen = list(account_ids)
        for account in chosen:
            self._accounts[account] = self._accounts.pop(account, timedelta(0)) + step
        self._bound()
        return self.now(chosen[0] if chosen else None)

    def set(self, when: datetime, account_ids: Iterable[str] | None = None) -> datetime:
        """Set the emulator's clock, or only these accounts' clocks, to `when`."""
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        if account_ids is None:
            self._offset = when - utcnow()
            return self.now()
        chosen = list(account_ids)
        for account in chosen:
            self._accounts.pop(account, None)
            self._accounts[account] = when - utcnow() - self._offset
        self._bound()
        return self.now(chosen[0] if chosen else None)

    def _bound(self) -> None:
        while len(self._accounts) > MAX_ACCOUNTS:
            del self._accounts[next(iter(self._accounts))]

    def runs_ahead(self, account_id: str) -> bool:
        """Whether the account's clock has an offset of its own."""
        return account_id in self._accounts

    def adopt(self, child_id: str, parent_id: str) -> None:
        """A new sub-account keeps its parent's time."""
        if parent_id in self._accounts:
            self._accounts[child_id] = self._accounts[parent_id]
            self._bound()

    def forget(self, account_ids: Iterable[str]) -> None:
        """Removed accounts lose their offsets."""
        for account in account_ids:
            self._accounts.pop(account, None)

    def reset(self) -> None:
        self._offset = timedelta(0)
        self._accounts.clear()

    def dump(self) -> dict[str, object]:
        """The offsets, for the other processes on the database (emulator/shared.py)."""
        return {"offset": self._offset.total_seconds(),
                "accounts": {account: extra.total_seconds() for account, extra in self._accounts.items()}}

    def load(self, body: dict[str, object] | None) -> None:
        body = body or {}
        offset = body.get("offset", 0.0)
        accounts = body.get("accounts") or {}
        self._offset = timedelta(seconds=float(offset) if isinstance(offset, (int, float)) else 0.0)
        assert isinstance(accounts, dict)
        self._accounts = {account: timedelta(seconds=extra) for account, extra in accounts.items()}


@contextmanager
def bound(account_id: str | None) -> Iterator[None]:
    """Run the block (and the tasks it starts) on `account_id`'s clock."""
    token = _current.set(account_id)
    try:
        yield
    finally:
        _current.reset(token)


def bind(account_id: str | None) -> None:
    """Put the rest of the current task (and the tasks it starts) on `account_id`'s clock."""
    _current.set(account_id)


def iso(dt: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and a trailing Z, the format of every timestamp we send."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat(timespec="milliseconds") + "Z"


def parse_iso(value: str) -> datetime:
    """Parse an ISO-8601 timestamp (with Z, an offset, or none = UTC) into naive UTC."""
    if _ISO.fullmatch(value) is None:
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}")
    text = value
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt
