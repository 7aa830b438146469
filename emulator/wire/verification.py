"""Phone verification on the wire (snake_case, as the vendor spells it)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from emulator.store import Record
from emulator.wire.base import NonEmpty, Out, SnakeModel, SnakeOut, Timestamp
from emulator.wire.rules import LenientPhoneNumber


class VerifySend(SnakeModel):
    phone_number: LenientPhoneNumber


class VerifyCheck(SnakeModel):
    verification_id: NonEmpty
    code: Annotated[str, Field(min_length=1, max_length=12)]


class VerificationSent(SnakeOut):
    verification_id: str
    status: str
    phone_number: str
    channel: str
    expires_at: Timestamp


class VerificationChecked(SnakeOut):
    verification_id: str
    status: Literal["pending", "approved", "failed", "expired"]
    valid: bool
    attempts: int
    phone_number: str


class Verification(Out):
    """What the control API shows of a verification: the code the phone received."""

    id: str
    phone_number: str
    code: str
    status: str
    attempts: int
    expires_at: Timestamp


def sent(row: Record) -> dict[str, Any]:
    data = row.data
    return {"verification_id": row.id, "status": data["status"], "phone_number": data["phoneNumber"],
            "channel": "sms", "expires_at": data["expiresAt"]}


def checked(row: Record) -> dict[str, Any]:
    data = row.data
    return {"verification_id": row.id, "status": data["status"], "valid": data["status"] == "approved",
            "attempts": data["attempts"], "phone_number": data["phoneNumber"]}


def code(row: Record) -> dict[str, Any]:
    return {"id": row.id, **row.data}
