"""The numbers the world offers: numbers available to buy, and what a lookup says of any number.

Simulated without a network: availability is generated from the area codes the filters name (the same
filters give the same list, minus numbers taken), and a lookup's line type is stable per number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from emulator import phones
from emulator.domain import numbers
from emulator.errors import Invalid

MAX_LOOKUP = 25


@dataclass(frozen=True)
class Available:
    phone_number: str
    area_code: str
    country: str
    city: str | None
    state: str | None


@dataclass(frozen=True)
class LineInfo:
    phone_number: str
    line_type: str
    country: str
    rcs_enabled: bool
    owned_by_account: bool


def _codes(country: str, area_code: str | None, city: str | None, state: str | None) -> list[str]:
    codes = [code for code, (c_city, c_state, _, _) in phones.AREA_INFO.items()
             if (code in phones.CA_AREA_CODES) == (country == "CA")
             and (area_code is None or code == area_code)
             and (city is None or c_city.lower() == city.lower())
             and (state is None or c_state.lower() == state.lower())]
    if area_code is not None and not codes:
        phones.check_area_code(area_code, country)
        codes = [area_code]
    return codes


async def available(session: AsyncSession, country: str, area_code: str | None, city: str | None,
                    state: str | None, zip_code: str | None, limit: int) -> list[Available]:
    """Purchasable numbers for the filters: generated, stable for the same filters, never one in use."""
    given, country = country, country.upper()
    if country not in phones.COUNTRIES:
        raise Invalid(f"Query parameter 'country' must be US or CA (got {given!r}).")
    codes = _codes(country, area_code, city, state)
    rng = random.Random("|".join([country, *codes, zip_code or ""]))
    out: list[Available] = []
    for i in range(limit * 2 if codes else 0):
        code = codes[i % len(codes)]
        candidate = f"+1{code}{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(2, 9)}{rng.randint(0, 9999):04d}"
        if await numbers.find_active(session, candidate) is not None:
            continue
        place_city, place_state, _, _ = phones.AREA_INFO.get(code, ("", "", 0.0, 0.0))
        out.append(Available(candidate, code, country, place_city or None, place_state or None))
        if len(out) == limit:
            break
    return out


async def lookup(session: AsyncSession, account_id: str, entries: list[str]) -> list[LineInfo]:
    """Line type and reachability of up to MAX_LOOKUP numbers (normalised to E.164 first)."""
    if not entries:
        raise Invalid("Query parameter 'phoneNumbers' is required: up to 25 numbers, comma-separated.")
    if len(entries) > MAX_LOOKUP:
        raise Invalid(f"Query parameter 'phoneNumbers' has {len(entries)} numbers; the limit is {MAX_LOOKUP}.")
    out = []
    for i, entry in enumerate(entries):
        e164 = phones.normalize(entry, f"phoneNumbers[{i}]")
        ours = await numbers.find_active(session, e164)
        kind = phones.line_type(e164)
        out.append(LineInfo(
            phone_number=e164,
            line_type="voip" if ours is not None else kind,
            country=phones.country_of(e164),
            rcs_enabled=ours is None and kind == "mobile" and int(e164[-1]) % 2 == 0,
            owned_by_account=ours is not None and ours.account_id == account_id,
        ))
    return out
