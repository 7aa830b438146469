"""Contacts on the wire: the address book and the reachability check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, WithJsonSchema

from emulator.clock import iso
from emulator.wire.base import Model, NonEmpty, Out, Page, Timestamp, columns
from emulator.wire.rules import EMAIL_RULE, LenientPhoneNumber, not_null

Email = Annotated[str, Field(max_length=320),
                  WithJsonSchema({"type": "string", "maxLength": 320, "pattern": f"^$|{EMAIL_RULE}"})]


class CreateContact(Model):
    phone_number: LenientPhoneNumber
    name: NonEmpty
    email: Email | None = None
    notes: Annotated[str, Field(max_length=10_000)] | None = None


class UpdateContact(Model):
    model_config = ConfigDict(json_schema_extra=not_null("phone_number", "name"))

    phone_number: LenientPhoneNumber | None = None
    name: NonEmpty | None = None
    email: Email | None = None
    notes: Annotated[str, Field(max_length=10_000)] | None = None


class Contact(Out):
    id: str
    phone_number: str
    name: str
    email: str | None
    notes: str | None
    created_at: Timestamp
    updated_at: Timestamp


class CapabilityFlags(Out):
    imessage: bool
    sms: bool


class ContactCapabilities(Out):
    phone_number: str
    capabilities: CapabilityFlags
    checked_at: Timestamp


ContactList = Page[Contact]

contact = columns(Contact)


def capabilities(e164: str, imessage: bool, sms: bool, checked_at: datetime) -> dict[str, Any]:
    return {"phoneNumber": e164, "capabilities": {"imessage": imessage, "sms": sms}, "checkedAt": iso(checked_at)}
