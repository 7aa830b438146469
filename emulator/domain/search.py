"""A search of an account's calls by number (`GET /v1/calls?search=`) that counts its matches without reading them.

A search is `from_number LIKE '%text%' OR to_number LIKE '%text%'` with the list's other filters, newest first
(the text's own `%` and `_` are LIKE's wildcards, as they have always been). Read from the calls, it costs as much
as the account has calls. Here it costs as much as the numbers it matches and the page it shows:

1. The numbers: the index of numbers (emulator/store/search.py) finds those containing the text's runs of three or
   more characters, each is checked with the same LIKE, and the `call_numbers` rollup gives its calls per side
   (from, to) with the filters.
2. The total: those calls added up, less the calls from one matched number to another, counted on both sides
   (the index of (from_number, to_number) counts them).
3. The page: the newest `offset + limit` calls of each matched number on each side, each read in time order from
   its (number, started_at) index, merged in the list's order; or, where that is expected to read more (a deep
   page, numbers the filters rarely hold for), the list walked in its order as before, each call checked.

A text with no run of three characters between wildcards, or one that matches more numbers than a few seeks are
worth, is not served here (`NumberSearch.page` gives None): the caller reads the calls as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import String, and_, bindparam, case, func, select, type_coerce
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.domain.paging import Lister, Tally
from emulator.store import Call, sql
from emulator.store.models import table
from emulator.store.rollups import call_numbers
from emulator.store.search import search_numbers, search_numbers_fts

CALLS = table(Call)
# Numbers a text may match before the calls are read instead: on SQLite those of every account together, on
# PostgreSQL the account's, once per side.
MATCHED = 256
STREAMS = 32  # the account's matched numbers, on each side, whose calls are read in time order
PYTHON_ROW = 3  # a row handed to Python costs about as much as SQLite's check of this many rows
# The list's filters (as emulator/domain/calls.py names them) and their columns, in the rollup and in `calls`.
FILTERS = {"status": "status", "direction": "direction", "call_type": "type", "agent_id": "agent_id",
           "number_id": "phone_number_id"}
_WILDCARDS = re.compile("[%_]")
Matched = dict[str, dict[str, tuple[int, int]]]  # side -> number -> (calls the filters hold for, every call)


# PostgreSQL plans a prepared statement once for any values after a few runs, and a plan for any pattern cannot
# use the trigram index (it reads every rollup row of the account instead): in a search's read, each statement is
# planned for its values.
_CUSTOM_PLANS = sql_text("SET LOCAL plan_cache_mode = force_custom_plan")


def _on_postgresql(session: AsyncSession) -> bool:
    bind = None if getattr(session, "inline", None) is not None else session.bind
    return bind is not None and bind.dialect.name == "postgresql"


def fts_query(text: str) -> str | None:
    """The FTS5 query for the runs of three or more characters between the text's wildcards (every number the
    LIKE matches contains them all), or None when there is no such run."""
    runs = [run for run in _WILDCARDS.split(text) if len(run) >= 3]
    if not runs:
        return None
    return " AND ".join('"' + run.replace('"', '""') + '"' for run in runs)


class _Statements:
    """A search's statements for one combination of filters."""

    def __init__(self, chosen: Sequence[str]) -> None:
        n = call_numbers.c
        in_rollup = [n[FILTERS[name]] == bindparam(name) for name in chosen]
        # Written so that no index of the filter's own can serve it: SQLite's planner, which has no statistics,
        # would otherwise walk every failed call of the account (say) instead of the calls of one number.
        in_calls = [CALLS.c[FILTERS[name]].concat("") == bindparam(name) for name in chosen]
        # Per number and side: its calls, and those the filters hold for.
        every = func.sum(n.calls).label("every")
        passing = (func.sum(case((and_(*in_rollup), n.calls), else_=0)) if in_rollup else func.sum(n.calls)).label(
            "passing")
        # PostgreSQL (its trigram index serves the LIKE): the account's matching rollup rows.
        rows = (select(n.number, n.side, every, passing)
                .where(n.account_id == bindparam("account"), n.number.like(bindparam("pattern")), n.calls > 0)
                .group_by(n.number, n.side).limit(bindparam("cap")))
        # SQLite: the numbers of every account the FTS index and the LIKE find, each with the account's rollup rows
        # (none: a row of NULLs).
        fts = search_numbers_fts.c
        matched = (select(search_numbers.c.number)
                   .select_from(search_numbers_fts.join(search_numbers, search_numbers.c.id == fts.rowid))
                   .where(fts.number.match(bindparam("fts")), search_numbers.c.number.like(bindparam("pattern")))
                   .limit(bindparam("cap")).subquery("matched"))
        joined = matched.outerjoin(call_numbers, and_(n.account_id == bindparam("account"),
                                                      n.number == matched.c.number, n.calls > 0))
        fts_rows = (select(matched.c.number, n.side, every, passing).select_from(joined)
                    .group_by(matched.c.number, n.side))
        self.numbers = sql.Query(rows, {"sqlite": fts_rows})
        self.between = sql.Query(select(func.count()).select_from(CALLS).where(
            CALLS.c.account_id == bindparam("account"), CALLS.c.from_number.in_(bindparam("senders", expanding=True)),
            CALLS.c.to_number.in_(bindparam("receivers", expanding=True)), CALLS.c.from_number != CALLS.c.to_number,
            *in_calls))
        # Raw text on SQLite (what its ORDER BY compares), a timestamp on PostgreSQL.
        at = type_coerce(CALLS.c.started_at, String).label("at")
        self.newest = {side: sql.Query(
            select(CALLS.c.pk, at)
            .where(CALLS.c.account_id == bindparam("account"), CALLS.c[f"{side}_number"] == bindparam("number"),
                   *in_calls)
            .order_by(CALLS.c.started_at.desc(), CALLS.c.pk.desc()).limit(bindparam("depth")))
            for side in ("from", "to")}


class NumberSearch:
    """The search of a list of calls: `lister` is the list (its filter `search` is the LIKE of both numbers, its
    columns what a page shows), `tally` its totals by the other filters."""

    def __init__(self, lister: Lister, tally: Tally) -> None:
        self.lister = lister
        self.tally = tally
        self._page = sql.Query(select(*lister.columns).where(CALLS.c.pk.in_(bindparam("pks", expanding=True)))
                               .order_by(*lister.order))
        self._made: dict[tuple[str, ...], _Statements] = {}

    def _statements(self, chosen: tuple[str, ...]) -> _Statements:
        made = self._made.get(chosen)
        if made is None:
            made = self._made[chosen] = _Statements(chosen)
        return made

    async def _numbers(self, session: AsyncSession, account_id: str, text: str, query: str,
                       given: dict[str, Any]) -> Matched | None:
        """The numbers of the account the text matches, on each side, with calls the filters hold for; None when
        it matches too many numbers."""
        if _on_postgresql(session):
            await session.execute(_CUSTOM_PLANS)
        found = await sql.rows(session, self._statements(tuple(sorted(given))).numbers, account=account_id,
                               pattern=f"%{text}%", fts=query, cap=MATCHED + 1, **given)
        if len(found) > MATCHED:
            return None
        sides: Matched = {"from": {}, "to": {}}
        for row in found:
            if row.side is not None and row.passing:
                sides[row.side][row.number] = (int(row.passing), int(row.every))
        if len(sides["from"]) + len(sides["to"]) > STREAMS:
            return None
        return sides

    async def page(self, session: AsyncSession, account_id: str, limit: int, offset: int, text: str,
                   filters: Mapping[str, Any]) -> tuple[list[Any], int] | None:
        """The page of the account's calls with `text` in one of their numbers (of those the filters given, not
        None, hold for) and their total; None when the calls must be read instead."""
        query = fts_query(text)
        if query is None:
            return None
        given = {name: value for name, value in filters.items() if value is not None}
        unknown = set(given) - set(FILTERS)
        if unknown:
            raise ValueError(f"not a filter of the call list: {', '.join(sorted(unknown))}")
        statements = self._statements(tuple(sorted(given)))
        numbers = await self._numbers(session, account_id, text, query, given)
        if numbers is None:
            return None
        senders, receivers = numbers["from"], numbers["to"]
        total = sum(passing for passing, _ in (*senders.values(), *receivers.values()))
        if senders and receivers and len(senders.keys() | receivers.keys()) > 1:
            total -= int(await sql.value(session, statements.between, account=account_id, senders=list(senders),
                                         receivers=list(receivers), **given))
        if offset >= total:
            return [], total
        depth = offset + limit
        if await self._walk_is_cheaper(session, account_id, given, numbers, total, depth):
            return await self.lister.rows(session, limit, offset, account=account_id, search=f"%{text}%",
                                          **given), total
        newest: dict[int, Any] = {}
        for side, counts in numbers.items():
            for number in counts:
                for row in await sql.rows(session, statements.newest[side], account=account_id, number=number,
                                          depth=depth, **given):
                    newest[row.pk] = row.at
        chosen = sorted(newest, key=lambda pk: (newest[pk], pk), reverse=True)[offset:depth]
        return await sql.rows(session, self._page, pks=chosen), total

    async def _walk_is_cheaper(self, session: AsyncSession, account_id: str, given: dict[str, Any],
                               numbers: Matched, total: int, depth: int) -> bool:
        """Whether walking the list in its order, checking each call with the LIKE, is expected to read fewer calls
        than reading each number's newest: a deep page of many numbers, or of numbers the filters rarely hold for.

        The walk reads `depth` matches at the rate they are in the list (`total` of `listed`); a number's calls are
        read until `depth` of them pass the filters, at the rate they do for that number, each one that does handed
        to Python, which costs about as much as `PYTHON_ROW` calls checked by SQLite."""
        walk = depth * await self.tally.total(session, account_id, **given) / total
        streams = sum(min(every, depth * every / passing) + PYTHON_ROW * min(passing, depth)
                      for counts in numbers.values() for passing, every in counts.values())
        return walk < streams
