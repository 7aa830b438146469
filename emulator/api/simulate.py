"""/_emulator/* routes that make the outside world act: an SMS arrives from a phone."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import render
from emulator.api._http import emu, parse, respond
from emulator.api.control import require_admin
from emulator.domain import messaging
from emulator.schemas import InboundSms
from emulator.webhooks import notify


async def inbound_sms(request: Request) -> Response:
    require_admin(request)
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


routes = [
    Route("/_emulator/sms", inbound_sms, methods=["POST"]),
]
