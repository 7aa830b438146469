"""Which events a thing that happened produces, written as delivery rows in its transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from emulator.domain import messaging, webhooks
from emulator.domain.messaging import Threaded
from emulator.store import Delivery
from emulator.webhooks.delivery import Deliverer
from emulator.wire import events

INBOUND_SMS_EVENTS = ("agent.message", "message.received")
OUTBOUND_SMS_EVENTS = ("message.sent",)


async def sms(deliverer: Deliverer, session: AsyncSession, threaded: Threaded) -> list[Delivery]:
    message = threaded.message
    names = INBOUND_SMS_EVENTS if message.direction == "inbound" else OUTBOUND_SMS_EVENTS
    data = events.message_data(message, threaded.number)
    hook = await webhooks.route(session, message.account_id, message.agent_id)  # both events go to one place
    # Only as much history as the target asked for (its contextLimit), read only when there is a target.
    limit = hook.context_limit if hook is not None else 0
    history = events.message_history(await messaging.history(session, message.conversation_id, limit))
    rows = []
    for name in names:
        rows.append(await deliverer.prepare(
            session, message.account_id, message.agent_id, name, "sms", data, history=history,
            state=events.conversation_state(threaded.conversation), message_id=message.id, hook=hook, routed=True,
        ))
    return rows
