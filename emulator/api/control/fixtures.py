"""Loading fixtures through the control API: a JSON object, YAML text, or a file or directory path."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator import fixture_files
from emulator.api.common import emu, read_body, read_object, respond
from emulator.api.control import access
from emulator.api.control.access import ACCOUNT
from emulator.api.routing import post
from emulator.context import Emulator
from emulator.domain import accounts, fixtures
from emulator.errors import Forbidden, Invalid
from emulator.wire import fixtures as wire


async def load_documents(state: Emulator, documents: list[tuple[str, Any]],
                         only_key: str | None = None) -> dict[str, int]:
    """Validate and load each document, replacing the accounts it names; returns the counts loaded.

    With `only_key` (an account key loading fixtures for itself), every account of every document must be
    that key's: nothing is loaded otherwise."""
    checked = []
    for source, data in documents:
        if not isinstance(data, dict):
            raise Invalid(f"{source}: a fixture must be a mapping with an 'accounts' list.")
        fixture = fixtures.validate(data, source)
        others = [fx.key for fx in fixture.accounts if only_key is not None and fx.key != only_key]
        if others:
            raise Forbidden(f"{source}: an account key can load fixtures for its own account only; this one also "
                            f"names {len(others)} other key(s).")
        checked.append((source, fixture))
    totals: dict[str, int] = {}
    for source, fixture in checked:
        async with state.store.read() as session:
            doomed = await fixtures.replaced_accounts(session, fixture)
        await state.engine.abort(set(doomed))
        async with state.store.write() as session:
            loaded = await fixtures.load(session, fixture, state.clock.now())
        state.forget(loaded.replaced, loaded.keys)
        state.fixture_keys |= set(loaded.keys)
        totals = {k: totals.get(k, 0) + v for k, v in loaded.counts.items()}
        async with state.store.read() as session:
            loaded_ids = [a.id for key in loaded.keys if (a := await accounts.find_by_key(session, key)) is not None]
        state.activity.fixtures_loaded(source, loaded.counts, loaded_ids + loaded.replaced)
    return totals


async def load_fixtures(request: Request) -> Response:
    """Load a seed state: a JSON object, YAML text, or {"path": "<file or directory on the server>"}."""
    content_type = request.headers.get("content-type", "")
    if "yaml" in content_type or "text/plain" in content_type:
        raw = (await read_body(request)).decode("utf-8", errors="replace")
        documents: list[tuple[str, Any]] = [("request body", fixture_files.parse_yaml(raw, "request body"))]
    else:
        body = await read_object(request)
        documents = fixture_files.read(body["path"]) if "path" in body else [("request body", body)]
    who = access.caller(request)
    return respond(wire.loaded(await load_documents(emu(request), documents, None if who.admin else who.key)))


resource = access.resource("/_emulator/fixtures", [
    post("", load_fixtures, "Load a fixture (JSON, YAML text, or {\"path\": ...})", request=wire.FixtureFile,
         response=wire.FixturesLoaded, access=ACCOUNT),
])
