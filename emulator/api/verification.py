"""/v1/verify: send a verification code by SMS (simulated) and check it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import authenticate, emu, parse, respond
from emulator.api.routing import Resource, post
from emulator.domain import verification
from emulator.wire import verification as wire


async def verify_send(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.VerifySend)
    state = emu(request)
    async with state.store.write() as session:
        row = await verification.send(session, account_id, req.phone_number, state.clock.now())
    return respond(wire.sent(row))


async def verify_check(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.VerifyCheck)
    state = emu(request)
    async with state.store.write() as session:
        row = await verification.check(session, account_id, req.verification_id, req.code, state.clock.now())
    return respond(wire.checked(row))


resource = Resource("/v1/verify", [
    post("/send", verify_send, "Send a verification code by SMS", request=wire.VerifySend,
         response=wire.VerificationSent),
    post("/check", verify_check, "Check a verification code", request=wire.VerifyCheck,
         response=wire.VerificationChecked),
], tag="verify")
