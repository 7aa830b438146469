"""/_emulator/*: the emulator's own control API (health, reset, clock, account settings)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import __version__
from emulator.api._http import emu, parse, respond
from emulator.clock import iso, parse_iso
from emulator.domain import accounts
from emulator.errors import ApiError, invalid
from emulator.maintenance import sweep
from emulator.plans import PLANS
from emulator.schemas import AccountSettings, ClockChange, Reset
from emulator.store import Account


def require_admin(request: Request) -> None:
    token = emu(request).settings.admin_token
    if token is None:
        return
    given = request.headers.get("x-emulator-admin-token") or ""
    auth = request.headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        given = given or auth[7:].strip()
    if given != token:
        raise ApiError(401, "This control route needs the admin token: send it as 'X-Emulator-Admin-Token'.")


async def health(request: Request) -> Response:
    state = emu(request)
    return respond({
        "status": "ok",
        "version": __version__,
        "uptimeSeconds": round(time.monotonic() - state.started_monotonic, 3),
        "database": state.store.label,
        "clock": iso(state.clock.now()),
    })


def _clock(request: Request) -> dict[str, Any]:
    clock = emu(request).clock
    return {"now": iso(clock.now()), "offsetSeconds": clock.offset_seconds}


async def get_clock(request: Request) -> Response:
    require_admin(request)
    return respond(_clock(request))


async def move_clock(request: Request) -> Response:
    require_admin(request)
    req = await parse(request, ClockChange)
    clock = emu(request).clock
    if (req.advance is None) == (req.set is None):
        raise invalid("Send exactly one of 'advance' (seconds, at least 0) or 'set' (an ISO-8601 time).")
    if req.advance is not None:
        clock.advance(req.advance)
    else:
        try:
            target = parse_iso(req.set or "")
        except ValueError:
            raise invalid(f"Field 'set' must be an ISO-8601 timestamp (got {req.set!r}).") from None
        if target < clock.now():
            raise invalid("The clock only moves forward: 'set' must not be earlier than the current emulator time.")
        clock.set(target)
    await sweep(emu(request))
    return respond(_clock(request))


async def reset(request: Request) -> Response:
    require_admin(request)
    req = await parse(request, Reset, optional=True)
    state = emu(request)
    started = time.perf_counter()
    if req.key is None:
        await state.store.wipe()
        state.clock.reset()
        state.forget_accounts()
        scope = "everything"
    else:
        async with state.store.read() as session:
            account = await accounts.find_by_key(session, req.key)
            ids = [] if account is None else [account.id, *(await session.execute(
                select(Account.id).where(Account.parent_id == account.id))).scalars()]
        if ids:
            await state.store.wipe(ids)
        state.key_cache.pop(req.key, None)
        scope = f"account of key {req.key[:12]}..."
    return respond({"success": True, "reset": scope, "elapsedMs": round((time.perf_counter() - started) * 1000, 2)})


def _account(row: Account) -> dict[str, Any]:
    return {
        "id": row.id,
        "key": row.key,
        "plan": row.plan,
        "balanceCents": row.balance_cents,
        "recordingEnabled": row.recording_enabled,
        "numbersBought": row.numbers_bought,
        "createdAt": iso(row.created_at),
    }


def _key(request: Request) -> str:
    return accounts.key_from_header("Bearer " + request.path_params["key"])


async def get_account(request: Request) -> Response:
    require_admin(request)
    key = _key(request)
    async with emu(request).store.read() as session:
        row = await accounts.find_by_key(session, key)
    if row is None:
        raise ApiError(404, "No account uses this key yet; it is created on its first request or by a PATCH here.")
    return respond(_account(row))


async def patch_account(request: Request) -> Response:
    require_admin(request)
    key = _key(request)
    req = await parse(request, AccountSettings, optional=True)
    if req.plan is not None and req.plan not in PLANS:
        raise invalid(f"Field 'plan' must be one of {', '.join(PLANS)} (got {req.plan!r}).")
    state = emu(request)
    settings = state.settings
    async with state.store.write() as session:
        row = await accounts.ensure(session, key, settings.default_plan, settings.default_balance_cents,
                                    state.clock.now())
        if req.plan is not None:
            row.plan = req.plan
        if req.balance_cents is not None:
            row.balance_cents = req.balance_cents
        if req.recording_enabled is not None:
            row.recording_enabled = req.recording_enabled
    state.key_cache[key] = row.id
    return respond(_account(row))


routes = [
    Route("/_emulator/health", health, methods=["GET"]),
    Route("/_emulator/clock", get_clock, methods=["GET"]),
    Route("/_emulator/clock", move_clock, methods=["POST"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
    Route("/_emulator/accounts/{key}", get_account, methods=["GET"]),
    Route("/_emulator/accounts/{key}", patch_account, methods=["PATCH", "PUT"]),
]
