"""/v1/calls: place, list, get, end; transcripts (plain and streamed as SSE); recordings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from emulator import render
from emulator.api._http import authenticate, emu, paging, parse, query_choice, respond
from emulator.calls import recording
from emulator.domain import calls, dialing
from emulator.domain.lookup import owned
from emulator.errors import ApiError
from emulator.schemas import PlaceCall, WebCall
from emulator.store import Agent, Call, Transcript


async def list_calls(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    status = query_choice(request, "status", calls.STATUSES)
    direction = query_choice(request, "direction", calls.DIRECTIONS)
    call_type = query_choice(request, "type", calls.TYPES)
    state = emu(request)
    async with state.store.read() as session:
        rows, total = await calls.list_page(
            session, account_id, limit, offset, status=status, direction=direction, call_type=call_type,
            search=request.query_params.get("search") or None,
        )
        recording = await calls.recording_enabled(session, account_id)
    base = state.settings.base_url
    return respond(render.page([render.call(row, base, recording) for row in rows], total, offset))


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
        row = await owned(session, Call, account_id, request.path_params["call_id"])
        transcripts = await _transcripts(request, session, row.id)
        recording = await calls.recording_enabled(session, account_id)
        # Agent's primary key is the integer `pk`; look the agent up by its public ID.
        name = (await session.execute(
            select(Agent.name).where(Agent.id == row.agent_id, Agent.account_id == account_id)
        )).scalar_one_or_none() if row.agent_id else None
    body = render.call(row, state.settings.base_url, recording, transcripts, agent_name=name)
    body["lastTranscriptSnippet"] = state.engine.snippet(row.id) or body["lastTranscriptSnippet"]
    return respond(body)


async def get_transcript(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        row = await owned(session, Call, account_id, request.path_params["call_id"])
        transcripts = await _transcripts(request, session, row.id)
    items = [render.transcript(t) for t in transcripts]
    return respond({"callId": row.id, "status": row.status, "data": items, "total": len(items)})


async def place_call(request: Request) -> Response:
    """Answer at once with the call in progress; the conversation runs in the background."""
    account_id = await authenticate(request)
    req = await parse(request, PlaceCall)
    state = emu(request)
    async with state.store.write() as session:
        placed = await dialing.place(session, account_id, req, state.clock.now())
    call = placed.call
    callee = state.callees.answer(call.to_number, call.account_id)
    state.engine.start(placed.setup(callee), call.started_at)
    body = render.call(call, state.settings.base_url, False, agent_name=placed.agent.name)
    body.update({"initialGreeting": call.initial_greeting, "systemPrompt": call.system_prompt,
                 "variables": call.variables, "callee": callee.source})
    return respond(body)


async def end_call(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    call_id = request.path_params["call_id"]
    async with state.store.read() as session:
        row = await owned(session, Call, account_id, call_id)
    if row.status == "registered":
        raise ApiError(400, f"Call '{call_id}' has not started: a web call stays 'registered' until a client "
                            "joins it with its access token.")
    if row.status != "in-progress":
        raise ApiError(400, f"Call '{call_id}' already ended with status '{row.status}'.")
    await state.engine.end(call_id)
    async with state.store.read() as session:
        row = await owned(session, Call, account_id, call_id)
        recording = await calls.recording_enabled(session, account_id)
    return respond(render.call(row, state.settings.base_url, recording))


HEARTBEAT_SECONDS = 15.0


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def stream_transcript(request: Request) -> Response:
    """Server-Sent Events: `connected`, every turn so far, live turns, `ended`; heartbeat comments."""
    account_id = await authenticate(request)
    state = emu(request)
    call_id = request.path_params["call_id"]
    async with state.store.read() as session:
        await owned(session, Call, account_id, call_id)
    queue = state.bus.subscribe(call_id)

    async def events() -> AsyncIterator[str]:
        try:
            async with state.store.read() as session:
                row = await owned(session, Call, account_id, call_id)
                past = await _transcripts(request, session, call_id)
            yield _sse("connected", {"callId": call_id, "status": row.status})
            seen = set()
            for turn in past:
                seen.add(turn.id)
                yield _sse("turn", render.transcript(turn))
            if row.status != "in-progress" and call_id not in state.engine.runs:
                yield _sse("ended", {"callId": call_id, "status": row.status, "durationSeconds": row.duration_seconds,
                                     "endReason": row.end_reason})
                return
            while True:
                try:
                    kind, payload = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if kind == "turn" and payload["id"] in seen:
                    continue
                yield _sse(kind, payload)
                if kind == "ended":
                    return
        finally:
            state.bus.unsubscribe(call_id, queue)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def get_recording(request: Request) -> Response:
    """Public, like the real endpoint: the call ID is the access token."""
    state = emu(request)
    call_id = request.path_params["call_id"]
    async with state.store.read() as session:
        row = await session.scalar(select(Call).where(Call.id == call_id))
        enabled = row is not None and await calls.recording_enabled(session, row.account_id)
    if row is None or not row.recording_available or not enabled:
        raise ApiError(404, f"Call '{call_id}' has no recording (recording is an account add-on, off by default).")
    return Response(recording.wav(row.duration_seconds or 0), media_type="audio/wav",
                    headers={"Content-Disposition": f'attachment; filename="recording-{call_id}.wav"'})


async def web_call(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, WebCall)
    state = emu(request)
    async with state.store.write() as session:
        placed = await dialing.web(session, account_id, req, state.clock.now())
    call = placed.call
    meta = call.call_metadata or {}
    body = render.call(call, state.settings.base_url, False, agent_name=placed.agent.name)
    body.update({"callId": call.id, "accessToken": meta["accessToken"], "expiresAt": meta["tokenExpiresAt"],
                 "metadata": meta.get("metadata"), "variables": call.variables})
    return respond(body)


routes = [
    Route("/v1/calls/web", web_call, methods=["POST"]),
    Route("/v1/calls", list_calls, methods=["GET"]),
    Route("/v1/calls/{call_id}", get_call, methods=["GET"]),
    Route("/v1/calls/{call_id}/transcript", get_transcript, methods=["GET"]),
    Route("/v1/calls", place_call, methods=["POST"]),
    Route("/v1/calls/{call_id}/end", end_call, methods=["POST"]),
    Route("/v1/calls/{call_id}/transcript/stream", stream_transcript, methods=["GET"]),
    Route("/v1/calls/{call_id}/recording", get_recording, methods=["GET"]),
]
