"""WhatsApp Business, simulated: connections, the numbers they offer, message templates.

No Meta account is involved. `connect` exchanges any embedded-signup code for a connection that is
`pending` until the control API (`PATCH /_emulator/whatsapp/{id}`) or a fixture marks it `connected`, as the
end of Meta's signup would. A connection offers one generated business number unless the control API or a
fixture names its numbers. Connecting one of them makes it a phone number of the account (type `whatsapp`,
no price, not counted against the plan's number limit), whose messages travel as channel `whatsapp`.
Templates follow Meta's rules (name, category, language, components) and are approved at once.
Disconnecting releases the connection's numbers.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids, phones
from emulator.clock import iso
from emulator.domain import agents, numbers, records
from emulator.errors import Conflict, Invalid, NotFound, Refused
from emulator.store import PhoneNumber, Record

CONNECTION, TEMPLATE = "whatsapp_connection", "whatsapp_template"
STATUSES = ("pending", "connected", "disconnected")
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
NAME = re.compile(r"[a-z0-9_]{1,512}")
LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
POSITIONAL = re.compile(r"\{\{(\d+)\}\}")
NAMED = re.compile(r"\{\{([a-z_][a-z0-9_]*)\}\}")
TEXT_LIMITS = {"HEADER": 60, "BODY": 1024, "FOOTER": 60}
MAX_BUTTONS = 10


def _digits(count: int) -> str:
    return "".join(str(ids.plain_rng().randrange(10)) for _ in range(count))


def offered(phone_number: str | None = None, display_name: str | None = None,
            phone_number_id: str | None = None) -> dict[str, Any]:
    """A business number a connection offers (Meta's phone-number ID is numeric)."""
    e164 = phones.require_e164(phone_number, "phoneNumber") if phone_number else phones.generate("US", None)
    return {"phoneNumberId": phone_number_id or "1" + _digits(14), "phoneNumber": e164,
            "displayName": display_name or "Business", "qualityRating": "GREEN", "numberId": None}


async def connect(session: AsyncSession, account_id: str, code: str, now: datetime, *, waba_id: str | None = None,
                  phone_number_id: str | None = None, business_id: str | None = None,
                  agent_id: str | None = None, status: str = "pending",
                  offers: list[dict[str, Any]] | None = None, connection_id: str | None = None) -> Record:
    if not code.strip():
        raise Invalid("Field 'code' must be the embedded-signup code Meta gave the browser.")
    if agent_id is not None:
        await agents.get(session, account_id, agent_id)
    numbers_offered = offers if offers is not None else [offered(phone_number_id=phone_number_id)]
    data = {"status": status, "wabaId": waba_id or _digits(15), "businessId": business_id or _digits(15),
            "agentId": agent_id, "numbers": numbers_offered, "connectedAt": iso(now) if status == "connected" else None}
    return await records.add(session, account_id, CONNECTION, "wac", data, now, record_id=connection_id)


async def connection(session: AsyncSession, account_id: str, connection_id: str) -> Record:
    return await records.get(session, account_id, CONNECTION, connection_id, "WhatsApp connection")


def _require_connected(row: Record) -> None:
    status = row.data["status"]
    if status != "connected":
        raise Refused(f"WhatsApp connection '{row.id}' is {status}: "
                      + ("finish Meta's signup first (on the emulator: PATCH /_emulator/whatsapp/{id} with "
                         "{\"status\": \"connected\"})." if status == "pending" else "connect again to use it."))


async def available(session: AsyncSession, account_id: str, connection_id: str) -> tuple[Record, list[dict[str, Any]]]:
    row = await connection(session, account_id, connection_id)
    _require_connected(row)
    return row, list(row.data["numbers"])


async def connect_number(session: AsyncSession, account_id: str, connection_id: str, phone_number_id: str,
                         now: datetime, agent_id: str | None = None,
                         number_id: str | None = None) -> tuple[Record, PhoneNumber]:
    """One of the connection's business numbers becomes a WhatsApp number of the account."""
    row = await connection(session, account_id, connection_id)
    _require_connected(row)
    offers = [dict(n) for n in row.data["numbers"]]
    match = next((n for n in offers if n["phoneNumberId"] == phone_number_id), None)
    if match is None:
        raise NotFound(f"Phone number ID '{phone_number_id}' is not one of connection '{row.id}''s numbers "
                       f"({', '.join(n['phoneNumberId'] for n in offers)}).")
    if match.get("numberId"):
        raise Conflict(f"Phone number ID '{phone_number_id}' is already connected as '{match['numberId']}'.")
    agent_id = agent_id or row.data.get("agentId")
    if agent_id is not None:
        await agents.get(session, account_id, agent_id)
    number = await numbers.add(session, account_id, match["phoneNumber"], now, kind="whatsapp", agent_id=agent_id,
                               external_id=phone_number_id, number_id=number_id)
    match["numberId"] = number.id
    records.replace(row, {**row.data, "numbers": offers}, now)
    return row, number


async def set_status(session: AsyncSession, connection_id: str, status: str, now: datetime,
                     offers: list[dict[str, Any]] | None = None, within: Collection[str] | None = None) -> Record:
    """The control API's side: Meta's signup finished (connected), or the connection is back to pending."""
    row = await session.scalar(select(Record).where(Record.id == connection_id, Record.kind == CONNECTION))
    if row is None or (within is not None and row.account_id not in within):
        raise NotFound(f"WhatsApp connection '{connection_id}' was not found.")
    data = dict(row.data)
    if offers is not None:
        if any(n.get("numberId") for n in data["numbers"]):
            raise Conflict(f"Connection '{row.id}' already has connected numbers; its numbers cannot be replaced.")
        data["numbers"] = offers
    data["status"] = status
    data["connectedAt"] = iso(now) if status == "connected" else None
    records.replace(row, data, now)
    return row


async def disconnect(session: AsyncSession, account_id: str, connection_id: str, now: datetime) -> Record:
    row = await connection(session, account_id, connection_id)
    for offer in row.data["numbers"]:
        if offer.get("numberId"):
            number = await numbers.get(session, account_id, offer["numberId"])
            if number.status == "active":
                await numbers.release(session, account_id, number.id, now)
    offers = [{**n, "numberId": None} for n in row.data["numbers"]]
    records.replace(row, {**row.data, "status": "disconnected", "numbers": offers, "connectedAt": None}, now)
    return row


async def connections(session: AsyncSession, account_id: str) -> list[Record]:
    return await records.all_of(session, account_id, CONNECTION)


# --- templates -------------------------------------------------------------------------------------------------


def check_template(name: str, category: str, language: str, parameter_format: str | None,
                   components: list[dict[str, Any]] | None, library_template_name: str | None) -> None:
    """Meta's template rules; every refusal names the field."""
    if not NAME.fullmatch(name):
        raise Invalid(f"Field 'name' must be lowercase letters, digits and underscores, at most 512 (got {name!r}).")
    if category not in CATEGORIES:
        raise Invalid(f"Field 'category' must be one of {', '.join(CATEGORIES)} (got {category!r}).")
    if not LANGUAGE.fullmatch(language):
        raise Invalid(f"Field 'language' must be a language code like en_US or es (got {language!r}).")
    if parameter_format not in (None, "POSITIONAL", "NAMED"):
        raise Invalid(f"Field 'parameter_format' must be POSITIONAL or NAMED (got {parameter_format!r}).")
    if library_template_name is not None:
        if components:
            raise Invalid("Give 'components' or 'library_template_name', not both.")
        return
    if not components:
        raise Invalid("Field 'components' must list the template's parts, a BODY at least (or name a "
                      "'library_template_name').")
    kinds = [str(c.get("type", "")).upper() for c in components]
    if kinds.count("BODY") != 1:
        raise Invalid("Field 'components' must have exactly one BODY component.")
    for i, (kind, part) in enumerate(zip(kinds, components, strict=True)):
        where = f"components[{i}]"
        if kind not in ("HEADER", "BODY", "FOOTER", "BUTTONS"):
            raise Invalid(f"Field '{where}.type' must be HEADER, BODY, FOOTER or BUTTONS (got {part.get('type')!r}).")
        if kinds.count(kind) > 1:
            raise Invalid(f"Field 'components' has more than one {kind} component.")
        if kind == "BUTTONS":
            buttons = part.get("buttons")
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
                raise Invalid(f"Field '{where}.buttons' must list 1 to {MAX_BUTTONS} buttons.")
            continue
        text = part.get("text")
        if kind == "HEADER" and part.get("format", "TEXT") != "TEXT":
            continue  # a media header carries an example handle, not text
        if not isinstance(text, str) or not text.strip():
            raise Invalid(f"Field '{where}.text' must be the {kind.lower()}'s text.")
        if len(text) > TEXT_LIMITS[kind]:
            raise Invalid(f"Field '{where}.text' must be at most {TEXT_LIMITS[kind]} characters.")
        _check_variables(text, parameter_format or "POSITIONAL", f"{where}.text")


def _check_variables(text: str, parameter_format: str, where: str) -> None:
    if parameter_format == "POSITIONAL":
        if NAMED.search(text) and not POSITIONAL.search(text):
            raise Invalid(f"Field '{where}' uses named variables; POSITIONAL templates use {{{{1}}}}, {{{{2}}}}, ...")
        found = [int(n) for n in POSITIONAL.findall(text)]
        if found and sorted(set(found)) != list(range(1, max(found) + 1)):
            raise Invalid(f"Field '{where}' must number its variables {{{{1}}}}, {{{{2}}}}, ... in sequence.")
    elif POSITIONAL.search(text):
        raise Invalid(f"Field '{where}' uses numbered variables; NAMED templates use {{{{first_name}}}} and such.")


async def create_template(session: AsyncSession, account_id: str, connection_id: str, data: dict[str, Any],
                          now: datetime) -> Record:
    row = await connection(session, account_id, connection_id)
    _require_connected(row)
    check_template(data["name"], data["category"], data["language"], data.get("parameter_format"),
                   data.get("components"), data.get("library_template_name"))
    for existing in await templates(session, account_id, connection_id):
        if existing.data["name"] == data["name"] and existing.data["language"] == data["language"]:
            raise Conflict(f"Template '{data['name']}' already exists in {data['language']} ({existing.id}).")
    document = {**data, "connectionId": row.id, "status": "APPROVED", "hsmId": _digits(15)}
    return await records.add(session, account_id, TEMPLATE, "wat", document, now)


async def templates(session: AsyncSession, account_id: str, connection_id: str,
                    filters: dict[str, str | None] | None = None) -> list[Record]:
    await connection(session, account_id, connection_id)
    rows = [r for r in await records.all_of(session, account_id, TEMPLATE) if r.data["connectionId"] == connection_id]
    for key, value in (filters or {}).items():
        if value is not None:
            rows = [r for r in rows if str(r.data.get(key, "")).lower() == value.lower()]
    return rows


async def delete_template(session: AsyncSession, account_id: str, connection_id: str, name: str,
                          hsm_id: str | None) -> list[str]:
    """Meta's rule: by name, every language of the template goes; with `hsm_id`, that one only."""
    matches = [r for r in await templates(session, account_id, connection_id) if r.data["name"] == name
               and (hsm_id is None or r.data["hsmId"] == hsm_id)]
    if not matches:
        raise NotFound(f"No template named {name!r}" + (f" with hsm_id {hsm_id!r}" if hsm_id else "")
                       + f" on connection '{connection_id}'.")
    for row in matches:
        await session.delete(row)
    await session.flush()
    return [row.id for row in matches]


def numbers_of(rows: Collection[Record]) -> list[str]:
    return [n["numberId"] for row in rows for n in row.data["numbers"] if n.get("numberId")]
