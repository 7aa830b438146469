"""Webhook events on the wire: the envelope of the official SDK's `WebhookEvent` and its `data` per event."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from emulator.calls.analysis import Analysis, disconnection_reason, spoken
from emulator.clock import iso
from emulator.store import Contact, Conversation, Message, PhoneNumber, Reaction, Transcript
from emulator.wire.calls import transcript

if TYPE_CHECKING:
    from emulator.calls.setup import CallSetup

# Every event name either vocabulary uses (emulator/webhooks/notify.py says which happening sends which).
EVENTS = ("agent.message", "agent.call_ended", "agent.reaction", "message.received", "message.sent", "call.started",
          "call.ended")


def envelope(event: str, channel: str, agent_id: str | None, data: dict[str, Any], now: datetime, *,
             history: list[dict[str, Any]] | None = None, state: dict[str, Any] | None = None,
             test: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event": event,
        "channel": channel,
        "timestamp": iso(now),
        "agentId": agent_id,
        "data": data,
        "recentHistory": history or [],
        "conversationState": state,
    }
    if test:
        out["test"] = True
    return out


def history_item(content: str, direction: str, channel: str, at: datetime,
                 message_id: str | None = None) -> dict[str, Any]:
    item = {"content": content, "direction": direction, "channel": channel, "at": iso(at)}
    if message_id is not None:
        item["messageId"] = message_id
    return item


def channel_of(message: Message) -> str:
    """The channel a message's events carry: `mms` for a message with media on an SMS line."""
    return "mms" if message.channel == "sms" and message.media_urls else message.channel


def contact(row: Contact | None) -> dict[str, Any] | None:
    """The stored contact of the other party, as events carry it."""
    if row is None:
        return None
    return {"id": row.id, "name": row.name, "email": row.email, "phoneNumber": row.phone_number}


def group(conversation: Conversation | None) -> dict[str, Any] | None:
    """An iMessage group's description, as the SDK's `WebhookEventData.group` reads it (None for a 1:1 chat)."""
    info = conversation.group_info if conversation is not None else None
    if not info:
        return None
    return {"isGroup": True, "groupId": conversation.participant if conversation else None,
            "groupName": info.get("name"), "groupIconUrl": None, "participants": info.get("participants", [])}


def message_data(message: Message, number: PhoneNumber | None = None, *, who: Contact | None = None,
                 conversation: Conversation | None = None) -> dict[str, Any]:
    """The `data` of a message event (`agent.message` on a messaging channel, `message.received`, `message.sent`)."""
    media = message.media_urls or []
    inbound = message.direction == "inbound"
    return {
        "id": message.id,
        "messageId": message.id,
        "from": message.from_number,
        "to": message.to_number,
        "contact": contact(who),
        "message": message.body,
        "direction": message.direction,
        "status": message.status,
        "channel": channel_of(message),
        "receivedAt": iso(message.received_at),
        "conversationId": message.conversation_id,
        "numberId": message.phone_number_id,
        "phoneNumber": number.phone_number if number is not None else None,
        "mediaUrl": media[0] if media else None,
        "mediaUrls": media,
        "senderIdentifier": message.from_number if inbound else None,
        "group": group(conversation),
        "externalId": number.external_id if number is not None else None,  # the number's own tag, for routing
        "externalMessageId": None,  # the carrier's ID of the message: there is no carrier
    }


def message_history(messages: list[Message]) -> list[dict[str, Any]]:
    """A conversation's messages as history items, oldest first (the current one last)."""
    ordered = sorted(messages, key=lambda m: (m.received_at, m.pk))
    return [history_item(m.body, m.direction, channel_of(m), m.received_at, m.id) for m in ordered]


def reaction_data(row: Reaction, message: Message) -> dict[str, Any]:
    """The `data` of `agent.reaction`: a tapback on one of the conversation's messages."""
    media = message.media_urls or []
    return {
        "conversationId": message.conversation_id, "numberId": message.phone_number_id,
        "reactionType": row.reaction, "fromNumber": row.from_number, "direction": row.direction,
        "messageId": message.id, "messageBody": message.body, "messageMediaUrl": media[0] if media else None,
        "messageMediaUrls": media, "createdAt": iso(row.created_at),
    }


def conversation_state(conversation: Conversation | None) -> dict[str, Any] | None:
    return conversation.state if conversation is not None else None


def call_data(setup: CallSetup, status: str, started_at: datetime) -> dict[str, Any]:
    """The `data` of `call.started`, and the start of `call.ended`'s."""
    return {
        "callId": setup.call_id, "from": setup.from_number, "to": setup.to_number, "direction": setup.direction,
        "status": status, "numberId": setup.phone_number_id, "startedAt": iso(started_at),
    }


def call_ended_data(setup: CallSetup, status: str, started_at: datetime, ended_at: datetime, duration: int,
                    end_reason: str | None, rows: list[Transcript], extra: dict[str, Any]) -> dict[str, Any]:
    """The `data` of the skill doc's `call.ended`: the call with its transcript rows."""
    return {**call_data(setup, status, started_at), "endedAt": iso(ended_at), "durationSeconds": duration,
            "endReason": end_reason, "transcript": [transcript(r) for r in rows], **extra}


def agent_call_ended_data(setup: CallSetup, status: str, started_at: datetime, ended_at: datetime, duration: int,
                          end_reason: str | None, rows: list[Transcript], who: Contact | None,
                          analysis: Analysis) -> dict[str, Any]:
    """The `data` of `agent.call_ended`, exactly the fields current clients read."""
    return {
        "callId": setup.call_id, "numberId": setup.phone_number_id, "agentId": setup.agent.id,
        "from": setup.from_number, "to": setup.to_number, "contact": contact(who),
        "direction": setup.direction, "status": status, "startedAt": iso(started_at), "endedAt": iso(ended_at),
        "durationSeconds": duration, "disconnectionReason": disconnection_reason(end_reason),
        "transcript": spoken(rows), **analysis.wire(),
    }


def voice_turn_data(setup: CallSetup, transcript_text: str, confidence: float, digits: str | None) -> dict[str, Any]:
    """The `data` of a voice `agent.message`: what the caller said (or pressed)."""
    data: dict[str, Any] = {
        "callId": setup.call_id, "numberId": setup.phone_number_id, "transcript": transcript_text,
        "confidence": confidence, "from": setup.from_number, "to": setup.to_number, "direction": setup.direction,
        "status": "in-progress",
    }
    if digits:
        data["digits"] = digits
    return data


def encode(payload: dict[str, Any]) -> str:
    """The exact text that is signed and sent (never re-serialised after signing): compact JSON, UTF-8 (orjson;
    the standard library for what orjson refuses)."""
    try:
        return orjson.dumps(payload).decode()
    except TypeError:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
