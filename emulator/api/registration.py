"""/v1/register: A2P 10DLC registration (simulated; approved after a week on the emulator clock)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import authenticate, emu, parse, read_object, respond
from emulator.api.routing import Resource, get, patch, post
from emulator.domain import registration
from emulator.wire import registration as wire


async def register(request: Request) -> Response:
    account_id = await authenticate(request, scoped=False)
    req = await parse(request, wire.Registration)
    state = emu(request)
    async with state.store.write() as session:
        result = await registration.submit(session, account_id, req, state.settings.default_balance_cents,
                                           state.clock.now())
    return respond(wire.submitted(result))


async def registration_status(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    async with state.store.read() as session:
        review = await registration.current(session, account_id, state.clock.now())
    return respond(wire.status(review))


async def registration_detail(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    async with state.store.read() as session:
        review = await registration.current(session, account_id, state.clock.now(), required=True)
    return respond(wire.detail(review))


async def update_registration(request: Request) -> Response:
    account_id = await authenticate(request)
    changes = await read_object(request)
    state = emu(request)
    async with state.store.write() as session:
        review = await registration.amend(session, account_id, changes, state.clock.now())
    return respond(wire.detail(review, submitted=False))


resource = Resource("/v1/register", [
    post("", register, "Submit an A2P 10DLC registration ($25)", request=wire.Registration,
         response=wire.RegistrationSubmitted, scoped=False),
    get("", registration_detail, "Get the latest registration", response=wire.RegistrationDetail),
    patch("", update_registration, "Update a pending registration (send the fields that change)",
          request=wire.RegistrationChanges, response=wire.RegistrationDetail),
    get("/status", registration_status, "Registration status", response=wire.CampaignStatus),
], tag="register")
