"""/v1/webhooks and /v1/agents/{id}/webhook: settings, the delivery log and its statistics, test sends."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import authenticate, emu, paging, parse, respond
from emulator.api.routing import OFFSET, Query, Resource, delete, get, limit, post
from emulator.domain import agents, webhooks
from emulator.webhooks import log, test_events
from emulator.wire import webhooks as wire
from emulator.wire.base import Deleted, deleted

DELIVERIES = limit(50, 100)
HOURS = Query("hours", "integer", 24, 1, 24 * 365)
WINDOW = Query("hours", "integer", None, 1, 24 * 365)  # the delivery list: every hour when absent
AGENT = Query("agentId")


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
    return respond(wire.webhook(hook) if hook is not None else None)


async def set_webhook(request: Request) -> Response:
    account_id, agent_id = await _scope(request)
    req = await parse(request, wire.SetWebhook)
    state = emu(request)
    async with state.store.write() as session:
        if agent_id is not None:
            await agents.get(session, account_id, agent_id)
        hook = await webhooks.put(session, account_id, agent_id, req.url, state.clock.now(),
                                  context_limit=req.context_limit, timeout=req.timeout, event_types=req.event_types)
    return respond(wire.webhook(hook))


async def delete_webhook(request: Request) -> Response:
    account_id, agent_id = await _scope(request)
    async with emu(request).store.write() as session:
        hook = await webhooks.remove(session, account_id, agent_id)
    return respond(deleted(hook.id, "Webhook deleted"))


async def list_deliveries(request: Request) -> Response:
    account_id = await authenticate(request)
    count, offset = paging(request, DELIVERIES)
    hours = WINDOW.read(request)
    state = emu(request)
    since = state.clock.now() - timedelta(hours=hours) if hours else None
    async with state.store.read() as session:
        rows, total = await log.list_page(session, account_id, count, offset, since=since)
    return respond(wire.delivery_page(rows, total, offset, count))


async def delivery_stats(request: Request) -> Response:
    account_id = await authenticate(request)
    hours = int(HOURS.read(request))
    state = emu(request)
    async with state.store.read() as session:
        result = await log.stats(session, account_id, hours, state.clock.now())
    return respond(wire.stats(result))


async def all_time_stats(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        counts = await log.all_time(session, account_id)
    return respond(wire.all_time(counts))


async def agent_deliveries(request: Request) -> Response:
    account_id, agent_id = await _scope(request)
    count = int(DELIVERIES.read(request))
    hours = WINDOW.read(request)
    state = emu(request)
    since = state.clock.now() - timedelta(hours=hours) if hours else None
    async with state.store.read() as session:
        rows = await log.recent(session, account_id, count, agent_id, since)
    return respond([wire.delivery(row) for row in rows])


async def test_webhook(request: Request) -> Response:
    """Deliver a synthetic `agent.message` marked `"test": true` now, and say what happened."""
    account_id, agent_id = await _scope(request)
    overrides = await parse(request, wire.WebhookTest, optional=True)
    state = emu(request)
    payload_agent = agent_id or AGENT.read(request)
    async with state.store.write() as session:
        hook = await webhooks.required(session, account_id, agent_id)
        sample = await test_events.sample(session, account_id, payload_agent, overrides, state.clock.now())
        row = await state.deliverer.prepare(
            session, account_id, sample.agent_id, "agent.message", sample.channel, sample.data,
            history=sample.history, test=True, hook=hook,
        )
    outcome = await state.deliverer.attempt(row.id)
    return respond(wire.test_result(row, hook, sample.channel, sample.agent_id, outcome))


project = Resource("/v1/webhooks", [
    get("", get_webhook, "Get the project webhook (null when none is set)", response=wire.Webhook, nullable=True),
    post("", set_webhook, "Set the project webhook (a new secret each time)", request=wire.SetWebhook,
         response=wire.Webhook),
    delete("", delete_webhook, "Delete the project webhook", response=Deleted),
    get("/deliveries", list_deliveries, "List webhook deliveries", response=wire.DeliveryPage,
        query=(DELIVERIES, OFFSET, WINDOW)),
    get("/deliveries/stats", delivery_stats, "Webhook delivery statistics for recent hours",
        response=wire.DeliveryStats, query=(HOURS,)),
    get("/deliveries/all-time", all_time_stats, "All-time webhook delivery statistics", response=wire.AllTimeStats),
    post("/test", test_webhook, "Send a test event to the project webhook", request=wire.WebhookTest,
         response=wire.WebhookTestResult, body_required=False, query=(AGENT,)),
], tag="webhooks")

per_agent = Resource("/v1/agents", [
    get("/{agent_id}/webhook", get_webhook, "Get an agent's webhook (null when none is set)",
        response=wire.Webhook, nullable=True),
    post("/{agent_id}/webhook", set_webhook, "Set an agent's webhook", request=wire.SetWebhook,
         response=wire.Webhook),
    delete("/{agent_id}/webhook", delete_webhook, "Delete an agent's webhook", response=Deleted),
    get("/{agent_id}/webhook/deliveries", agent_deliveries, "List an agent's webhook deliveries",
        response=wire.Deliveries, query=(DELIVERIES, WINDOW)),
    post("/{agent_id}/webhook/test", test_webhook, "Send a test event to an agent's webhook",
         request=wire.WebhookTest, response=wire.WebhookTestResult, body_required=False),
], tag="webhooks")
