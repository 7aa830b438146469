"""Phone numbers on the wire: buying, the number itself, availability, lookups and iMessage contact cards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import ConfigDict, Field, WithJsonSchema

from emulator.clock import iso
from emulator.phones import AREA_CODE_RULE, COUNTRY_RULE
from emulator.store import PhoneNumber as NumberRow
from emulator.wire.base import Model, Out, Page, Timestamp
from emulator.wire.rules import IsoTime, WebUrl

if TYPE_CHECKING:
    from emulator.domain.catalog import Available, LineInfo

# --- requests ----------------------------------------------------------------------------------------------


class BuyNumber(Model):
    country: Annotated[str, WithJsonSchema({"type": "string", "pattern": COUNTRY_RULE})] = "US"
    area_code: Annotated[str, WithJsonSchema({"type": "string", "pattern": AREA_CODE_RULE})] | None = None
    agent_id: str | None = None
    type: Literal["sms", "voice", "imessage"] | None = None
    external_id: Annotated[str, Field(max_length=200)] | None = None
    expires_at: IsoTime | None = None


class UpdateNumber(Model):
    external_id: Annotated[str, Field(max_length=200)] | None = None
    expires_at: IsoTime | None = None


def _named(schema: dict[str, Any]) -> None:
    """A card needs a non-empty first name or display name."""
    schema["anyOf"] = [{"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}
                       for name in ("firstName", "displayName")]


class ContactCard(Model):
    model_config = ConfigDict(json_schema_extra=_named)

    first_name: Annotated[str, Field(max_length=100)] | None = None
    last_name: Annotated[str, Field(max_length=100)] | None = None
    display_name: Annotated[str, Field(max_length=200)] | None = None
    avatar_url: WebUrl | None = None


# --- responses ---------------------------------------------------------------------------------------------


class PhoneNumber(Out):
    id: str
    phone_number: str
    country: str
    status: str
    type: str
    agent_id: str | None
    external_id: str | None
    expires_at: Timestamp | None
    inbound_calls_enabled: bool
    outbound_sms: Literal["enabled", "disabled"]
    purchased_at: Timestamp
    released_at: Timestamp | None
    created_at: Timestamp


class DetachedNumber(Out):
    success: bool
    message: str
    agent_id: str
    number_id: str
    number: PhoneNumber


class ReleasedNumber(Out):
    success: bool
    id: str
    phone_number: str
    status: str
    message: str
    released_at: Timestamp | None


class AvailableNumber(Out):
    phone_number: str
    city: str | None
    state: str | None
    rate_center: str | None
    area_code: str
    country: str


class AvailableNumbers(Out):
    data: list[AvailableNumber]
    total: int


class NumberLookup(Out):
    phone_number: str
    line_type: str
    country: str | None
    rcs_enabled: bool
    valid: bool
    owned_by_account: bool


class NumberLookups(Out):
    data: list[NumberLookup]


class ContactCardInfo(Out):
    first_name: str | None
    last_name: str | None
    display_name: str | None
    has_avatar: bool


PhoneNumberList = Page[PhoneNumber]


# --- rendering ---------------------------------------------------------------------------------------------


def number(row: NumberRow) -> dict[str, Any]:
    active = row.status == "active"
    return {
        "id": row.id,
        "phoneNumber": row.phone_number,
        "country": row.country,
        "status": row.status,
        "type": row.type,
        "agentId": row.agent_id,
        "externalId": row.external_id,
        "expiresAt": iso(row.expires_at),
        "inboundCallsEnabled": active,
        "outboundSms": "enabled" if active else "disabled",
        "purchasedAt": iso(row.created_at),
        "releasedAt": iso(row.released_at),
        "createdAt": iso(row.created_at),
    }


def detached(agent_id: str, row: NumberRow) -> dict[str, Any]:
    return {"success": True, "message": "Number detached", "agentId": agent_id, "numberId": row.id,
            "number": number(row)}


def released(row: NumberRow) -> dict[str, Any]:
    return {"success": True, "id": row.id, "phoneNumber": row.phone_number, "status": row.status,
            "message": "Number released", "releasedAt": iso(row.released_at)}


def available(items: list[Available]) -> dict[str, Any]:
    data = [{"phoneNumber": a.phone_number, "city": a.city, "state": a.state,
             "rateCenter": a.city.upper() if a.city else None, "areaCode": a.area_code, "country": a.country}
            for a in items]
    return {"data": data, "total": len(data)}


def lookups(items: list[LineInfo]) -> dict[str, Any]:
    return {"data": [{"phoneNumber": i.phone_number, "lineType": i.line_type, "country": i.country,
                      "rcsEnabled": i.rcs_enabled, "valid": True, "ownedByAccount": i.owned_by_account}
                     for i in items]}


def contact_card(stored: dict[str, Any] | None) -> dict[str, Any]:
    card = stored or {}
    return {"firstName": card.get("firstName"), "lastName": card.get("lastName"),
            "displayName": card.get("displayName"), "hasAvatar": bool(card.get("avatarUrl"))}
