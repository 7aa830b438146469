"""/v1/calls, read side: list with filters, one call with its transcript, the transcript alone."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import render
from emulator.api._http import authenticate, emu, paging, query_choice, respond
from emulator.domain import calls
from emulator.domain.lookup import owned
from emulator.store import Agent, Call


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


async def get_call(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    async with state.store.read() as session:
        row = await owned(session, Call, account_id, request.path_params["call_id"])
        transcripts = await calls.transcripts(session, row.id)
        recording = await calls.recording_enabled(session, account_id)
        agent = await session.get(Agent, row.agent_id) if row.agent_id else None
    name = agent.name if agent is not None else None
    return respond(render.call(row, state.settings.base_url, recording, transcripts, agent_name=name))


async def get_transcript(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        row = await owned(session, Call, account_id, request.path_params["call_id"])
        transcripts = await calls.transcripts(session, row.id)
    items = [render.transcript(t) for t in transcripts]
    return respond({"callId": row.id, "status": row.status, "data": items, "total": len(items)})


routes = [
    Route("/v1/calls", list_calls, methods=["GET"]),
    Route("/v1/calls/{call_id}", get_call, methods=["GET"]),
    Route("/v1/calls/{call_id}/transcript", get_transcript, methods=["GET"]),
]
