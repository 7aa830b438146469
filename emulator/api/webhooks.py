"""/v1/webhooks and /v1/agents/{id}/webhook: the project webhook and per-agent webhooks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import render
from emulator.api._http import authenticate, emu, parse, respond
from emulator.domain import agents, webhooks
from emulator.schemas import SetWebhook


async def _scope(request: Request) -> tuple[str, str | None]:
    """(account id, agent id or None for the project webhook); an unknown agent is a 404."""
    account_id = await authenticate(request)
    agent_id = request.path_params.get("agent_id")
    if agent_id is not None:
        async with emu(request).store.read() as session:
            await agents.get(session, account_id, agent_id)
    return account_id, agent_id


async def get_webhook(request: Request) -> Response:
    account_id, agent_id = await _scope(request)
    async with emu(request).store.read() as session:
        hook = await webhooks.find(session, account_id, agent_id)
    return respond(render.webhook(hook) if hook is not None else None)


async def set_webhook(request: Request) -> Response:
    account_id, agent_id = await _scope(request)
    req = await parse(request, SetWebhook)
    state = emu(request)
    async with state.store.write() as session:
        if agent_id is not None:
            await agents.get(session, account_id, agent_id)
        hook = await webhooks.put(session, account_id, agent_id, req, state.clock.now())
    return respond(render.webhook(hook))


async def delete_webhook(request: Request) -> Response:
    account_id, agent_id = await _scope(request)
    async with emu(request).store.write() as session:
        hook = await webhooks.remove(session, account_id, agent_id)
    return respond({"success": True, "id": hook.id, "message": "Webhook deleted"})


routes = [
    Route("/v1/webhooks", get_webhook, methods=["GET"]),
    Route("/v1/webhooks", set_webhook, methods=["POST"]),
    Route("/v1/webhooks", delete_webhook, methods=["DELETE"]),
    Route("/v1/agents/{agent_id}/webhook", get_webhook, methods=["GET"]),
    Route("/v1/agents/{agent_id}/webhook", set_webhook, methods=["POST"]),
    Route("/v1/agents/{agent_id}/webhook", delete_webhook, methods=["DELETE"]),
]
