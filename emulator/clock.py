"""The emulator's clock: wall time plus an offset that the control API can move.

Everything that asks "what time is it" (timestamps on rows, usage windows, retry
schedules, number expiries) asks this clock, so a test can jump forward in time
instead of sleeping.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

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

    def now(self) -> datetime:
        return utcnow() + self._offset

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("The clock only moves forward.")
        self._offset += timedelta(seconds=seconds)
        return self.now()

    def set(self, when: datetime) -> datetime:
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        self._offset = when - utcnow()
        return self.now()

    def reset(self) -> None:
        self._offset = timedelta(0)


def iso(dt: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and a trailing Z, the format of every timestamp we send."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


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
