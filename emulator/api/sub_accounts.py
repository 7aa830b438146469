"""/v1/sub-accounts: child accounts, each isolated like an account; `X-Sub-Account-Id` acts as one.

A sub-account starts on its parent's plan with the default balance. Any /v1 request carrying
`X-Sub-Account-Id` is scoped to that sub-account (which must belong to the key's account).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import authenticate, emu, paging, parse, path_param, respond
from emulator.api.routing import PAGED, Resource, delete, get, patch, post
from emulator.domain import accounts
from emulator.wire import accounts as wire
from emulator.wire.base import Deleted, deleted, page


async def list_subs(request: Request) -> Response:
    account_id = await authenticate(request, scoped=False)
    limit, offset = paging(request)
    async with emu(request).store.read() as session:
        rows, total = await accounts.children(session, account_id, limit, offset)
    return respond(page([wire.sub_account(r) for r in rows], total, offset))


async def create_sub(request: Request) -> Response:
    account_id = await authenticate(request, scoped=False)
    req = await parse(request, wire.SubAccountName)
    state = emu(request)
    async with state.store.write() as session:
        row = await accounts.add_child(session, account_id, req.name, state.settings.default_balance_cents,
                                       state.clock.now())
    if state.clock.runs_ahead(account_id):
        await state.shared.change("clock", lambda: state.clock.adopt(row.id, account_id))
    return respond(wire.sub_account(row))


async def update_sub(request: Request) -> Response:
    account_id = await authenticate(request, scoped=False)
    req = await parse(request, wire.SubAccountName)
    async with emu(request).store.write() as session:
        row = await accounts.rename_child(session, account_id, path_param(request, "sub_account_id"), req.name)
    return respond(wire.sub_account(row))


async def delete_sub(request: Request) -> Response:
    account_id = await authenticate(request, scoped=False)
    state = emu(request)
    async with state.store.read() as session:
        row = await accounts.child(session, account_id, path_param(request, "sub_account_id"))
    await state.remove_accounts([row.id])
    return respond(deleted(row.id))


resource = Resource("/v1/sub-accounts", [
    get("", list_subs, "List sub-accounts", response=wire.SubAccountList, query=PAGED, scoped=False),
    post("", create_sub, "Create a sub-account", request=wire.SubAccountName, response=wire.SubAccount,
         scoped=False),
    patch("/{sub_account_id}", update_sub, "Rename a sub-account", request=wire.SubAccountName,
          response=wire.SubAccount, scoped=False),
    delete("/{sub_account_id}", delete_sub, "Delete a sub-account and everything in it", response=Deleted,
           scoped=False),
], tag="sub-accounts")
