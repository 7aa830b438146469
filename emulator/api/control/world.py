"""The outside world acting on the emulator: an SMS arrives, a phone dials in, a browser joins a web call, a
callee answers outbound calls with a script."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from emulator import clock, phones
from emulator.api.common import emu, parse, path_param, read_object, respond, validate
from emulator.api.control import access
from emulator.api.control.access import ACCOUNT
from emulator.api.routing import delete, get, patch, post, put
from emulator.calls.callees import MAGIC_NUMBERS, Callee, Definition, parse_definition
from emulator.calls.remote import relayed
from emulator.calls.script import parse_turn
from emulator.domain import dialing, imessage, messaging, owners, whatsapp
from emulator.errors import Conflict, Invalid, NotFound, Refused, not_found
from emulator.webhooks import notify, triggered
from emulator.wire import calls as call_wire
from emulator.wire import control as wire
from emulator.wire import whatsapp as whatsapp_wire

# How long one request to a driven caller waits for the agent before it answers "waiting" (ask again).
DRIVE_WAIT_SECONDS = 20.0


async def _now_of(request: Request, owner: Callable[[AsyncSession], Awaitable[str | None]]) -> datetime:
    """The time of the account something from outside happens to. An account key's request already runs on
    its account's clock; for the admin, while an account runs ahead of the emulator, the time (and the work
    the request starts) follows the account `owner` finds (asked only then): the one with the number, call or
    message."""
    state = emu(request)
    if access.caller(request).account_id is None and state.clock.ahead():
        async with state.store.read() as session:
            account_id = await owner(session)
        clock.bind(account_id)
    return state.clock.now()


async def inbound_sms(request: Request) -> Response:
    req = await parse(request, wire.InboundSms)
    state = emu(request)
    now = await _now_of(request, lambda session: owners.of_number(session, req.to))
    async with state.store.write() as session:
        group = req.group.model_dump(exclude_none=True) if isinstance(req.group, wire.GroupInbound) else req.group
        threaded = await messaging.receive(session, req.sender, req.to, req.body, req.media_urls or [],
                                           now, access.accounts_in_scope(request), group)
        deliveries = await notify.message(state.deliverer, session, threaded)
    state.deliverer.launch(deliveries)
    state.activity.sms(threaded.message, deliveries)
    return respond(wire.sms_received(threaded.message, threaded.conversation, deliveries))


async def inbound_reaction(request: Request) -> Response:
    """The participant of an iMessage conversation reacts to one of its messages (a tapback)."""
    req = await parse(request, wire.InboundReaction)
    state = emu(request)
    now = await _now_of(request, lambda session: owners.of_message(session, req.message_id))
    async with state.store.write() as session:
        row, threaded = await imessage.receive_reaction(session, req.message_id, req.reaction, now,
                                                        access.accounts_in_scope(request))
        deliveries = await notify.reaction(state.deliverer, session, threaded, row)
    state.deliverer.launch(deliveries)
    return respond(wire.reaction_received(row, threaded.message, deliveries))


async def whatsapp_signup(request: Request) -> Response:
    """Meta's side of a WhatsApp connection: its signup finished (`connected`), with these business numbers."""
    req = await parse(request, whatsapp_wire.ConnectionChange)
    offers = None if req.numbers is None else [
        whatsapp.offered(n.phone_number, n.display_name, n.phone_number_id) for n in req.numbers]
    state = emu(request)
    connection_id = path_param(request, "connection_id")
    now = await _now_of(request, lambda session: owners.of_record(session, connection_id))
    async with state.store.write() as session:
        row = await whatsapp.set_status(session, connection_id, req.status, now, offers,
                                        access.accounts_in_scope(request))
    return respond(whatsapp_wire.connection(row))


def _definition(req: wire.InboundCall | wire.JoinWebCall) -> Definition:
    return parse_definition({"turns": req.turns, "persona": req.persona, "seed": req.seed, "drive": req.drive})


def _stated(definition: Definition, analysis: wire.CallAnalysis | None) -> Definition:
    """The caller, with the analysis its call's end reports instead of the derived one (when stated)."""
    return replace(definition, analysis=analysis.stated()) if analysis is not None else definition


async def inbound_call(request: Request) -> Response:
    """Dial one of the emulator's numbers from outside; the agent attached to it answers."""
    req = await parse(request, wire.InboundCall)
    definition = _definition(req)
    state = emu(request)
    now = await _now_of(request, lambda session: owners.of_number(session, req.to))
    async with state.store.write() as session:
        placed = await dialing.inbound(session, req.sender, req.to, now,
                                       access.accounts_in_scope(request))
    call = placed.call
    state.engine.start(placed.setup(Callee.of(_stated(definition, req.analysis), "inbound")), call.started_at)
    return respond(wire.inbound_placed(call, state.settings.base_url, placed.agent.name))


async def join_web_call(request: Request) -> Response:
    """A browser joins a web call with its access token; the caller script plays as in a dial-in."""
    req = await parse(request, wire.JoinWebCall)
    definition = _definition(req)
    state = emu(request)
    call_id = path_param(request, "call_id")
    now = await _now_of(request, lambda session: owners.of_call(session, call_id))
    async with state.store.write() as session:
        placed = await dialing.join_web(session, call_id, req.access_token, now, access.accounts_in_scope(request))
    call = placed.call
    state.engine.start(placed.setup(Callee.of(_stated(definition, req.analysis), "web")), call.started_at)
    return respond(call_wire.call(call, state.settings.base_url, False, agent_name=placed.agent.name))


@relayed
async def drive_caller(request: Request) -> Response:
    """A driven caller's next turn: answer the question the call is waiting on (`turn`), then hear the agent."""
    call_id = path_param(request, "call_id")
    req = await parse(request, wire.CallerTurn, optional=True)
    state = emu(request)
    found = state.engine.driven(call_id)
    missing = not_found("Call", call_id)
    if found is None:
        async with state.store.read() as session:
            row = await owners.call(session, call_id)
        if row is None:
            raise missing
        access.check_account(request, row.account_id, missing)
        if row.status in ("registered", "in-progress"):
            raise Refused(f"Call '{call_id}' has no driven caller: its caller was given turns or a persona. "
                          "Place it with a callee (or dial in) defined with {\"drive\": true}.")
        if req.turn is not None:
            raise Conflict(f"Call '{call_id}' already ended ({row.end_reason}); the turn was not played.")
        return respond(wire.caller_question(call_id, "ended", 0, status=row.status, end_reason=row.end_reason))
    run, caller = found
    access.check_account(request, run.setup.account_id, missing)
    before = caller.asked
    if req.turn is not None:
        turn = parse_turn(req.turn, "turn")
        if turn.kind not in ("say", "silence", "press", "hangup"):
            raise Invalid("Field 'turn' must be one of say, silence, press or hangup for a driven caller.")
        if caller.question is None or not caller.answer(replace(turn, path=f"caller[{before - 1}]")):
            raise Conflict(f"Call '{call_id}' is not waiting for a caller turn now: send no turn to hear the "
                           "agent first, then answer what it said.")
    elif caller.question is not None:
        return respond(wire.caller_question(call_id, "asking", before, caller.question.to_json()))
    deadline = asyncio.get_running_loop().time() + DRIVE_WAIT_SECONDS
    while True:
        question = caller.question
        if question is not None and caller.asked > before:
            return respond(wire.caller_question(call_id, "asking", caller.asked, question.to_json()))
        if run.done.is_set():
            return respond(wire.caller_question(call_id, "ended", caller.asked, status=run.status,
                                                end_reason=run.end_reason))
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return respond(wire.caller_question(call_id, "waiting", caller.asked))
        waits = [asyncio.ensure_future(caller.changed(left)), asyncio.ensure_future(run.done.wait())]
        _done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()


def _e164(request: Request) -> str:
    return phones.require_e164(path_param(request, "e164"), "e164")


async def _scope(request: Request) -> str | None:
    """The account a callee script is for: an account caller's own, always; for the admin, the account of
    `?key=sk_...`, or None (a script every account's calls reach)."""
    key = access.own_key(request, request.query_params.get("key") or None, "script callees for another account")
    if key is None:
        return None
    return await emu(request).account_id_of(key)


def _no_script(e164: str) -> NotFound:
    return NotFound(f"No callee script is registered for {e164}.")


async def put_callee(request: Request) -> Response:
    e164 = _e164(request)
    data = await read_object(request, optional=True)
    if not any(name in data for name in ("turns", "persona", "drive")):
        raise Invalid("Send a JSON object with 'turns' (the caller script for this destination), a 'persona' "
                      "(a caller that pursues a goal), or 'drive': true (turns sent through the control API).")
    analysis = validate(wire.CallAnalysis, data["analysis"]) if data.get("analysis") is not None else None
    definition = _stated(parse_definition(data), analysis)
    scope = await _scope(request)
    state = emu(request)
    await state.shared.change("callees", lambda: state.callees.define(e164, definition, scope))
    return respond(wire.callee(e164, definition, scope))


async def get_callee(request: Request) -> Response:
    e164 = _e164(request)
    scope = await _scope(request)
    definition = emu(request).callees.get(e164, scope)
    if definition is None:
        raise _no_script(e164)
    return respond(wire.callee(e164, definition, scope))


async def delete_callee(request: Request) -> Response:
    e164 = _e164(request)
    state, scope = emu(request), await _scope(request)
    if not await state.shared.change("callees", lambda: state.callees.remove(e164, scope)):
        raise _no_script(e164)
    return respond(wire.callee_removed(e164))


async def list_callees(request: Request) -> Response:
    """Every script (the admin), or the caller's own."""
    who = access.caller(request)
    scripts = {k: v for k, v in emu(request).callees.all().items() if who.admin or who.may_act_on(k[0])}
    return respond(wire.callees(scripts, MAGIC_NUMBERS))


async def trigger_event(request: Request) -> Response:
    """Emit any documented event for an account, signed and logged like a real one."""
    req = await parse(request, wire.TriggerEvent)
    key = access.own_key(request, req.key, "trigger events for another account")
    if key is None:
        raise Invalid("Field 'key' is required: the account whose webhook receives the event.")
    state = emu(request)
    account_id = (await state.account_of(key)).id
    clock.bind(account_id)
    now = state.clock.now()
    async with state.store.write() as session:
        built = await triggered.build(session, account_id, req.event, req.channel, req.agent_id, req.sender,
                                      req.text, now)
        row = await state.deliverer.prepare(
            session, account_id, built.agent_id, req.event, built.channel, triggered.merged(built.data, req.data or {}),
            history=req.recent_history if req.recent_history is not None else built.history,
            state=req.conversation_state, message_id=built.message_id)
    state.deliverer.launch([row])
    return respond(wire.triggered(row))


resource = access.resource("/_emulator", [
    post("/events", trigger_event, "Emit any documented event for an account (built like a real one, with "
         "overrides)", request=wire.TriggerEvent, response=wire.EventTriggered, access=ACCOUNT),
    post("/sms", inbound_sms, "An SMS arrives at one of the emulator's numbers", request=wire.InboundSms,
         response=wire.InboundSmsReceived, access=ACCOUNT),
    post("/reactions", inbound_reaction, "The participant of an iMessage conversation reacts to a message",
         request=wire.InboundReaction, response=wire.ReactionReceived, access=ACCOUNT),
    patch("/whatsapp/{connection_id}", whatsapp_signup, "Mark a WhatsApp connection connected (Meta's signup "
          "finished), naming its business numbers", request=whatsapp_wire.ConnectionChange,
          response=whatsapp_wire.Connection, access=ACCOUNT),
    post("/calls/inbound", inbound_call, "A phone dials one of the emulator's numbers", request=wire.InboundCall,
         response=wire.InboundCallPlaced, access=ACCOUNT),
    post("/calls/web/{call_id}/join", join_web_call, "A browser joins a web call", request=wire.JoinWebCall,
         response=call_wire.Call, access=ACCOUNT),
    post("/calls/{call_id}/caller", drive_caller, "A driven caller hears the agent and answers, turn by turn",
         request=wire.CallerTurn, response=wire.CallerQuestion, access=ACCOUNT),
    get("/callees", list_callees, "List callee scripts and magic numbers", response=wire.Callees, access=ACCOUNT),
    put("/callees/{e164}", put_callee, "Script who answers calls to a number ({\"turns\": [...], \"persona\": {...}})",
        request=wire.CalleeDefinition, response=wire.CalleeScript, access=ACCOUNT),
    get("/callees/{e164}", get_callee, "Get a callee script", response=wire.CalleeScript, access=ACCOUNT),
    delete("/callees/{e164}", delete_callee, "Remove a callee script", response=wire.CalleeRemoved,
           access=ACCOUNT),
])
