"""Accounts, sub-accounts and API keys: who is calling, and which rows they may see."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.domain.paging import page
from emulator.errors import Invalid, not_found
from emulator.keys import KEY_RULE
from emulator.plans import PLANS
from emulator.store import Account, documents, sql
from emulator.store.models import Base, table

ACCOUNTS = table(Account)
_ROW = sql.Query(select(ACCOUNTS).where(ACCOUNTS.c.id == bindparam("id")))
# The same, holding the row until the transaction ends (a server database; SQLite's one writer needs none):
# limits are read and spent under it, so two processes on one database cannot both spend the last of one.
_LOCKED = sql.Query(select(ACCOUNTS).where(ACCOUNTS.c.id == bindparam("id")).with_for_update())
_BY_KEY = sql.Query(select(ACCOUNTS).where(ACCOUNTS.c.key == bindparam("key")))
_ID_BY_KEY = sql.Query(select(ACCOUNTS.c.id).where(ACCOUNTS.c.key == bindparam("key")))
# A key's account made on first use: INSERT unless another request (or another process on the same
# database) made it first, then read whichever row won. No look-up before the insert, so no race between
# the two; the statement is spelled per dialect, both the same `ON CONFLICT (key) DO NOTHING`.
_NEW_COLUMNS: dict[str, Any] = {column.key: bindparam(column.key)
                               for column in ACCOUNTS.columns if not column.primary_key}


_CREATE = sql.Query(sqlite_insert(ACCOUNTS).values(_NEW_COLUMNS).on_conflict_do_nothing(index_elements=["key"]),
                    {"postgresql": sql.Later(lambda: sql.postgresql_insert(ACCOUNTS).values(_NEW_COLUMNS)
                                             .on_conflict_do_nothing(index_elements=["key"]))})

KEY_SHAPE = re.compile(KEY_RULE)


def is_key(key: str) -> bool:
    """Whether `key` has the shape of a real AgentPhone key (sk_live_... or sk_test_...)."""
    return KEY_SHAPE.fullmatch(key) is not None


async def find_by_key(session: AsyncSession, key: str) -> Any:
    """The key's account (a row), if it has one."""
    return await sql.first(session, _BY_KEY, key=key)


async def id_by_key(session: AsyncSession, key: str) -> str | None:
    found: str | None = await sql.value(session, _ID_BY_KEY, key=key)
    return found


async def get(session: AsyncSession, account_id: str, *, lock: bool = False) -> Account:
    """The account as an entity to change (`lock`: held until the transaction ends), or the 404."""
    query = select(Account).where(Account.id == account_id)
    account = (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    if account is None:
        raise not_found("Account", account_id)
    return account


async def row(session: AsyncSession, account_id: str, *, lock: bool = False) -> Any:
    """The account as a row (read-only; `lock`: held until the transaction ends), or the 404."""
    found = await sql.first(session, _LOCKED if lock else _ROW, id=account_id)
    if found is None:
        raise not_found("Account", account_id)
    return found


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
    """The account (the entity, to change it) of a key, created on first use (call inside a write
    transaction). Safe against another writer creating the same key's account at the same moment: whoever
    inserts first wins, the other reads that row."""
    if plan not in PLANS:
        raise Invalid(f"Unknown plan '{plan}'; plans are: {', '.join(PLANS)}.")
    await sql.run(session, _CREATE, id=ids.new_id("acct"), key=key, parent_id=None, name=None, plan=plan,
                  balance_cents=balance_cents, recording_enabled=False, numbers_bought=0, created_at=now,
                  webhook_events=None)
    account: Account = (await session.execute(select(Account).where(Account.key == key))).scalar_one()
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
    stored = sql.renders_json(session)  # SQLite keeps documents of the listed rows (emulator/store/documents.py)
    for each in reversed(Base.metadata.sorted_tables):
        column = each.c.get("account_id")
        if column is not None:
            forget = documents.forgotten(each, account_ids) if stored else None
            if forget is not None:
                await session.execute(forget)
            await session.execute(delete(each).where(column.in_(account_ids)))
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
