"""The control API (`/_emulator/*`) on the wire: health, clock, reset, accounts, faults, the simulated world."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from emulator.clock import iso
from emulator.store import Account as AccountRow
from emulator.store import Call as CallRow
from emulator.store import Conversation as ConversationRow
from emulator.store import Delivery as DeliveryRow
from emulator.store import Message as MessageRow
from emulator.wire.base import Json, Model, Out, Timestamp
from emulator.wire.calls import Call, call
from emulator.wire.conversations import Conversation, conversation
from emulator.wire.messages import Message, message

if TYPE_CHECKING:
    from datetime import datetime

    from emulator.calls.callees import Definition, Magic

# --- requests ----------------------------------------------------------------------------------------------


class AccountSettings(Model):
    plan: str | None = None
    balance_cents: Annotated[int, Field(ge=0)] | None = None
    recording_enabled: bool | None = None


class ClockChange(Model):
    advance: Annotated[float, Field(ge=0)] | None = None
    set: str | None = None


class Reset(Model):
    key: str | None = None


class FaultRequest(Model):
    key: str
    status: Literal[429, 500, 502, 503] | None = None
    webhook: Literal["no-signature", "bad-signature", "stale-timestamp", "tampered-body", "reused-id",
                     "delay"] | None = None
    count: Annotated[int, Field(ge=1, le=10_000)] = 1
    path: str | None = None
    delay_seconds: Annotated[float, Field(ge=0, le=600)] = 0.0
    retry_after: Annotated[int, Field(ge=1, le=3600)] = 1


class InboundSms(Model):
    sender: str = Field(alias="from")
    to: str
    body: Annotated[str, Field(max_length=1600)]
    media_urls: Annotated[list[str], Field(max_length=20)] | None = None


class InboundCall(Model):
    sender: str = Field(alias="from")
    to: str
    turns: list[Any] | None = None
    persona: Json | None = None  # a caller that pursues a goal (see emulator/calls/persona.py)
    seed: int = 0  # the persona's random choices follow it
    drive: bool = False  # the caller's turns arrive through POST /_emulator/calls/{callId}/caller


class JoinWebCall(Model):
    access_token: str
    turns: list[Any] | None = None
    persona: Json | None = None
    seed: int = 0
    drive: bool = False


class CallerTurn(Model):
    turn: Json | None = None  # the caller's next turn ({"say": ...}, {"press": ...}, {"silence": s}, {"hangup": true})


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
    persona: Json | None = None
    seed: int | None = None
    drive: bool | None = None


class CallerQuestion(Out):
    """Where a driven caller stands: asked for its next turn (with what it heard), still waiting for the
    agent (ask again), or the call ended."""

    call_id: str
    state: Literal["asking", "waiting", "ended"]
    question: int  # questions put to the caller so far (the turn it answers is `caller[question - 1]`)
    heard: Json | None = None
    status: str | None = None
    end_reason: str | None = None


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


def callee(e164: str, definition: Definition, scope: str | None = None) -> dict[str, Any]:
    return {"number": e164, "accountId": scope, **definition.to_json()}


def caller_question(call_id: str, state: str, question: int, heard: Json | None = None, status: str | None = None,
                    end_reason: str | None = None) -> dict[str, Any]:
    return {"callId": call_id, "state": state, "question": question, "heard": heard, "status": status,
            "endReason": end_reason}


def callees(scripts: dict[tuple[str | None, str], Definition], magic: dict[str, Magic]) -> dict[str, Any]:
    return {"data": [callee(n, t, scope) for (scope, n), t in scripts.items()],
            "magicNumbers": [{"number": n, "status": m.status, "description": m.description}
                             for n, m in magic.items()]}


def callee_removed(e164: str) -> dict[str, Any]:
    return {"success": True, "number": e164}
