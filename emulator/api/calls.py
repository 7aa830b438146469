"""/v1/calls: place, list, get, end; transcripts (plain and streamed as SSE); recordings; web calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from emulator.api.common import authenticate, emu, paging, parse, path_param, respond
from emulator.api.routing import PAGED, Query, Resource, get, post
from emulator.calls import recording
from emulator.calls.bus import EndedEvent, Event, TurnEvent
from emulator.domain import calls, dialing
from emulator.wire import calls as wire

if TYPE_CHECKING:
    from emulator.store import Transcript


STATUS = Query("status", choices=calls.STATUSES)
DIRECTION = Query("direction", choices=calls.DIRECTIONS)
TYPE = Query("type", choices=calls.TYPES)
SEARCH = Query("search")


async def list_calls(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    status, direction, call_type = STATUS.read(request), DIRECTION.read(request), TYPE.read(request)
    state = emu(request)
    async with state.store.read() as session:
        rows, total, recording_on = await calls.listed(
            session, account_id, limit, offset, status=status, direction=direction, call_type=call_type,
            search=SEARCH.read(request),
        )
    return respond(wire.call_page(rows, total, offset, state.settings.base_url, recording_on))


async def _transcripts(request: Request, session: Any, call_id: str) -> list[Transcript]:
    """Stored rows plus a live call's rows not written yet (snapshot taken before the read)."""
    live = emu(request).engine.unsaved(call_id)
    stored = await calls.transcripts(session, call_id)
    known = {row.id for row in stored}
    return stored + [row for row in live if row.id not in known]


async def get_call(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    async with state.store.read() as session:
        row = await calls.get(session, account_id, path_param(request, "call_id"))
        transcripts = await _transcripts(request, session, row.id)
        recording_on = await calls.recording_enabled(session, account_id)
        name = await calls.agent_name(session, row)
    return respond(wire.call(row, state.settings.base_url, recording_on, transcripts, agent_name=name,
                             snippet=state.engine.snippet(row.id)))


async def get_transcript(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        row = await calls.get(session, account_id, path_param(request, "call_id"))
        transcripts = await _transcripts(request, session, row.id)
    return respond(wire.transcript_list(row, transcripts))


async def place_call(request: Request) -> Response:
    """Answer at once with the call in progress; the conversation runs in the background."""
    account_id = await authenticate(request)
    req = await parse(request, wire.PlaceCall)
    state = emu(request)
    async with state.store.write() as session:
        placed = await dialing.place(session, account_id, req, state.clock.now())
    call = placed.call
    callee = state.callees.answer(call.to_number, call.account_id)
    state.engine.start(placed.setup(callee), call.started_at)
    return respond(wire.placed(call, state.settings.base_url, placed.agent.name, callee.source))


async def end_call(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    call_id = path_param(request, "call_id")
    async with state.store.read() as session:
        calls.check_endable(await calls.get(session, account_id, call_id))
    await state.engine.end(call_id)
    async with state.store.read() as session:
        row = await calls.get(session, account_id, call_id)
        recording_on = await calls.recording_enabled(session, account_id)
    return respond(wire.call(row, state.settings.base_url, recording_on))


HEARTBEAT_SECONDS = 15.0


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _sse_event(event: Event) -> str:
    if isinstance(event, TurnEvent):
        return _sse("turn", wire.transcript(event.row))
    return _sse("ended", wire.ended(event.call_id, event.status, event.duration_seconds, event.end_reason))


async def stream_transcript(request: Request) -> Response:
    """Server-Sent Events: `connected`, every turn so far, live turns, `ended`; heartbeat comments."""
    account_id = await authenticate(request)
    state = emu(request)
    call_id = path_param(request, "call_id")
    async with state.store.read() as session:
        await calls.get(session, account_id, call_id)
    queue = state.bus.subscribe(call_id)

    async def events() -> AsyncIterator[str]:
        try:
            async with state.store.read() as session:
                row = await calls.get(session, account_id, call_id)
                past = await _transcripts(request, session, call_id)
            yield _sse("connected", {"callId": call_id, "status": row.status})
            seen = set()
            for turn in past:
                seen.add(turn.id)
                yield _sse("turn", wire.transcript(turn))
            if row.status != "in-progress" and call_id not in state.engine.runs:
                yield _sse("ended", wire.ended(call_id, row.status, row.duration_seconds, row.end_reason))
                return
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if isinstance(event, TurnEvent) and event.row.id in seen:
                    continue
                yield _sse_event(event)
                if isinstance(event, EndedEvent):
                    return
        finally:
            state.bus.unsubscribe(call_id, queue)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def get_recording(request: Request) -> Response:
    """Public, like the real endpoint: the call ID is the access token."""
    call_id = path_param(request, "call_id")
    async with emu(request).store.read() as session:
        row = await calls.recording_of(session, call_id)
    return Response(recording.wav(row.duration_seconds or 0), media_type="audio/wav",
                    headers={"Content-Disposition": f'attachment; filename="recording-{call_id}.wav"'})


async def web_call(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.WebCall)
    state = emu(request)
    async with state.store.write() as session:
        placed = await dialing.web(session, account_id, req, state.clock.now())
    return respond(wire.web_created(placed.call, state.settings.base_url, placed.agent.name))


resource = Resource("/v1/calls", [
    get("", list_calls, "List calls", response=wire.CallList,
        query=(*PAGED, STATUS, DIRECTION, TYPE, SEARCH)),
    post("", place_call, "Place an outbound call (answers at once, in progress)", request=wire.PlaceCall,
         response=wire.PlacedCall),
    post("/web", web_call, "Create a web call and its access token", request=wire.WebCall,
         response=wire.WebCallCreated),
    get("/{call_id}", get_call, "Get a call with its transcript", response=wire.CallDetail),
    post("/{call_id}/end", end_call, "End a call in progress", response=wire.Call),
    get("/{call_id}/transcript", get_transcript, "Get a call's transcript", response=wire.TranscriptList),
    get("/{call_id}/transcript/stream", stream_transcript,
        "Stream a call's transcript (Server-Sent Events: connected, turn, ended)", media="text/event-stream"),
    get("/{call_id}/recording", get_recording, "Download a call's recording (the call ID is the token)",
        media="audio/wav", public=True),
], tag="calls")
