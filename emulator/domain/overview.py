"""Every account at a glance, for the inspector's account picker: what it holds, counted."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator.store import Account, Agent, Call, Conversation, Delivery, PhoneNumber

COUNTED: dict[str, Any] = {
    "agents": (Agent, None),
    "numbers": (PhoneNumber, PhoneNumber.status == "active"),
    "calls": (Call, None),
    "liveCalls": (Call, Call.status == "in-progress"),
    "conversations": (Conversation, None),
    "deliveries": (Delivery, None),
}


async def accounts(session: AsyncSession) -> list[tuple[Account, dict[str, int]]]:
    """Every account, newest first, each with its counts; sub-accounts follow their parent."""
    rows = list((await session.execute(select(Account).order_by(Account.pk.desc()))).scalars())
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for name, (model, where) in COUNTED.items():
        query = select(model.account_id, func.count()).group_by(model.account_id)
        if where is not None:
            query = query.where(where)
        for account_id, count in (await session.execute(query)).all():
            counts[account_id][name] = count
    children: dict[str, list[Account]] = defaultdict(list)
    for row in rows:
        if row.parent_id is not None:
            children[row.parent_id].append(row)
    ordered: list[Account] = []
    for row in rows:
        if row.parent_id is None:
            ordered += [row, *children.pop(row.id, [])]
    ordered += [row for orphans in children.values() for row in orphans]
    return [(row, counts.get(row.id, {})) for row in ordered]
