"""The emulator's clock: wall time plus an offset that the control API can move.

Everything that asks "what time is it" (timestamps on rows, usage windows, retry
schedules, number expiries) asks this clock, so a test can jump forward in time
instead of sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


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
    return dt.isoformat(timespec="milliseconds") + "Z"


def parse_iso(value: str) -> datetime:
    """Parse an ISO-8601 timestamp (with Z, an offset, or none = UTC) into naive UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt
