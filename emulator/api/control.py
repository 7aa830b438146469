"""/_emulator/*: the emulator's own control API (health, reset, clock, account settings)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import __version__, fixtures
from emulator.api._http import emu, parse, read_json, respond
from emulator.clock import iso, parse_iso
from emulator.domain import accounts
from emulator.errors import ApiError, invalid
from emulator.faults import ApiFault, WebhookFault
from emulator.maintenance import sweep
from emulator.plans import PLANS
from emulator.schemas import AccountSettings, ClockChange, FaultRequest, Reset
from emulator.store import Account

# Timestamps near the end of year 9999 overflow date arithmetic (usage windows, month ends).
LATEST = datetime(9000, 1, 1)
# The largest integer SQLite stores.
MAX_BALANCE_CENTS = 2**63 - 1


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
    return respond(_clock(request))


async def move_clock(request: Request) -> Response:
    req = await parse(request, ClockChange)
    clock = emu(request).clock
    if (req.advance is None) == (req.set is None):
        raise invalid("Send exactly one of 'advance' (seconds, at least 0) or 'set' (an ISO-8601 time).")
    if req.advance is not None:
        try:
            target = clock.now() + timedelta(seconds=req.advance)
        except OverflowError:
            target = LATEST
    else:
        try:
            target = parse_iso(req.set or "")
        except (ValueError, OverflowError):
            raise invalid(f"Field 'set' must be an ISO-8601 timestamp (got {req.set!r}).") from None
        if target < clock.now():
            raise invalid("The clock only moves forward: 'set' must not be earlier than the current emulator time.")
    if target >= LATEST:
        raise invalid(f"The emulator clock cannot move past {LATEST.year}-01-01; choose a smaller change.")
    if req.advance is not None:
        clock.advance(req.advance)
    else:
        clock.set(target)
    await sweep(emu(request))
    return respond(_clock(request))


async def reset(request: Request) -> Response:
    req = await parse(request, Reset, optional=True)
    state = emu(request)
    started = time.perf_counter()
    if req.key is None:
        await state.engine.abort()
        await state.store.wipe()
        state.clock.reset()
        state.forget_accounts()
        state.faults.clear()
        state.callees.clear()
        scope = "everything"
    else:
        async with state.store.read() as session:
            account = await accounts.find_by_key(session, req.key)
            ids = [] if account is None else [account.id, *(await session.execute(
                select(Account.id).where(Account.parent_id == account.id))).scalars()]
        if ids:
            await state.engine.abort(set(ids))
            await state.store.wipe(ids)
            for account_id in ids:
                state.callees.clear(account_id)
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
    return accounts.check_key(request.path_params["key"])


async def get_account(request: Request) -> Response:
    key = _key(request)
    async with emu(request).store.read() as session:
        row = await accounts.find_by_key(session, key)
    if row is None:
        raise ApiError(404, "No account uses this key yet; it is created on its first request or by a PATCH here.")
    return respond(_account(row))


async def patch_account(request: Request) -> Response:
    key = _key(request)
    req = await parse(request, AccountSettings, optional=True)
    if req.plan is not None and req.plan not in PLANS:
        raise invalid(f"Field 'plan' must be one of {', '.join(PLANS)} (got {req.plan!r}).")
    if req.balance_cents is not None and req.balance_cents > MAX_BALANCE_CENTS:
        raise invalid(f"Field 'balanceCents' must be at most {MAX_BALANCE_CENTS}.")
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


async def load_fixtures(request: Request) -> Response:
    """Load a seed state: a JSON object, YAML text, or {"path": "<file or directory on the server>"}."""
    state = emu(request)
    content_type = request.headers.get("content-type", "")
    if "yaml" in content_type or "text/plain" in content_type:
        raw = (await request.body()).decode("utf-8", errors="replace")
        try:
            documents = [("request body", yaml.safe_load(raw) or {})]
        except yaml.YAMLError as exc:
            raise ApiError(400, f"The request body is not valid YAML: {exc}") from None
    else:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "Send a fixture as a JSON object, as YAML text, or as {\"path\": \"...\"}.")
        documents = fixtures.read(body["path"]) if "path" in body else [("request body", body)]  # type: ignore[arg-type]
    totals: dict[str, int] = {}
    for source, data in documents:
        if not isinstance(data, dict):
            raise invalid(f"{source}: a fixture must be a mapping with an 'accounts' list.")
        fixture = fixtures.validate(data, source)
        counts = await fixtures.load(state.store, fixture, state.clock.now())
        state.fixture_keys |= {account.key for account in fixture.accounts}
        totals = {k: totals.get(k, 0) + v for k, v in counts.items()}
    state.forget_accounts()
    return respond({"success": True, "loaded": totals})


async def add_fault(request: Request) -> Response:
    req = await parse(request, FaultRequest)
    state = emu(request)
    key = accounts.check_key(req.key)
    if (req.status is None) == (req.webhook is None):
        raise invalid("Send exactly one of 'status' (429, 500, 502, 503: API faults) or 'webhook' "
                      "(bad-signature, stale-timestamp, tampered-body, reused-id, delay: delivery faults).")
    if req.status is not None:
        fault = ApiFault(key, req.status, req.count, req.path, req.retry_after)
        state.faults.api.append(fault)
        return respond({"success": True, "fault": fault.to_json()})
    if req.webhook == "delay" and req.delay_seconds <= 0:
        raise invalid("A 'delay' webhook fault needs 'delaySeconds' greater than 0.")
    account = await state.account_of(key)
    hook_fault = WebhookFault(account.id, req.webhook or "", req.count, req.delay_seconds)
    state.faults.webhook.append(hook_fault)
    return respond({"success": True, "fault": hook_fault.to_json()})


async def list_faults(request: Request) -> Response:
    faults = emu(request).faults
    return respond({"api": [f.to_json() for f in faults.api], "webhook": [f.to_json() for f in faults.webhook]})


async def clear_faults(request: Request) -> Response:
    emu(request).faults.clear()
    return respond({"success": True})


routes = [
    Route("/_emulator/health", health, methods=["GET"]),
    Route("/_emulator/clock", get_clock, methods=["GET"]),
    Route("/_emulator/clock", move_clock, methods=["POST"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
    Route("/_emulator/accounts/{key}", get_account, methods=["GET"]),
    Route("/_emulator/accounts/{key}", patch_account, methods=["PATCH", "PUT"]),
    Route("/_emulator/fixtures", load_fixtures, methods=["POST"]),
    Route("/_emulator/faults", add_fault, methods=["POST"]),
    Route("/_emulator/faults", list_faults, methods=["GET"]),
    Route("/_emulator/faults", clear_faults, methods=["DELETE"]),
]
