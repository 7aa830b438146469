"""Conversations on the wire: threads, their metadata, iMessage typing indicators and chat backgrounds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from emulator.clock import iso
from emulator.wire.base import Json, Out, Page, SnakeModel, Timestamp
from emulator.wire.messages import Message, listed_message
from emulator.wire.rules import HttpsUrl

if TYPE_CHECKING:
    from emulator.store import Conversation as ConversationRow
    from emulator.store import Message as MessageRow
    from emulator.store import Reaction as ReactionRow

# --- requests ----------------------------------------------------------------------------------------------


class UpdateConversation(SnakeModel):
    metadata: dict[str, Any] | None = None
    group_name: Annotated[str, Field(max_length=200)] | None = None


class SetBackground(SnakeModel):
    image_url: HttpsUrl


# --- responses ---------------------------------------------------------------------------------------------


class Conversation(Out):
    id: str
    agent_id: str | None
    phone_number_id: str
    phone_number: str
    participant: str
    channel: str
    is_group: bool
    group_id: str | None
    group_name: str | None
    group_icon_url: str | None
    participants: list[Json] | None
    message_count: int
    last_message_at: Timestamp
    last_message_preview: str
    metadata: Json | None
    created_at: Timestamp


class ConversationDetail(Conversation):
    messages: list[Message]


class Typing(Out):
    conversation_id: str
    channel: str
    status: str


class Background(Out):
    conversation_id: str
    channel: str
    has_background: bool
    background_id: str | None
    background_version: int | None
    changed: bool


ConversationList = Page[Conversation]


# --- rendering ---------------------------------------------------------------------------------------------


def conversation(row: ConversationRow, messages: list[MessageRow] | None = None,
                 reactions: dict[str, list[ReactionRow]] | None = None) -> dict[str, Any]:
    group = row.group_info
    out: dict[str, Any] = {
        "id": row.id,
        "agentId": row.agent_id,
        "phoneNumberId": row.phone_number_id,
        "phoneNumber": row.phone_number,
        "participant": row.participant,
        "channel": row.channel,
        "isGroup": group is not None,
        "groupId": row.participant if group is not None else None,
        "groupName": group.get("name") if group is not None else None,
        "groupIconUrl": None,
        "participants": group.get("participants") if group is not None else None,
        "messageCount": row.message_count,
        "lastMessageAt": iso(row.last_message_at),
        "lastMessagePreview": row.last_message_preview,
        "metadata": row.state,
        "createdAt": iso(row.created_at),
    }
    if messages is not None:
        out["messages"] = [listed_message(m, reactions or {}) for m in messages]
    return out


def typing(row: ConversationRow) -> dict[str, Any]:
    return {"conversationId": row.id, "channel": "imessage", "status": "sent"}


def background(row: ConversationRow, changed: bool) -> dict[str, Any]:
    stored = row.background or {}
    return {"conversationId": row.id, "channel": "imessage", "hasBackground": True,
            "backgroundId": stored.get("id"), "backgroundVersion": stored.get("version"), "changed": changed}
