"""Which events a thing that happened produces, and where they go: written as delivery rows in its transaction.

Two vocabularies name the events: the skill doc's, and the one AgentPhone's current webhook guide and
clients use. Each happening is one row; a vocabulary picks its column, `all` takes both:

| happening                          | skill-doc                          | current            |
| ---------------------------------- | ---------------------------------- | ------------------ |
| a message arrives                  | agent.message, message.received    | agent.message      |
| a voice turn (the caller spoke)    | agent.message                      | agent.message      |
| an inbound call starts             | call.started                       | (none)             |
| a call ends                        | call.ended                         | agent.call_ended   |
| a message is sent                  | message.sent                       | (none)             |
| a tapback arrives (iMessage)       | (none)                             | agent.reaction     |

The vocabulary is the account's (a fixture's `webhookEvents`, or `PATCH /_emulator/accounts/{key}`),
else its parent account's, else the emulator's (`serve --webhook-events`). A webhook with `eventTypes`
receives exactly the events it lists, from either vocabulary, whatever the account's choice.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.domain import contacts, messaging, webhooks
from emulator.domain.messaging import Threaded
from emulator.store import Account, Contact, Delivery, Message, Reaction, Webhook, sql
from emulator.store.models import table
from emulator.webhooks.delivery import Deliverer
from emulator.wire import events

VOCABULARIES = ("current", "skill-doc", "all")


@dataclass(frozen=True)
class Happening:
    skill_doc: tuple[str, ...]
    current: tuple[str, ...]

    def names(self, vocabulary: str, event_types: Sequence[str] | None = None) -> tuple[str, ...]:
        """The events this happening sends to a webhook (its `eventTypes`, else the vocabulary's)."""
        both = tuple(dict.fromkeys(self.skill_doc + self.current))
        if event_types is not None:
            return tuple(name for name in both if name in event_types)
        return {"current": self.current, "skill-doc": self.skill_doc}.get(vocabulary, both)


MESSAGE_ARRIVED = Happening(("agent.message", "message.received"), ("agent.message",))
VOICE_TURN = Happening(("agent.message",), ("agent.message",))
CALL_STARTED = Happening(("call.started",), ())
CALL_ENDED = Happening(("call.ended",), ("agent.call_ended",))
MESSAGE_SENT = Happening(("message.sent",), ())
REACTION_ARRIVED = Happening((), ("agent.reaction",))


def takes_voice_turns(event_types: Sequence[str] | None) -> bool:
    """Whether a webhook receives voice turns (every vocabulary sends them; `eventTypes` may leave them out)."""
    return bool(VOICE_TURN.names("all", event_types))


ACCOUNTS = table(Account)
_CHOICE = sql.Query(select(ACCOUNTS.c.webhook_events, ACCOUNTS.c.parent_id)
                    .where(ACCOUNTS.c.id == bindparam("account")))


WEBHOOKS, CONTACTS = table(Webhook), table(Contact)
PARENTS = ACCOUNTS.alias("parent")
# Where an event goes, in one statement instead of three: the agent's own webhook, else the project's (as
# `webhooks.route` picks it), the account's and its parent's vocabulary, and the stored contact of the other party.
_ROUTED = (select(WEBHOOKS.c.pk).where(WEBHOOKS.c.account_id == bindparam("account"),
                                       or_(WEBHOOKS.c.agent_id == bindparam("agent"), WEBHOOKS.c.agent_id.is_(None)))
           .order_by(WEBHOOKS.c.agent_id.is_(None)).limit(1).scalar_subquery())
_CONTACT_COLUMNS = ("id", "name", "email", "phone_number")
_CONTEXT = sql.Query(
    select(ACCOUNTS.c.webhook_events, PARENTS.c.webhook_events.label("parent_events"),
           *(CONTACTS.c[name].label(f"contact_{name}") for name in _CONTACT_COLUMNS),
           *(column.label(f"hook_{column.key}") for column in WEBHOOKS.c))
    .select_from(ACCOUNTS.outerjoin(PARENTS, PARENTS.c.id == ACCOUNTS.c.parent_id)
                 .outerjoin(CONTACTS, and_(CONTACTS.c.account_id == ACCOUNTS.c.id,
                                           CONTACTS.c.phone_number == bindparam("e164")))
                 .outerjoin(WEBHOOKS, WEBHOOKS.c.pk == _ROUTED))
    .where(ACCOUNTS.c.id == bindparam("account")))
_HOOK = namedtuple("_HOOK", [column.key for column in WEBHOOKS.c])  # type: ignore[misc]
_WHO = namedtuple("_WHO", _CONTACT_COLUMNS)  # type: ignore[misc]
_HOOK_AT = 2 + len(_CONTACT_COLUMNS)


@dataclass(frozen=True)
class Route:
    """Where an account's event goes (`hook`: a webhook row, None for nowhere), in which vocabulary, and the
    contact (a row, or None) of the other party."""

    hook: Any
    vocabulary: str
    who: Any = None


async def route(session: AsyncSession, deliverer: Deliverer, account_id: str, agent_id: str | None,
                other: str | None = None) -> Route:
    """The webhook, vocabulary and contact (of the number `other`) of an account's event, read at once."""
    row = await sql.first(session, _CONTEXT, account=account_id, agent=agent_id, e164=other or None)
    if row is None:  # no account row (never for a stored account's event): each part on its own
        who = await contacts.of_number(session, account_id, other)
        return Route(await webhooks.route(session, account_id, agent_id),
                     await vocabulary(session, deliverer, account_id), who)
    hook = _HOOK._make(row[_HOOK_AT:]) if row.hook_pk is not None else None
    who = _WHO._make(row[2:_HOOK_AT]) if row.contact_id is not None else None
    return Route(hook, str(row.webhook_events or row.parent_events or deliverer.vocabulary), who)


async def vocabulary(session: AsyncSession, deliverer: Deliverer, account_id: str) -> str:
    """The account's vocabulary, else its parent's, else the emulator's."""
    row = await sql.first(session, _CHOICE, account=account_id)
    if row is not None and row.webhook_events:
        return str(row.webhook_events)
    if row is not None and row.parent_id:
        parent = await sql.first(session, _CHOICE, account=row.parent_id)
        if parent is not None and parent.webhook_events:
            return str(parent.webhook_events)
    return deliverer.vocabulary


Payloads = Mapping[str, dict[str, Any]] | Callable[[str], Awaitable[dict[str, Any]]]


async def emit(deliverer: Deliverer, session: AsyncSession, account_id: str, agent_id: str | None,
               happening: Happening, channel: str, payloads: Payloads, *,
               history: list[dict[str, Any]] | None = None, state: dict[str, Any] | None = None,
               message_id: str | None = None, hook: Webhook | None = None, routed: bool = False,
               chosen: str | None = None) -> list[Delivery]:
    """One delivery row per event the happening sends where the agent's events go (`payloads`: data by name, or
    what builds the data of a name, so that the events of the other vocabulary are never built). `routed`: `hook`
    is where they go (None for nowhere), and `chosen` the account's vocabulary when it is known already."""
    if not routed:
        found = await route(session, deliverer, account_id, agent_id)
        hook, chosen = found.hook, found.vocabulary
    if chosen is None:
        chosen = await vocabulary(session, deliverer, account_id)
    names = happening.names(chosen, hook.event_types if hook else None)
    made = []
    for name in names:
        data = payloads[name] if isinstance(payloads, Mapping) else await payloads(name)
        made.append(await deliverer.prepare(session, account_id, agent_id, name, channel, data, history=history,
                                            state=state, message_id=message_id, hook=hook, routed=True))
    return made


async def message(deliverer: Deliverer, session: AsyncSession, threaded: Threaded) -> list[Delivery]:
    """A message arrived on, or was sent from, one of the account's numbers."""
    row = threaded.message
    inbound = row.direction == "inbound"
    other = row.from_number if inbound else row.to_number
    found = await route(session, deliverer, row.account_id, row.agent_id, other)  # every event goes to one place
    hook = found.hook
    data = events.message_data(row, threaded.number, who=found.who, conversation=threaded.conversation)
    happening = MESSAGE_ARRIVED if inbound else MESSAGE_SENT
    payloads = dict.fromkeys(happening.names("all"), data)
    history = threaded.history
    if history is None:  # only as much history as the target asked for (its contextLimit), read only for one
        history = await messaging.history(session, row.conversation_id, hook.context_limit if hook else 0)
    return await emit(deliverer, session, row.account_id, row.agent_id, happening, events.channel_of(row), payloads,
                      history=events.message_history(history),
                      state=events.conversation_state(threaded.conversation), message_id=row.id, hook=hook,
                      routed=True, chosen=found.vocabulary)


async def reaction(deliverer: Deliverer, session: AsyncSession, threaded: Threaded, row: Reaction) -> list[Delivery]:
    """The conversation's participant reacted to one of its messages (`threaded.message`)."""
    on: Message = threaded.message
    data = events.reaction_data(row, on)
    return await emit(deliverer, session, on.account_id, threaded.conversation.agent_id, REACTION_ARRIVED,
                      "imessage", {"agent.reaction": data}, history=events.message_history(threaded.history or []),
                      state=events.conversation_state(threaded.conversation), message_id=on.id)
