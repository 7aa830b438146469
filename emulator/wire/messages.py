"""Messages on the wire: sending one, the stored message, iMessage tapbacks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from emulator.clock import iso
from emulator.wire.base import Json, Out, Page, SnakeModel, SnakeOut, Timestamp
from emulator.wire.rules import LenientPhoneNumber, WebUrl, required
from emulator.wire.sqlite_json import column_sql, pairs_sql, stamp_sql

if TYPE_CHECKING:
    from sqlalchemy import Table

    from emulator.store import Message as MessageRow
    from emulator.store import Reaction as ReactionRow

# --- requests ----------------------------------------------------------------------------------------------


def _something_to_send(schema: dict[str, Any], model: type[BaseModel]) -> None:
    required("to_number")(schema, model)
    schema["anyOf"] = [  # a body with text in it, or an attachment
        {"required": ["body"], "properties": {"body": {"type": "string", "pattern": r"\S"}}},
        {"required": ["media_urls"], "properties": {"media_urls": {"type": "array", "minItems": 1}}},
        {"required": ["media_url"], "properties": {"media_url": {"type": "string"}}},
    ]


class SendMessage(SnakeModel):
    model_config = ConfigDict(json_schema_extra=_something_to_send)

    body: Annotated[str, Field(max_length=1600)] = ""
    agent_id: str | None = None
    number_id: str | None = None
    from_number: LenientPhoneNumber | None = None
    to_number: LenientPhoneNumber | None = None
    media_url: WebUrl | None = None
    media_urls: Annotated[list[WebUrl], Field(max_length=20)] | None = None
    send_style: Annotated[str, Field(max_length=64)] | None = None
    reply_to_message_id: Annotated[str, Field(max_length=64)] | None = None
    recipients: Annotated[list[Annotated[str, Field(max_length=320)]], Field(max_length=32)] | None = None

    def media(self) -> list[str]:
        return [*(self.media_urls or []), *([self.media_url] if self.media_url else [])]


class SendReaction(SnakeModel):
    reaction: Annotated[str, Field(min_length=1, max_length=32)]


# --- responses ---------------------------------------------------------------------------------------------


class Message(Out):
    """`from`/`to` (skill doc), `from_` (vendor schema), `fromNumber`/`toNumber` (conversations)."""

    id: str
    sender: str = Field(alias="from")
    from_: str = Field(alias="from_")
    to: str
    from_number: str
    to_number: str
    body: str
    direction: Literal["inbound", "outbound"]
    status: str
    channel: str
    conversation_id: str
    number_id: str
    media_url: str | None
    media_urls: list[str]
    reactions: list[Json]
    reply_to: Json | None
    received_at: Timestamp
    sender_identifier: str | None


class SentMessage(SnakeOut):
    """The vendor's SendMessageResponse, plus the stored message in the camelCase shape."""

    id: str
    status: str
    channel: str
    from_number: str
    to_number: str
    body: str
    conversation_id: str
    media_urls: list[str]
    reply_to_message_id: str | None
    reply_parent_unresolved: bool | None
    message: Message


class Reaction(SnakeOut):
    id: str
    reaction_type: str
    message_id: str
    channel: str


MessageList = Page[Message]


# --- rendering ---------------------------------------------------------------------------------------------


def reaction(row: ReactionRow, on: MessageRow) -> dict[str, Any]:
    """A tapback on a message of the conversation: sent from our number, or received from the participant."""
    ours = on.to_number if on.direction == "inbound" else on.from_number
    return {"id": row.id, "reactionType": row.reaction, "fromNumber": row.from_number or ours,
            "direction": row.direction or "outbound", "createdAt": iso(row.created_at)}


def message(row: MessageRow, reactions: list[ReactionRow] | None = None) -> dict[str, Any]:
    media = row.media_urls or []
    return {
        "id": row.id,
        "from": row.from_number,
        "from_": row.from_number,
        "to": row.to_number,
        "fromNumber": row.from_number,
        "toNumber": row.to_number,
        "body": row.body,
        "direction": row.direction,
        "status": row.status,
        "channel": row.channel,
        "conversationId": row.conversation_id,
        "numberId": row.phone_number_id,
        "mediaUrl": media[0] if media else None,
        "mediaUrls": media,
        "reactions": [reaction(r, row) for r in reactions or []],
        "replyTo": None,
        "receivedAt": iso(row.received_at),
        "senderIdentifier": row.from_number if row.direction == "inbound" else None,
    }


def message_sql(messages: Table, reactions: Table) -> str:
    """A message as SQLite writes it (emulator/wire/sqlite_json.py): what `message` renders, its reactions
    (oldest first, as `reaction` renders them) read by a subquery."""
    m, r = messages.name, reactions.name

    def column(attr: str) -> str:
        return column_sql(messages, attr)

    ours = f"CASE WHEN {m}.direction = 'inbound' THEN {m}.to_number ELSE {m}.from_number END"
    reaction_sql = pairs_sql([
        ("id", f"{r}.id"), ("reactionType", f"{r}.reaction"),
        ("fromNumber", f"coalesce(nullif({r}.from_number, ''), {ours})"),
        ("direction", f"coalesce(nullif({r}.direction, ''), 'outbound')"), ("createdAt", stamp_sql(f"{r}.created_at")),
    ])
    # a subquery's value loses its JSON type: json() gives it back
    tapbacks = (f"json((SELECT json_group_array(json(tapback.j)) FROM (SELECT {reaction_sql} AS j FROM {r} "
                f"WHERE {r}.message_id = {m}.id ORDER BY {r}.pk) AS tapback))")
    media = f"{m}.media_urls"
    return pairs_sql([
        ("id", column("id")), ("from", column("from_number")), ("from_", column("from_number")),
        ("to", column("to_number")), ("fromNumber", column("from_number")), ("toNumber", column("to_number")),
        ("body", column("body")), ("direction", column("direction")), ("status", column("status")),
        ("channel", column("channel")), ("conversationId", column("conversation_id")),
        ("numberId", column("phone_number_id")), ("mediaUrl", f"json_extract({media}, '$[0]')"),
        ("mediaUrls", f"CASE WHEN {media} IS NULL OR {media} = 'null' THEN json('[]') ELSE json({media}) END"),
        ("reactions", tapbacks), ("replyTo", "NULL"), ("receivedAt", column("received_at")),
        ("senderIdentifier", f"CASE WHEN {m}.direction = 'inbound' THEN {m}.from_number END"),
    ])


def listed_message(row: Any, reactions: dict[str, list[ReactionRow]]) -> Any:
    """A message of a page: `message(...)`, or where the row holds the JSON text SQLite wrote for it (`wire`, its
    reactions included), that text, for orjson to send as it is."""
    text = getattr(row, "wire", None)
    return message(row, reactions.get(row.id)) if text is None else orjson.Fragment(text)


def message_page(rows: list[MessageRow], reactions: dict[str, list[ReactionRow]], has_more: bool,
                 total: int) -> dict[str, Any]:
    return {"data": [listed_message(row, reactions) for row in rows], "hasMore": has_more, "total": total}


def sent(row: MessageRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "channel": row.channel,
        "from_number": row.from_number,
        "to_number": row.to_number,
        "body": row.body,
        "conversation_id": row.conversation_id,
        "media_urls": row.media_urls or [],
        "reply_to_message_id": None,
        "reply_parent_unresolved": None,
        "message": message(row),
    }


def reacted(row: ReactionRow) -> dict[str, Any]:
    return {"id": row.id, "reaction_type": row.reaction, "message_id": row.message_id, "channel": "imessage"}
