"""/v1/agents: CRUD, numbers attached to an agent, voices, an agent's calls and conversations."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import authenticate, emu, paging, parse, path_param, respond
from emulator.api.routing import PAGED, Resource, delete, get, patch, post
from emulator.domain import agents, calls, conversations
from emulator.voices import VOICES
from emulator.wire import agents as wire
from emulator.wire import calls as call_wire
from emulator.wire import conversations as conversation_wire
from emulator.wire import numbers as number_wire
from emulator.wire.base import page


async def list_agents(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    async with emu(request).store.read() as session:
        rows, numbers, total = await agents.list_page(session, account_id, limit, offset)
    return respond(wire.agent_page(rows, numbers, total, offset))


async def create_agent(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.CreateAgent)
    state = emu(request)
    async with state.store.write() as session:
        row = await agents.create(session, account_id, req, state.clock.now())
    return respond(wire.agent(row, []))


async def get_agent(request: Request) -> Response:
    account_id = await authenticate(request)
    agent_id = path_param(request, "agent_id")
    async with emu(request).store.read() as session:
        found = await agents.written(session, account_id, agent_id)
        if found is not None:
            return respond(wire.written(found))
        row, numbers = await agents.with_numbers(session, account_id, agent_id)
    return respond(wire.agent(row, numbers))


async def update_agent(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.UpdateAgent, optional=True)
    state = emu(request)
    async with state.store.write() as session:
        row = await agents.update_agent(session, account_id, path_param(request, "agent_id"), req, state.clock.now())
        numbers = await agents.numbers_of(session, [row.id])
    return respond(wire.agent(row, numbers[row.id]))


async def delete_agent(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.write() as session:
        row, unassigned = await agents.delete(session, account_id, path_param(request, "agent_id"))
    return respond(wire.deleted(row, unassigned))


async def attach_number(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.AttachNumber)
    state = emu(request)
    agent_id = path_param(request, "agent_id")
    async with state.store.write() as session:
        number = await agents.attach(session, account_id, agent_id, req.number_id, state.clock.now())
    return respond(wire.attached(agent_id, number))


async def detach_number(request: Request) -> Response:
    account_id = await authenticate(request)
    agent_id = path_param(request, "agent_id")
    async with emu(request).store.write() as session:
        number = await agents.detach(session, account_id, agent_id, path_param(request, "number_id"))
    return respond(number_wire.detached(agent_id, number))


async def list_voices(request: Request) -> Response:
    await authenticate(request)
    return respond(page(VOICES, len(VOICES), 0))


async def agent_conversations(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    async with emu(request).store.read() as session:
        agent = await agents.get(session, account_id, path_param(request, "agent_id"))
        rows, total = await conversations.list_page(session, account_id, limit, offset, agent_id=agent.id)
    return respond(page([conversation_wire.conversation(row) for row in rows], total, offset))


async def agent_calls(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    state = emu(request)
    async with state.store.read() as session:
        agent = await agents.get(session, account_id, path_param(request, "agent_id"))
        listed = await calls.listed(session, account_id, limit, offset, agent_id=agent.id)
    return respond(call_wire.call_page(listed, offset, state.settings.base_url))


resource = Resource("/v1/agents", [
    get("", list_agents, "List agents", response=wire.AgentList, query=PAGED),
    post("", create_agent, "Create an agent", request=wire.CreateAgent, response=wire.Agent),
    get("/voices", list_voices, "List the voices an agent can use", response=wire.VoiceList),
    get("/{agent_id}", get_agent, "Get an agent", response=wire.Agent),
    patch("/{agent_id}", update_agent, "Update an agent", request=wire.UpdateAgent, response=wire.Agent,
          body_required=False),
    delete("/{agent_id}", delete_agent, "Delete an agent; its numbers are unassigned", response=wire.DeleteAgent),
    post("/{agent_id}/numbers", attach_number, "Attach a number to an agent", request=wire.AttachNumber,
         response=wire.AttachedNumber),
    delete("/{agent_id}/numbers/{number_id}", detach_number, "Detach a number from an agent",
           response=number_wire.DetachedNumber),
    get("/{agent_id}/conversations", agent_conversations, "List an agent's conversations",
        response=conversation_wire.ConversationList, query=PAGED),
    get("/{agent_id}/calls", agent_calls, "List an agent's calls", response=call_wire.CallList, query=PAGED),
], tag="agents")
