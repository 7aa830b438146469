"""/v1/sip-trunks: simulated SIP trunks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import authenticate, emu, parse, path_param, respond
from emulator.api.routing import Resource, delete, get, patch, post
from emulator.domain import sip_trunks
from emulator.wire import sip_trunks as wire
from emulator.wire.base import Deleted, deleted


async def list_trunks(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        rows = await sip_trunks.all_of(session, account_id)
    return respond(wire.trunks(rows))


async def create_trunk(request: Request) -> Response:
    """An empty body gives the defaults; the settings PATCH takes may also be given here (same rules)."""
    account_id = await authenticate(request)
    req = await parse(request, wire.SipTrunkUpdate, optional=True)
    state = emu(request)
    async with state.store.write() as session:
        row = await sip_trunks.create(session, account_id, req, state.clock.now())
    return respond(wire.trunk(row, reveal=True))


async def get_trunk(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        row = await sip_trunks.get(session, account_id, path_param(request, "trunk_id"))
    return respond(wire.trunk(row))


async def update_trunk(request: Request) -> Response:
    """Send only what changes; an empty body rotates the trunk's credentials (shown once)."""
    account_id = await authenticate(request)
    req = await parse(request, wire.SipTrunkUpdate, optional=True)
    state = emu(request)
    async with state.store.write() as session:
        row, rotated = await sip_trunks.update(session, account_id, path_param(request, "trunk_id"), req,
                                               state.clock.now())
    return respond(wire.trunk(row, reveal=rotated))


async def delete_trunk(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.write() as session:
        row = await sip_trunks.delete(session, account_id, path_param(request, "trunk_id"))
    return respond(deleted(row.id))


resource = Resource("/v1/sip-trunks", [
    get("", list_trunks, "List SIP trunks", response=wire.SipTrunks),
    post("", create_trunk, "Create a SIP trunk (its password is shown once)", request=wire.SipTrunkUpdate,
         response=wire.SipTrunk, body_required=False),
    get("/{trunk_id}", get_trunk, "Get a SIP trunk", response=wire.SipTrunk),
    patch("/{trunk_id}", update_trunk, "Update a SIP trunk; an empty body rotates its credentials",
          request=wire.SipTrunkUpdate, response=wire.SipTrunk, body_required=False),
    delete("/{trunk_id}", delete_trunk, "Delete a SIP trunk", response=Deleted),
], tag="sip-trunks")
