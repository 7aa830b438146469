"""/v1/numbers/available, /v1/numbers/lookup and a number's iMessage contact card."""

from __future__ import annotations

import random

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import phones
from emulator.api._http import authenticate, emu, parse, query_int, respond
from emulator.domain import numbers
from emulator.domain.lookup import owned
from emulator.errors import ApiError, invalid
from emulator.schemas import ContactCard
from emulator.store import PhoneNumber

MAX_LOOKUP = 25


def _candidates(country: str, area_code: str | None, city: str | None, state: str | None) -> list[str]:
    codes = [code for code, (c_city, c_state, _, _) in phones.AREA_INFO.items()
             if (code in phones.CA_AREA_CODES) == (country == "CA")
             and (area_code is None or code == area_code)
             and (city is None or c_city.lower() == city.lower())
             and (state is None or c_state.lower() == state.lower())]
    if area_code is not None and not codes:
        phones.check_area_code(area_code, country)
        codes = [area_code]
    return codes


async def available(request: Request) -> Response:
    """Purchasable numbers: generated, but the same filters give the same list (minus numbers taken)."""
    await authenticate(request)
    params = request.query_params
    country = (params.get("country") or "US").upper()
    if country not in phones.COUNTRIES:
        raise invalid(f"Query parameter 'country' must be US or CA (got {params.get('country')!r}).")
    limit = query_int(request, "limit", 10, 1, 50)
    codes = _candidates(country, params.get("areaCode") or params.get("area_code"), params.get("city"),
                        params.get("state"))
    rng = random.Random("|".join([country, *codes, params.get("zip") or ""]))
    out = []
    async with emu(request).store.read() as session:
        for i in range(limit * 2 if codes else 0):
            code = codes[i % len(codes)]
            number = f"+1{code}{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(2, 9)}{rng.randint(0, 9999):04d}"
            if await numbers.find_active(session, number) is not None:
                continue
            city, state, _, _ = phones.AREA_INFO.get(code, ("", "", 0.0, 0.0))
            out.append({"phoneNumber": number, "city": city or None, "state": state or None,
                        "rateCenter": city.upper() if city else None, "areaCode": code, "country": country})
            if len(out) == limit:
                break
    return respond({"data": out, "total": len(out)})


async def lookup(request: Request) -> Response:
    account_id = await authenticate(request)
    raw = request.query_params.get("phoneNumbers") or request.query_params.get("phone_numbers") or ""
    entries = [part.strip() for part in raw.split(",") if part.strip()]
    if not entries:
        raise invalid("Query parameter 'phoneNumbers' is required: up to 25 numbers, comma-separated.")
    if len(entries) > MAX_LOOKUP:
        raise invalid(f"Query parameter 'phoneNumbers' has {len(entries)} numbers; the limit is {MAX_LOOKUP}.")
    out = []
    async with emu(request).store.read() as session:
        for i, entry in enumerate(entries):
            e164 = phones.normalize(entry, f"phoneNumbers[{i}]")
            ours = await numbers.find_active(session, e164)
            out.append({
                "phoneNumber": e164,
                "lineType": "voip" if ours is not None else phones.line_type(e164),
                "country": phones.country_of(e164),
                "rcsEnabled": ours is None and phones.line_type(e164) == "mobile" and int(e164[-1]) % 2 == 0,
                "valid": True,
                "ownedByAccount": ours is not None and ours.account_id == account_id,
            })
    return respond({"data": out})


EMPTY_CARD = {"firstName": None, "lastName": None, "displayName": None, "hasAvatar": False}


def _card(stored: dict[str, object] | None) -> dict[str, object]:
    if not stored:
        return dict(EMPTY_CARD)
    return {"firstName": stored.get("firstName"), "lastName": stored.get("lastName"),
            "displayName": stored.get("displayName"), "hasAvatar": bool(stored.get("avatarUrl"))}


async def get_card(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        number = await owned(session, PhoneNumber, account_id, request.path_params["number_id"])
    return respond(_card(number.contact_card))


async def put_card(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, ContactCard)
    if not (req.first_name or req.display_name):
        raise invalid("A contact card needs 'firstName' or 'displayName'.")
    async with emu(request).store.write() as session:
        number = await owned(session, PhoneNumber, account_id, request.path_params["number_id"])
        if number.status != "active":
            raise ApiError(400, f"Number '{number.id}' is {number.status}; its contact card cannot change.")
        number.contact_card = req.model_dump(by_alias=True, exclude_none=True)
    return respond(_card(number.contact_card))


async def delete_card(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.write() as session:
        number = await owned(session, PhoneNumber, account_id, request.path_params["number_id"])
        number.contact_card = None
    return Response(status_code=204)


routes = [
    Route("/v1/numbers/available", available, methods=["GET"]),
    Route("/v1/numbers/lookup", lookup, methods=["GET"]),
    Route("/v1/numbers/{number_id}/contact-card", get_card, methods=["GET"]),
    Route("/v1/numbers/{number_id}/contact-card", put_card, methods=["PUT"]),
    Route("/v1/numbers/{number_id}/contact-card", delete_card, methods=["DELETE"]),
]
