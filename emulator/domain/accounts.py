"""Accounts and API keys: who is calling, and which rows they may see."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.errors import ApiError, invalid, not_found
from emulator.plans import PLANS
from emulator.store import Account

KEY_SHAPE = re.compile(r"^sk_(live|test)_[A-Za-z0-9_\-]{1,200}$")


def unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, {"WWW-Authenticate": "Bearer"})


def key_from_header(header: str | None) -> str:
    if header is None or not header.strip():
        raise unauthorized("Missing API key: send an 'Authorization: Bearer <your API key>' header.")
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise unauthorized(f"The Authorization header must use the Bearer scheme, not '{scheme}'.")
    key = key.strip()
    if not key:
        raise unauthorized("The Authorization header has an empty API key after 'Bearer'.")
    if not KEY_SHAPE.match(key):
        raise unauthorized("Invalid API key: AgentPhone keys look like sk_live_... or sk_test_....")
    return key


def check_key(key: str) -> str:
    """A key given outside the Authorization header (control API, fixtures), checked the same way."""
    return key_from_header("Bearer " + key)


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
        raise invalid(f"Unknown plan '{plan}'; plans are: {', '.join(PLANS)}.")
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
