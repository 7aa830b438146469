"""/v1/messages: send a message from one of the account's numbers; react to one (iMessage tapbacks)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import authenticate, emu, parse, path_param, respond
from emulator.api.routing import Resource, post
from emulator.domain import imessage, messaging
from emulator.webhooks import notify
from emulator.wire import messages as wire


async def send_message(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.SendMessage)
    state = emu(request)
    async with state.store.write() as session:
        threaded = await messaging.send(
            session, account_id, agent_id=req.agent_id, number_id=req.number_id, from_number=req.from_number,
            to_number=req.to_number, body=req.body, media=req.media(), now=state.clock.now(),
            recipients=list(req.recipients) if req.recipients is not None else None,
        )
        deliveries = await notify.message(state.deliverer, session, threaded)
    state.deliverer.launch(deliveries)
    state.activity.sms(threaded.message, deliveries)
    return respond(wire.sent(threaded.message))


async def react(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.SendReaction)
    state = emu(request)
    async with state.store.write() as session:
        row = await imessage.react(session, account_id, path_param(request, "message_id"), req.reaction,
                                   state.clock.now())
    return respond(wire.reacted(row))


resource = Resource("/v1/messages", [
    post("", send_message, "Send a message", request=wire.SendMessage, response=wire.SentMessage),
    post("/{message_id}/reactions", react, "React to a message (iMessage tapback)", request=wire.SendReaction,
         response=wire.Reaction),
], tag="messages")
