"""Loading fixtures through the control API: a JSON object, YAML text, or a file or directory path."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator import fixture_files
from emulator.api import nul
from emulator.api.common import emu, read_body, read_object, respond
from emulator.api.control import access
from emulator.api.control.access import ACCOUNT
from emulator.api.routing import post
from emulator.context import Emulator
from emulator.domain import accounts, fixtures
from emulator.errors import Forbidden, Invalid, Problem
from emulator.wire import fixtures as wire


def _quietly(source: str, exc: Problem) -> Problem:
    """The same kind of problem, without the values of the file it is about."""
    return type(exc)(f"{source}: not a valid fixture. Errors about files read by path do not echo their "
                     "contents; send the same document as the request body to see each problem.")


async def load_documents(state: Emulator, documents: list[tuple[str, Any]],
                         only_key: str | None = None, quiet: bool = False) -> dict[str, int]:
    """Validate and load each document, replacing the accounts it names; returns the counts loaded.

    With `only_key` (an account key loading fixtures for itself), every account of every document must be
    that key's: nothing is loaded otherwise. With `quiet` (documents read from files a request named), errors
    say which file, not what it holds."""
    checked = []
    for source, data in documents:
        if not isinstance(data, dict):
            raise Invalid(f"{source}: a fixture must be a mapping with an 'accounts' list.")
        nul.check_document(data, "The fixture" if quiet else f"The fixture ({source})")
        try:
            fixture = fixtures.validate(data, source)
        except Problem as exc:
            raise _quietly(source, exc) if quiet else exc from None
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
        try:
            async with state.store.write() as session:
                loaded = await fixtures.load(session, fixture, state.clock.now())
        except Problem as exc:
            raise _quietly(source, exc) if quiet else exc from None
        # With --strict-keys the fixture's keys are accepted from now on, beyond those configured.
        await state.forget(loaded.replaced, loaded.keys, added_keys=loaded.keys)
        totals = {k: totals.get(k, 0) + v for k, v in loaded.counts.items()}
        async with state.store.read() as session:
            loaded_ids = [a.id for key in loaded.keys if (a := await accounts.find_by_key(session, key)) is not None]
        state.activity.fixtures_loaded(source, loaded.counts, loaded_ids + loaded.replaced)
    return totals


async def load_fixtures(request: Request) -> Response:
    """Load a seed state: a JSON object, YAML text, or {"path": "<file or directory on the server>"}."""
    content_type = request.headers.get("content-type", "")
    quiet = False
    if "yaml" in content_type or "text/plain" in content_type:
        raw = (await read_body(request)).decode("utf-8", errors="replace")
        documents: list[tuple[str, Any]] = [("request body", fixture_files.parse_yaml(raw, "request body"))]
    else:
        body = await read_object(request, own_nul_check=True)  # a path's rule words it; documents: load_documents
        if "path" in body:
            if set(body) != {"path"}:
                raise Invalid("Send either a fixture document or {\"path\": ...} alone, not both.")
            documents = fixture_files.requested(body["path"], emu(request).settings.fixtures)
            quiet = True
        else:
            documents = [("request body", body)]
    who = access.caller(request)
    return respond(wire.loaded(await load_documents(emu(request), documents, None if who.admin else who.key,
                                                    quiet)))


resource = access.resource("/_emulator/fixtures", [
    post("", load_fixtures, "Load a fixture (JSON, YAML text, or {\"path\": ...})", request=wire.FixtureFile,
         response=wire.FixturesLoaded, access=ACCOUNT),
])
