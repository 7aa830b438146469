"""/v1/contacts: the account's address book, and a reachability check for a number."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import phones, render
from emulator.api._http import authenticate, emu, paging, parse, respond
from emulator.clock import iso
from emulator.domain import contacts, numbers
from emulator.errors import ApiError, invalid
from emulator.schemas import CreateContact, UpdateContact


async def list_contacts(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request, default=50, maximum=100)
    async with emu(request).store.read() as session:
        rows, total = await contacts.list_page(session, account_id, limit, offset, request.query_params.get("search"))
    return respond(render.page([render.contact(r) for r in rows], total, offset))


async def create_contact(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, CreateContact)
    state = emu(request)
    async with state.store.write() as session:
        row = await contacts.create(session, account_id, req, state.clock.now())
    return respond(render.contact(row), status=201)


async def get_contact(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        row = await contacts.get(session, account_id, request.path_params["contact_id"])
    return respond(render.contact(row))


async def update_contact(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, UpdateContact, optional=True)
    state = emu(request)
    async with state.store.write() as session:
        row = await contacts.update(session, account_id, request.path_params["contact_id"], req, state.clock.now())
    return respond(render.contact(row))


async def delete_contact(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.write() as session:
        row = await contacts.get(session, account_id, request.path_params["contact_id"])
        await session.delete(row)
    return Response(status_code=204)


async def contact_capabilities(request: Request) -> Response:
    """Simulated: needs an active iMessage number on the account, like the real check."""
    account_id = await authenticate(request)
    raw = request.query_params.get("phone_number") or request.query_params.get("phoneNumber")
    if not raw:
        raise invalid("Query parameter 'phone_number' is required: the number to check, in E.164.")
    e164 = phones.normalize(raw, "phone_number")
    state = emu(request)
    async with state.store.read() as session:
        line = await numbers.imessage_line(session, account_id)
    if line is None:
        raise ApiError(400, "Checking capabilities needs at least one active iMessage number on the account "
                            "(buy one with type 'imessage').")
    checked = iso(state.clock.now())
    return respond({"phoneNumber": e164, "capabilities": contacts.capabilities(e164), "checkedAt": checked})


routes = [
    Route("/v1/contacts", list_contacts, methods=["GET"]),
    Route("/v1/contacts", create_contact, methods=["POST"]),
    Route("/v1/contacts/capabilities", contact_capabilities, methods=["GET"]),
    Route("/v1/contacts/{contact_id}", get_contact, methods=["GET"]),
    Route("/v1/contacts/{contact_id}", update_contact, methods=["PATCH"]),
    Route("/v1/contacts/{contact_id}", delete_contact, methods=["DELETE"]),
]
