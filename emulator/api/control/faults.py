"""Injected faults: API answers and webhook deliveries that go wrong on purpose."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import emu, parse, respond
from emulator.api.control import access
from emulator.api.control.access import ACCOUNT
from emulator.api.routing import delete, get, post
from emulator.errors import Invalid
from emulator.faults import ApiFault, WebhookFault
from emulator.wire import control as wire
from emulator.wire.base import Success, success


async def add_fault(request: Request) -> Response:
    req = await parse(request, wire.FaultRequest)
    key = access.own_key(request, req.key, "arm faults for another account")
    assert key is not None
    state = emu(request)
    given = [name for name in ("status", "webhook") if name in req.model_fields_set]
    if len(given) != 1 or getattr(req, given[0]) is None:
        raise Invalid("Send exactly one of 'status' (429, 500, 502, 503: API faults) or 'webhook' "
                      "(no-signature, bad-signature, stale-timestamp, tampered-body, reused-id, delay: delivery "
                      "faults).")
    if req.status is not None:
        fault = ApiFault(key, req.status, req.count, req.path, req.retry_after)
        await state.shared.change("faults", lambda: state.faults.add(fault))
        return respond(wire.fault_added(fault.to_json()))
    if req.webhook == "delay" and req.delay_seconds <= 0:
        raise Invalid("A 'delay' webhook fault needs 'delaySeconds' greater than 0.")
    hook_fault = WebhookFault(await state.account_id_of(key), req.webhook or "", req.count, req.delay_seconds)
    await state.shared.change("faults", lambda: state.faults.add(hook_fault))
    return respond(wire.fault_added(hook_fault.to_json()))


async def list_faults(request: Request) -> Response:
    """Every pending fault (the admin), or the caller's own."""
    who = access.caller(request)
    book = emu(request).faults
    api = [f.to_json() for f in book.api if who.admin or f.key == who.key]
    webhook = [f.to_json() for f in book.webhook if who.may_act_on(f.account_id)]
    return respond(wire.faults(api, webhook))


async def clear_faults(request: Request) -> Response:
    """Disarm every fault (the admin), or the caller's own."""
    who = access.caller(request)
    state = emu(request)
    if who.admin:
        await state.shared.change("faults", state.faults.clear)
    else:
        await state.shared.change("faults", lambda: state.faults.forget(set(who.family), {who.key or ""}))
    return respond(success())


resource = access.resource("/_emulator/faults", [
    post("", add_fault, "Inject an API or webhook fault", request=wire.FaultRequest, response=wire.FaultAdded,
         access=ACCOUNT),
    get("", list_faults, "List pending faults", response=wire.Faults, access=ACCOUNT),
    delete("", clear_faults, "Clear every fault", response=Success, access=ACCOUNT),
])
