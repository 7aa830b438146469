"""Accounts, sub-accounts and API keys: who is calling, and which rows they may see."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.domain.paging import page
from emulator.errors import Invalid, not_found
from emulator.plans import PLANS
from emulator.store import Account
from emulator.store.models import Base

KEY_RULE = r"^sk_(?:live|test)_[A-Za-z0-9_\-]{1,200}$"  # stated in the served OpenAPI document too
KEY_SHAPE = re.compile(KEY_RULE)


def is_key(key: str) -> bool:
    """Whether `key` has the shape of a real AgentPhone key (sk_live_... or sk_test_...)."""
    return KEY_SHAPE.fullmatch(key) is not None


async def find_by_key(session: AsyncSession, key: str) -> Account | None:
    return (await session.execute(select(Account).where(Account.key == key))).scalar_one_or_none()


async def get(session: AsyncSession, account_id: str) -> Account:
    account = (await session.execute(select(Account).where(Account.id == account_id))).scalar_one_or_none()
    if account is None:
        raise not_found("Account", account_id)
    return account


def new_account(
    key: str | None, plan: str, balance_cents: int, now: datetime, *, parent_id: str | None = None,
    name: str | None = None, account_id: str | None = None,
) -> Account:
    if plan not in PLANS:
        raise Invalid(f"Unknown plan '{plan}'; plans are: {', '.join(PLANS)}.")
    return Account(
        id=account_id or ids.new_id("acct"), key=key, parent_id=parent_id, name=name, plan=plan,
        balance_cents=balance_cents, recording_enabled=False, numbers_bought=0, created_at=now,
    )


async def ensure(session: AsyncSession, key: str, plan: str, balance_cents: int, now: datetime) -> Account:
    """The account of a key, created on first use (call inside a write transaction)."""
    account = await find_by_key(session, key)
    if account is None:
        account = new_account(key, plan, balance_cents, now)
        session.add(account)
        await session.flush()
    return account


async def parent_of(session: AsyncSession, account_id: str) -> str | None:
    return await session.scalar(select(Account.parent_id).where(Account.id == account_id))


async def family(session: AsyncSession, account_id: str) -> list[str]:
    """The account and its sub-accounts."""
    children = await session.execute(select(Account.id).where(Account.parent_id == account_id))
    return [account_id, *children.scalars()]


async def remove(session: AsyncSession, account_ids: list[str]) -> None:
    """Delete the accounts and every row they own (reset, sub-account deletion and fixture loads all use this)."""
    if not account_ids:
        return
    for table in reversed(Base.metadata.sorted_tables):
        column = table.c.get("account_id")
        if column is not None:
            await session.execute(delete(table).where(column.in_(account_ids)))
    await session.execute(delete(Account).where(Account.id.in_(account_ids)))


# --- sub-accounts ----------------------------------------------------------------------------------------


async def children(session: AsyncSession, parent_id: str, limit: int, offset: int) -> tuple[list[Account], int]:
    query = select(Account).where(Account.parent_id == parent_id).order_by(Account.pk)
    return await page(session, query, limit, offset)


async def child(session: AsyncSession, parent_id: str, sub_id: str) -> Account:
    row = await session.scalar(select(Account).where(Account.id == sub_id, Account.parent_id == parent_id))
    if row is None:
        raise not_found("Sub-account", sub_id)
    return row


async def add_child(session: AsyncSession, parent_id: str, name: str, balance_cents: int, now: datetime) -> Account:
    """A sub-account: isolated like an account, on its parent's plan, with the default balance."""
    parent = await get(session, parent_id)
    row = new_account(None, parent.plan, balance_cents, now, parent_id=parent.id, name=name,
                      account_id=ids.new_id("sub"))
    session.add(row)
    await session.flush()
    return row


async def rename_child(session: AsyncSession, parent_id: str, sub_id: str, name: str) -> Account:
    row = await child(session, parent_id, sub_id)
    row.name = name
    await session.flush()
    return row


KEEP = object()  # `webhook_events` left as it is (None means: follow the emulator's setting)


def configure(account: Account, *, plan: str | None = None, balance_cents: int | None = None,
              recording: bool | None = None, webhook_events: str | None | object = KEEP) -> None:
    """Change what the control API and fixtures may set on an account (what is None stays)."""
    if webhook_events is not KEEP:
        account.webhook_events = webhook_events if isinstance(webhook_events, str) else None
    if plan is not None:
        if plan not in PLANS:
            raise Invalid(f"Field 'plan' must be one of {', '.join(PLANS)} (got {plan!r}).")
        account.plan = plan
    if balance_cents is not None:
        account.balance_cents = balance_cents
    if recording is not None:
        account.recording_enabled = recording
