"""Splitting a time window into partial hours, whole hours and whole days (emulator/domain/windows.py)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from emulator.domain.windows import floor_day, floor_hour, spans

BASE = datetime(2026, 3, 9, 0, 0)


def random_time(rng: random.Random) -> datetime:
    """Often on an hour or a day boundary, where the edge cases are."""
    when = BASE + timedelta(seconds=rng.randrange(0, 10 * 86400), microseconds=rng.randrange(1_000_000))
    return rng.choice([when, floor_hour(when), floor_day(when)])


@pytest.mark.parametrize("days", [True, False])
def test_spans_cover_the_window_exactly_once_and_align_to_their_buckets(days: bool) -> None:
    rng = random.Random(7)
    for _ in range(3000):
        start = random_time(rng)
        end = None if rng.random() < 0.2 else random_time(rng)
        parts = spans(start, end, days)
        if end is not None and end <= start:
            assert parts == []
            continue
        assert parts[0].start == start
        assert parts[-1].end == end
        for before, after in zip(parts, parts[1:], strict=False):
            assert before.end == after.start  # contiguous, in order, nothing twice
        for part in parts:
            assert part.end is None or part.start < part.end
            if part.kind == "rows":  # rows are read for less than an hour, inside one hour
                assert part.end is not None
                assert floor_hour(part.start) == floor_hour(part.end - timedelta(microseconds=1))
            elif part.kind == "h":
                assert floor_hour(part.start) == part.start and (part.end is None or floor_hour(part.end) == part.end)
            else:
                assert days and floor_day(part.start) == part.start
                assert part.end is None or floor_day(part.end) == part.end
        # at most two partial hours, and whole days wherever a day fits
        assert sum(part.kind == "rows" for part in parts) <= 2
        if days and end is not None and end - start > timedelta(days=2):
            assert any(part.kind == "d" for part in parts)


def test_an_open_window_ends_in_days() -> None:
    parts = spans(datetime(2026, 3, 9, 10, 30), None)
    assert [(p.kind, p.start, p.end) for p in parts] == [
        ("rows", datetime(2026, 3, 9, 10, 30), datetime(2026, 3, 9, 11)),
        ("h", datetime(2026, 3, 9, 11), datetime(2026, 3, 10)),
        ("d", datetime(2026, 3, 10), None),
    ]
