"""/v1/numbers: buy, list, get, update, release; availability and lookups; a number's messages, calls and
iMessage contact card."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import (
    authenticate,
    emu,
    no_content,
    paging,
    parse,
    path_param,
    respond,
)
from emulator.api.routing import AFTER, BEFORE, PAGED, Query, Resource, delete, get, limit, patch, post, put
from emulator.domain import calls, catalog, conversations, numbers
from emulator.phones import AREA_CODE_RULE, BLANKS, COUNTRY_RULE, LOOKUP_RULE
from emulator.wire import calls as call_wire
from emulator.wire import messages as message_wire
from emulator.wire import numbers as wire
from emulator.wire.base import page


async def list_numbers(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    async with emu(request).store.read() as session:
        rows, total = await numbers.list_active(session, account_id, limit, offset)
    return respond(page([wire.number(row) for row in rows], total, offset))


async def buy_number(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.BuyNumber, optional=True)
    state = emu(request)
    async with state.store.write() as session:
        row = await numbers.buy(session, account_id, req, state.clock.now())
    return respond(wire.number(row))


async def get_number(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        row = await numbers.row(session, account_id, path_param(request, "number_id"))
    return respond(wire.number(row))


async def update_number(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.UpdateNumber, optional=True)
    state = emu(request)
    async with state.store.write() as session:
        row = await numbers.update_number(session, account_id, path_param(request, "number_id"), req,
                                          state.clock.now())
    return respond(wire.number(row))


async def release_number(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    async with state.store.write() as session:
        row = await numbers.release(session, account_id, path_param(request, "number_id"), state.clock.now())
    return respond(wire.released(row))


async def number_messages(request: Request) -> Response:
    account_id = await authenticate(request)
    count = int(MESSAGES.read(request))
    before, after = BEFORE.time(request), AFTER.time(request)
    async with emu(request).store.read() as session:
        number = await numbers.row(session, account_id, path_param(request, "number_id"))
        rows, has_more, total = await conversations.messages(session, count, before, after, number_id=number.id,
                                                              account_id=account_id)
        reactions = await conversations.reactions_for(session, rows)
    return respond(message_wire.message_page(rows, reactions, has_more, total))


async def number_calls(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    state = emu(request)
    async with state.store.read() as session:
        number = await numbers.row(session, account_id, path_param(request, "number_id"))
        listed = await calls.listed(session, account_id, limit, offset, number_id=number.id)
    return respond(call_wire.call_page(listed, offset, state.settings.base_url))


async def available(request: Request) -> Response:
    await authenticate(request)
    count = int(AVAILABLE.read(request))
    area_code = AREA_CODE.raw(request) or request.query_params.get("area_code")
    async with emu(request).store.read() as session:
        items = await catalog.available(session, COUNTRY.read(request), area_code, CITY.raw(request),
                                        STATE.raw(request), ZIP.raw(request), count)
    return respond(wire.available(items))


async def lookup(request: Request) -> Response:
    account_id = await authenticate(request)
    raw = PHONE_NUMBERS.raw(request) or request.query_params.get("phone_numbers") or ""
    entries = [part.strip(BLANKS) for part in raw.split(",") if part.strip(BLANKS)]
    async with emu(request).store.read() as session:
        items = await catalog.lookup(session, account_id, entries)
    return respond(wire.lookups(items))


async def get_card(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        number = await numbers.get(session, account_id, path_param(request, "number_id"))
    return respond(wire.contact_card(number.contact_card))


async def put_card(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.ContactCard)
    async with emu(request).store.write() as session:
        card = await numbers.set_contact_card(session, account_id, path_param(request, "number_id"), req)
    return respond(wire.contact_card(card))


async def delete_card(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.write() as session:
        await numbers.remove_contact_card(session, account_id, path_param(request, "number_id"))
    return no_content()


MESSAGES = limit(50, 200)
AVAILABLE = limit(10, 50)
COUNTRY = Query("country", default="US", pattern=COUNTRY_RULE)
AREA_CODE = Query("areaCode", pattern=AREA_CODE_RULE)
CITY, STATE, ZIP = Query("city"), Query("state"), Query("zip")
PHONE_NUMBERS = Query("phoneNumbers", required=True, pattern=LOOKUP_RULE)

resource = Resource("/v1/numbers", [
    get("", list_numbers, "List active numbers", response=wire.PhoneNumberList, query=PAGED),
    post("", buy_number, "Buy a number", request=wire.BuyNumber, response=wire.PhoneNumber, body_required=False),
    get("/available", available, "Search numbers available to buy", response=wire.AvailableNumbers,
        query=(COUNTRY, AREA_CODE, CITY, STATE, ZIP, AVAILABLE)),
    get("/lookup", lookup, "Look up line type and reachability of up to 25 numbers", response=wire.NumberLookups,
        query=(PHONE_NUMBERS,)),
    get("/{number_id}", get_number, "Get a number", response=wire.PhoneNumber),
    patch("/{number_id}", update_number, "Update a number's external ID or expiry", request=wire.UpdateNumber,
          response=wire.PhoneNumber, body_required=False),
    delete("/{number_id}", release_number, "Release a number", response=wire.ReleasedNumber),
    get("/{number_id}/messages", number_messages, "List a number's messages", response=message_wire.MessageList,
        query=(MESSAGES, BEFORE, AFTER)),
    get("/{number_id}/calls", number_calls, "List a number's calls", response=call_wire.CallList, query=PAGED),
    get("/{number_id}/contact-card", get_card, "Get a number's iMessage contact card",
        response=wire.ContactCardInfo),
    put("/{number_id}/contact-card", put_card, "Set a number's iMessage contact card", request=wire.ContactCard,
        response=wire.ContactCardInfo),
    delete("/{number_id}/contact-card", delete_card, "Remove a number's iMessage contact card", status=204),
], tag="numbers")
