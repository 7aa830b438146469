"""/v1/messages: send an outbound SMS from one of the account's numbers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import render
from emulator.api._http import authenticate, emu, parse, respond
from emulator.domain import messaging
from emulator.schemas import SendMessage
from emulator.webhooks import notify


async def send_message(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, SendMessage)
    state = emu(request)
    async with state.store.write() as session:
        threaded = await messaging.send(
            session, account_id, agent_id=req.agent_id, number_id=req.number_id, from_number=req.from_number,
            to_number=req.to_number, body=req.body, media=req.media(), now=state.clock.now(),
        )
        deliveries = await notify.sms(state.deliverer, session, threaded)
    state.deliverer.launch(deliveries)
    message = threaded.message
    return respond({
        "id": message.id,
        "status": message.status,
        "channel": message.channel,
        "from_number": message.from_number,
        "to_number": message.to_number,
        "body": message.body,
        "conversation_id": message.conversation_id,
        "media_urls": message.media_urls or [],
        "reply_to_message_id": None,
        "reply_parent_unresolved": None,
        "message": render.message(message),
    })


routes = [
    Route("/v1/messages", send_message, methods=["POST"]),
]
