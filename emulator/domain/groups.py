"""iMessage groups: a conversation of our iMessage number with several people, addressed by its `grp_` ID.

A group is a conversation whose participant is the group ID and whose `group_info` holds its name and members
(`{"name": ..., "participants": [{"identifier": "+1...", "name": ...}]}`). It starts with a message sent to
`recipients` (2 or more phones or emails), or with one arriving through the control API's `group`; later sends
use the group ID as `to_number`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids, phones
from emulator.errors import Invalid, Refused, not_found
from emulator.store import Contact, Conversation, PhoneNumber

GROUP_ID = re.compile(r"grp_[A-Za-z0-9_-]{1,60}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_MEMBERS = 32


def is_group_id(value: str | None) -> bool:
    return value is not None and GROUP_ID.fullmatch(value.strip()) is not None


def address(value: str, where: str) -> str:
    """A member's address: an E.164 phone (any format accepted) or an email."""
    text = value.strip()
    if EMAIL.fullmatch(text):
        return text.lower()
    return phones.normalize(text, where)


def members(addresses: list[str], where: str = "recipients", *, at_least: int = 2) -> list[str]:
    """Distinct member addresses, in the order given."""
    found = list(dict.fromkeys(address(a, f"{where}[{i}]") for i, a in enumerate(addresses)))
    if len(found) < at_least:
        raise Invalid(f"Field '{where}' must list at least {at_least} different phone numbers or emails to start "
                      f"a group (got {len(found)}).")
    if len(found) > MAX_MEMBERS:
        raise Invalid(f"Field '{where}' may list at most {MAX_MEMBERS} members.")
    return found


def require_imessage(number: PhoneNumber) -> None:
    if number.type != "imessage":
        raise Refused(f"Group messages need an iMessage number; '{number.id}' ({number.phone_number}) is an "
                      f"{number.type.upper()} number.")


async def info(session: AsyncSession, account_id: str, addresses: list[str], name: str | None) -> dict[str, Any]:
    """A new group's `group_info`; members known as contacts carry their names."""
    found = await session.execute(select(Contact.phone_number, Contact.name).where(
        Contact.account_id == account_id, Contact.phone_number.in_(addresses)))
    known = {number: name for number, name in found.all()}
    return {"name": name, "participants": [{"identifier": a, "name": known.get(a)} for a in addresses]}


def new_id() -> str:
    return ids.new_id("grp")


async def find(session: AsyncSession, group_id: str, *, account_id: str | None = None,
               within: Collection[str] | None = None, number: PhoneNumber | None = None) -> Conversation:
    """The group conversation with this ID (of the account, or of the `within` accounts); a 404 otherwise."""
    query = select(Conversation).where(Conversation.participant == group_id.strip())
    if account_id is not None:
        query = query.where(Conversation.account_id == account_id)
    if number is not None:
        query = query.where(Conversation.phone_number_id == number.id)
    row = (await session.execute(query)).scalars().first()
    if row is None or row.group_info is None or (within is not None and row.account_id not in within):
        raise not_found("Group", group_id)
    return row


def member_ids(conversation: Conversation) -> list[str]:
    return [p["identifier"] for p in (conversation.group_info or {}).get("participants", [])]


def require_member(conversation: Conversation, sender: str) -> None:
    if sender not in member_ids(conversation):
        raise Refused(f"{sender} is not a member of group '{conversation.participant}'; its members are "
                      f"{', '.join(member_ids(conversation))}.")


def rename(conversation: Conversation, name: str | None) -> None:
    """A group's new display name (a 1:1 conversation has none: the vendor ignores the field there)."""
    if conversation.group_info is not None:
        conversation.group_info = {**conversation.group_info, "name": name}
