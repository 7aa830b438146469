"""`agentphone-emulator serve`: claim the port, then the database, then start, then say so.

The order matters. A second `serve` on a busy port must fail before it touches any database, and
one on a database a live emulator holds must fail before start-up recovery marks that emulator's
running calls as failed. So: bind the listening socket, take the database lock
(emulator/store/lock.py), and only then build the app and run its start-up (recovery, fixtures).
The banner is printed once the server answers requests. `create_app` itself takes no lock, so
in-process harnesses can serve an app without one.

With `--workers N` this process does the start-up work once (recovery, fixtures), then runs N worker
processes on the one socket (uvicorn's supervisor, which restarts a worker that dies) and keeps the lock
while they serve. They share the database, and what each holds in memory goes through emulator/shared.py.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

import uvicorn
from sqlalchemy.engine import make_url

from emulator import __version__, heap, logs
from emulator.config import Settings
from emulator.exposure import secure, token_lines
from emulator.store.lock import DatabaseInUse, DatabaseLock, lock_database

if TYPE_CHECKING:
    from starlette.applications import Starlette

BACKLOG = 2048  # uvicorn's default
WORKER_SETTINGS = "AGENTPHONE_EMULATOR_WORKER_SETTINGS"  # how a worker process learns its server's settings


class PortUnavailable(Exception):
    pass


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, or PortUnavailable with a sentence saying why and what to do."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
    try:
        if sys.platform != "win32":  # reuse a port whose old connections linger in TIME_WAIT
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is in use by another process; stop it, or choose another --port."
        elif exc.errno == errno.EACCES:
            reason = "permission denied (ports below 1024 need privileges); choose another --port."
        elif isinstance(exc, socket.gaierror):
            reason = f"{host} does not resolve to an address; check --host."
        elif exc.errno == errno.EADDRNOTAVAIL:
            reason = f"{host} is not an address of this machine; check --host."
        else:
            reason = f"{exc.strerror or exc}."
        raise PortUnavailable(f"cannot listen on {where}: {reason}") from None
    return sock


def database_label(settings: Settings, lock: DatabaseLock | None) -> str:
    if lock is not None:
        return str(lock.database)
    if settings.db == ":memory:":
        return "in memory, gone when the process stops"
    if "://" in settings.db:
        return make_url(settings.db).render_as_string(hide_password=True)
    return settings.db


def banner(settings: Settings, database: str, generated_token: bool = False) -> str:
    base = settings.base_url
    workers = f", {settings.workers} worker processes" if settings.workers > 1 else ""
    return "\n".join([
        f"agentphone-emulator {__version__} listening on {base} (database: {database}{workers})",
        f"  inspector: {base}/",
        f"  docs:      {base}/docs",
        f"  health:    {base}/_emulator/health",
        f'  SDK:       AgentPhone(api_key="sk_test_local", base_url="{base}")',
        *(token_lines(settings) if generated_token else []),
    ])


class _Server(uvicorn.Server):
    """uvicorn's server, calling `on_ready` once start-up is complete and the socket is being served."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self.on_ready()
            heap.freeze_start_up()


def serve(settings: Settings, log_level: str = "info", log_format: str = "text", access_log: bool = False) -> int:
    try:
        sock = bind(settings.host, settings.port)
    except PortUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    with sock:
        settings.port = sock.getsockname()[1]  # the real one when --port 0 asked for any free port
        exposure = secure(settings, sock.getsockname()[0])
        if exposure.warning:
            print(exposure.warning, file=sys.stderr, flush=True)
        try:
            lock = lock_database(settings.db)
        except DatabaseInUse as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return 1
        try:
            text = banner(settings, database_label(settings, lock), exposure.generated)
            # Levels come from the logging config alone (log_level=None): uvicorn would set its own otherwise.
            options = {"host": settings.host, "port": settings.port, "log_level": None, "access_log": access_log,
                       "log_config": logs.config(log_level, log_format, access_log), "lifespan": "on"}
            if settings.workers > 1:
                _serve_workers(settings, sock, options, text)
            else:
                from emulator.app import create_app

                config = uvicorn.Config(create_app(settings), **options)  # type: ignore[arg-type]
                _Server(config, on_ready=lambda: print(text, flush=True)).run(sockets=[sock])
        finally:
            if lock is not None:
                lock.release()
    return 0


def _serve_workers(settings: Settings, sock: socket.socket, options: dict[str, object], text: str) -> None:
    """Start-up once, here; then N workers serving `sock` until a signal stops them all."""
    from uvicorn.supervisors import Multiprocess

    scratch = None
    if settings.db == ":memory:":  # one database for every worker, gone when the server stops
        scratch = tempfile.mkdtemp(prefix="agentphone-emulator-")
        settings = replace(settings, db=os.path.join(scratch, "emulator.db"))
    try:
        asyncio.run(_start_up(settings))
        heap.freeze_start_up()  # this process supervises from now on; the workers start their own way
        os.environ[WORKER_SETTINGS] = json.dumps(asdict(replace(settings, worker=True)))
        config = uvicorn.Config("emulator.serve:worker_app", factory=True, workers=settings.workers,
                                **options)  # type: ignore[arg-type]
        threading.Thread(target=_announce, args=(settings.base_url, text), daemon=True).start()
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


async def _start_up(settings: Settings) -> None:
    from emulator.app import start_up
    from emulator.context import Emulator
    from emulator.store import Store

    state = Emulator(settings=settings, store=Store(settings.db))
    await state.store.start()
    try:
        await state.shared.start()
        await start_up(state)
    finally:
        await state.deliverer.close()
        await state.shared.close()
        await state.store.close()


def _announce(base_url: str, text: str) -> None:
    """Print the banner once a worker answers."""
    from emulator.waiting import NotReady, wait_for_emulator

    try:
        wait_for_emulator(base_url.replace("0.0.0.0", "127.0.0.1"), 600.0)
    except NotReady:
        return
    print(text, flush=True)


def worker_app() -> Starlette:
    """The app of one worker process (`uvicorn ... --factory`), from the settings its server left in the
    environment."""
    from emulator.app import create_app

    return create_app(Settings(**json.loads(os.environ[WORKER_SETTINGS])))
