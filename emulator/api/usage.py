"""/v1/usage: the account overview, daily and monthly breakdowns."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.api._http import authenticate, emu, query_int, respond
from emulator.domain import usage


async def get_usage(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    async with state.store.read() as session:
        return respond(await usage.summary(session, account_id, state.clock.now()))


async def daily_usage(request: Request) -> Response:
    account_id = await authenticate(request)
    days = query_int(request, "days", 30, 1, 365)
    state = emu(request)
    async with state.store.read() as session:
        data = await usage.daily(session, account_id, days, state.clock.now())
    return respond({"data": data, "days": days})


async def monthly_usage(request: Request) -> Response:
    account_id = await authenticate(request)
    months = query_int(request, "months", 6, 1, 24)
    state = emu(request)
    async with state.store.read() as session:
        data = await usage.monthly(session, account_id, months, state.clock.now())
    return respond({"data": data, "months": months})


routes = [
    Route("/v1/usage", get_usage, methods=["GET"]),
    Route("/v1/usage/daily", daily_usage, methods=["GET"]),
    Route("/v1/usage/monthly", monthly_usage, methods=["GET"]),
]
