"""/v1/location: a number's approximate location, simulated from its area code."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator import phones
from emulator.api.common import authenticate, emu, path_param, respond
from emulator.api.routing import Resource, get, post
from emulator.wire import location as wire

POLL_AFTER_SECONDS = 20


async def location(request: Request) -> Response:
    """The centre of the number's area code, when it is a known one."""
    await authenticate(request)
    e164 = phones.normalize(path_param(request, "phone_number"), "phone_number")
    return respond(wire.location(e164, phones.place_of(e164), emu(request).clock.now()))


async def refresh_locations(request: Request) -> Response:
    await authenticate(request)
    return respond(wire.refresh(POLL_AFTER_SECONDS))


resource = Resource("/v1/location", [
    post("/refresh", refresh_locations, "Ask for fresh locations", response=wire.LocationRefresh),
    get("/{phone_number}", location, "A number's approximate location", response=wire.Location),
], tag="location")
