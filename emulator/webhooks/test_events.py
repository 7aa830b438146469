"""The synthetic `agent.message` of a test send, with the overrides the official SDK can pass."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.clock import iso
from emulator.domain import agents
from emulator.webhooks.triggered import NOWHERE, SENDER, Built, agent_for
from emulator.wire import events
from emulator.wire.webhooks import WebhookTest

TEST_MESSAGE = "This is a test webhook from AgentPhone."


async def sample(session: AsyncSession, account_id: str, agent_id: str | None, overrides: WebhookTest,
                 now: datetime) -> Built:
    """The agent in the payload is the one asked for, else the account's first agent."""
    agent = await agent_for(session, account_id, agent_id)
    number = None
    if agent is not None:
        attached = (await agents.numbers_of(session, [agent.id]))[agent.id]
        number = attached[0] if attached else None
    sender = overrides.sender or SENDER
    to = overrides.to or (number.phone_number if number else NOWHERE)
    text = overrides.message or TEST_MESSAGE
    channel = overrides.channel or "sms"
    if channel == "voice":
        data: dict[str, Any] = {"callId": ids.new_id("call"), "transcript": text, "confidence": 0.95,
                                "from": sender, "to": to, "direction": "inbound", "status": "in-progress"}
    else:
        message_id = ids.new_id("msg")
        data = {"id": message_id, "messageId": message_id, "from": sender, "to": to, "message": text,
                "direction": "inbound", "channel": channel, "receivedAt": iso(now), "conversationId": None,
                "numberId": number.id if number else None, "mediaUrls": []}
    history = [events.history_item(text, "inbound", channel, now)]
    return Built(agent.id if agent else None, channel, data, history)
