"""SIP trunks, phone locations and product feedback: simulated to the depth the vendor documents.

Nothing here touches a real network: trunks get generated credentials and URIs, locations come
from the number's area code, feedback is stored and readable through the control API.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import ids, phones
from emulator.api._http import authenticate, emu, parse, respond
from emulator.clock import iso
from emulator.domain import records
from emulator.schemas import Feedback, SipTrunkUpdate
from emulator.store import Record

PROXY_IPS = ["192.0.2.10", "192.0.2.11"]  # documentation range: nothing real answers there


def _credentials(trunk_id: str) -> dict[str, Any]:
    password = secrets.token_urlsafe(18)
    return {"username": f"{trunk_id}-user", "password": password, "passwordLast4": password[-4:],
            "credentialListName": f"{trunk_id}-credentials"}


def _render_trunk(row: Record, reveal: bool = False) -> dict[str, Any]:
    data = row.data
    credential = {k: v for k, v in data["credential"].items() if reveal or k != "password"}
    origination = data.get("origination") or {}
    return {
        "id": row.id, "name": data["name"], "provider": "agentphone-emulator", "encrypted": True,
        "transport": "tls", "mediaEncryption": "srtp", "transfers": data["transfers"],
        "transferCallerId": data["transferCallerId"], "terminationSipUri": f"{row.id}.sip.emulator.invalid",
        "originationUris": origination.get("uris", []), "allowedIps": origination.get("allowedIps", []),
        "proxyIps": PROXY_IPS, "credentials": [credential], "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


async def list_trunks(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        rows = await records.all_of(session, account_id, "sip_trunk")
    return respond({"data": [_render_trunk(r) for r in rows], "total": len(rows)})


async def create_trunk(request: Request) -> Response:
    """An empty body gives the defaults; the settings PATCH takes may also be given here (same rules)."""
    account_id = await authenticate(request)
    req = await parse(request, SipTrunkUpdate, optional=True)
    state = emu(request)
    trunk_id = ids.new_id("trunk")
    data = {"name": req.name or "SIP trunk", "transfers": req.transfers or "all",
            "transferCallerId": req.transfer_caller_id or "transferee", "origination": req.origination,
            "credential": _credentials(trunk_id)}
    async with state.store.write() as session:
        row = Record(id=trunk_id, account_id=account_id, kind="sip_trunk", data=data,
                     created_at=state.clock.now(), updated_at=state.clock.now())
        session.add(row)
    return respond(_render_trunk(row, reveal=True))


async def get_trunk(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        row = await records.get(session, account_id, "sip_trunk", request.path_params["trunk_id"], "SIP trunk")
    return respond(_render_trunk(row))


async def update_trunk(request: Request) -> Response:
    """Send only what changes; an empty body rotates the trunk's credentials (shown once)."""
    account_id = await authenticate(request)
    req = await parse(request, SipTrunkUpdate, optional=True)
    state = emu(request)
    async with state.store.write() as session:
        row = await records.get(session, account_id, "sip_trunk", request.path_params["trunk_id"], "SIP trunk")
        data = dict(row.data)
        rotate = not req.model_fields_set
        if rotate:
            data["credential"] = _credentials(row.id)
        for field, key in (("name", "name"), ("transfers", "transfers"), ("transfer_caller_id", "transferCallerId"),
                           ("origination", "origination")):
            if field in req.model_fields_set:
                data[key] = getattr(req, field)
        records.replace(row, data, state.clock.now())
    return respond(_render_trunk(row, reveal=rotate))


async def delete_trunk(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.write() as session:
        row = await records.get(session, account_id, "sip_trunk", request.path_params["trunk_id"], "SIP trunk")
        await session.delete(row)
    return respond({"success": True, "id": row.id})


async def location(request: Request) -> Response:
    """Simulated: the centre of the number's area code, when it is a known one."""
    await authenticate(request)
    e164 = phones.normalize(request.path_params["phone_number"], "phone_number")
    place = phones.place_of(e164)
    now = emu(request).clock.now()
    if place is None:
        return respond({"phoneNumber": e164, "latitude": None, "longitude": None, "status": "unknown",
                        "lastUpdated": int(now.timestamp())})
    city, region, lat, lon = place
    return respond({"phoneNumber": e164, "latitude": lat, "longitude": lon, "status": "ok", "city": city,
                    "region": region, "lastUpdated": int(now.timestamp())})


async def refresh_locations(request: Request) -> Response:
    await authenticate(request)
    return respond({"success": True, "pollAfterSeconds": 20})


async def feedback(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, Feedback)
    state = emu(request)
    async with state.store.write() as session:
        row = await records.add(session, account_id, "feedback", "fb", req.model_dump(), state.clock.now())
    return respond({"success": True, "id": row.id, "receivedAt": iso(row.created_at)})


async def list_feedback(request: Request) -> Response:
    async with emu(request).store.read() as session:
        rows = (await session.execute(select(Record).where(Record.kind == "feedback").order_by(Record.pk))).scalars()
        items = [{"id": r.id, "accountId": r.account_id, **r.data, "receivedAt": iso(r.created_at)} for r in rows]
    return respond({"data": items})


routes = [
    Route("/v1/sip-trunks", list_trunks, methods=["GET"]),
    Route("/v1/sip-trunks", create_trunk, methods=["POST"]),
    Route("/v1/sip-trunks/{trunk_id}", get_trunk, methods=["GET"]),
    Route("/v1/sip-trunks/{trunk_id}", update_trunk, methods=["PATCH"]),
    Route("/v1/sip-trunks/{trunk_id}", delete_trunk, methods=["DELETE"]),
    Route("/v1/location/refresh", refresh_locations, methods=["POST"]),
    Route("/v1/location/{phone_number}", location, methods=["GET"]),
    Route("/v1/feedback", feedback, methods=["POST"]),
    Route("/_emulator/feedback", list_feedback, methods=["GET"]),
]
