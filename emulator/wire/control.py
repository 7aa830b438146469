"""The control API (`/_emulator/*`) on the wire: health, clock, reset, accounts, faults, the simulated world."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from emulator.clock import iso
from emulator.plans import PLANS
from emulator.wire.base import Json, Model, Out, Timestamp, Whole
from emulator.wire.calls import Call, call
from emulator.wire.conversations import Conversation, conversation
from emulator.wire.messages import Message, message
from emulator.wire.rules import ApiKey, IsoTime, PhoneNumber, Turns, WebUrl, not_null, one_of

if TYPE_CHECKING:
    from datetime import datetime

    from emulator.calls.callees import Definition, Magic
    from emulator.store import Account as AccountRow
    from emulator.store import Call as CallRow
    from emulator.store import Conversation as ConversationRow
    from emulator.store import Delivery as DeliveryRow
    from emulator.store import Message as MessageRow
    from emulator.store import Reaction as ReactionRow

# --- requests ----------------------------------------------------------------------------------------------


Vocabulary = Literal["current", "skill-doc", "all"]


class AccountSettings(Model):
    model_config = ConfigDict(json_schema_extra=not_null())

    plan: Annotated[str, WithJsonSchema({"type": "string", "enum": list(PLANS)})] | None = None
    balance_cents: Annotated[int, Field(ge=0, le=2**63 - 1), Whole] | None = None
    recording_enabled: bool | None = None
    webhook_events: Vocabulary | None = None  # null: follow the emulator's --webhook-events


class ClockChange(Model):
    model_config = ConfigDict(json_schema_extra=one_of("advance", "set"))

    advance: Annotated[float, Field(ge=0)] | None = None
    set: IsoTime | None = None
    key: ApiKey | None = None  # the admin moving one account's clock (an account key moves its own)


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
    webhook: Literal["no-signature", "bad-signature", "stale-timestamp", "tampered-body", "reused-id",
                     "delay"] | None = None
    count: Annotated[int, Field(ge=1, le=10_000), Whole] = 1
    path: str | None = None
    delay_seconds: Annotated[float, Field(ge=0, le=600)] = 0.0
    retry_after: Annotated[int, Field(ge=1, le=3600), Whole] = 1


class GroupInbound(Model):
    """The iMessage group an inbound message is posted in: an existing group's `id`, or the members of a new one."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=True, extra="forbid",
                              frozen=True)
    id: Annotated[str, Field(pattern=r"^grp_[A-Za-z0-9_-]{1,60}$")] | None = None
    name: Annotated[str, Field(max_length=200)] | None = None
    participants: Annotated[list[Annotated[str, Field(max_length=320)]], Field(max_length=32)] | None = None


class InboundSms(Model):
    sender: PhoneNumber = Field(alias="from")
    to: PhoneNumber
    body: Annotated[str, Field(max_length=1600)]
    media_urls: Annotated[list[WebUrl], Field(max_length=20)] | None = None
    group: Annotated[str, Field(pattern=r"^grp_[A-Za-z0-9_-]{1,60}$")] | GroupInbound | None = None


class CallAnalysis(Model):
    """What a call's `agent.call_ended` reports instead of the derived analysis (each field optional)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=True, extra="forbid",
                              frozen=True)
    summary: Annotated[str, Field(max_length=2000)] | None = None
    user_sentiment: Literal["Positive", "Neutral", "Negative"] | None = None
    call_successful: bool | None = None

    def stated(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_unset=True)


class InboundCall(Model):
    sender: PhoneNumber = Field(alias="from")
    to: PhoneNumber
    turns: Turns | None = None
    analysis: CallAnalysis | None = None
    persona: Json | None = None  # a caller that pursues a goal (see emulator/calls/persona.py)
    seed: int = 0  # the persona's random choices follow it
    drive: bool = False  # the caller's turns arrive through POST /_emulator/calls/{callId}/caller


class CalleeDefinition(Model):
    """Who answers calls to a destination: scripted turns, a persona, or a driven caller."""

    turns: Turns | None = None
    analysis: CallAnalysis | None = None
    persona: Json | None = None
    seed: int = 0
    drive: bool = False


class TriggerEvent(Model):
    """Any documented event, for an account: built like a real one, then `data` laid over its data."""

    key: str | None = None  # the account (an account key's own, whatever is given here)
    event: Annotated[str, Field(min_length=1, max_length=64)]
    channel: Annotated[str, Field(max_length=16)] | None = None
    agent_id: Annotated[str, Field(max_length=64)] | None = None
    sender: Annotated[str, Field(max_length=64)] | None = Field(default=None, alias="from")
    text: Annotated[str, Field(max_length=1600)] | None = None
    data: dict[str, Any] | None = None
    recent_history: Annotated[list[dict[str, Any]], Field(max_length=50)] | None = None
    conversation_state: dict[str, Any] | None = None


class JoinWebCall(Model):
    access_token: str
    turns: Turns | None = None
    analysis: CallAnalysis | None = None
    persona: Json | None = None
    seed: int = 0
    drive: bool = False


class InboundReaction(Model):
    message_id: Annotated[str, Field(min_length=1, max_length=64)]
    reaction: Annotated[str, Field(min_length=1, max_length=32)]


class CallerTurn(Model):
    turn: Json | None = None  # the caller's next turn ({"say": ...}, {"press": ...}, {"silence": s}, {"hangup": true})


# --- responses ---------------------------------------------------------------------------------------------


class Health(Out):
    status: str
    version: str
    uptime_seconds: float
    database: str
    clock: Timestamp
    process_id: int  # the process that answered (one of several with serve --workers N)


class ClockState(Out):
    """A clock: the emulator's (`accountId` null), or an account's, which may run ahead of it."""

    now: Timestamp
    offset_seconds: float
    account_id: str | None = None


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
    webhook_events: Vocabulary | None


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
    analysis: Json | None = None
    persona: Json | None = None
    seed: int | None = None
    drive: bool | None = None


class ReactionState(Out):
    id: str
    reaction_type: str
    from_number: str | None
    direction: str
    created_at: Timestamp


class ReactionReceived(Out):
    reaction: ReactionState
    message: Message
    account_id: str
    deliveries: list[DeliveryRef]


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


def health(version: str, uptime_seconds: float, database: str, now: datetime, process_id: int) -> dict[str, Any]:
    return {"status": "ok", "version": version, "uptimeSeconds": round(uptime_seconds, 3), "database": database,
            "clock": iso(now), "processId": process_id}


def clock(now: datetime, offset_seconds: float, account_id: str | None = None) -> dict[str, Any]:
    return {"now": iso(now), "offsetSeconds": offset_seconds, "accountId": account_id}


def reset(scope: str, elapsed_ms: float) -> dict[str, Any]:
    return {"success": True, "reset": scope, "elapsedMs": round(elapsed_ms, 2)}


def account(row: AccountRow) -> dict[str, Any]:
    return {"id": row.id, "key": row.key, "plan": row.plan, "balanceCents": row.balance_cents,
            "recordingEnabled": row.recording_enabled, "numbersBought": row.numbers_bought,
            "createdAt": iso(row.created_at), "webhookEvents": row.webhook_events}


def fault_added(fault: Json) -> dict[str, Any]:
    return {"success": True, "fault": fault}


def faults(api: list[Json], webhook: list[Json]) -> dict[str, Any]:
    return {"api": api, "webhook": webhook}


def refs(deliveries: list[DeliveryRow]) -> list[dict[str, Any]]:
    return [{"id": d.id, "eventType": d.event_type, "status": d.status} for d in deliveries]


def reaction_received(row: ReactionRow, on: MessageRow, deliveries: list[DeliveryRow]) -> dict[str, Any]:
    return {"reaction": {"id": row.id, "reactionType": row.reaction, "fromNumber": row.from_number,
                         "direction": row.direction, "createdAt": iso(row.created_at)},
            "message": message(on), "accountId": on.account_id, "deliveries": refs(deliveries)}


def sms_received(row: MessageRow, thread: ConversationRow, deliveries: list[DeliveryRow]) -> dict[str, Any]:
    return {"message": message(row), "conversation": conversation(thread), "accountId": row.account_id,
            "deliveries": [{"id": d.id, "eventType": d.event_type, "status": d.status} for d in deliveries]}


class EventTriggered(Out):
    event: str
    channel: str
    delivery: DeliveryRef
    payload: Json  # the envelope exactly as it is signed and sent


def triggered(row: DeliveryRow) -> dict[str, Any]:
    return {"event": row.event_type, "channel": row.channel or "", "payload": json.loads(row.payload),
            "delivery": {"id": row.id, "eventType": row.event_type, "status": row.status}}


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
