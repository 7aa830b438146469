"""/v1/usage: the account overview, daily and monthly breakdowns, usage per number and per agent."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import authenticate, emu, respond
from emulator.api.routing import Query, Resource, get
from emulator.domain import usage
from emulator.errors import Invalid
from emulator.wire import usage as wire

DAYS = Query("days", "integer", 30, 1, 365)
MONTHS = Query("months", "integer", 6, 1, 24)
PERIOD = Query("period", choices=("week", "month", "year"), required=True)
TZ = Query("tz", default="UTC", listed=usage.ZONES)


async def get_usage(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    async with state.store.read() as session:
        result = await usage.summary(session, account_id, state.clock.now())
    return respond(wire.summary(result))


async def daily_usage(request: Request) -> Response:
    account_id = await authenticate(request)
    days = int(DAYS.read(request))
    state = emu(request)
    async with state.store.read() as session:
        points = await usage.daily(session, account_id, days, state.clock.now())
    return respond(wire.daily(points, days))


async def monthly_usage(request: Request) -> Response:
    account_id = await authenticate(request)
    months = int(MONTHS.read(request))
    state = emu(request)
    async with state.store.read() as session:
        points = await usage.monthly(session, account_id, months, state.clock.now())
    return respond(wire.monthly(points, months))


async def usage_by_number(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        items = await usage.by_number(session, account_id)
    return respond(wire.by_number(items))


async def usage_by_agent(request: Request) -> Response:
    account_id = await authenticate(request)
    period = PERIOD.read(request)
    if period is None:
        raise Invalid("Query parameter 'period' is required: week, month or year.")
    tz_name = TZ.read(request)
    tz = usage.zone(tz_name)
    state = emu(request)
    start, end = usage.period_window(period, state.clock.now(), tz)
    async with state.store.read() as session:
        items = await usage.by_agent(session, account_id, start, end)
    return respond(wire.by_agent(items, period, start, end, tz_name))


resource = Resource("/v1/usage", [
    get("", get_usage, "Plan, number slots and usage statistics", response=wire.Usage),
    get("/daily", daily_usage, "Daily usage", response=wire.DailyUsage, query=(DAYS,)),
    get("/monthly", monthly_usage, "Monthly usage", response=wire.MonthlyUsage, query=(MONTHS,)),
    get("/by-number", usage_by_number, "Usage per number", response=wire.NumberUsage),
    get("/by-agent", usage_by_agent, "Usage per agent for a calendar period", response=wire.AgentUsage,
        query=(PERIOD, TZ)),
], tag="usage")
