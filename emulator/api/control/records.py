"""What a phone or a person on the other side would have seen: verification codes, product feedback."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import emu, path_param, respond
from emulator.api.control import access
from emulator.api.control.access import ACCOUNT
from emulator.api.routing import get
from emulator.domain import feedback, verification
from emulator.wire import feedback as feedback_wire
from emulator.wire import verification as verification_wire


async def read_verification(request: Request) -> Response:
    """The code a phone would have received, so tests can complete the flow."""
    async with emu(request).store.read() as session:
        row = await verification.find(session, path_param(request, "verification_id"),
                                      access.accounts_in_scope(request))
    return respond(verification_wire.code(row))


async def list_feedback(request: Request) -> Response:
    async with emu(request).store.read() as session:
        rows = await feedback.everything(session, access.accounts_in_scope(request))
    return respond(feedback_wire.log(rows))


resource = access.resource("/_emulator", [
    get("/verifications/{verification_id}", read_verification, "Read a verification code a phone received",
        response=verification_wire.Verification, access=ACCOUNT),
    get("/feedback", list_feedback, "List feedback sent to /v1/feedback (an account key: its own)",
        response=feedback_wire.FeedbackLog, access=ACCOUNT),
])
