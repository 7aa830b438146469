"""The suite's fixtures: one emulator for the whole session, in this process, shared by every test
through keys of their own; webhook receivers; SDK clients; emulators with special settings.

`api` and `control` call the app directly (httpx.ASGITransport, no sockets); `base_url`, `sdk` and
`http_api` go over real HTTP to uvicorn serving the same app on a loopback port.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, cast

import httpx
import httpx._transports.default as httpx_transports
import pytest
from agentphone import AgentPhone
from helpers import http_client

from emulator.config import Settings
from emulator.store import sql
from emulator.testing.inprocess import InProcessEmulator
from emulator.testing.postgres import throwaway_database
from emulator.testing.process import new_key
from emulator.testing.receiver import OK, WebhookReceiver, echo, json_reply


@pytest.fixture(scope="session", autouse=True)
def one_tls_context() -> Iterator[None]:
    """Every httpx client the suite builds (its own, the SDK's, the control client's) shares one default TLS
    context: building one reads the CA bundle, tens of milliseconds of CPU per client, a sixth of the suite's
    time when each request made a client. The suite talks plain HTTP to loopback; TLS settings other than the
    default still get a context of their own."""
    build = httpx_transports.create_ssl_context
    shared = cache(lambda: build())

    def create(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is True and cert is None and trust_env:
            return shared()
        return build(verify=verify, cert=cert, trust_env=trust_env)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx_transports, "create_ssl_context", create)
        yield


PG_SERVER = os.environ.get("AGENTPHONE_EMULATOR_TEST_PG")  # a PostgreSQL server (.ci/run starts one)


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("AGENTPHONE_EMULATOR_TEST_DB", "").startswith("postgresql") and \
            getattr(config.option, "numprocesses", None) not in (None, 0, "0"):
        raise pytest.UsageError("AGENTPHONE_EMULATOR_TEST_DB names one database for every pytest-xdist worker, and "
                                "each worker resets it as it starts: run the suite on PostgreSQL without -n.")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module marked `also_on_postgresql` runs twice where a PostgreSQL server is named: on the session's
    emulator, and on one whose database is on that server."""
    if PG_SERVER and "server" in metafunc.fixturenames and metafunc.definition.get_closest_marker("also_on_postgresql"):
        metafunc.parametrize("server", ["sqlite", "postgresql"], indirect=True, scope="module")


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessEmulator]:
    """The session's emulator: the app on a loop thread of its own, a real SQLite file, served by uvicorn (or
    the database AGENTPHONE_EMULATOR_TEST_DB names: the whole suite on PostgreSQL)."""
    db = os.environ.get("AGENTPHONE_EMULATOR_TEST_DB") or str(tmp_path_factory.mktemp("emulator") / "emulator.db")
    with InProcessEmulator(Settings(db=db), serve=True) as emulator:
        if db.startswith("postgresql"):  # a server database outlives the session: start from nothing
            with emulator.client() as control:
                control.post("/_emulator/reset", json={}).raise_for_status()
        yield emulator


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[InProcessEmulator]:
    """The same on a throwaway database of the PostgreSQL server, dropped afterwards."""
    assert PG_SERVER is not None
    with throwaway_database(PG_SERVER) as url, InProcessEmulator(Settings(db=url), serve=True) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> InProcessEmulator:
    """The emulator a module's tests share: the session's, or in the PostgreSQL run of a module marked
    `also_on_postgresql`, the one on PostgreSQL."""
    return cast(InProcessEmulator, request.getfixturevalue(f"{getattr(request, 'param', 'sqlite')}_server"))


@pytest.fixture
def base_url(server: InProcessEmulator) -> str:
    return server.base_url


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def api(server: InProcessEmulator, key: str) -> Iterator[httpx.Client]:
    """An HTTP client authenticated as a fresh, isolated account (in-process)."""
    with server.client(key) as client:
        yield client


@pytest.fixture
def control(server: InProcessEmulator) -> Iterator[httpx.Client]:
    """A client for the control API (in-process)."""
    with server.client() as client:
        yield client


@pytest.fixture
def http_api(base_url: str, key: str) -> Iterator[httpx.Client]:
    """Like `api`, over real HTTP."""
    with http_client(base_url, key) as client:
        yield client


@pytest.fixture
def voice() -> Iterator[WebhookReceiver]:
    """A voice agent: a strict receiver (every request verified with the SDK, 401 otherwise) that echoes
    what the caller said and answers other events `{}` at once. `Line.open` hands it the secret."""
    with WebhookReceiver(strict=True, default=json_reply({})) as receiver:
        receiver.answer_turns_with(echo)
        yield receiver


@pytest.fixture
def rx() -> Iterator[WebhookReceiver]:
    """A webhook receiver that fails the test when any delivery does not verify with the SDK."""
    with WebhookReceiver(strict=True, default=OK) as receiver:
        yield receiver


@pytest.fixture
def sdk(base_url: str, key: str) -> Iterator[AgentPhone]:
    """The official Python SDK client for the test's fresh key."""
    with AgentPhone(api_key=key, base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture
def python_rendering() -> Any:
    """A switch that makes the lists render every row in Python (as on PostgreSQL) while it is on."""
    class Switch:
        def __enter__(self) -> None:
            self.before = sql._json_functions
            sql._json_functions = False

        def __exit__(self, *exc: object) -> None:
            sql._json_functions = self.before

    yield Switch()


@pytest.fixture
def make_emulator(tmp_path: Path) -> Iterator[Callable[..., InProcessEmulator]]:
    """`make_emulator(strict_keys=True, ...)`: an emulator of the test's own with these settings (in this
    process, its own SQLite file), for settings the shared one cannot have or a clock the test moves.
    `serve=True` serves it over HTTP too. Stopped when the test ends."""
    started: list[InProcessEmulator] = []

    def make(*, serve: bool = False, **settings: Any) -> InProcessEmulator:
        settings.setdefault("db", str(tmp_path / f"emulator-{len(started)}.db"))
        emulator = InProcessEmulator(Settings(**settings), serve=serve).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in reversed(started):
        emulator.stop()
