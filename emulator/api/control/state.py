"""Health, the emulator clock, reset, and the accounts behind keys."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from emulator import __version__
from emulator.api.common import emu, parse, path_param, respond
from emulator.api.control import access
from emulator.api.control.access import ACCOUNT, PUBLIC
from emulator.api.routing import Query, get, patch, post, put
from emulator.clock import parse_iso
from emulator.domain import accounts
from emulator.errors import Invalid, NotFound, Refused
from emulator.maintenance import sweep
from emulator.plans import PLANS
from emulator.wire import control as wire

# Timestamps near the end of year 9999 overflow date arithmetic (usage windows, month ends).
LATEST = datetime(9000, 1, 1)
# The largest integer SQLite stores.
MAX_BALANCE_CENTS = 2**63 - 1


async def health(request: Request) -> Response:
    state = emu(request)
    return respond(wire.health(__version__, time.monotonic() - state.started_monotonic, state.store.label,
                               state.clock.now(), os.getpid()))


async def _clock_owner(request: Request, key: str | None) -> list[str] | None:
    """Whose clock a request reads or moves: an account key's own account (and its sub-accounts); for the
    admin, the account of the key it names, else the emulator's (None)."""
    chosen = access.own_key(request, key, "read or move another account's clock")
    if chosen is None:
        return None
    state = emu(request)
    account = await state.account_of(chosen)
    async with state.store.read() as session:
        return await accounts.family(session, account.id)


def _clock_state(request: Request, owner: list[str] | None) -> Response:
    clock = emu(request).clock
    if owner is None:
        return respond(wire.clock(clock.base(), clock.offset_seconds))
    return respond(wire.clock(clock.now(owner[0]), clock.account_offset_seconds(owner[0]), owner[0]))


async def get_clock(request: Request) -> Response:
    return _clock_state(request, await _clock_owner(request, request.query_params.get("key") or None))


def _target(current: datetime, change: wire.ClockChange) -> datetime:
    """Where a clock change moves the clock to (forward only, and not past LATEST)."""
    given = [name for name in ("advance", "set") if name in change.model_fields_set]
    if len(given) != 1 or getattr(change, given[0]) is None:
        raise Invalid("Send exactly one of 'advance' (seconds, at least 0) or 'set' (an ISO-8601 time).")
    if change.advance is not None:
        try:
            target = current + timedelta(seconds=change.advance)
        except OverflowError:
            target = LATEST
    else:
        try:
            target = parse_iso(change.set or "")
        except ValueError:
            raise Invalid(f"Field 'set' must be an ISO-8601 timestamp (got {change.set!r}).") from None
        except OverflowError:  # before year 1 in UTC
            target = datetime.min
        if target < current:  # a rule of the current state, not of the request's shape: 400
            raise Refused("The clock only moves forward: 'set' must not be earlier than the current emulator time.")
    if target >= LATEST:
        raise Refused(f"The emulator clock cannot move past {LATEST.year}-01-01; choose a smaller change.")
    return target


async def move_clock(request: Request) -> Response:
    """The emulator's clock (the admin) or one account's (its own key, or the admin naming it) moves forward;
    what falls due on the moved clock (retries, expiries) happens at once."""
    req = await parse(request, wire.ClockChange)
    owner = await _clock_owner(request, req.key)
    state = emu(request)
    current = state.clock.now(owner[0] if owner else None)
    target = _target(current, req)
    advance = req.advance
    if advance is not None:
        await state.shared.change("clock", lambda: state.clock.advance(advance, owner))
    else:
        await state.shared.change("clock", lambda: state.clock.set(target, owner))
    state.activity.clock_moved(req.advance if req.advance is not None else max((target - current).total_seconds(), 0),
                               owner)
    await sweep(state)
    return _clock_state(request, owner)


async def reset(request: Request) -> Response:
    """Everything (the admin, with no key), or one key's account and its sub-accounts."""
    req = await parse(request, wire.Reset, optional=True)
    if "key" in req.model_fields_set and req.key is None:
        raise Invalid("Field 'key' must be an API key; leave it out to reset everything.")
    key = access.own_key(request, req.key, "reset another account", creates=False)
    state = emu(request)
    started = time.perf_counter()
    if key is None:
        await state.reset()
        scope = "everything"
        state.activity.reset(None)
    else:
        async with state.store.read() as session:
            account = await accounts.find_by_key(session, key)
            family = [] if account is None else await accounts.family(session, account.id)
        await state.remove_accounts(family, keys=[key])
        scope = f"account of key {key[:12]}..."
        state.activity.reset(family, key)
    return respond(wire.reset(scope, (time.perf_counter() - started) * 1000))


def _path_key(request: Request, creates: bool = True) -> str:
    key = access.own_key(request, path_param(request, "key"), "read or change another account", creates)
    assert key is not None
    return key


async def get_account(request: Request) -> Response:
    key = _path_key(request, creates=False)
    async with emu(request).store.read() as session:
        row = await accounts.find_by_key(session, key)
    if row is None:
        raise NotFound("No account uses this key yet; it is created on its first request or by a PATCH here.")
    return respond(wire.account(row))


async def patch_account(request: Request) -> Response:
    key = _path_key(request)
    req = await parse(request, wire.AccountSettings, optional=True)
    if req.plan is not None and req.plan not in PLANS:
        raise Invalid(f"Field 'plan' must be one of {', '.join(PLANS)} (got {req.plan!r}).")
    if req.balance_cents is not None and req.balance_cents > MAX_BALANCE_CENTS:
        raise Invalid(f"Field 'balanceCents' must be at most {MAX_BALANCE_CENTS}.")
    state = emu(request)
    settings = state.settings
    async with state.store.write() as session:
        row = await accounts.ensure(session, key, settings.default_plan, settings.default_balance_cents,
                                    state.clock.now())
        events = req.webhook_events if "webhook_events" in req.model_fields_set else accounts.KEEP
        accounts.configure(row, plan=req.plan, balance_cents=req.balance_cents, recording=req.recording_enabled,
                           webhook_events=events)
    return respond(wire.account(row))


ACCOUNT_SUMMARY = "Change an account's plan, balance, recording add-on or webhook event vocabulary"

resource = access.resource("/_emulator", [
    get("/health", health, "Health, version, uptime and the emulator clock", response=wire.Health, access=PUBLIC),
    get("/clock", get_clock, "Read the emulator's clock, or an account's (its key, or the admin's ?key=)",
        response=wire.ClockState, query=(Query("key"),), access=ACCOUNT),
    post("/clock", move_clock, "Move the emulator's clock forward, or only an account's (its key, or 'key')",
         request=wire.ClockChange, response=wire.ClockState, access=ACCOUNT),
    post("/reset", reset, "Wipe everything, or one key's account", request=wire.Reset, response=wire.ResetDone,
         body_required=False, access=ACCOUNT),
    get("/accounts/{key}", get_account, "Read the account behind a key", response=wire.AccountState,
        access=ACCOUNT),
    patch("/accounts/{key}", patch_account, ACCOUNT_SUMMARY, request=wire.AccountSettings,
          response=wire.AccountState, body_required=False, access=ACCOUNT),
    put("/accounts/{key}", patch_account, ACCOUNT_SUMMARY, request=wire.AccountSettings,
        response=wire.AccountState, body_required=False, access=ACCOUNT),
])
