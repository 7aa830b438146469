"""/v1/feedback: product feedback (stored; the control API lists it)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import authenticate, emu, parse, respond
from emulator.api.routing import Resource, post
from emulator.domain import feedback
from emulator.wire import feedback as wire


async def send_feedback(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.Feedback)
    state = emu(request)
    async with state.store.write() as session:
        row = await feedback.submit(session, account_id, req, state.clock.now())
    return respond(wire.received(row))


resource = Resource("/v1/feedback", [
    post("", send_feedback, "Send product feedback", request=wire.Feedback, response=wire.FeedbackReceived),
], tag="feedback")
