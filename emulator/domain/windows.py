"""Counting rows in a time window from the rollups (emulator/store/rollups.py), however many rows there are.

A window [start, end) is split into whole days, the whole hours of the days at its edges, and the partial
hours at its very edges: the days and hours are read from the rollup's day and hour buckets, the partial
hours from the rows themselves (an index on the account and the timestamp bounds them to one hour's rows).
So a window costs a few dozen rollup rows and at most two hours of rows, whatever its length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.store import sql

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def floor_hour(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def floor_day(when: datetime) -> datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil(when: datetime, floor: datetime, step: timedelta) -> datetime:
    return floor if floor == when else floor + step


def day_bucket(when: datetime) -> str:
    return when.strftime("%Y-%m-%d")


def hour_bucket(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H")


@dataclass(frozen=True)
class Span:
    kind: str  # "rows" (read the rows), "h" or "d" (read the hour or day buckets)
    start: datetime
    end: datetime | None  # exclusive; None: no end


def spans(start: datetime, end: datetime | None, days: bool = True) -> list[Span]:
    """[start, end) as partial hours (rows), whole hours and whole days (`days=False`: hours only), in order."""
    if end is not None and end <= start:
        return []
    h0 = _ceil(start, floor_hour(start), HOUR)
    if end is not None and end <= h0:  # no hour starts inside the window
        return [Span("rows", start, end)]
    h1 = floor_hour(end) if end is not None else None
    out = [Span("rows", start, h0)]
    d0 = _ceil(h0, floor_day(h0), DAY)
    d1 = floor_day(h1) if h1 is not None else None
    if days and (d1 is None or d0 <= d1):
        out += [Span("h", h0, d0), Span("d", d0, d1), Span("h", d1, h1)] if d1 is not None else \
               [Span("h", h0, d0), Span("d", d0, None)]
    else:
        out.append(Span("h", h0, h1))
    if h1 is not None and end is not None:
        out.append(Span("rows", h1, end))
    return [span for span in out if span.end is None or span.start < span.end]


class Window:
    """Sums of one rollup's measures over a window, per group.

    `buckets` is the rollup table (with `grain` 'd'/'h' and `bucket` columns, or only hour buckets when
    `days=False`); `measures` and `groups` name each result by (its rollup column, the same value computed
    from a row of `source`; None for a group by hour, which is the partial hour's own); `bucket_where` and
    `row_where` narrow both sides alike (bind parameters come from the caller, always `account`)."""

    def __init__(self, buckets: Table, source: Table, time: str,
                 measures: Mapping[str, tuple[str, ColumnElement[Any]]],
                 groups: Mapping[str, tuple[str, ColumnElement[Any] | None]] | None = None, *,
                 bucket_where: Sequence[ColumnElement[bool]] = (), row_where: Sequence[ColumnElement[bool]] = (),
                 days: bool = True) -> None:
        self.names = list(measures)
        self.group_names = list(groups or {})
        b, s = buckets.c, source.c
        bucket_groups = [b[column] for column, _ in (groups or {}).values()]
        row_groups = [expr for _, expr in (groups or {}).values() if expr is not None]
        self._hour_at = next((i for i, (_, expr) in enumerate((groups or {}).values()) if expr is None), None)
        bucket_sums = [func.coalesce(func.sum(b[column]), 0) for column, _ in measures.values()]
        row_sums = [func.coalesce(func.sum(expr), 0) for _, expr in measures.values()]
        base = [b.account_id == bindparam("account"), *bucket_where]
        self.days = days
        self._buckets: dict[tuple[bool, bool], sql.Query] = {}
        for grained in ((True, False) if days else (False,)):
            for bounded in (True, False):
                clauses = [*base, b.bucket >= bindparam("lo")]
                if grained:
                    clauses.append(b.grain == bindparam("grain"))
                if bounded:
                    clauses.append(b.bucket < bindparam("hi"))
                query = select(*bucket_groups, *bucket_sums).where(*clauses)
                self._buckets[grained, bounded] = sql.Query(query.group_by(*bucket_groups) if bucket_groups
                                                            else query)
        rows = select(*row_groups, *row_sums).where(
            s.account_id == bindparam("account"), s[time] >= bindparam("lo"), s[time] < bindparam("hi"), *row_where)
        self._rows = sql.Query(rows.group_by(*row_groups) if row_groups else rows)

    async def sum(self, session: AsyncSession, start: datetime, end: datetime | None = None,
                  **params: Any) -> dict[tuple[Any, ...], dict[str, int]]:
        """{group values: {measure: sum}} over [start, end); with no groups, one entry keyed ()."""
        out: dict[tuple[Any, ...], dict[str, int]] = {}
        width = len(self.group_names)
        for span in spans(start, end, self.days):
            if span.kind == "rows":
                found = await sql.rows(session, self._rows, lo=span.start, hi=span.end, **params)
            else:
                label = day_bucket if span.kind == "d" else hour_bucket
                query = self._buckets[self.days, span.end is not None]
                bounds: dict[str, Any] = {"lo": label(span.start)}
                if span.end is not None:
                    bounds["hi"] = label(span.end)
                if self.days:
                    bounds["grain"] = span.kind
                found = await sql.rows(session, query, **bounds, **params)
            for row in found:
                if span.kind == "rows" and self._hour_at is not None:
                    values = list(row[:width - 1])
                    values.insert(self._hour_at, hour_bucket(span.start))
                    group = tuple(values)
                    row = (*group, *row[width - 1:])
                else:
                    group = tuple(row[:width])
                sums = out.setdefault(group, dict.fromkeys(self.names, 0))
                for name, value in zip(self.names, row[width:], strict=True):
                    sums[name] += int(value or 0)
        return out

    async def total(self, session: AsyncSession, start: datetime, end: datetime | None = None,
                    **params: Any) -> dict[str, int]:
        """The sums over the whole window (a window without groups)."""
        return (await self.sum(session, start, end, **params)).get((), dict.fromkeys(self.names, 0))


class Skip:
    """Where a deep page of a newest-first list starts, found from a rollup's day and hour buckets: the rows
    newer than the page are counted a day (then an hour) at a time, so `OFFSET 80000` costs a few hundred
    bucket rows and less than an hour of rows instead of eighty thousand index entries."""

    def __init__(self, buckets: Table, *bucket_where: ColumnElement[bool]) -> None:
        b = buckets.c
        base = [b.account_id == bindparam("account"), *bucket_where]
        self._days = sql.Query(select(b.bucket, b.n).where(*base, b.grain == "d").order_by(b.bucket.desc()))
        self._hours = sql.Query(select(b.bucket, b.n).where(*base, b.grain == "h", b.bucket >= bindparam("lo"),
                                                            b.bucket < bindparam("hi")).order_by(b.bucket.desc()))

    async def locate(self, session: AsyncSession, offset: int, **params: Any) -> tuple[datetime, int] | None:
        """(a time the page's rows are all older than, the rows to skip among those), or None past the end."""
        newer = 0
        for bucket, count in await sql.rows(session, self._days, **params):
            if newer + count > offset:
                day = datetime.strptime(bucket, "%Y-%m-%d")
                hours = await sql.rows(session, self._hours, lo=hour_bucket(day), hi=hour_bucket(day + DAY), **params)
                for label, in_hour in hours:
                    if newer + in_hour > offset:
                        start = datetime.strptime(label, "%Y-%m-%d %H")
                        return start + HOUR, offset - newer
                    newer += in_hour
                return day + DAY, offset - newer  # the hours did not add up (cannot happen): skip from the day
            newer += count
        return None
