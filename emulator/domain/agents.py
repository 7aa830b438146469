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
from emulator.errors import Invalid, Refused
from emulator.store import Agent, Call, Conversation, Message, PhoneNumber, Webhook
from emulator.urls import check_url
from emulator.wire.agents import DEFAULTS, NULLABLE, AgentFields, UpdateAgent


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


def check(values: dict[str, Any], merged: bool = False) -> None:
    """The settings' rules; `merged` (a change on top of an agent's settings): a hosted agent left without a
    prompt is a 400, as the agent's current settings have their part in it."""
    if values.get("voice_mode") == "hosted" and not (values.get("system_prompt") or "").strip():
        raise (Refused if merged else Invalid)("A hosted-mode agent needs a 'systemPrompt': the built-in LLM "
                                               "answers calls with it.")
    if values.get("transfer_number") is not None:
        phones.require_e164(values["transfer_number"], "transferNumber")
    for i, tool in enumerate(values.get("custom_tools") or []):
        check_url(tool["url"], f"customTools[{i}].url")


async def create(session: AsyncSession, account_id: str, req: AgentFields, now: datetime, *,
                 agent_id: str | None = None) -> Agent:
    """A new agent with the vendor defaults for every setting not given (`agent_id`: a fixture's own ID)."""
    values = {**DEFAULTS, **{k: v for k, v in req.settings().items() if v is not None or k in NULLABLE}}
    check(values)
    agent = Agent(id=agent_id or ids.new_id("agent"), account_id=account_id, created_at=now, updated_at=now,
                  **values)
    session.add(agent)
    await session.flush()
    return agent


async def update_agent(session: AsyncSession, account_id: str, agent_id: str, req: UpdateAgent,
                       now: datetime) -> Agent:
    agent = await get(session, account_id, agent_id)
    changes = req.settings()
    for name, value in changes.items():
        if value is None and name not in NULLABLE:
            raise Invalid(f"Field '{_camel(name)}' cannot be null; leave it out to keep the current value.")
    if changes.get("voice_mode") == "hosted" and "system_prompt" in changes:  # the request's own mistake: 422
        check({"voice_mode": "hosted", "system_prompt": changes["system_prompt"]})
    merged = {name: getattr(agent, name) for name in DEFAULTS} | changes
    check(merged, merged=True)
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
        raise Refused(f"Number '{number_id}' is {number.status} and cannot be attached to an agent.")
    if number.agent_id != agent_id:
        number.agent_id = agent_id
        number.attached_at = now
    await session.flush()
    return number


async def detach(session: AsyncSession, account_id: str, agent_id: str, number_id: str) -> PhoneNumber:
    await get(session, account_id, agent_id)
    number = await owned(session, PhoneNumber, account_id, number_id)
    if number.agent_id != agent_id:
        raise Refused(f"Number '{number_id}' is not attached to agent '{agent_id}'.")
    number.agent_id = None
    number.attached_at = None
    await session.flush()
    return number


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
