"""What the inspector (and any test) reads to see what happened: every account at a glance, the live stream of
happenings, deliveries with every attempt (and redelivering one), a call's timeline, the request journal.

Streams are Server-Sent Events: `connected`, then what is already known, then live events, with heartbeat
comments. `?follow=false` ends a stream once what is known has been sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from emulator.api.common import emu, parse, path_param, respond
from emulator.api.control import access
from emulator.api.control.access import ACCOUNT, GLOBAL
from emulator.api.routing import Query, get, post
from emulator.calls import following
from emulator.calls.bus import EndedEvent, TurnEvent
from emulator.clock import parse_iso
from emulator.domain import accounts, calls, overview, owners
from emulator.errors import Invalid, NotFound, not_found
from emulator.feed import Feed
from emulator.journal import Filter
from emulator.store import Call, Delivery, DeliveryAttempt, Transcript
from emulator.webhooks import attempts
from emulator.wire import calls as call_wire
from emulator.wire import inspector as wire

HEARTBEAT_SECONDS = 15.0
KEY = Query("key")
FOLLOW = Query("follow", default="true", choices=("true", "false"))
AFTER_SEQ = Query("since", "integer", 0, 0, 2**62)
METHOD = Query("method")
PATH = Query("path")
SINCE = Query("since")  # a journal sequence number, or an ISO-8601 time
JOURNAL_LIMIT = Query("limit", "integer", 1000, 1, 10_000)
ORDER = Query("order", default="oldest", choices=("oldest", "newest"))


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


def _stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _family_of_key(request: Request, key: str | None) -> frozenset[str] | None:
    """The accounts a request is about: a key's account and its sub-accounts; None (all) for the admin naming
    no key."""
    if key is None:
        return None
    who = access.caller(request)
    if not who.admin:
        return who.family
    async with emu(request).store.read() as session:
        row = await accounts.find_by_key(session, key)
        if row is None:
            raise NotFound("No account uses this key yet; it is created on its first request.")
        return frozenset(await accounts.family(session, row.id))


# --- accounts ------------------------------------------------------------------------------------------


async def list_accounts(request: Request) -> Response:
    """Every account (sub-accounts after their parent), newest first, with what each holds."""
    async with emu(request).store.read() as session:
        rows = await overview.accounts(session)
    return respond(wire.account_list(rows))


# --- the live stream of happenings ---------------------------------------------------------------------


async def activity_stream(request: Request) -> Response:
    """`connected`, the recent happenings (after `?since=<seq>`), `live`, then each new one as it happens."""
    scope = await _family_of_key(request, access.own_key(request, KEY.read(request), "watch another account"))
    state = emu(request)
    after = int(AFTER_SEQ.read(request))
    follow = FOLLOW.read(request) == "true"
    if state.activity.feed is not None:
        return _stream(_fed(state.activity.feed, scope, after, follow))
    subscription = state.activity.subscribe(scope) if follow else None

    async def events() -> AsyncIterator[str]:
        try:
            yield _sse("connected", {"scope": sorted(scope) if scope is not None else None})
            last = after
            for item in state.activity.recent(scope, after):
                last = item.seq
                yield _sse("happening", wire.happening(item))
            if subscription is None:
                return
            yield _sse("live", {"seq": last})  # what follows happens now
            while True:
                try:
                    item = await asyncio.wait_for(subscription.queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    if subscription.overflowed.is_set():
                        yield _sse("overflow", {"detail": "This reader fell too far behind; reconnect."})
                        return
                    yield ": heartbeat\n\n"
                    continue
                if item.seq > last:
                    last = item.seq
                    yield _sse("happening", wire.happening(item))
        finally:
            if subscription is not None:
                state.activity.unsubscribe(subscription)

    return _stream(events())


async def _fed(feed: Feed, scope: frozenset[str] | None, after: int, follow: bool) -> AsyncIterator[str]:
    """`activity_stream` where processes share the database: every process's happenings (emulator/feed.py)."""
    yield _sse("connected", {"scope": sorted(scope) if scope is not None else None})
    backlog, last, last_entry = await feed.backlog(scope, after)
    for item in backlog:
        yield _sse("happening", wire.happening(item))
    if not follow:
        return
    yield _sse("live", {"seq": max(last, after)})
    quiet = following.Quiet(HEARTBEAT_SECONDS)
    async for items in feed.follow(scope, last, last_entry):
        for item in items:
            quiet.sent()
            yield _sse("happening", wire.happening(item))
        if quiet.due():
            yield ": heartbeat\n\n"


# --- deliveries ----------------------------------------------------------------------------------------


async def _delivery(request: Request) -> Delivery:
    delivery_id = path_param(request, "delivery_id")
    async with emu(request).store.read() as session:
        row = await attempts.find(session, delivery_id)
    missing = not_found("Delivery", delivery_id)
    if row is None:
        raise missing
    access.check_account(request, row.account_id, missing)
    return row


async def get_delivery(request: Request) -> Response:
    row = await _delivery(request)
    async with emu(request).store.read() as session:
        for _ in range(3):  # on a server database an attempt may land between the two reads: read both again
            tries = (await attempts.of_deliveries(session, [row.id])).get(row.id, [])
            if len(tries) == row.attempt_count:
                break
            row = await attempts.find(session, row.id) or row
    return respond(wire.delivery_detail(row, tries))


async def redeliver(request: Request) -> Response:
    """Send it again now; with `body`, that body instead of the stored payload, signed afresh."""
    req = await parse(request, wire.Redeliver, optional=True)
    row = await _delivery(request)
    state = emu(request)
    made = await state.deliverer.redeliver(row, req.body)
    async with state.store.read() as session:
        row = await attempts.find(session, row.id) or row
        tries = await attempts.of_deliveries(session, [row.id])
    return respond(wire.redelivered(row, tries.get(row.id, []), made))


# --- a call's timeline ---------------------------------------------------------------------------------


class _Known:
    """A call's turns with their voice deliveries and attempts: stored, or held by the engine until its next
    write (taken first, so nothing falls between the two)."""

    def __init__(self, live_turns: list[Transcript], live_rows: list[Delivery | DeliveryAttempt]) -> None:
        self.turns = list(live_turns)
        self.deliveries = {r.id: r for r in live_rows if isinstance(r, Delivery)}
        self.attempts = [r for r in live_rows if isinstance(r, DeliveryAttempt)]
        self.turn_delivery = {a.turn_id: a.delivery_id for a in self.attempts if a.turn_id}

    async def read(self, session: Any, call_id: str) -> None:
        stored = await calls.transcripts(session, call_id)
        known = {t.id for t in stored}
        self.turns = stored + [t for t in self.turns if t.id not in known]
        self.turn_delivery |= await attempts.of_turns(session, [t.id for t in self.turns])
        wanted = set(self.turn_delivery.values())
        self.deliveries |= {k: v for k, v in (await attempts.deliveries(session, wanted)).items()
                            if k not in self.deliveries}
        stored_tries = await attempts.of_deliveries(session, wanted)
        seen = {(a.delivery_id, a.number) for tries in stored_tries.values() for a in tries}
        self.attempts = [a for tries in stored_tries.values() for a in tries] + [
            a for a in self.attempts if (a.delivery_id, a.number) not in seen]

    def render(self, turn: Transcript) -> dict[str, Any]:
        voice = self.deliveries.get(self.turn_delivery.get(turn.id, ""))
        tries = [a for a in self.attempts if voice is not None and a.delivery_id == voice.id]
        return wire.timeline_turn(turn, voice, tries)


async def _call_event(request: Request, row: Call) -> str:
    state = emu(request)
    async with state.store.read() as session:
        recording_on = await calls.recording_enabled(session, row.account_id)
        name = await calls.agent_name(session, row)
    return _sse("call", call_wire.call(row, state.settings.base_url, recording_on, agent_name=name,
                                       snippet=state.engine.snippet(row.id)))


async def _timeline_elsewhere(request: Request, call_id: str, seen: set[str]) -> AsyncIterator[str]:
    """The live turns and the end of a call another process runs, as it writes them (emulator/calls/following.py)."""
    quiet = following.Quiet(HEARTBEAT_SECONDS)

    async def read(session: Any) -> _Known:
        known = _Known([], [])
        await known.read(session, call_id)
        return known

    async for row, known in following.looks(emu(request), call_id, read):
        for turn in known.turns:
            if turn.id not in seen:
                seen.add(turn.id)
                quiet.sent()
                yield _sse("turn", known.render(turn))
        if not following.live(row):
            yield await _call_event(request, row)
            yield _sse("ended", call_wire.ended(call_id, row.status, row.duration_seconds, row.end_reason))
        elif quiet.due():
            yield ": heartbeat\n\n"


async def call_timeline(request: Request) -> Response:
    """`connected`, `call` (the call), each `turn` so far with its voice delivery (the signed request as sent,
    the raw reply), live turns, then `call` again and `ended`."""
    state = emu(request)
    call_id = path_param(request, "call_id")
    async with state.store.read() as session:
        first = await owners.call(session, call_id)
    missing = not_found("Call", call_id)
    if first is None:
        raise missing
    access.check_account(request, first.account_id, missing)
    follow = FOLLOW.read(request) == "true"
    queue = state.bus.subscribe(call_id)

    async def events() -> AsyncIterator[str]:
        try:
            known = _Known(state.engine.unsaved(call_id), state.engine.unsaved_deliveries(call_id))
            async with state.store.read() as session:
                row = await owners.call(session, call_id)
                if row is None:
                    return
                await known.read(session, call_id)
            yield _sse("connected", {"callId": call_id, "status": row.status})
            yield await _call_event(request, row)
            seen = set()
            for turn in known.turns:
                seen.add(turn.id)
                yield _sse("turn", known.render(turn))
            if following.elsewhere(state, call_id) and following.live(row):
                if follow:
                    async for chunk in _timeline_elsewhere(request, call_id, seen):
                        yield chunk
                return
            if call_id not in state.engine.runs:
                yield _sse("ended", call_wire.ended(call_id, row.status, row.duration_seconds, row.end_reason))
                return
            while follow:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if isinstance(event, TurnEvent):
                    if event.row.id not in seen:
                        seen.add(event.row.id)
                        tries = [event.attempt] if event.attempt is not None else []
                        yield _sse("turn", wire.timeline_turn(event.row, event.delivery, tries))
                elif isinstance(event, EndedEvent):
                    async with state.store.read() as session:
                        row = await owners.call(session, call_id) or row
                    yield await _call_event(request, row)
                    yield _sse("ended", call_wire.ended(call_id, event.status, event.duration_seconds,
                                                       event.end_reason))
                    return
        finally:
            state.bus.unsubscribe(call_id, queue)

    return _stream(events())


# --- the request journal -------------------------------------------------------------------------------


def _since(request: Request) -> tuple[int, Any]:
    raw = SINCE.read(request)
    if raw is None:
        return 0, None
    if raw.isdigit():
        return int(raw), None
    try:
        return 0, parse_iso(raw)
    except (ValueError, OverflowError):
        raise Invalid(f"Query parameter 'since' must be a journal sequence number (lastSeq) or an ISO-8601 "
                      f"timestamp (got {raw!r}).") from None


async def list_requests(request: Request) -> Response:
    """The /v1 requests a key made, oldest first (or `?order=newest`); the admin naming no key: every key's."""
    key = access.own_key(request, KEY.read(request), "read another account's requests")
    since_seq, since = _since(request)
    method = METHOD.read(request)
    where = Filter(keys=None if key is None else frozenset({key}), method=method, path=PATH.read(request),
                   since_seq=since_seq, since=since)
    journal = emu(request).journal
    limit, newest_first = int(JOURNAL_LIMIT.read(request)), ORDER.read(request) == "newest"
    entries, total, newest = await journal.search(where, limit, newest_first)
    return respond(wire.journal(entries, total, max(newest, since_seq)))


resource = access.resource("/_emulator", [
    get("/accounts", list_accounts, "List every account with what it holds (the inspector's account picker)",
        response=wire.AccountList, access=GLOBAL),
    get("/events", activity_stream, "Stream what happens (Server-Sent Events: connected, happening, live)",
        media="text/event-stream", query=(KEY, AFTER_SEQ, FOLLOW), access=ACCOUNT),
    get("/deliveries/{delivery_id}", get_delivery, "Get a webhook delivery with every attempt as sent and answered",
        response=wire.DeliveryDetail, access=ACCOUNT),
    post("/deliveries/{delivery_id}/redeliver", redeliver, "Send a delivery again, as stored or edited (re-signed)",
         request=wire.Redeliver, response=wire.Redelivered, body_required=False, access=ACCOUNT),
    get("/calls/{call_id}/timeline", call_timeline,
        "Stream a call's timeline with each voice delivery (Server-Sent Events: connected, call, turn, ended)",
        media="text/event-stream", query=(FOLLOW,), access=ACCOUNT),
    get("/requests", list_requests, "List the /v1 requests a key made (the request journal)",
        response=wire.RequestJournal, query=(KEY, METHOD, PATH, SINCE, JOURNAL_LIMIT, ORDER), access=ACCOUNT),
])
