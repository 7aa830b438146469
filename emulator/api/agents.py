"""/v1/agents: CRUD, numbers attached to an agent, voices, an agent's calls and conversations."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import render
from emulator.api._http import authenticate, emu, paging, parse, respond
from emulator.domain import agents, calls, conversations
from emulator.schemas import AttachNumber, CreateAgent, UpdateAgent
from emulator.voices import VOICES


async def list_agents(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    async with emu(request).store.read() as session:
        rows, total = await agents.list_page(session, account_id, limit, offset)
        numbers = await agents.numbers_of(session, [row.id for row in rows])
    return respond(render.page([render.agent(row, numbers[row.id]) for row in rows], total, offset))


async def create_agent(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, CreateAgent)
    state = emu(request)
    async with state.store.write() as session:
        row = await agents.create(session, account_id, req, state.clock.now())
    return respond(render.agent(row, []))


async def get_agent(request: Request) -> Response:
    """The hottest read of all: answered from the store's read cache while nothing was written."""
    account_id = await authenticate(request)
    store = emu(request).store
    key = ("agent", account_id, request.path_params["agent_id"])
    body = store.cached(key)
    if body is None:
        version = store.version
        async with store.read() as session:
            row = await agents.get(session, account_id, key[2])
            numbers = await agents.numbers_of(session, [row.id])
        body = respond(render.agent(row, numbers[row.id])).body
        store.remember(key, version, body)
    return Response(body, media_type="application/json")


async def update_agent(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, UpdateAgent, optional=True)
    state = emu(request)
    async with state.store.write() as session:
        row = await agents.update_agent(session, account_id, request.path_params["agent_id"], req,
                                        state.clock.now())
        numbers = await agents.numbers_of(session, [row.id])
    return respond(render.agent(row, numbers[row.id]))


async def delete_agent(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.write() as session:
        row, unassigned = await agents.delete(session, account_id, request.path_params["agent_id"])
    return respond({
        "success": True,
        "id": row.id,
        "name": row.name,
        "message": "Agent deleted",
        "unassignedNumbers": unassigned,
    })


async def attach_number(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, AttachNumber)
    state = emu(request)
    agent_id = request.path_params["agent_id"]
    async with state.store.write() as session:
        number = await agents.attach(session, account_id, agent_id, req.number_id, state.clock.now())
    return respond({"success": True, "agentId": agent_id, "number": render.agent_number(number)})


async def detach_number(request: Request) -> Response:
    account_id = await authenticate(request)
    agent_id = request.path_params["agent_id"]
    async with emu(request).store.write() as session:
        number = await agents.detach(session, account_id, agent_id, request.path_params["number_id"])
    return respond({
        "success": True,
        "message": "Number detached",
        "agentId": agent_id,
        "numberId": number.id,
        "number": render.number(number),
    })


async def list_voices(request: Request) -> Response:
    await authenticate(request)
    return respond({"data": VOICES, "total": len(VOICES), "hasMore": False})


async def agent_conversations(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    async with emu(request).store.read() as session:
        agent = await agents.get(session, account_id, request.path_params["agent_id"])
        rows, total = await conversations.list_page(session, account_id, limit, offset, agent_id=agent.id)
    return respond(render.page([render.conversation(row) for row in rows], total, offset))


async def agent_calls(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    state = emu(request)
    async with state.store.read() as session:
        agent = await agents.get(session, account_id, request.path_params["agent_id"])
        rows, total = await calls.list_page(session, account_id, limit, offset, agent_id=agent.id)
        recording = await calls.recording_enabled(session, account_id)
    base = state.settings.base_url
    return respond(render.page([render.call(row, base, recording) for row in rows], total, offset))


routes = [
    Route("/v1/agents/voices", list_voices, methods=["GET"]),
    Route("/v1/agents", list_agents, methods=["GET"]),
    Route("/v1/agents", create_agent, methods=["POST"]),
    Route("/v1/agents/{agent_id}", get_agent, methods=["GET"]),
    Route("/v1/agents/{agent_id}", update_agent, methods=["PATCH"]),
    Route("/v1/agents/{agent_id}", delete_agent, methods=["DELETE"]),
    Route("/v1/agents/{agent_id}/numbers", attach_number, methods=["POST"]),
    Route("/v1/agents/{agent_id}/numbers/{number_id}", detach_number, methods=["DELETE"]),
    Route("/v1/agents/{agent_id}/conversations", agent_conversations, methods=["GET"]),
    Route("/v1/agents/{agent_id}/calls", agent_calls, methods=["GET"]),
]
