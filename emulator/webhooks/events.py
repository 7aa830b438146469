"""Event payloads: the envelope of the official SDK's `WebhookEvent` and its `data` per channel."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from emulator.clock import iso
from emulator.store import Conversation, Message, PhoneNumber

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


def sms_data(message: Message, number: PhoneNumber | None = None) -> dict[str, Any]:
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


def sms_history(messages: list[Message], limit: int) -> list[dict[str, Any]]:
    """The last `limit` messages of the conversation (oldest first, the current one last)."""
    if limit <= 0:
        return []
    recent = sorted(messages, key=lambda m: (m.received_at, m.pk))[-limit:]
    return [history_item(m.body, m.direction, m.channel, m.received_at) for m in recent]


def conversation_state(conversation: Conversation | None) -> dict[str, Any] | None:
    return conversation.state if conversation is not None else None


def encode(payload: dict[str, Any]) -> str:
    """The exact text that is signed and sent (never re-serialised after signing)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
