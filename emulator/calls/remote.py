"""Requests about a live call that another process runs, answered by that process.

A call runs in the process that placed it: its caller, its turn in flight and the rows it has not written
yet live in that process's memory. When several processes serve one database (emulator/shared.py), a request
about a live call (read it, wait for it, end it, drive its caller) may reach a process that does not run it.
That process writes the request into `call_commands` and waits; the process running the call looks for
requests about its calls every POLL_SECONDS, claims each (one claim, whatever else is looking), answers it
through its own application, exactly as if it had received it, and writes the answer back.

If no process claims a request within UNCLAIMED_SECONDS, or the call ends first, nobody runs the call any
more (its process died, or it just ended), and the process that received the request answers it itself.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select, update
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message

from emulator.clock import utcnow
from emulator.domain import calls, owners
from emulator.journal import QUIET_HEADER
from emulator.store import sql
from emulator.store.models import CallCommand, table

if TYPE_CHECKING:
    from emulator.context import Emulator

log = logging.getLogger("emulator.calls")

RELAYED = b"x-emulator-relayed"  # a request answered for another process: never relayed again
POLL_SECONDS = 0.02
UNCLAIMED_SECONDS = 2.0
LONGEST_SECONDS = calls.MAX_WAIT_SECONDS + 60.0  # the longest any relayed request waits for its answer
STALE = timedelta(minutes=10)  # answers nobody came back for, after a requester went away

COMMANDS = table(CallCommand)
_INSERT = sql.Insert(COMMANDS)
_ASKED = sql.Query(select(COMMANDS.c.pk, COMMANDS.c.call_id, COMMANDS.c.body)
                   .where(COMMANDS.c.call_id.in_(bindparam("calls", expanding=True)), COMMANDS.c.kind == "waiting"))
_CLAIM = sql.Query(update(COMMANDS).where(COMMANDS.c.pk == bindparam("command"), COMMANDS.c.kind == "waiting")
                   .values(kind="taken"))
_ANSWER = sql.Query(update(COMMANDS).where(COMMANDS.c.pk == bindparam("command"))
                    .values(kind="answered", answer=bindparam("answer")))
_STATE = sql.Query(select(COMMANDS.c.kind, COMMANDS.c.answer).where(COMMANDS.c.pk == bindparam("command")))
_WITHDRAW = sql.Query(delete(COMMANDS).where(COMMANDS.c.pk == bindparam("command"), COMMANDS.c.kind == "waiting"))
_FORGET = sql.Query(delete(COMMANDS).where(COMMANDS.c.pk == bindparam("command")))
_STALE = sql.Query(delete(COMMANDS).where(COMMANDS.c.created_at < bindparam("before")))

Handler = Callable[[Request], Awaitable[Response]]


def relayed(handler: Handler) -> Handler:
    """A handler of one call's route (`{call_id}` in its path), answered by the process that runs the call."""

    @functools.wraps(handler)
    async def answer(request: Request) -> Response:
        state: Emulator = request.scope["emulator"]
        call_id = str(request.path_params["call_id"])
        if state.shared.enabled and call_id not in state.engine.runs and RELAYED not in dict(request.scope["headers"]):
            elsewhere = await _relay(state, request, call_id)
            if elsewhere is not None:
                return elsewhere
        return await handler(request)

    return answer


async def _live(state: Emulator, call_id: str) -> bool:
    async with state.store.read() as session:
        row = await owners.call(session, call_id)
    return row is not None and row.status == "in-progress" and call_id not in state.engine.runs


async def _relay(state: Emulator, request: Request, call_id: str) -> Response | None:
    """The answer of the process running the call, or None when no process runs it."""
    if not await _live(state, call_id):
        return None
    body = await request.body()
    receive, replayed = request.receive, False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()  # then what the server says (the client hung up)
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    request._receive = replay  # the handler can still read the body if this process answers after all
    scope = request.scope
    asked = {"method": scope["method"], "path": scope["path"],
             "query": scope.get("query_string", b"").decode("latin-1"),
             "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
             "body": base64.b64encode(body).decode()}
    async with state.store.write() as session:
        row = await sql.insert(session, _INSERT, call_id=call_id, kind="waiting", body=asked, answer=None,
                               created_at=utcnow())
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < LONGEST_SECONDS:
        await asyncio.sleep(POLL_SECONDS)
        async with state.store.read() as session:
            found = await sql.first(session, _STATE, command=row.pk)
        if found is None:
            return None  # removed by a reset: answer here
        if found.kind == "answered":
            async with state.store.write() as session:
                await sql.run(session, _FORGET, command=row.pk)
            return _response(found.answer)
        if found.kind == "waiting" and (loop.time() - started > UNCLAIMED_SECONDS or not await _live(state, call_id)):
            async with state.store.write() as session:
                if await sql.run(session, _WITHDRAW, command=row.pk):
                    return None  # nobody runs the call: answer here
    return None


def _response(answer: dict[str, Any]) -> Response:
    response = Response(base64.b64decode(answer["body"]), status_code=answer["status"])
    response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer["headers"]]
    return response


class Relay:
    """The side of the process that runs calls: claims and answers what other processes asked about them."""

    def __init__(self, state: Emulator, app: ASGIApp) -> None:
        self.state = state
        self.app = app
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            runs = list(self.state.engine.runs)
            if not runs:
                continue
            try:
                await self._take(runs)
            except Exception:  # the loop must outlive a bad moment in the database
                log.exception("Looking for requests about this process's calls failed")

    async def _take(self, runs: list[str]) -> None:
        store = self.state.store
        async with store.read() as session:
            asked = await sql.rows(session, _ASKED, calls=runs)
        for pk, _call_id, body in asked:
            async with store.write() as session:
                claimed = await sql.run(session, _CLAIM, command=pk)
            if claimed:
                task = asyncio.create_task(self._answer(pk, body))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _answer(self, pk: int, asked: dict[str, Any]) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in asked["headers"]]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": asked["method"],
                 "scheme": "http", "path": asked["path"], "raw_path": asked["path"].encode(), "root_path": "",
                 "query_string": asked["query"].encode("latin-1"), "server": None, "client": None,
                 "headers": [*headers, (RELAYED, b"1"), (QUIET_HEADER, b"1")]}
        body = base64.b64decode(asked["body"])
        sent = False
        status, out_headers, chunks = 500, [], []

        async def receive() -> Message:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # the asker does not hang up while we answer
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status, out_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                out_headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        with contextlib.suppress(Exception):
            await self.app(scope, receive, send)
        answer = {"status": status, "headers": out_headers, "body": base64.b64encode(b"".join(chunks)).decode()}
        async with self.state.store.write() as session:
            await sql.run(session, _ANSWER, command=pk, answer=answer)

    async def drop_stale(self) -> None:
        """Forget requests and answers left behind by processes that went away."""
        async with self.state.store.write() as session:
            await sql.run(session, _STALE, before=utcnow() - STALE)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1)
