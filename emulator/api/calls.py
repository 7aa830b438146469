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
from emulator.calls import following, recording
from emulator.calls.bus import EndedEvent, Event, TurnEvent
from emulator.calls.remote import relayed
from emulator.domain import calls, dialing
from emulator.wire import calls as wire

if TYPE_CHECKING:
    from emulator.context import Emulator
    from emulator.store import Transcript


STATUS = Query("status", choices=calls.STATUSES)
DIRECTION = Query("direction", choices=calls.DIRECTIONS)
TYPE = Query("type", choices=calls.TYPES)
SEARCH = Query("search")
WAIT = Query("wait", choices=("true", "false"))
TIMEOUT = Query("timeout", "integer", calls.DEFAULT_WAIT_SECONDS, 1, calls.MAX_WAIT_SECONDS)


async def list_calls(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    status, direction, call_type = STATUS.read(request), DIRECTION.read(request), TYPE.read(request)
    state = emu(request)
    async with state.store.read() as session:
        listed = await calls.listed(
            session, account_id, limit, offset, status=status, direction=direction, call_type=call_type,
            search=SEARCH.read(request),
        )
    return respond(wire.call_page(listed, offset, state.settings.base_url))


async def _transcripts(request: Request, session: Any, call_id: str) -> list[Transcript]:
    """Stored rows plus a live call's rows not written yet (snapshot taken before the read)."""
    live = emu(request).engine.unsaved(call_id)
    stored = await calls.transcripts(session, call_id)
    known = {row.id for row in stored}
    return stored + [row for row in live if row.id not in known]


async def _gone(request: Request) -> None:
    """Returns when the client hangs up (the ASGI server says so on the request's receive channel)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def wait_for_end(request: Request, account_id: str, call_id: str, seconds: float) -> None:
    """Until the call has ended, `seconds` have passed, or the client went away; holds no lock or session."""
    state = emu(request)
    deadline = asyncio.get_running_loop().time() + seconds

    async def live() -> bool:
        async with state.store.read() as session:
            row = await calls.get(session, account_id, call_id)  # another account's call: 404, as without wait
        return row.status in calls.LIVE or call_id in state.engine.runs

    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        # Where processes share the database, another may end the call (a web call another one joined): look
        # at its row every so often too.
        look = min(left, SHARED_LOOK_SECONDS) if state.shared.enabled else left
        outcome = await state.engine.waits.wait(call_id, look, live, lambda: _gone(request))
        if outcome in ("ended", "gone") or (outcome == "timeout" and look == left):
            return


async def _call_detail(request: Request, account_id: str, call_id: str) -> dict[str, Any]:
    state = emu(request)
    async with state.store.read() as session:
        row = await calls.get(session, account_id, call_id)
        transcripts = await _transcripts(request, session, row.id)
        recording_on = await calls.recording_enabled(session, account_id)
        name = await calls.agent_name(session, row)
    return wire.call(row, state.settings.base_url, recording_on, transcripts, agent_name=name,
                     snippet=state.engine.snippet(row.id))


@relayed
async def get_call(request: Request) -> Response:
    """With `?wait=true`: answered when the call has ended, or after `timeout` seconds with the call as it is."""
    account_id = await authenticate(request)
    call_id = path_param(request, "call_id")
    timeout = TIMEOUT.read(request)  # checked even without wait, like any parameter
    if WAIT.read(request) == "true":
        await wait_for_end(request, account_id, call_id, timeout)
    return respond(await _call_detail(request, account_id, call_id))


@relayed
async def get_transcript(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        row = await calls.get(session, account_id, path_param(request, "call_id"))
        transcripts = await _transcripts(request, session, row.id)
    return respond(wire.transcript_list(row, transcripts))


async def place_call(request: Request) -> Response:
    """Answer at once with the call in progress (the conversation runs in the background), or with
    `waitForCompletion` once it has ended (or `maxWaitSeconds` passed), transcripts included."""
    account_id = await authenticate(request)
    req = await parse(request, wire.PlaceCall)
    state = emu(request)
    async with state.store.write() as session:
        placed = await dialing.place(session, account_id, req, state.clock.now())
    call = placed.call
    callee = state.callees.answer(call.to_number, call.account_id)
    state.engine.start(placed.setup(callee), call.started_at)
    if not req.wait_for_completion:
        return respond(wire.placed(call, state.settings.base_url, placed.agent.name, callee.source))
    await wait_for_end(request, account_id, call.id, req.max_wait_seconds or calls.DEFAULT_WAIT_SECONDS)
    detail = await _call_detail(request, account_id, call.id)
    return respond(wire.placed_detail(detail, call, callee.source))


@relayed
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
SHARED_LOOK_SECONDS = 0.25


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _sse_event(event: Event) -> str:
    if isinstance(event, TurnEvent):
        return _sse("turn", wire.transcript(event.row))
    return _sse("ended", wire.ended(event.call_id, event.status, event.duration_seconds, event.end_reason))


async def _turns_elsewhere(state: Emulator, call_id: str, seen: set[str]) -> AsyncIterator[str]:
    """The live turns and the end of a call another process runs, as it writes them (emulator/calls/following.py)."""
    quiet = following.Quiet(HEARTBEAT_SECONDS)
    async for row, turns in following.looks(state, call_id, lambda session: calls.transcripts(session, call_id)):
        for turn in turns:
            if turn.id not in seen:
                seen.add(turn.id)
                quiet.sent()
                yield _sse("turn", wire.transcript(turn))
        if not following.live(row):
            yield _sse("ended", wire.ended(call_id, row.status, row.duration_seconds, row.end_reason))
        elif quiet.due():
            yield ": heartbeat\n\n"


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
            if following.elsewhere(state, call_id):
                async for chunk in _turns_elsewhere(state, call_id, seen):
                    yield chunk
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
    post("", place_call, "Place an outbound call (at once, in progress; or, with waitForCompletion, once ended)",
         request=wire.PlaceCall,
         response=wire.PlacedCall),
    post("/web", web_call, "Create a web call and its access token", request=wire.WebCall,
         response=wire.WebCallCreated),
    get("/{call_id}", get_call, "Get a call with its transcript (wait=true: once it has ended, or at timeout)",
        response=wire.CallDetail, query=(WAIT, TIMEOUT)),
    post("/{call_id}/end", end_call, "End a call in progress", response=wire.Call),
    get("/{call_id}/transcript", get_transcript, "Get a call's transcript", response=wire.TranscriptList),
    get("/{call_id}/transcript/stream", stream_transcript,
        "Stream a call's transcript (Server-Sent Events: connected, turn, ended)", media="text/event-stream"),
    get("/{call_id}/recording", get_recording, "Download a call's recording (the call ID is the token)",
        media="audio/wav", public=True),
], tag="calls")
