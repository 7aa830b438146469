"""Webhook settings: one project webhook per account and at most one per agent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.errors import NotFound, Refused
from emulator.store import Webhook, sql
from emulator.store.models import table
from emulator.urls import check_url

WEBHOOKS = table(Webhook)
# The agent's own webhook, else the project's: one statement, the agent's row ordered first.
_ROUTE = sql.Query(select(WEBHOOKS).where(
    WEBHOOKS.c.account_id == bindparam("account"),
    or_(WEBHOOKS.c.agent_id == bindparam("agent"), WEBHOOKS.c.agent_id.is_(None)),
).order_by(WEBHOOKS.c.agent_id.is_(None)).limit(1))

DEFAULT_CONTEXT_LIMIT = 10
DEFAULT_TIMEOUT = 30


async def find(session: AsyncSession, account_id: str, agent_id: str | None) -> Webhook | None:
    query = select(Webhook).where(Webhook.account_id == account_id)
    query = query.where(Webhook.agent_id.is_(None) if agent_id is None else Webhook.agent_id == agent_id)
    return (await session.execute(query)).scalar_one_or_none()


async def put(session: AsyncSession, account_id: str, agent_id: str | None, url: str, now: datetime, *,
              context_limit: int | None = None, timeout: int | None = None, hook_id: str | None = None,
              secret: str | None = None, event_types: list[str] | None = None) -> Webhook:
    """Create or update; a new secret every time (unless one is given), the ID kept across updates.

    `event_types` (the events this webhook receives, from either vocabulary) is replaced each time: a webhook
    set without it receives the account's vocabulary."""
    url = check_url(url)
    hook = await find(session, account_id, agent_id)
    if hook is None:
        hook = Webhook(id=hook_id or ids.new_id("wh"), account_id=account_id, agent_id=agent_id, created_at=now,
                       context_limit=DEFAULT_CONTEXT_LIMIT, timeout=DEFAULT_TIMEOUT)
        session.add(hook)
    hook.url = url
    hook.secret = secret or ids.new_secret()
    hook.status = "active"
    hook.event_types = event_types
    if context_limit is not None:
        hook.context_limit = context_limit
    if timeout is not None:
        hook.timeout = timeout
    hook.updated_at = now
    await session.flush()
    return hook


async def remove(session: AsyncSession, account_id: str, agent_id: str | None) -> Webhook:
    hook = await find(session, account_id, agent_id)
    if hook is None:
        where = "this account" if agent_id is None else f"agent '{agent_id}'"
        raise NotFound(f"No webhook is configured for {where}.")
    await session.delete(hook)
    await session.flush()
    return hook


async def route(session: AsyncSession, account_id: str, agent_id: str | None) -> Any:
    """Where an agent's events go (a row, read-only): its own webhook wins, else the project webhook."""
    return await sql.first(session, _ROUTE, account=account_id, agent=agent_id)


async def required(session: AsyncSession, account_id: str, agent_id: str | None) -> Webhook:
    """The webhook a test send goes to (the agent's own, or the project's): refused when none is set."""
    hook = await find(session, account_id, agent_id)
    if hook is None:
        where = "this project (POST /v1/webhooks)" if agent_id is None else f"agent '{agent_id}'"
        raise Refused(f"No webhook is configured for {where}; set one before sending a test event.")
    return hook
