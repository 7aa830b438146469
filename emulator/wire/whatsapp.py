"""WhatsApp on the wire: the official SDK's `WhatsAppResource` calls (snake_case bodies, as it sends them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from emulator.clock import iso
from emulator.store import PhoneNumber as NumberRow
from emulator.store import Record
from emulator.wire.base import Json, Model, Out, SnakeModel, Timestamp

# --- requests ----------------------------------------------------------------------------------------------


class Connect(SnakeModel):
    code: Annotated[str, Field(min_length=1, max_length=2000)]
    waba_id: Annotated[str, Field(max_length=64)] | None = None
    phone_number_id: Annotated[str, Field(max_length=64)] | None = None
    business_id: Annotated[str, Field(max_length=64)] | None = None
    agent_id: str | None = None


class ConnectNumber(SnakeModel):
    phone_number_id: Annotated[str, Field(min_length=1, max_length=64)]
    agent_id: str | None = None


class CreateTemplate(SnakeModel):
    name: Annotated[str, Field(min_length=1, max_length=512)]
    category: str
    language: Annotated[str, Field(max_length=16)] = "en_US"
    parameter_format: str | None = None
    components: Annotated[list[Json], Field(max_length=10)] | None = None
    library_template_name: Annotated[str, Field(max_length=512)] | None = None
    library_template_button_inputs: list[Json] | None = None
    library_template_body_inputs: Json | None = None


class OfferedNumber(Model):
    phone_number: str
    display_name: Annotated[str, Field(max_length=100)] | None = None
    phone_number_id: Annotated[str, Field(pattern=r"^[0-9]{1,20}$")] | None = None


class ConnectionChange(Model):
    """The control API's side of Meta's signup: mark a connection connected (and name its numbers)."""

    status: Literal["pending", "connected"]
    numbers: Annotated[list[OfferedNumber], Field(min_length=1, max_length=10)] | None = None


# --- responses ---------------------------------------------------------------------------------------------


class Offered(Out):
    phone_number_id: str
    phone_number: str
    display_name: str
    quality_rating: str
    number_id: str | None  # the account's phone number, once connected


class Connection(Out):
    id: str
    status: Literal["pending", "connected", "disconnected"]
    waba_id: str
    business_id: str
    agent_id: str | None
    numbers: list[Offered]
    connected_at: Timestamp | None
    created_at: Timestamp


class AvailableNumbers(Out):
    connection_id: str
    data: list[Offered]
    total: int


class ConnectedNumber(Out):
    id: str
    phone_number: str
    type: str
    status: str
    agent_id: str | None
    connection_id: str
    phone_number_id: str
    created_at: Timestamp


class Template(Out):
    id: str
    hsm_id: str
    connection_id: str
    name: str
    category: str
    language: str
    status: str
    parameter_format: str | None
    components: list[Json] | None
    library_template_name: str | None
    created_at: Timestamp


class TemplateList(Out):
    data: list[Template]
    total: int


class TemplatesDeleted(Out):
    success: bool
    name: str
    deleted: list[str]


class Status(Out):
    connected: bool
    connections: list[Connection]


class Disconnected(Out):
    success: bool
    id: str
    status: str
    released_numbers: list[str]


# --- rendering ---------------------------------------------------------------------------------------------


def connection(row: Record) -> dict[str, Any]:
    data = row.data
    return {"id": row.id, "status": data["status"], "wabaId": data["wabaId"], "businessId": data["businessId"],
            "agentId": data.get("agentId"), "numbers": [dict(n) for n in data["numbers"]],
            "connectedAt": data.get("connectedAt"), "createdAt": iso(row.created_at)}


def available(row: Record, offers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"connectionId": row.id, "data": [dict(n) for n in offers], "total": len(offers)}


def connected_number(row: Record, number: NumberRow) -> dict[str, Any]:
    return {"id": number.id, "phoneNumber": number.phone_number, "type": number.type, "status": number.status,
            "agentId": number.agent_id, "connectionId": row.id, "phoneNumberId": number.external_id or "",
            "createdAt": iso(number.created_at)}


def template(row: Record) -> dict[str, Any]:
    data = row.data
    return {"id": row.id, "hsmId": data["hsmId"], "connectionId": data["connectionId"], "name": data["name"],
            "category": data["category"], "language": data["language"], "status": data["status"],
            "parameterFormat": data.get("parameter_format"), "components": data.get("components"),
            "libraryTemplateName": data.get("library_template_name"), "createdAt": iso(row.created_at)}


def template_list(rows: list[Record]) -> dict[str, Any]:
    return {"data": [template(r) for r in rows], "total": len(rows)}


def deleted(name: str, ids: list[str]) -> dict[str, Any]:
    return {"success": True, "name": name, "deleted": ids}


def status(rows: list[Record]) -> dict[str, Any]:
    return {"connected": any(r.data["status"] == "connected" for r in rows),
            "connections": [connection(r) for r in rows]}


def disconnected(row: Record, released: list[str]) -> dict[str, Any]:
    return {"success": True, "id": row.id, "status": row.data["status"], "releasedNumbers": released}
