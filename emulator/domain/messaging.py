"""SMS: inbound messages arrive on an account's number, outbound ones leave from it; both thread
into the one conversation of that (number, participant) pair."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids, phones
from emulator.domain import agents, groups, numbers
from emulator.domain.lookup import owned
from emulator.errors import Invalid, Refused, not_found
from emulator.store import Conversation, Message, PhoneNumber, sql
from emulator.store.models import table
from emulator.urls import check_urls

PREVIEW = 160
MAX_METADATA_BYTES = 16 * 1024  # it travels in every webhook of the conversation


def channel_of(number: PhoneNumber) -> str:
    """Messages on an iMessage line travel as iMessage, on a WhatsApp line as WhatsApp; every other line sends SMS."""
    return number.type if number.type in ("imessage", "whatsapp") else "sms"


@dataclass
class Threaded:
    """A message just written, with its conversation as that write left it and the number it is on (rows)."""

    message: Any
    conversation: Any
    number: Any
    history: list[Any] | None = None  # None: not read; the event reads as much as its target asks for


HISTORY = 50  # the most a webhook's contextLimit can ask for

CONVERSATIONS, MESSAGES = table(Conversation), table(Message)
_CONVERSATION = sql.Query(select(CONVERSATIONS).where(CONVERSATIONS.c.phone_number_id == bindparam("number"),
                                                      CONVERSATIONS.c.participant == bindparam("participant")))
_NEW_CONVERSATION = sql.Insert(CONVERSATIONS)
_REASSIGN = sql.Query(update(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("conversation"))
                      .values(agent_id=bindparam("agent")))
_INSERT = sql.Insert(MESSAGES)
# One more message in the conversation: the count, and the latest message's time and preview unless this one is
# older (a fixture loads the past); the conversation starts no later than its earliest message.
_newer = (bindparam("at") >= CONVERSATIONS.c.last_message_at) | (CONVERSATIONS.c.message_count == 0)
_ONE_MORE = {
    "message_count": CONVERSATIONS.c.message_count + 1,
    "last_message_at": case((_newer, bindparam("at")), else_=CONVERSATIONS.c.last_message_at),
    "last_message_preview": case((_newer, bindparam("preview")), else_=CONVERSATIONS.c.last_message_preview),
    "created_at": case((bindparam("at") < CONVERSATIONS.c.created_at, bindparam("at")),
                       else_=CONVERSATIONS.c.created_at),
}
_ADD_MESSAGE = sql.Query(update(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("conversation"))
                         .values(_ONE_MORE).returning(*CONVERSATIONS.c))
# The same, finding the conversation by its number and participant (no row: there is none yet).
_ADD_TO_THREAD = sql.Query(update(CONVERSATIONS).where(CONVERSATIONS.c.phone_number_id == bindparam("number"),
                                                       CONVERSATIONS.c.participant == bindparam("who"))
                           .values(_ONE_MORE).returning(*CONVERSATIONS.c))
_HISTORY = sql.Query(select(MESSAGES).where(MESSAGES.c.conversation_id == bindparam("conversation"))
                     .order_by(MESSAGES.c.received_at.desc(), MESSAGES.c.pk.desc()).limit(bindparam("limit")))


async def open_conversation(session: AsyncSession, number: Any, participant: str, now: datetime, *,
                            conversation_id: str | None = None, state: dict[str, Any] | None = None,
                            group_info: dict[str, Any] | None = None) -> Any:
    """The one conversation (a row) of (our number, participant), started now if there is none yet."""
    conversation = await sql.first(session, _CONVERSATION, number=number.id, participant=participant)
    if conversation is None:
        return await sql.insert(
            session, _NEW_CONVERSATION, id=conversation_id or ids.new_id("conv"), account_id=number.account_id,
            agent_id=number.agent_id, phone_number_id=number.id, phone_number=number.phone_number,
            participant=participant, channel=channel_of(number), state=state, message_count=0, last_message_at=now,
            last_message_preview="", background=None, created_at=now, group_info=group_info,
        )
    if number.agent_id is not None and conversation.agent_id != number.agent_id:
        await sql.run(session, _REASSIGN, conversation=conversation.id, agent=number.agent_id)
        conversation = conversation._replace(agent_id=number.agent_id)
    return conversation


async def record(session: AsyncSession, number: Any, participant: str, direction: str, body: str,
                 media: list[str], at: datetime, *, message_id: str | None = None,
                 conversation: Any = None, sender: str | None = None, status: str | None = None) -> Threaded:
    """A message to or from `participant` on our `number`, threaded into their conversation (`sender`: the member
    who posted an inbound group message, whose participant is the group; `status`: a fixture's own).

    Every message is written here (sent, received, or loaded from a fixture), so its channel always
    follows the number's line type."""
    updated = None
    if conversation is None:  # the thread's count and latest message first: one statement finds and counts it
        updated = await sql.first(session, _ADD_TO_THREAD, number=number.id, who=participant, at=at,
                                  preview=body[:PREVIEW])
        if updated is not None and number.agent_id is not None and updated.agent_id != number.agent_id:
            await sql.run(session, _REASSIGN, conversation=updated.id, agent=number.agent_id)
            updated = updated._replace(agent_id=number.agent_id)
        conversation = updated or await open_conversation(session, number, participant, at)
    inbound = direction == "inbound"
    message = await sql.insert(
        session, _INSERT, id=message_id or ids.new_id("msg"), account_id=number.account_id, agent_id=number.agent_id,
        conversation_id=conversation.id, phone_number_id=number.id,
        from_number=(sender or participant) if inbound else number.phone_number,
        to_number=number.phone_number if inbound else participant,
        body=body, direction=direction, status=status or ("received" if inbound else "sent"),
        channel=channel_of(number), media_urls=media or None, received_at=at,
    )
    if updated is None:
        updated = await sql.first(session, _ADD_MESSAGE, conversation=conversation.id, at=at, preview=body[:PREVIEW])
    return Threaded(message, updated, number)


async def history(session: AsyncSession, conversation_id: str, limit: int = HISTORY) -> list[Any]:
    """The conversation's latest `limit` messages (rows), newest first."""
    if limit <= 0:
        return []
    return await sql.rows(session, _HISTORY, conversation=conversation_id, limit=min(limit, HISTORY))


async def receive(session: AsyncSession, sender: str, to: str, body: str, media: list[str], now: datetime,
                  within: Collection[str] | None = None, group: str | dict[str, Any] | None = None) -> Threaded:
    """A message from the outside world to one of the emulator's active numbers (of the `within` accounts).

    `group`: posted in an iMessage group, named by its ID, or described (`{id?, name?, participants}`) to start
    one (the sender is a member)."""
    sender = phones.require_e164(sender, "from")
    number = await numbers.dialled(session, phones.require_e164(to, "to"), within)
    media = check_urls(media, "mediaUrls")
    if group is None:
        return await record(session, number, sender, "inbound", body, media, now)
    groups.require_imessage(number)
    described = group if isinstance(group, dict) else {"id": group}
    group_id = described.get("id")
    if group_id is not None and described.get("participants") is None:
        conversation = await groups.find(session, group_id, number=number)
    else:
        found = None
        if group_id is not None:
            found = (await session.execute(select(Conversation).where(
                Conversation.phone_number_id == number.id, Conversation.participant == group_id))).scalar_one_or_none()
        if found is not None:
            conversation = found
        else:
            addresses = groups.members([sender, *(described.get("participants") or [])], "group.participants")
            conversation = await open_conversation(
                session, number, group_id or groups.new_id(), now,
                group_info=await groups.info(session, number.account_id, addresses, described.get("name")))
    groups.require_member(conversation, sender)
    return await record(session, number, conversation.participant, "inbound", body, media, now,
                        conversation=conversation, sender=sender)


async def _sending_number(session: AsyncSession, account_id: str, agent_id: str | None, number_id: str | None,
                          from_number: str | None) -> Any:
    if number_id is not None:
        number = await numbers.row(session, account_id, number_id)
    elif from_number is not None:
        e164 = phones.normalize(from_number, "from_number")
        found = await numbers.find_active(session, e164)
        if found is None or found.account_id != account_id:
            raise not_found("Active phone number", e164)
        number = found
    elif agent_id is not None:
        first = await agents.first_number(session, account_id, agent_id)
        if first is None:
            raise Refused(f"Agent '{agent_id}' has no phone number to send from; attach or buy one first.")
        number = first
    else:
        raise Refused("Say which number sends the message: give 'agent_id', 'number_id' or 'from_number'.")
    if number.status != "active":
        raise Refused(f"Number '{number.id}' is {number.status} and cannot send messages.")
    if agent_id is not None and number.agent_id != agent_id:
        raise Refused(f"Number '{number.id}' is not attached to agent '{agent_id}'.")
    return number


async def send(session: AsyncSession, account_id: str, *, agent_id: str | None, number_id: str | None,
               from_number: str | None, to_number: str | None, body: str, media: list[str],
               now: datetime, recipients: list[str] | None = None) -> Threaded:
    """A message from one of the account's numbers: to one person, to an iMessage group (`to_number` is its
    `grp_` ID), or to `recipients`, which starts a new group."""
    if to_number is not None and recipients is not None:
        raise Invalid("Give 'to_number' (a person or an existing group) or 'recipients' (a new group), not both.")
    if to_number is None and recipients is None:
        raise Invalid("Field 'to_number' is required: the phone number to send the message to.")
    media = check_urls(media, "media_urls")
    if not body.strip() and not media:
        raise Invalid("Field 'body' must not be empty unless 'media_urls' carries an attachment.")
    if recipients is not None:
        addresses = groups.members(recipients)
        number = await _sending_number(session, account_id, agent_id, number_id, from_number)
        groups.require_imessage(number)
        conversation = await open_conversation(session, number, groups.new_id(), now,
                                               group_info=await groups.info(session, account_id, addresses, None))
        return await record(session, number, conversation.participant, "outbound", body, media, now,
                            conversation=conversation)
    assert to_number is not None
    if groups.is_group_id(to_number):
        conversation = await groups.find(session, to_number, account_id=account_id)
        if agent_id is None and number_id is None and from_number is None:
            number_id = conversation.phone_number_id
        number = await _sending_number(session, account_id, agent_id, number_id, from_number)
        if number.id != conversation.phone_number_id:
            raise Refused(f"Group '{conversation.participant}' lives on number '{conversation.phone_number_id}'; "
                          f"send from that number, not '{number.id}'.")
        return await record(session, number, conversation.participant, "outbound", body, media, now,
                            conversation=conversation)
    recipient = phones.normalize(to_number, "to_number")
    number = await _sending_number(session, account_id, agent_id, number_id, from_number)
    if recipient == number.phone_number:
        raise Refused("A number cannot send a message to itself.")
    return await record(session, number, recipient, "outbound", body, media, now)


async def set_state(session: AsyncSession, account_id: str, conversation_id: str,
                    state: dict[str, object] | None) -> Conversation:
    if state is not None and len(json.dumps(state)) > MAX_METADATA_BYTES:
        raise Invalid(f"Field 'metadata' must be at most {MAX_METADATA_BYTES // 1024} KiB as JSON.")
    conversation = await owned(session, Conversation, account_id, conversation_id)
    conversation.state = state
    await session.flush()
    return conversation
