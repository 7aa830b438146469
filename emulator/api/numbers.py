"""/v1/numbers: buy, list, get, update, release, a number's messages and calls."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import render
from emulator.api._http import authenticate, emu, paging, parse, query_int, query_time, respond
from emulator.domain import calls, conversations, numbers
from emulator.domain.lookup import owned
from emulator.schemas import BuyNumber, UpdateNumber
from emulator.store import PhoneNumber


async def list_numbers(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    async with emu(request).store.read() as session:
        rows, total = await numbers.list_active(session, account_id, limit, offset)
    return respond(render.page([render.number(row) for row in rows], total, offset))


async def buy_number(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, BuyNumber, optional=True)
    state = emu(request)
    async with state.store.write() as session:
        row = await numbers.buy(session, account_id, req, state.clock.now())
    return respond(render.number(row))


async def get_number(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        row = await owned(session, PhoneNumber, account_id, request.path_params["number_id"])
    return respond(render.number(row))


async def update_number(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, UpdateNumber, optional=True)
    state = emu(request)
    async with state.store.write() as session:
        row = await numbers.update_number(session, account_id, request.path_params["number_id"], req,
                                          state.clock.now())
    return respond(render.number(row))


async def release_number(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    async with state.store.write() as session:
        row = await numbers.release(session, account_id, request.path_params["number_id"], state.clock.now())
    return respond({
        "success": True,
        "id": row.id,
        "phoneNumber": row.phone_number,
        "status": row.status,
        "message": "Number released",
        "releasedAt": render.number(row)["releasedAt"],
    })


async def number_messages(request: Request) -> Response:
    account_id = await authenticate(request)
    limit = query_int(request, "limit", 50, 1, 200)
    before, after = query_time(request, "before"), query_time(request, "after")
    async with emu(request).store.read() as session:
        number = await owned(session, PhoneNumber, account_id, request.path_params["number_id"])
        rows, has_more, total = await conversations.messages(session, limit, before, after, number_id=number.id)
        reactions = await conversations.reactions_for(session, rows)
    return respond({"data": [render.message(row, reactions.get(row.id)) for row in rows], "hasMore": has_more,
                    "total": total})


async def number_calls(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    state = emu(request)
    async with state.store.read() as session:
        number = await owned(session, PhoneNumber, account_id, request.path_params["number_id"])
        rows, total = await calls.list_page(session, account_id, limit, offset, number_id=number.id)
        recording = await calls.recording_enabled(session, account_id)
    base = state.settings.base_url
    return respond(render.page([render.call(row, base, recording) for row in rows], total, offset))


routes = [
    Route("/v1/numbers", list_numbers, methods=["GET"]),
    Route("/v1/numbers", buy_number, methods=["POST"]),
    Route("/v1/numbers/{number_id}", get_number, methods=["GET"]),
    Route("/v1/numbers/{number_id}", update_number, methods=["PATCH"]),
    Route("/v1/numbers/{number_id}", release_number, methods=["DELETE"]),
    Route("/v1/numbers/{number_id}/messages", number_messages, methods=["GET"]),
    Route("/v1/numbers/{number_id}/calls", number_calls, methods=["GET"]),
]
