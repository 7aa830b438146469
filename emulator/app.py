"""Assembles the Starlette application: route tables, error handlers, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from http import HTTPStatus

from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator import fixture_files, ids
from emulator.api import agents, nul, openapi, root
from emulator.api import control as control_api
from emulator.api.common import error_response, on_problem
from emulator.api.routing import Dispatch, PrefixRouter, Resource, allowed_methods
from emulator.calls.remote import Relay
from emulator.config import Settings
from emulator.context import Emulator
from emulator.domain import calls as calls_domain
from emulator.errors import Problem
from emulator.journal import Entry, Journaling
from emulator.maintenance import sweep
from emulator.store import Store

log = logging.getLogger("emulator")

SWEEP_SECONDS = 0.5


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        detail = f"There is no endpoint at {request.method} {request.url.path}; see the endpoint table in the README."
    elif exc.status_code == 405:
        allowed = allowed_methods(request.app.routes, request.url.path)
        detail = f"Method {request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}."
        return error_response(405, detail, {"Allow": ", ".join(allowed)})
    else:
        detail = str(exc.detail) if exc.detail else HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, detail, dict(exc.headers or {}))


CRASH = "Internal server error: the emulator hit a bug. Its log has the details."
TOO_LONG = "22001"  # PostgreSQL's "value too long for type character varying(n)"
TOO_LONG_DETAIL = ("A text in the request is longer than the emulator stores for its field, so its write was "
                   "undone. Send a shorter one.")


class CrashGuard:
    """An unhandled error becomes a 500 `{detail}` answer, and the keep-alive connection lives on
    (Starlette's outermost handler answers too, but then re-raises, and the server drops it)."""

    def __init__(self, app: ASGIApp, state: Emulator | None = None) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope["emulator"] = self.state  # what every handler's `emu(request)` reads
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        refused = nul.refusal(scope["path"], scope["query_string"])
        if refused is not None:  # before any handler: no route reads a NUL from the path or the query
            return await error_response(400, refused)(scope, receive, send)
        try:
            if self.state is not None and self.state.shared.enabled:  # what other processes changed, first
                await self.state.shared.refresh()
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if not started and _too_long(exc):  # a length rule missing: PostgreSQL refused the text, SQLite keeps it
                log.warning("A text too long for its column on %s %s: %s", scope.get("method"), scope.get("path"),
                            getattr(exc, "orig", exc))
                return await error_response(400, TOO_LONG_DETAIL)(scope, receive, send)
            log.exception("Unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await error_response(500, CRASH)(scope, receive, send)


def _too_long(exc: Exception) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == TOO_LONG


async def _sweeper(state: Emulator, relay: Relay) -> None:
    rounds = 0
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        rounds += 1
        try:
            await state.shared.refresh()  # the clocks other processes moved
            await sweep(state)
            leases = state.leases
            if leases is not None:  # this process is alive; the calls of those that are not end
                await leases.renew()
                if rounds % 4 == 0:
                    await leases.reap(state.clock.now())
            if state.shared.enabled and state.limiter is not None:
                await state.shared.drop_idle_windows()
            if state.shared.enabled and rounds % 120 == 0:
                await relay.drop_stale()
                await state.journal.trim()
                if state.activity.feed is not None:
                    await state.activity.feed.trim()
        except Exception:  # the sweeper must outlive a bad moment in the database
            log.exception("Clock sweep failed")


async def start_up(state: Emulator) -> None:
    """What a new server does once, before it serves: calls the last run left running are failed, deliveries
    it left mid-attempt are retried, the fixtures of the command line are loaded. On a server database other
    emulators may be running calls: those are left alone. A database the store has just made holds no run's
    leftovers: there is nothing to look for."""
    if not state.store.created:
        if state.store.is_sqlite:
            await calls_domain.abandon_unfinished(state.store, state.clock.now())
        await state.deliverer.recover()
    if state.settings.fixtures:
        from emulator.api.control.fixtures import load_documents

        for path in state.settings.fixtures:
            await load_documents(state, fixture_files.read(path))


# The API's other resources, in the order they are tried, by prefix and module: each module is imported when a
# request first reaches its prefix (or the routes are listed), so start-up imports only what the agents' routes
# and health need.
LATER = [
    ("/v1/agents", "webhooks", "per_agent"),
    ("/v1/numbers", "numbers", "resource"),
    ("/v1/calls", "calls", "resource"),
    ("/v1/conversations", "conversations", "resource"),
    ("/v1/messages", "messages", "resource"),
    ("/v1/webhooks", "webhooks", "project"),
    ("/v1/usage", "usage", "resource"),
    ("/v1/contacts", "contacts", "resource"),
    ("/v1/sub-accounts", "sub_accounts", "resource"),
    ("/v1/register", "registration", "resource"),
    ("/v1/verify", "verification", "resource"),
    ("/v1/sip-trunks", "sip_trunks", "resource"),
    ("/v1/location", "location", "resource"),
    ("/v1/feedback", "feedback", "resource"),
    ("/credits", "credits", "resource"),
    ("/integrations/whatsapp", "whatsapp", "resource"),
]


def create_app(settings: Settings) -> Starlette:
    ids.seed(settings.seed)
    state = Emulator(settings=settings, store=Store(settings.db))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await state.store.start()
        await state.shared.start()
        if settings.seed is not None:  # workers of one server draw apart: their IDs must never collide
            ids.seed(settings.seed, salt=await state.store.row_count() + (os.getpid() if settings.worker else 0))
        if not settings.worker:  # a worker's server did this before starting it
            await start_up(state)
        leases = state.leases
        if leases is not None:
            await leases.renew()
        tasks = [asyncio.create_task(_sweeper(state, relay))]
        if state.shared.enabled:  # answer other processes' requests about the calls this one runs
            tasks.append(asyncio.create_task(relay.serve()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await relay.close()
            if state.engine_made is not None:
                await state.engine_made.close()
            await state.deliverer.close()
            if leases is not None:  # after the deliveries: what they left undone goes to the other processes
                with contextlib.suppress(Exception):  # a lease left behind lapses by itself
                    await leases.leave(state.clock.now())
            await state.shared.close()
            await state.store.close()

    routes: list[BaseRoute] = [
        agents.resource,  # first: GET /v1/agents/{id} is the hottest route, and resources are tried in order
        *(Resource.later(prefix, f"emulator.api.{module}", name) for prefix, module, name in LATER),
        *control_api.resources(),
        *openapi.routes,
        *root.routes,
    ]
    def journaled(entry: Entry) -> None:
        if not state.activity.listened_to:
            return
        # A sub-account named in the header counts only once the API accepted it (it answers 404 otherwise).
        accepted = entry.sub_account_id if entry.status is not None and entry.status < 400 else None
        state.activity.request([entry.account_id, accepted], entry.method, entry.path, entry.status, entry.seq)

    router = PrefixRouter(routes, lifespan=lifespan)
    handlers = {Problem: on_problem, HTTPException: on_http_error}
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(Journaling, journal=state.journal, account_of=lambda key: state.key_cache.get(key),
                               recorded=journaled),
                    Middleware(CrashGuard, state),
                    Middleware(Dispatch, router=router, handlers=handlers)],
        exception_handlers=handlers,
    )
    app.router = router
    relay = Relay(state, app)
    app.state.emulator = state
    return app
