"""/_emulator/* routes that make the outside world act: an SMS arrives, a phone dials in, a callee
answers with a script."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import phones, render
from emulator.api._http import emu, parse, read_json, respond
from emulator.calls.callees import MAGIC_NUMBERS, Callee
from emulator.calls.script import Turn, parse_turns
from emulator.domain import accounts, dialing, messaging
from emulator.errors import ApiError, invalid
from emulator.schemas import InboundCall, InboundSms, JoinWebCall
from emulator.webhooks import notify


async def inbound_sms(request: Request) -> Response:
    req = await parse(request, InboundSms)
    state = emu(request)
    async with state.store.write() as session:
        threaded = await messaging.receive(session, req.sender, req.to, req.body, req.media_urls or [],
                                           state.clock.now())
        deliveries = await notify.sms(state.deliverer, session, threaded)
    state.deliverer.launch(deliveries)
    return respond({
        "message": render.message(threaded.message),
        "conversation": render.conversation(threaded.conversation),
        "accountId": threaded.message.account_id,
        "deliveries": [{"id": row.id, "eventType": row.event_type, "status": row.status} for row in deliveries],
    })


async def inbound_call(request: Request) -> Response:
    """Dial one of the emulator's numbers from outside; the agent attached to it answers."""
    req = await parse(request, InboundCall)
    turns = parse_turns(req.turns if req.turns is not None else [])
    state = emu(request)
    async with state.store.write() as session:
        placed = await dialing.inbound(session, req.sender, req.to, state.clock.now())
    call = placed.call
    callee = Callee(turns, "inbound")
    state.engine.start(placed.setup(callee), call.started_at)
    return respond({**render.call(call, state.settings.base_url, False, agent_name=placed.agent.name),
                    "accountId": call.account_id})


async def join_web_call(request: Request) -> Response:
    """A browser joins a web call with its access token; the caller script plays as in a dial-in."""
    req = await parse(request, JoinWebCall)
    turns = parse_turns(req.turns if req.turns is not None else [])
    state = emu(request)
    async with state.store.write() as session:
        placed = await dialing.join_web(session, request.path_params["call_id"], req.access_token, state.clock.now())
    call = placed.call
    state.engine.start(placed.setup(Callee(turns, "web")), call.started_at)
    return respond(render.call(call, state.settings.base_url, False, agent_name=placed.agent.name))


def _e164(request: Request) -> str:
    return phones.require_e164(request.path_params["e164"], "e164")


async def _scope(request: Request) -> str | None:
    """`?key=sk_...` scopes a callee script to that key's account; without it, the script is for everyone."""
    key = request.query_params.get("key")
    if not key:
        return None
    return (await emu(request).account_of(accounts.check_key(key))).id


def _callee(e164: str, turns: list[Turn], scope: str | None = None) -> dict[str, Any]:
    return {"number": e164, "accountId": scope, "turns": [turn.to_json() for turn in turns]}


async def put_callee(request: Request) -> Response:
    e164 = _e164(request)
    data = await read_json(request)
    if not isinstance(data, dict) or "turns" not in data:
        raise invalid("Send a JSON object with 'turns': the caller script for this destination.")
    scope = await _scope(request)
    turns = emu(request).callees.put(e164, data["turns"], scope)
    return respond(_callee(e164, turns, scope))


async def get_callee(request: Request) -> Response:
    e164 = _e164(request)
    scope = await _scope(request)
    turns = emu(request).callees.get(e164, scope)
    if turns is None:
        raise ApiError(404, f"No callee script is registered for {e164}.")
    return respond(_callee(e164, turns, scope))


async def delete_callee(request: Request) -> Response:
    e164 = _e164(request)
    if not emu(request).callees.remove(e164, await _scope(request)):
        raise ApiError(404, f"No callee script is registered for {e164}.")
    return respond({"success": True, "number": e164})


async def list_callees(request: Request) -> Response:
    scripts = emu(request).callees.all()
    magic = [{"number": n, "status": m.status, "description": m.description} for n, m in MAGIC_NUMBERS.items()]
    return respond({"data": [_callee(n, t, scope) for (scope, n), t in scripts.items()], "magicNumbers": magic})


routes = [
    Route("/_emulator/sms", inbound_sms, methods=["POST"]),
    Route("/_emulator/calls/inbound", inbound_call, methods=["POST"]),
    Route("/_emulator/calls/web/{call_id}/join", join_web_call, methods=["POST"]),
    Route("/_emulator/callees", list_callees, methods=["GET"]),
    Route("/_emulator/callees/{e164}", put_callee, methods=["PUT"]),
    Route("/_emulator/callees/{e164}", get_callee, methods=["GET"]),
    Route("/_emulator/callees/{e164}", delete_callee, methods=["DELETE"]),
]
