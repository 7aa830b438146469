"""/v1/webhooks and /v1/agents/{id}/webhook: settings, the delivery log and its statistics, test sends."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import render
from emulator.api._http import authenticate, emu, paging, parse, query_int, query_optional_int, respond
from emulator.domain import agents, webhooks
from emulator.errors import ApiError
from emulator.schemas import SetWebhook, WebhookTest
from emulator.webhooks import log, test_events


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


async def list_deliveries(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request, default=50, maximum=100)
    hours = query_optional_int(request, "hours", 1, 24 * 365)
    state = emu(request)
    since = state.clock.now() - timedelta(hours=hours) if hours else None
    async with state.store.read() as session:
        rows, total = await log.list_page(session, account_id, limit, offset, since=since)
    items = [render.delivery(row) for row in rows]
    return respond({**render.page(items, total, offset), "items": items, "offset": offset, "limit": limit})


async def delivery_stats(request: Request) -> Response:
    account_id = await authenticate(request)
    hours = query_int(request, "hours", 24, 1, 24 * 365)
    state = emu(request)
    async with state.store.read() as session:
        return respond(await log.stats(session, account_id, hours, state.clock.now()))


async def all_time_stats(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        return respond(await log.all_time(session, account_id))


async def agent_deliveries(request: Request) -> Response:
    account_id, agent_id = await _scope(request)
    limit = query_int(request, "limit", 50, 1, 100)
    async with emu(request).store.read() as session:
        rows, _ = await log.list_page(session, account_id, limit, 0, agent_id=agent_id)
    return respond([render.delivery(row) for row in rows])


async def test_webhook(request: Request) -> Response:
    """Deliver a synthetic `agent.message` marked `"test": true` now, and say what happened."""
    account_id, agent_id = await _scope(request)
    overrides = await parse(request, WebhookTest, optional=True)
    state = emu(request)
    payload_agent = agent_id or request.query_params.get("agentId") or None
    async with state.store.write() as session:
        hook = await webhooks.find(session, account_id, agent_id)
        if hook is None:
            where = "this project (POST /v1/webhooks)" if agent_id is None else f"agent '{agent_id}'"
            raise ApiError(400, f"No webhook is configured for {where}; set one before sending a test event.")
        sample = await test_events.sample(session, account_id, payload_agent, overrides, state.clock.now())
        row = await state.deliverer.prepare(
            session, account_id, sample.agent_id, "agent.message", sample.channel, sample.data,
            history=sample.history, test=True, hook=hook,
        )
    outcome = await state.deliverer.attempt(row.id)
    delivered = outcome is not None and outcome.ok
    return respond({
        "success": delivered,
        "delivered": delivered,
        "deliveryId": row.id,
        "webhookId": hook.id,
        "url": hook.url,
        "event": "agent.message",
        "channel": sample.channel,
        "agentId": sample.agent_id,
        "httpStatus": outcome.http_status if outcome else None,
        "latencyMs": outcome.latency_ms if outcome else None,
        "responseSnippet": outcome.snippet if outcome else None,
        "error": outcome.error if outcome else "The delivery could not be attempted.",
    })


routes = [
    Route("/v1/webhooks", get_webhook, methods=["GET"]),
    Route("/v1/webhooks", set_webhook, methods=["POST"]),
    Route("/v1/webhooks", delete_webhook, methods=["DELETE"]),
    Route("/v1/agents/{agent_id}/webhook", get_webhook, methods=["GET"]),
    Route("/v1/agents/{agent_id}/webhook", set_webhook, methods=["POST"]),
    Route("/v1/agents/{agent_id}/webhook", delete_webhook, methods=["DELETE"]),
    Route("/v1/webhooks/deliveries", list_deliveries, methods=["GET"]),
    Route("/v1/webhooks/deliveries/stats", delivery_stats, methods=["GET"]),
    Route("/v1/webhooks/deliveries/all-time", all_time_stats, methods=["GET"]),
    Route("/v1/webhooks/test", test_webhook, methods=["POST"]),
    Route("/v1/agents/{agent_id}/webhook/deliveries", agent_deliveries, methods=["GET"]),
    Route("/v1/agents/{agent_id}/webhook/test", test_webhook, methods=["POST"]),
]
