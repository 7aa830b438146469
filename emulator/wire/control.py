"""The control API (`/_emulator/*`) on the wire: health, clock, reset, accounts, faults, the simulated world."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from emulator.clock import iso
from emulator.plans import PLANS
from emulator.store import Account as AccountRow
from emulator.store import Call as CallRow
from emulator.store import Conversation as ConversationRow
from emulator.store import Delivery as DeliveryRow
from emulator.store import Message as MessageRow
from emulator.wire.base import Json, Model, Out, Timestamp, Whole
from emulator.wire.calls import Call, call
from emulator.wire.conversations import Conversation, conversation
from emulator.wire.messages import Message, message
from emulator.wire.rules import ApiKey, IsoTime, PhoneNumber, Turns, WebUrl, not_null, one_of

if TYPE_CHECKING:
    from datetime import datetime

    from emulator.calls.callees import Magic
    from emulator.calls.script import Turn

# --- requests ----------------------------------------------------------------------------------------------


class AccountSettings(Model):
    model_config = ConfigDict(json_schema_extra=not_null())

    plan: Annotated[str, WithJsonSchema({"type": "string", "enum": list(PLANS)})] | None = None
    balance_cents: Annotated[int, Field(ge=0, le=2**63 - 1), Whole] | None = None
    recording_enabled: bool | None = None


class ClockChange(Model):
    model_config = ConfigDict(json_schema_extra=one_of("advance", "set"))

    advance: Annotated[float, Field(ge=0)] | None = None
    set: IsoTime | None = None


class Reset(Model):
    model_config = ConfigDict(json_schema_extra=not_null())

    key: ApiKey | None = None


def _fault_rules(schema: dict[str, Any], model: type[BaseModel]) -> None:
    one_of("status", "webhook")(schema, model)
    schema["if"] = {"properties": {"webhook": {"const": "delay"}}, "required": ["webhook"]}
    schema["then"] = {"properties": {"delaySeconds": {"exclusiveMinimum": 0}}, "required": ["delaySeconds"]}


class FaultRequest(Model):
    model_config = ConfigDict(json_schema_extra=_fault_rules)

    key: ApiKey
    status: Literal[429, 500, 502, 503] | None = None
    webhook: Literal["bad-signature", "stale-timestamp", "tampered-body", "reused-id", "delay"] | None = None
    count: Annotated[int, Field(ge=1, le=10_000), Whole] = 1
    path: str | None = None
    delay_seconds: Annotated[float, Field(ge=0, le=600)] = 0.0
    retry_after: Annotated[int, Field(ge=1, le=3600), Whole] = 1


class InboundSms(Model):
    sender: PhoneNumber = Field(alias="from")
    to: PhoneNumber
    body: Annotated[str, Field(max_length=1600)]
    media_urls: Annotated[list[WebUrl], Field(max_length=20)] | None = None


class InboundCall(Model):
    sender: PhoneNumber = Field(alias="from")
    to: PhoneNumber
    turns: Turns | None = None


class CalleeTurns(Model):
    turns: Turns


class JoinWebCall(Model):
    access_token: str
    turns: Turns | None = None


# --- responses ---------------------------------------------------------------------------------------------


class Health(Out):
    status: str
    version: str
    uptime_seconds: float
    database: str
    clock: Timestamp


class ClockState(Out):
    now: Timestamp
    offset_seconds: float


class ResetDone(Out):
    success: bool
    reset: str
    elapsed_ms: float


class AccountState(Out):
    id: str
    key: str | None
    plan: str
    balance_cents: int
    recording_enabled: bool
    numbers_bought: int
    created_at: Timestamp


class FaultAdded(Out):
    success: bool
    fault: Json


class Faults(Out):
    api: list[Json]
    webhook: list[Json]


class DeliveryRef(Out):
    id: str
    event_type: str
    status: str


class InboundSmsReceived(Out):
    message: Message
    conversation: Conversation
    account_id: str
    deliveries: list[DeliveryRef]


class InboundCallPlaced(Call):
    account_id: str


class CalleeScript(Out):
    number: str
    account_id: str | None  # the account the script is scoped to; null: every account
    turns: list[Json]


class MagicNumber(Out):
    number: str
    status: str
    description: str


class Callees(Out):
    data: list[CalleeScript]
    magic_numbers: list[MagicNumber]


class CalleeRemoved(Out):
    success: bool
    number: str


# --- rendering ---------------------------------------------------------------------------------------------


def health(version: str, uptime_seconds: float, database: str, now: datetime) -> dict[str, Any]:
    return {"status": "ok", "version": version, "uptimeSeconds": round(uptime_seconds, 3), "database": database,
            "clock": iso(now)}


def clock(now: datetime, offset_seconds: float) -> dict[str, Any]:
    return {"now": iso(now), "offsetSeconds": offset_seconds}


def reset(scope: str, elapsed_ms: float) -> dict[str, Any]:
    return {"success": True, "reset": scope, "elapsedMs": round(elapsed_ms, 2)}


def account(row: AccountRow) -> dict[str, Any]:
    return {"id": row.id, "key": row.key, "plan": row.plan, "balanceCents": row.balance_cents,
            "recordingEnabled": row.recording_enabled, "numbersBought": row.numbers_bought,
            "createdAt": iso(row.created_at)}


def fault_added(fault: Json) -> dict[str, Any]:
    return {"success": True, "fault": fault}


def faults(api: list[Json], webhook: list[Json]) -> dict[str, Any]:
    return {"api": api, "webhook": webhook}


def sms_received(row: MessageRow, thread: ConversationRow, deliveries: list[DeliveryRow]) -> dict[str, Any]:
    return {"message": message(row), "conversation": conversation(thread), "accountId": row.account_id,
            "deliveries": [{"id": d.id, "eventType": d.event_type, "status": d.status} for d in deliveries]}


def inbound_placed(row: CallRow, base_url: str, agent_name: str) -> dict[str, Any]:
    return {**call(row, base_url, False, agent_name=agent_name), "accountId": row.account_id}


def callee(e164: str, turns: list[Turn], scope: str | None = None) -> dict[str, Any]:
    return {"number": e164, "accountId": scope, "turns": [turn.to_json() for turn in turns]}


def callees(scripts: dict[tuple[str | None, str], list[Turn]], magic: dict[str, Magic]) -> dict[str, Any]:
    return {"data": [callee(n, t, scope) for (scope, n), t in scripts.items()],
            "magicNumbers": [{"number": n, "status": m.status, "description": m.description}
                             for n, m in magic.items()]}


def callee_removed(e164: str) -> dict[str, Any]:
    return {"success": True, "number": e164}
