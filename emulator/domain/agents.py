"""Agents: settings with vendor defaults, hosted-mode rules, numbers attached to one agent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids, phones
from emulator.domain.lookup import owned
from emulator.domain.paging import page
from emulator.errors import ApiError, invalid
from emulator.schemas import NULLABLE_AGENT_FIELDS, CreateAgent, UpdateAgent
from emulator.store import Agent, Call, Conversation, Message, PhoneNumber, Webhook
from emulator.voices import DEFAULT_AGENT_VOICE

DEFAULTS: dict[str, Any] = {
    "description": None,
    "voice_mode": "webhook",
    "system_prompt": None,
    "begin_message": None,
    "voice": DEFAULT_AGENT_VOICE,
    "model_tier": "balanced",
    "enable_messaging": True,
    "transfer_number": None,
    "custom_tools": None,
    "voicemail_message": None,
    "call_screening_identity": None,
    "call_screening_purpose": None,
    "stt_mode": "fast",
    "ambient_sound": "none",
    "denoising_mode": "noise-cancellation",
    "max_silence_ms": 600_000,
    "voice_speed": 1.0,
    "interruption_sensitivity": 0.8,
    "enable_backchannel": True,
    "language": "en-US",
}


async def get(session: AsyncSession, account_id: str, agent_id: str) -> Agent:
    return await owned(session, Agent, account_id, agent_id)


async def numbers_of(session: AsyncSession, agent_ids: Iterable[str]) -> dict[str, list[PhoneNumber]]:
    """Active numbers per agent, in the order they were attached (the first is the caller ID)."""
    wanted = list(agent_ids)
    out: dict[str, list[PhoneNumber]] = {agent_id: [] for agent_id in wanted}
    if not wanted:
        return out
    rows = await session.execute(
        select(PhoneNumber)
        .where(PhoneNumber.agent_id.in_(wanted), PhoneNumber.status == "active")
        .order_by(PhoneNumber.attached_at, PhoneNumber.pk)
    )
    for number in rows.scalars():
        out[number.agent_id or ""].append(number)
    return out


async def list_page(session: AsyncSession, account_id: str, limit: int, offset: int) -> tuple[list[Agent], int]:
    query = select(Agent).where(Agent.account_id == account_id).order_by(Agent.pk.desc())
    return await page(session, query, limit, offset)


def check(values: dict[str, Any]) -> None:
    if values.get("voice_mode") == "hosted" and not (values.get("system_prompt") or "").strip():
        raise invalid("A hosted-mode agent needs a 'systemPrompt': the built-in LLM answers calls with it.")
    if values.get("transfer_number") is not None:
        phones.require_e164(values["transfer_number"], "transferNumber")


def _dump(model: CreateAgent | UpdateAgent) -> dict[str, Any]:
    data = model.model_dump(exclude_unset=True)
    if "custom_tools" in data and data["custom_tools"] is not None:
        data["custom_tools"] = [tool.model_dump(by_alias=True, exclude_none=True) for tool in model.custom_tools or []]
    return data


async def create(session: AsyncSession, account_id: str, req: CreateAgent, now: datetime) -> Agent:
    values = {**DEFAULTS, **{k: v for k, v in _dump(req).items() if v is not None or k in NULLABLE_AGENT_FIELDS}}
    check(values)
    agent = Agent(id=ids.new_id("agent"), account_id=account_id, created_at=now, updated_at=now, **values)
    session.add(agent)
    await session.flush()
    return agent


async def update_agent(session: AsyncSession, account_id: str, agent_id: str, req: UpdateAgent,
                       now: datetime) -> Agent:
    agent = await get(session, account_id, agent_id)
    changes = _dump(req)
    for name, value in changes.items():
        if value is None and name not in NULLABLE_AGENT_FIELDS:
            raise invalid(f"Field '{_camel(name)}' cannot be null; leave it out to keep the current value.")
    merged = {name: getattr(agent, name) for name in DEFAULTS} | changes
    check(merged)
    for name, value in changes.items():
        setattr(agent, name, value)
    agent.updated_at = now
    await session.flush()
    return agent


async def delete(session: AsyncSession, account_id: str, agent_id: str) -> tuple[Agent, list[str]]:
    """Delete the agent; its numbers, conversations and calls stay with their agent cleared."""
    agent = await get(session, account_id, agent_id)
    numbers = (await numbers_of(session, [agent_id]))[agent_id]
    unassigned = [number.id for number in numbers]
    for table in (PhoneNumber, Conversation, Call, Message):
        await session.execute(update(table).where(table.agent_id == agent_id).values(agent_id=None))
    webhook = (await session.execute(select(Webhook).where(Webhook.agent_id == agent_id))).scalar_one_or_none()
    if webhook is not None:
        await session.delete(webhook)
    await session.delete(agent)
    await session.flush()
    return agent, unassigned


async def attach(session: AsyncSession, account_id: str, agent_id: str, number_id: str,
                 now: datetime) -> PhoneNumber:
    """Attach a number; a number belongs to one agent, so attaching moves it from any other."""
    await get(session, account_id, agent_id)
    number = await owned(session, PhoneNumber, account_id, number_id)
    if number.status != "active":
        raise ApiError(400, f"Number '{number_id}' is {number.status} and cannot be attached to an agent.")
    if number.agent_id != agent_id:
        number.agent_id = agent_id
        number.attached_at = now
    await session.flush()
    return number


async def detach(session: AsyncSession, account_id: str, agent_id: str, number_id: str) -> PhoneNumber:
    await get(session, account_id, agent_id)
    number = await owned(session, PhoneNumber, account_id, number_id)
    if number.agent_id != agent_id:
        raise ApiError(400, f"Number '{number_id}' is not attached to agent '{agent_id}'.")
    number.agent_id = None
    number.attached_at = None
    await session.flush()
    return number


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
