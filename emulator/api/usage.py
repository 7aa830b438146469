"""/v1/usage: the account overview, daily and monthly breakdowns."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.api._http import authenticate, emu, query_choice, query_int, respond
from emulator.clock import iso
from emulator.domain import usage
from emulator.errors import invalid


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


async def usage_by_number(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        return respond({"data": await usage.by_number(session, account_id)})


async def usage_by_agent(request: Request) -> Response:
    account_id = await authenticate(request)
    period = query_choice(request, "period", ("week", "month", "year"))
    if period is None:
        raise invalid("Query parameter 'period' is required: week, month or year.")
    tz_name = request.query_params.get("tz") or "UTC"
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(f"Query parameter 'tz' must be an IANA time zone, like America/New_York (got {tz_name!r}).") \
            from None
    state = emu(request)
    start, end = usage.period_window(period, state.clock.now(), tz)
    async with state.store.read() as session:
        data = await usage.by_agent(session, account_id, start, end)
    return respond({"data": data, "period": period, "periodStart": iso(start), "periodEnd": iso(end), "tz": tz_name})


routes = [
    Route("/v1/usage", get_usage, methods=["GET"]),
    Route("/v1/usage/daily", daily_usage, methods=["GET"]),
    Route("/v1/usage/monthly", monthly_usage, methods=["GET"]),
    Route("/v1/usage/by-number", usage_by_number, methods=["GET"]),
    Route("/v1/usage/by-agent", usage_by_agent, methods=["GET"]),
]
