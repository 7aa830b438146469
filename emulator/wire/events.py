"""Webhook events on the wire: the envelope of the official SDK's `WebhookEvent` and its `data` per event."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from emulator.clock import iso
from emulator.store import Conversation, Message, PhoneNumber, Transcript
from emulator.wire.calls import transcript

if TYPE_CHECKING:
    from emulator.calls.setup import CallSetup

EVENTS = ("agent.message", "message.received", "message.sent", "call.started", "call.ended")


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


def history_item(content: str, direction: str, channel: str, at: datetime) -> dict[str, Any]:
    return {"content": content, "direction": direction, "channel": channel, "at": iso(at)}


def message_data(message: Message, number: PhoneNumber | None = None) -> dict[str, Any]:
    """The `data` of a message event (`agent.message` on sms, `message.received`, `message.sent`)."""
    media = message.media_urls or []
    return {
        "id": message.id,
        "messageId": message.id,
        "from": message.from_number,
        "to": message.to_number,
        "message": message.body,
        "direction": message.direction,
        "status": message.status,
        "channel": message.channel,
        "receivedAt": iso(message.received_at),
        "conversationId": message.conversation_id,
        "numberId": message.phone_number_id,
        "phoneNumber": number.phone_number if number is not None else None,
        "mediaUrl": media[0] if media else None,
        "mediaUrls": media,
    }


def message_history(messages: list[Message]) -> list[dict[str, Any]]:
    """A conversation's messages as history items, oldest first (the current one last)."""
    ordered = sorted(messages, key=lambda m: (m.received_at, m.pk))
    return [history_item(m.body, m.direction, m.channel, m.received_at) for m in ordered]


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
    return {**call_data(setup, status, started_at), "endedAt": iso(ended_at), "durationSeconds": duration,
            "endReason": end_reason, "transcript": [transcript(r) for r in rows], **extra}


def voice_turn_data(setup: CallSetup, transcript_text: str, confidence: float, digits: str | None) -> dict[str, Any]:
    """The `data` of a voice `agent.message`: what the caller said (or pressed)."""
    data: dict[str, Any] = {
        "callId": setup.call_id, "transcript": transcript_text, "confidence": confidence, "from": setup.from_number,
        "to": setup.to_number, "direction": setup.direction, "status": "in-progress",
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
