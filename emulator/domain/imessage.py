"""iMessage-only features: tapback reactions, typing indicators and chat backgrounds.

The vendor allows them only on iMessage; on an SMS message or conversation they are refused with a
sentence saying so, as the vendor document says.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.domain.lookup import owned
from emulator.domain.messaging import HISTORY, Threaded
from emulator.errors import Invalid, Refused, not_found
from emulator.store import Conversation, Message, PhoneNumber, Reaction
from emulator.urls import check_url

TAPBACKS = ("love", "like", "dislike", "laugh", "emphasize", "question")


def tapback(name: str) -> str:
    """A known tapback in its canonical (lower-case) spelling; anything else as given."""
    return name.lower() if name.lower() in TAPBACKS else name


async def react(session: AsyncSession, account_id: str, message_id: str, reaction: str, now: datetime) -> Reaction:
    message = await owned(session, Message, account_id, message_id)
    if message.channel != "imessage":
        raise Refused(f"Reactions are available only for iMessage messages; message '{message.id}' "
                      f"was sent over {message.channel.upper()}.")
    ours = message.to_number if message.direction == "inbound" else message.from_number
    row = Reaction(id=ids.new_id("rxn"), account_id=account_id, message_id=message.id, reaction=tapback(reaction),
                   created_at=now, direction="outbound", from_number=ours)
    session.add(row)
    await session.flush()
    return row


async def receive_reaction(session: AsyncSession, message_id: str, reaction: str, now: datetime,
                           within: Collection[str] | None = None) -> tuple[Reaction, Threaded]:
    """The conversation's participant reacts to one of its messages (a tapback arriving from outside).

    Returns the reaction and the reacted-to message threaded in its conversation (for the event)."""
    name = reaction.lower()
    if name not in TAPBACKS:
        raise Invalid(f"Field 'reaction' must be one of {', '.join(TAPBACKS)} (got {reaction!r}).")
    message = await session.scalar(select(Message).where(Message.id == message_id))
    if message is None or (within is not None and message.account_id not in within):
        raise not_found("Message", message_id)
    if message.channel != "imessage":
        raise Refused(f"Tapbacks exist only on iMessage: message '{message.id}' was sent over "
                      f"{message.channel.upper()}, so nobody can react to it.")
    conversation = await owned(session, Conversation, message.account_id, message.conversation_id)
    number = await owned(session, PhoneNumber, message.account_id, message.phone_number_id)
    sender = message.from_number if message.direction == "inbound" else message.to_number
    row = Reaction(id=ids.new_id("rxn"), account_id=message.account_id, message_id=message.id, reaction=name,
                   created_at=now, direction="inbound", from_number=sender)
    session.add(row)
    await session.flush()
    history = list((await session.execute(
        select(Message).where(Message.conversation_id == conversation.id)
        .order_by(Message.received_at.desc(), Message.pk.desc()).limit(HISTORY)
    )).scalars())
    return row, Threaded(message, conversation, number, history)


async def conversation(session: AsyncSession, account_id: str, conversation_id: str) -> Conversation:
    """An iMessage conversation of the account (typing indicators and backgrounds need one)."""
    row = await owned(session, Conversation, account_id, conversation_id)
    number = await owned(session, PhoneNumber, account_id, row.phone_number_id)
    if number.type != "imessage":
        raise Refused(f"Conversation '{row.id}' is an SMS conversation; typing indicators and "
                      "chat backgrounds are iMessage-only.")
    return row


async def set_background(session: AsyncSession, account_id: str, conversation_id: str,
                         image_url: str) -> tuple[Conversation, bool]:
    """Set the chat background; the version moves only when the image changes. Returns (row, changed)."""
    url = check_url(image_url, "image_url", https_only=True)
    row = await conversation(session, account_id, conversation_id)
    current = row.background or {}
    changed = current.get("imageUrl") != url
    version = int(current.get("version", 0)) + (1 if changed else 0)
    row.background = {"imageUrl": url, "id": current.get("id") or ids.new_id("bg"), "version": version}
    return row, changed


async def remove_background(session: AsyncSession, account_id: str, conversation_id: str) -> None:
    row = await conversation(session, account_id, conversation_id)
    row.background = None
