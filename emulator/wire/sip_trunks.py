"""SIP trunks on the wire."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from emulator.clock import iso
from emulator.store import Record
from emulator.wire.base import Out, SnakeModel, Timestamp
from emulator.wire.rules import not_null

PROXY_IPS = ["192.0.2.10", "192.0.2.11"]  # documentation range: nothing real answers there


class SipTrunkUpdate(SnakeModel):
    model_config = ConfigDict(json_schema_extra=not_null("name", "transfers", "transfer_caller_id"))

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    transfers: Literal["all", "sip", "none"] | None = None
    transfer_caller_id: Literal["transferee", "transferor"] | None = None
    origination: dict[str, Any] | None = None


class SipCredential(Out):
    username: str
    password: str | None = None  # shown only when created or rotated
    password_last4: str
    credential_list_name: str


class SipTrunk(Out):
    id: str
    name: str
    provider: str
    encrypted: bool
    transport: str
    media_encryption: str
    transfers: Literal["all", "sip", "none"]
    transfer_caller_id: Literal["transferee", "transferor"]
    termination_sip_uri: str
    origination_uris: list[Any]
    allowed_ips: list[Any]
    proxy_ips: list[str]
    credentials: list[SipCredential]
    created_at: Timestamp
    updated_at: Timestamp


class SipTrunks(Out):
    data: list[SipTrunk]
    total: int


def trunk(row: Record, reveal: bool = False) -> dict[str, Any]:
    """A trunk; its password only with `reveal` (on create and on rotation)."""
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


def trunks(rows: list[Record]) -> dict[str, Any]:
    return {"data": [trunk(r) for r in rows], "total": len(rows)}
