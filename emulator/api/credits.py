"""/credits: the account's paid add-ons (the vendor serves these outside /v1). The recording add-on is the one the
SDKs name: `POST /credits/recording/enable` switches it on, as `PATCH /_emulator/accounts/{key}` can."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import authenticate, emu, respond
from emulator.api.routing import Resource, post
from emulator.domain import accounts
from emulator.wire import accounts as wire


async def enable_recording(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.write() as session:
        row = await accounts.get(session, account_id)
        accounts.configure(row, recording=True)
    return respond(wire.recording_enabled(row))


resource = Resource("/credits", [
    post("/recording/enable", enable_recording, "Switch on the call recording add-on", response=wire.RecordingAddOn,
         body_required=False),
], tag="billing")
