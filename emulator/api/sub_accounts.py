"""/v1/sub-accounts: child accounts, each isolated like an account; `X-Sub-Account-Id` acts as one.

A sub-account starts on its parent's plan with the default balance. Any /v1 request carrying
`X-Sub-Account-Id` is scoped to that sub-account (which must belong to the key's account).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import ids
from emulator.api._http import authenticate, emu, paging, parse, respond
from emulator.clock import iso
from emulator.domain import accounts
from emulator.domain.paging import page
from emulator.errors import not_found
from emulator.render import page as page_envelope
from emulator.schemas import SubAccountName
from emulator.store import Account
from emulator.store.db import delete_accounts


def render(row: Account) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "parentId": row.parent_id, "plan": row.plan,
            "balanceCents": row.balance_cents, "createdAt": iso(row.created_at)}


async def _child(session: Any, parent_id: str, sub_id: str) -> Account:
    row = await session.scalar(select(Account).where(Account.id == sub_id, Account.parent_id == parent_id))
    if row is None:
        raise not_found("Sub-account", sub_id)
    return row


async def list_subs(request: Request) -> Response:
    account_id = await authenticate(request, scoped=False)
    limit, offset = paging(request)
    async with emu(request).store.read() as session:
        query = select(Account).where(Account.parent_id == account_id).order_by(Account.pk)
        rows, total = await page(session, query, limit, offset)
    return respond(page_envelope([render(r) for r in rows], total, offset))


async def create_sub(request: Request) -> Response:
    account_id = await authenticate(request, scoped=False)
    req = await parse(request, SubAccountName)
    state = emu(request)
    async with state.store.write() as session:
        parent = await accounts.get(session, account_id)
        row = accounts.new_account(None, parent.plan, state.settings.default_balance_cents, state.clock.now(),
                                   parent_id=parent.id, name=req.name, account_id=ids.new_id("sub"))
        session.add(row)
    return respond(render(row))


async def update_sub(request: Request) -> Response:
    account_id = await authenticate(request, scoped=False)
    req = await parse(request, SubAccountName)
    async with emu(request).store.write() as session:
        row = await _child(session, account_id, request.path_params["sub_account_id"])
        row.name = req.name
    return respond(render(row))


async def delete_sub(request: Request) -> Response:
    account_id = await authenticate(request, scoped=False)
    state = emu(request)
    async with state.store.read() as session:
        row = await _child(session, account_id, request.path_params["sub_account_id"])
    await state.engine.abort({row.id})
    async with state.store.write() as session:
        await delete_accounts(session, [row.id])
    return respond({"success": True, "id": row.id})


routes = [
    Route("/v1/sub-accounts", list_subs, methods=["GET"]),
    Route("/v1/sub-accounts", create_sub, methods=["POST"]),
    Route("/v1/sub-accounts/{sub_account_id}", update_sub, methods=["PATCH"]),
    Route("/v1/sub-accounts/{sub_account_id}", delete_sub, methods=["DELETE"]),
]
