"""/v1/contacts: the account's address book, and a reachability check for a number."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import authenticate, emu, no_content, paging, parse, path_param, respond
from emulator.api.routing import OFFSET, Query, Resource, delete, get, limit, patch, post
from emulator.domain import contacts
from emulator.phones import LENIENT_RULE
from emulator.wire import contacts as wire
from emulator.wire.base import page

LIMIT = limit(50, 100)
SEARCH = Query("search")
PHONE = Query("phone_number", required=True, pattern=LENIENT_RULE)


async def list_contacts(request: Request) -> Response:
    account_id = await authenticate(request)
    count, offset = paging(request, LIMIT)
    async with emu(request).store.read() as session:
        rows, total = await contacts.list_page(session, account_id, count, offset, SEARCH.read(request))
    return respond(page([wire.contact(r) for r in rows], total, offset))


async def create_contact(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.CreateContact)
    state = emu(request)
    async with state.store.write() as session:
        row = await contacts.create(session, account_id, req, state.clock.now())
    return respond(wire.contact(row), status=201)


async def get_contact(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        row = await contacts.get(session, account_id, path_param(request, "contact_id"))
    return respond(wire.contact(row))


async def update_contact(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.UpdateContact, optional=True)
    state = emu(request)
    async with state.store.write() as session:
        row = await contacts.update(session, account_id, path_param(request, "contact_id"), req, state.clock.now())
    return respond(wire.contact(row))


async def delete_contact(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.write() as session:
        await contacts.delete(session, account_id, path_param(request, "contact_id"))
    return no_content()


async def contact_capabilities(request: Request) -> Response:
    account_id = await authenticate(request)
    raw = PHONE.raw(request) or request.query_params.get("phoneNumber")
    state = emu(request)
    async with state.store.read() as session:
        e164, imessage, sms = await contacts.capabilities(session, account_id, raw)
    return respond(wire.capabilities(e164, imessage, sms, state.clock.now()))


resource = Resource("/v1/contacts", [
    get("", list_contacts, "List contacts", response=wire.ContactList, query=(LIMIT, OFFSET, SEARCH)),
    post("", create_contact, "Create a contact", request=wire.CreateContact, response=wire.Contact, status=201),
    get("/capabilities", contact_capabilities, "Check whether a number is reachable over iMessage and SMS",
        response=wire.ContactCapabilities, query=(PHONE,)),
    get("/{contact_id}", get_contact, "Get a contact", response=wire.Contact),
    patch("/{contact_id}", update_contact, "Update a contact", request=wire.UpdateContact, response=wire.Contact,
          body_required=False),
    delete("/{contact_id}", delete_contact, "Delete a contact", status=204),
], tag="contacts")
