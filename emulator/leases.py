"""Leases: where several processes share one database, a call whose process died is ended, not left live.

A call runs in the process that placed it (emulator/calls/remote.py). With one process, a call the last run
left live is failed at the next start (`emulator-restarted`); with several, the others go on serving, and a
worker that uvicorn's supervisor replaces, or an emulator that was killed, would leave its calls in progress
for ever. So each process holds a lease: its row in `live_processes`, renewed every RENEW_SECONDS, and each
call it runs has a row in `call_runners` naming it, from the call's start to its end. Every process looks for
leases not renewed for LEASE_SECONDS: the calls of such a process are failed (`emulator-restarted`, as a
restart fails them) and its rows removed. Its deliveries are not left behind either: a pending one names the
process that made or claimed it (`claimed_by`), and one still under way or queued (no retry time) becomes due,
for any process's sweep to send again, as a restart retries them on one process. A lease measures real time,
not the emulator's clock (which tests move), so the processes' hosts must agree on the time to within a few
seconds.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert, select, update

from emulator.domain import calls
from emulator.store import sql
from emulator.store.models import Call, CallRunner, Delivery, LiveProcess, table

if TYPE_CHECKING:
    from emulator.store import Store

RENEW_SECONDS = 1.0
LEASE_SECONDS = 10.0  # well beyond a write's longest wait for SQLite's lock (5 s)

PROCESSES = table(LiveProcess)
RUNNERS = table(CallRunner)
CALLS = table(Call)
_RENEW = sql.Query(update(PROCESSES).where(PROCESSES.c.process == bindparam("who"))
                   .values(seen_at=bindparam("now")))
_JOIN = sql.Query(insert(PROCESSES).values(process=bindparam("who"), pid=bindparam("os_pid"),
                                           seen_at=bindparam("now")))
_RUNS = sql.Query(insert(RUNNERS).values(call_id=bindparam("call"), process=bindparam("who")))
_RAN = sql.Query(delete(RUNNERS).where(RUNNERS.c.call_id == bindparam("call")))
_LAPSED = sql.Query(select(PROCESSES.c.process).where(PROCESSES.c.seen_at < bindparam("before")))
_FAIL = sql.Query(update(CALLS).where(
    CALLS.c.status.in_(bindparam("live", expanding=True)),
    CALLS.c.id.in_(select(RUNNERS.c.call_id).where(RUNNERS.c.process == bindparam("who")).scalar_subquery()))
    .values(status="failed", end_reason="emulator-restarted", ended_at=bindparam("now")))
DELIVERIES = table(Delivery)
# A pending delivery with no retry time is under way in the process that claimed it (emulator/webhooks/delivery.py):
# due now, for any process's sweep to claim and send again.
_RELEASE = sql.Query(update(DELIVERIES).where(
    DELIVERIES.c.status == "pending", DELIVERIES.c.next_retry_at.is_(None), DELIVERIES.c.claimed_by == bindparam("who"))
    .values(next_retry_at=bindparam("now"), claimed_by=None))
_FORGET_RUNS = sql.Query(delete(RUNNERS).where(RUNNERS.c.process == bindparam("who")))
_FORGET = sql.Query(delete(PROCESSES).where(PROCESSES.c.process == bindparam("who")))


class Leases:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.process = uuid.uuid4().hex
        self._renewed = 0.0

    async def renew(self) -> None:
        """Renew this process's lease (taking it again after a reset emptied the table), once a RENEW_SECONDS."""
        now = time.time()
        if now - self._renewed < RENEW_SECONDS:
            return
        async with self.store.write() as session:
            if not await sql.run(session, _RENEW, who=self.process, now=now):
                await sql.run(session, _JOIN, who=self.process, os_pid=os.getpid(), now=now)
        self._renewed = now

    async def runs(self, call_id: str) -> None:
        """This process runs the call from now on."""
        async with self.store.write() as session:
            await sql.run(session, _RUNS, call=call_id, who=self.process)

    @staticmethod
    async def ran(session: Any, call_id: str) -> None:
        """The call has ended (in the transaction that ends it)."""
        await sql.run(session, _RAN, call=call_id)

    async def reap(self, now: datetime) -> int:
        """Fail the calls of processes whose lease lapsed, make the deliveries they had under way due again (the
        target may get one twice, as with any retry), and forget those processes. Returns the calls failed."""
        async with self.store.read() as session:  # a look every few seconds in every process: no write lock
            lapsed = [process for (process,) in await sql.rows(session, _LAPSED, before=time.time() - LEASE_SECONDS)
                      if process != self.process]  # this one is alive, only late: it renews on its next round
        if not lapsed:
            return 0
        failed = 0
        async with self.store.write() as session:
            for process in lapsed:
                failed += await sql.run(session, _FAIL, who=process, now=now, live=list(calls.LIVE))
                await sql.run(session, _RELEASE, who=process, now=now)
                await sql.run(session, _FORGET_RUNS, who=process)
                await sql.run(session, _FORGET, who=process)
        return failed

    async def leave(self, now: datetime) -> None:
        """At a clean shutdown (the calls of this process have ended already, its deliveries' attempts finished or
        stopped): the deliveries it leaves pending become due for the other processes."""
        async with self.store.write() as session:
            await sql.run(session, _RELEASE, who=self.process, now=now)
            await sql.run(session, _FORGET_RUNS, who=self.process)
            await sql.run(session, _FORGET, who=self.process)
