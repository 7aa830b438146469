"""Any documented event on demand (`POST /_emulator/events`), built by the same payload builders as a real
happening, with the caller's overrides merged in, then routed, signed, delivered and logged like any other.

Nothing is stored but the delivery: the message, call or reaction the event speaks of is made up for it
(the account's first agent and its first number unless the request names them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.calls import analysis
from emulator.calls.callees import Callee
from emulator.calls.setup import AgentView, CallSetup
from emulator.domain import agents
from emulator.errors import Invalid, Refused
from emulator.store import Agent, Message, PhoneNumber, Reaction
from emulator.wire import events

SENDER = "+15555550100"  # the other party, unless the request names one
NOWHERE = "+15555550199"  # our side, when the account has no number
TEXT = "This is a triggered event from the AgentPhone emulator."

# Every event the emulator sends, with the channels it may travel on (the first is the default).
CHANNELS: dict[str, tuple[str, ...]] = {
    "agent.message": ("sms", "mms", "imessage", "whatsapp", "voice"),
    "message.received": ("sms", "mms", "imessage", "whatsapp"),
    "message.sent": ("sms", "mms", "imessage", "whatsapp"),
    "agent.reaction": ("imessage",),
    "agent.call_ended": ("voice",),
    "call.started": ("voice",),
    "call.ended": ("voice",),
}


@dataclass
class Built:
    agent_id: str | None
    channel: str
    data: dict[str, Any]
    history: list[dict[str, Any]]
    message_id: str | None = None


def merged(base: Any, overrides: Any) -> Any:
    """`overrides` laid over `base`: objects field by field (recursively), anything else replaced."""
    if isinstance(base, dict) and isinstance(overrides, dict):
        return {**base, **{k: merged(base.get(k), v) for k, v in overrides.items()}}
    return overrides


async def agent_for(session: AsyncSession, account_id: str, agent_id: str | None) -> Agent | None:
    """The agent asked for, else the account's first agent (None when it has none)."""
    if agent_id is not None:
        return await agents.get(session, account_id, agent_id)
    return await session.scalar(select(Agent).where(Agent.account_id == account_id).order_by(Agent.pk))


async def _number(session: AsyncSession, account_id: str, agent: Agent | None) -> PhoneNumber:
    if agent is not None:
        attached = (await agents.numbers_of(session, [agent.id]))[agent.id]
        if attached:
            return attached[0]
    found = await session.scalar(select(PhoneNumber).where(PhoneNumber.account_id == account_id,
                                                           PhoneNumber.status == "active").order_by(PhoneNumber.pk))
    return found or PhoneNumber(id=None, account_id=account_id, phone_number=NOWHERE, type="sms", external_id=None)


def _message(account_id: str, number: PhoneNumber, other: str, direction: str, channel: str, text: str,
             now: datetime) -> Message:
    inbound = direction == "inbound"
    media = ["https://media.example.invalid/photo.jpg"] if channel == "mms" else None
    return Message(
        id=ids.new_id("msg"), account_id=account_id, agent_id=number.agent_id, conversation_id=ids.new_id("conv"),
        phone_number_id=number.id, from_number=other if inbound else number.phone_number,
        to_number=number.phone_number if inbound else other, body=text, direction=direction,
        status="received" if inbound else "sent", channel="sms" if channel == "mms" else channel,
        media_urls=media, received_at=now, pk=0,
    )


def _setup(account_id: str, agent: Agent, number: PhoneNumber, other: str) -> CallSetup:
    return CallSetup(call_id=ids.new_id("call"), account_id=account_id, agent=AgentView.of(agent), hook=None,
                     callee=Callee([], "triggered"), direction="inbound", from_number=other,
                     to_number=number.phone_number, phone_number_id=number.id)


async def build(session: AsyncSession, account_id: str, event: str, channel: str | None, agent_id: str | None,
                sender: str | None, text: str | None, now: datetime) -> Built:
    """The event's data and history as the real builders make them for a made-up happening."""
    if event not in CHANNELS:
        raise Invalid(f"Field 'event' must be one of {', '.join(CHANNELS)} (got {event!r}).")
    allowed = CHANNELS[event]
    channel = channel or allowed[0]
    if channel not in allowed:
        raise Invalid(f"Event {event} travels on {', '.join(allowed)}, not on {channel!r}.")
    agent = await agent_for(session, account_id, agent_id)
    number = await _number(session, account_id, agent)
    other, said = sender or SENDER, text or TEXT
    if channel == "voice":
        if agent is None:
            raise Refused("A voice event needs an agent: create one (POST /v1/agents) or name it with 'agentId'.")
        setup = _setup(account_id, agent, number, other)
        if event == "agent.message":
            data = events.voice_turn_data(setup, said, 0.95, None)
        elif event == "call.started":
            data = events.call_data(setup, "in-progress", now)
        elif event == "call.ended":
            data = events.call_ended_data(setup, "completed", now, now, 0, "caller-hangup", [], {})
        else:
            data = events.agent_call_ended_data(setup, "completed", now, now, 0, "caller-hangup", [], None,
                                                analysis.derive([], "inbound", "caller-hangup", 0))
        return Built(agent.id, channel, data, [events.history_item(said, "inbound", "voice", now)], setup.call_id)
    direction = "outbound" if event == "message.sent" else "inbound"
    message = _message(account_id, number, other, direction, channel, said, now)
    if event == "agent.reaction":
        reaction = Reaction(id=ids.new_id("rxn"), account_id=account_id, message_id=message.id, reaction="love",
                            created_at=now, direction="inbound", from_number=other)
        data = events.reaction_data(reaction, message)
    else:
        data = events.message_data(message, number if number.id else None)
    history = [events.history_item(message.body, message.direction, events.channel_of(message), now, message.id)]
    return Built(agent.id if agent else None, events.channel_of(message) if event != "agent.reaction" else channel,
                 data, history, message.id)
