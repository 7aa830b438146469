"""iMessage-only features: tapback reactions, typing indicators and chat backgrounds.

The vendor allows them only on iMessage; on an SMS message or conversation they are refused with a
sentence saying so, as the vendor document says.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.domain.lookup import owned
from emulator.errors import Refused
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
    row = Reaction(id=ids.new_id("rxn"), account_id=account_id, message_id=message.id, reaction=tapback(reaction),
                   created_at=now)
    session.add(row)
    await session.flush()
    return row


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
