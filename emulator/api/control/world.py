"""The outside world acting on the emulator: an SMS arrives, a phone dials in, a browser joins a web call, a
callee answers outbound calls with a script."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator import phones
from emulator.api.common import emu, parse, path_param, read_object, respond
from emulator.api.control import access
from emulator.api.control.access import ACCOUNT
from emulator.api.routing import delete, get, post, put
from emulator.calls.callees import MAGIC_NUMBERS, Callee
from emulator.calls.script import parse_turns
from emulator.domain import dialing, messaging
from emulator.errors import Invalid, NotFound
from emulator.webhooks import notify
from emulator.wire import calls as call_wire
from emulator.wire import control as wire


async def inbound_sms(request: Request) -> Response:
    req = await parse(request, wire.InboundSms)
    state = emu(request)
    async with state.store.write() as session:
        threaded = await messaging.receive(session, req.sender, req.to, req.body, req.media_urls or [],
                                           state.clock.now(), access.accounts_in_scope(request))
        deliveries = await notify.sms(state.deliverer, session, threaded)
    state.deliverer.launch(deliveries)
    return respond(wire.sms_received(threaded.message, threaded.conversation, deliveries))


async def inbound_call(request: Request) -> Response:
    """Dial one of the emulator's numbers from outside; the agent attached to it answers."""
    req = await parse(request, wire.InboundCall)
    turns = parse_turns(req.turns if req.turns is not None else [])
    state = emu(request)
    async with state.store.write() as session:
        placed = await dialing.inbound(session, req.sender, req.to, state.clock.now(),
                                       access.accounts_in_scope(request))
    call = placed.call
    state.engine.start(placed.setup(Callee(turns, "inbound")), call.started_at)
    return respond(wire.inbound_placed(call, state.settings.base_url, placed.agent.name))


async def join_web_call(request: Request) -> Response:
    """A browser joins a web call with its access token; the caller script plays as in a dial-in."""
    req = await parse(request, wire.JoinWebCall)
    turns = parse_turns(req.turns if req.turns is not None else [])
    state = emu(request)
    async with state.store.write() as session:
        placed = await dialing.join_web(session, path_param(request, "call_id"), req.access_token,
                                        state.clock.now(), access.accounts_in_scope(request))
    call = placed.call
    state.engine.start(placed.setup(Callee(turns, "web")), call.started_at)
    return respond(call_wire.call(call, state.settings.base_url, False, agent_name=placed.agent.name))


def _e164(request: Request) -> str:
    return phones.require_e164(path_param(request, "e164"), "e164")


async def _scope(request: Request) -> str | None:
    """The account a callee script is for: an account caller's own, always; for the admin, the account of
    `?key=sk_...`, or None (a script every account's calls reach)."""
    key = access.own_key(request, request.query_params.get("key") or None, "script callees for another account")
    if key is None:
        return None
    return (await emu(request).account_of(key)).id


def _no_script(e164: str) -> NotFound:
    return NotFound(f"No callee script is registered for {e164}.")


async def put_callee(request: Request) -> Response:
    e164 = _e164(request)
    data = await read_object(request, optional=True)
    if "turns" not in data:
        raise Invalid("Send a JSON object with 'turns': the caller script for this destination.")
    scope = await _scope(request)
    turns = emu(request).callees.put(e164, data["turns"], scope)
    return respond(wire.callee(e164, turns, scope))


async def get_callee(request: Request) -> Response:
    e164 = _e164(request)
    scope = await _scope(request)
    turns = emu(request).callees.get(e164, scope)
    if turns is None:
        raise _no_script(e164)
    return respond(wire.callee(e164, turns, scope))


async def delete_callee(request: Request) -> Response:
    e164 = _e164(request)
    if not emu(request).callees.remove(e164, await _scope(request)):
        raise _no_script(e164)
    return respond(wire.callee_removed(e164))


async def list_callees(request: Request) -> Response:
    """Every script (the admin), or the caller's own."""
    who = access.caller(request)
    scripts = {k: v for k, v in emu(request).callees.all().items() if who.admin or who.may_act_on(k[0])}
    return respond(wire.callees(scripts, MAGIC_NUMBERS))


resource = access.resource("/_emulator", [
    post("/sms", inbound_sms, "An SMS arrives at one of the emulator's numbers", request=wire.InboundSms,
         response=wire.InboundSmsReceived, access=ACCOUNT),
    post("/calls/inbound", inbound_call, "A phone dials one of the emulator's numbers", request=wire.InboundCall,
         response=wire.InboundCallPlaced, access=ACCOUNT),
    post("/calls/web/{call_id}/join", join_web_call, "A browser joins a web call", request=wire.JoinWebCall,
         response=call_wire.Call, access=ACCOUNT),
    get("/callees", list_callees, "List callee scripts and magic numbers", response=wire.Callees, access=ACCOUNT),
    put("/callees/{e164}", put_callee, "Script who answers calls to a number ({\"turns\": [...]})",
        request=wire.CalleeTurns, response=wire.CalleeScript, access=ACCOUNT),
    get("/callees/{e164}", get_callee, "Get a callee script", response=wire.CalleeScript, access=ACCOUNT),
    delete("/callees/{e164}", delete_callee, "Remove a callee script", response=wire.CalleeRemoved,
           access=ACCOUNT),
])
