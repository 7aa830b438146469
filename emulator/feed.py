"""The activity of every process, where several processes share one database (emulator/shared.py).

A process's activity (emulator/activity.py) is its own: its log lines, its live stream's readers. A person
watching the inspector's stream of a server with several processes must see what happens in all of them, so
there each process writes its happenings to the `happenings` table (those of one moment in one INSERT), and a
stream in any process reads the table every LOOK_SECONDS: the happenings written since its last look, with the
requests the request journal's table gained meanwhile (emulator/journal.py keeps the journal in a table there
too), in the order they happened. A reader that connects gets the newest BACKLOG happenings it may see, as with
one process. The table keeps the newest KEEP happenings.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select

from emulator.activity import BACKLOG, Happening, request_line
from emulator.clock import iso
from emulator.store.models import HappeningRow, JournalEntry, table

if TYPE_CHECKING:
    from emulator.store import Store

log = logging.getLogger("emulator.activity")

LOOK_SECONDS = 0.25
KEEP = 5_000

HAPPENINGS = table(HappeningRow)
ENTRIES = table(JournalEntry)
_LATEST = select(func.max(HAPPENINGS.c.pk))
_LATEST_ENTRY = select(func.max(ENTRIES.c.pk))


class Feed:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[dict[str, Any]] = []
        self._writer: asyncio.Future[None] | None = None

    # -- writing -------------------------------------------------------------------------------------------

    def put(self, happening: Happening, stamp: float) -> None:
        """Write `happening` (at `stamp`, the journal's kind of time) with the others of this moment, in the
        background: publishing never waits."""
        self._pending.append({
            "stamp": stamp, "kind": happening.kind, "text": happening.text,
            "at": happening.at, "accounts": json.dumps(sorted(happening.accounts)), "everyone": happening.everyone,
            "data": json.dumps(happening.data, default=str)})
        if self._writer is None or self._writer.done():
            try:
                self._writer = asyncio.ensure_future(self._write())
            except RuntimeError:  # no event loop (the server has stopped): nobody is watching any more
                self._pending.clear()

    async def _write(self) -> None:
        await asyncio.sleep(0)  # what else happens at this moment joins the batch
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                async with self.store.write() as session:
                    await session.execute(insert(HAPPENINGS), batch)
            except Exception:  # the activity stream must never break what it tells about
                log.exception("Could not write %d happenings for the live stream", len(batch))

    async def settled(self) -> None:
        """Until what was put so far is written."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    # -- reading -------------------------------------------------------------------------------------------

    async def backlog(self, scope: frozenset[str] | None, since: int) -> tuple[list[Happening], int, int]:
        """The newest BACKLOG happenings after `since` that `scope` may see, and where the table and the journal
        stand (a live reader goes on from there)."""
        await self.settled()
        async with self.store.read() as session:
            top = int((await session.execute(_LATEST)).scalar() or 0)
            entries = int((await session.execute(_LATEST_ENTRY)).scalar() or 0)
            rows = (await session.execute(select(HAPPENINGS).where(HAPPENINGS.c.pk > since, HAPPENINGS.c.pk <= top)
                                          .order_by(HAPPENINGS.c.pk))).all()
        seen = [h for h in map(_happening, rows) if h.visible_to(scope)]
        return seen[-BACKLOG:], top, entries

    async def follow(self, scope: frozenset[str] | None, after: int,
                     after_entry: int) -> AsyncIterator[list[Happening]]:
        """At every look, what happened since the last one (happenings and requests) that `scope` may see."""
        while True:
            await asyncio.sleep(LOOK_SECONDS)
            async with self.store.read() as session:
                rows = (await session.execute(select(HAPPENINGS).where(HAPPENINGS.c.pk > after)
                                              .order_by(HAPPENINGS.c.pk))).all()
                entries = (await session.execute(
                    select(ENTRIES.c.pk, ENTRIES.c.stamp, ENTRIES.c.account_id, ENTRIES.c.sub_account_id,
                           ENTRIES.c.method, ENTRIES.c.path, ENTRIES.c.status)
                    .where(ENTRIES.c.pk > after_entry).order_by(ENTRIES.c.pk))).all()
            after = rows[-1].pk if rows else after
            after_entry = entries[-1].pk if entries else after_entry
            timed = [(row.stamp, _happening(row)) for row in rows]
            timed += [(entry.stamp, _request(entry, after)) for entry in entries]
            timed.sort(key=lambda pair: pair[0])  # stable: each source stays in its own order
            yield [h for _, h in timed if h.visible_to(scope)]

    # -- forgetting ----------------------------------------------------------------------------------------

    async def forget(self, account_ids: Iterable[str]) -> None:
        """Drop what was about removed accounts and nobody else (as one process's backlog does)."""
        gone = set(account_ids)
        if not gone:
            return
        await self.settled()
        async with self.store.write() as session:
            rows = (await session.execute(select(HAPPENINGS.c.pk, HAPPENINGS.c.accounts)
                                          .where(HAPPENINGS.c.everyone.is_(False)))).all()
            about = [row.pk for row in rows if (named := set(json.loads(row.accounts))) and named <= gone]
            for start in range(0, len(about), 500):
                await session.execute(delete(HAPPENINGS).where(HAPPENINGS.c.pk.in_(about[start:start + 500])))

    def clear(self) -> None:
        """A reset emptied the table: what was not written yet goes too."""
        self._pending.clear()

    async def trim(self) -> None:
        async with self.store.write() as session:
            top = (await session.execute(_LATEST)).scalar()
            if top is not None and top > KEEP:
                await session.execute(delete(HAPPENINGS).where(HAPPENINGS.c.pk <= top - KEEP))


def _happening(row: Any) -> Happening:
    return Happening(row.pk, row.kind, row.text, row.at, frozenset(json.loads(row.accounts)), json.loads(row.data),
                     True, row.everyone)


def _request(entry: Any, seq: int) -> Happening:
    """A journaled request as the live stream tells it (numbered as the happening before it: requests are not in
    the backlog). A sub-account named in the header counts only once the API accepted it."""
    accepted = entry.sub_account_id if entry.status is not None and entry.status < 400 else None
    accounts = frozenset(a for a in (entry.account_id, accepted) if a)
    at = iso(datetime.fromtimestamp(entry.stamp, UTC)) or ""
    return Happening(seq, "request", request_line(entry.method, entry.path, entry.status), at, accounts,
                     {"method": entry.method, "path": entry.path, "status": entry.status, "journalSeq": entry.pk},
                     False)
