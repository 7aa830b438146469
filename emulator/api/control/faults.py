"""Injected faults: API answers and webhook deliveries that go wrong on purpose."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import checked_key, emu, parse, respond
from emulator.api.routing import Resource, delete, get, post
from emulator.errors import Invalid
from emulator.faults import ApiFault, WebhookFault
from emulator.wire import control as wire
from emulator.wire.base import Success, success


async def add_fault(request: Request) -> Response:
    req = await parse(request, wire.FaultRequest)
    state = emu(request)
    key = checked_key(req.key)
    if (req.status is None) == (req.webhook is None):
        raise Invalid("Send exactly one of 'status' (429, 500, 502, 503: API faults) or 'webhook' "
                      "(bad-signature, stale-timestamp, tampered-body, reused-id, delay: delivery faults).")
    if req.status is not None:
        fault = ApiFault(key, req.status, req.count, req.path, req.retry_after)
        state.faults.api.append(fault)
        return respond(wire.fault_added(fault.to_json()))
    if req.webhook == "delay" and req.delay_seconds <= 0:
        raise Invalid("A 'delay' webhook fault needs 'delaySeconds' greater than 0.")
    account = await state.account_of(key)
    hook_fault = WebhookFault(account.id, req.webhook or "", req.count, req.delay_seconds)
    state.faults.webhook.append(hook_fault)
    return respond(wire.fault_added(hook_fault.to_json()))


async def list_faults(request: Request) -> Response:
    book = emu(request).faults
    return respond(wire.faults([f.to_json() for f in book.api], [f.to_json() for f in book.webhook]))


async def clear_faults(request: Request) -> Response:
    emu(request).faults.clear()
    return respond(success())


resource = Resource("/_emulator/faults", [
    post("", add_fault, "Inject an API or webhook fault", request=wire.FaultRequest, response=wire.FaultAdded),
    get("", list_faults, "List pending faults", response=wire.Faults),
    delete("", clear_faults, "Clear every fault", response=Success),
], tag="emulator")
