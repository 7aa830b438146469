"""Helpers the test modules share: checked responses, accounts and the clock, webhooks, calls.

Everything here drives the emulator through its API and control API; nothing writes to its database.
"""

from __future__ import annotations

import json
import os
import random
import re
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from emulator.store.models import Base
from emulator.testing import free_port
from emulator.testing.control import wait_for_call
from emulator.testing.process import READY_CAP_SECONDS
from emulator.testing.receiver import WebhookReceiver

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
E164_NANP = re.compile(r"^\+1[2-9]\d{2}[2-9]\d{6}$")
SENDER = "+14155550123"
# Caps on waits for something that happens in milliseconds on a quiet machine: generous, so that a
# loaded machine makes a test slower, never a failure.
WAIT_CAP = 60.0


# --- responses -------------------------------------------------------------------------------------


def ok(resp: httpx.Response, status: int = 200) -> Any:
    """The JSON body (None when empty) of a response that has `status`."""
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.url.path}: expected {status}, got {resp.status_code} {resp.text}")
    return resp.json() if resp.content else None


def refused(resp: httpx.Response, status: int, *words: str) -> str:
    """The response is `status` with a sentence in `detail` that mentions every word given."""
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text}"
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and detail.endswith((".", ")")), detail
    for word in words:
        assert word in detail, f"{word!r} not in {detail!r}"
    return detail


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every real-HTTP client of the suite (building one reads the CA bundle: tens
    of milliseconds per client); the suite's clients all talk plain HTTP to loopback anyway."""
    return ssl.create_default_context()


def http_client(base_url: str, key: str | None = None, **headers: str) -> httpx.Client:
    """A client over real HTTP (`key` becomes `Authorization: Bearer`)."""
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.Client(base_url=base_url, headers=headers, timeout=30, verify=_tls())


def live_events(response: httpx.Response, within: float | None = None) -> Iterator[tuple[str, Any]]:
    """The events of a stream as they arrive; with `within`, a failure once a line (a heartbeat comment too)
    arrives that many seconds after the first."""
    name, data = "message", []
    deadline = None if within is None else time.monotonic() + within
    for line in response.iter_lines():
        assert deadline is None or time.monotonic() < deadline, f"the stream went on past {within:g} s"
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


# --- times -----------------------------------------------------------------------------------------


def parse(stamp: str) -> datetime:
    """An API timestamp as naive UTC."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).replace(tzinfo=None)


def when(stamp: str) -> datetime:
    """An API timestamp as aware UTC."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def iso(dt: datetime) -> str:
    """The form the API sends: ISO-8601 UTC with milliseconds and Z."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def emulator_now(control: httpx.Client) -> datetime:
    """The emulator's clock (naive UTC)."""
    return parse(ok(control.get("/_emulator/clock"))["now"])


def advance(control: httpx.Client, seconds: float) -> datetime:
    """Move the emulator's clock forward; returns its new time (naive UTC)."""
    return parse(ok(control.post("/_emulator/clock", json={"advance": seconds}))["now"])


# --- accounts --------------------------------------------------------------------------------------


def set_account(control: httpx.Client, key: str, **settings: Any) -> dict[str, Any]:
    """Change the key's account (`plan`, `balanceCents`, `recordingEnabled`); returns its settings."""
    return dict(ok(control.patch(f"/_emulator/accounts/{key}", json=settings)))


def upgrade(control: httpx.Client, key: str, plan: str = "scale", balance_cents: int = 1_000_000) -> dict[str, Any]:
    """Room for more numbers: the key's account on `plan`, with credit to buy them."""
    return set_account(control, key, plan=plan, balanceCents=balance_cents)


def account_id(control: httpx.Client, key: str) -> str:
    return str(ok(control.get(f"/_emulator/accounts/{key}"))["id"])


def load(control: httpx.Client, fixture: dict[str, Any]) -> dict[str, Any]:
    """Load a fixture through the control API; returns what was loaded."""
    return dict(ok(control.post("/_emulator/fixtures", json=fixture)))


# --- agents, numbers, SMS and the delivery log -----------------------------------------------------


def make_agent(api: httpx.Client, name: str = "Webhook agent", **fields: Any) -> dict[str, Any]:
    return dict(ok(api.post("/v1/agents", json={"name": name, **fields})))


def buy_number(api: httpx.Client, agent_id: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"agentId": agent_id, **fields} if agent_id else fields
    return dict(ok(api.post("/v1/numbers", json=body)))


def set_webhook(api: httpx.Client, rx: WebhookReceiver, path: str, agent_id: str | None = None,
                **fields: Any) -> dict[str, Any]:
    """Point the project's (or an agent's) webhook at `rx` + `path`; the receiver verifies with its secret."""
    route = f"/v1/agents/{agent_id}/webhook" if agent_id else "/v1/webhooks"
    hook = dict(ok(api.post(route, json={"url": rx.url_for(path), **fields})))
    rx.expect(path, hook["secret"])
    return hook


def inbound(control: httpx.Client, to: str, body: str, sender: str = SENDER) -> dict[str, Any]:
    """An SMS from the outside world (POST /_emulator/sms); returns the control API's answer."""
    return dict(ok(control.post("/_emulator/sms", json={"from": sender, "to": to, "body": body})))


def delivery_log(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    return list(ok(api.get("/v1/webhooks/deliveries", params={"limit": 100, **params}))["items"])


def wait_until(check: Callable[[], Any], what: str, timeout: float = WAIT_CAP) -> Any:
    """Poll `check()` until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        time.sleep(0.02)


def wait_log(api: httpx.Client, done: Callable[[list[dict[str, Any]]], bool], timeout: float = WAIT_CAP,
             **params: Any) -> list[dict[str, Any]]:
    """Poll the delivery log until `done(items)` holds; returns the items (newest first)."""
    deadline = time.monotonic() + timeout
    while True:
        items = delivery_log(api, **params)
        if done(items):
            return items
        if time.monotonic() > deadline:
            raise AssertionError(f"the delivery log did not settle within {timeout:g} s: {items}")
        time.sleep(0.02)


def settled(count: int, status: str | None = None) -> Callable[[list[dict[str, Any]]], bool]:
    """`count` deliveries, each attempted at least once (or in `status` when given)."""
    def done(items: list[dict[str, Any]]) -> bool:
        if len(items) != count:
            return False
        if status is not None:
            return all(i["status"] == status for i in items)
        return all(i["attemptCount"] >= 1 or i["status"] == "failed" for i in items)
    return done


# --- calls -----------------------------------------------------------------------------------------


def fresh_number() -> str:
    """A random North American destination (never one of the +1500555000x magic numbers)."""
    return f"+1{random.randint(201, 989)}{random.randint(200, 999)}{random.randint(0, 9999):04d}"


def script(control: httpx.Client, turns: list[dict[str, Any]], number: str | None = None,
           key: str | None = None) -> str:
    """Register a callee script (`PUT /_emulator/callees/{e164}`) under a fresh number; returns the number."""
    number = number or fresh_number()
    ok(control.put(f"/_emulator/callees/{number}", json={"turns": turns}, params={"key": key} if key else None))
    return number


def wait_ended(api: httpx.Client, call_id: str, timeout: float = WAIT_CAP,
               pending: tuple[str, ...] = ("in-progress",)) -> dict[str, Any]:
    """`GET /v1/calls/{id}` once the call is no longer in progress (nor in `pending`)."""
    return wait_for_call(api, call_id, timeout, pending=pending)


def deliveries(api: httpx.Client, call_id: str, event: str | None = None) -> list[dict[str, Any]]:
    """The delivery-log rows of one call (all its events, or one kind)."""
    items = ok(api.get("/v1/webhooks/deliveries", params={"limit": 100}))["data"]
    return [d for d in items if d["messageId"] == call_id and (event is None or d["eventType"] == event)]


@dataclass
class Line:
    """An agent with a number (and a webhook pointing at `voice`, unless told otherwise)."""

    api: httpx.Client
    voice: WebhookReceiver
    agent: dict[str, Any]
    number: dict[str, Any]
    hook: dict[str, Any] | None

    @classmethod
    def open(cls, api: httpx.Client, voice: WebhookReceiver, *, webhook: dict[str, Any] | None = None,
             agent_webhook: bool = False, with_webhook: bool = True, **agent_fields: Any) -> Line:
        agent = ok(api.post("/v1/agents", json={"name": "Voice Bot", **agent_fields}))
        number = ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
        hook = None
        if with_webhook:
            path = f"/v1/agents/{agent['id']}/webhook" if agent_webhook else "/v1/webhooks"
            hook = ok(api.post(path, json={"url": voice.url, **(webhook or {})}))
            voice.secret = hook["secret"]
        return cls(api, voice, agent, number, hook)

    def place(self, turns: list[dict[str, Any]] | None = None, to: str | None = None,
              **body: Any) -> dict[str, Any]:
        """`POST /v1/calls` to `to`, or to a fresh number answering with `turns`."""
        if to is None:
            to = script(self.api, turns or [])
        return dict(ok(self.api.post("/v1/calls", json={"agentId": self.agent["id"], "toNumber": to, **body})))

    def run(self, turns: list[dict[str, Any]] | None = None, to: str | None = None, **body: Any) -> dict[str, Any]:
        """Place a call and wait for it to end; returns `GET /v1/calls/{id}` of the ended call."""
        return wait_ended(self.api, self.place(turns, to, **body)["id"])


def rows(call: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [t for t in call["transcripts"] if kind is None or t["kind"] == kind]


def said(call: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(caller words, agent words) of every row, in order."""
    return [(t["transcript"], t["response"]) for t in call["transcripts"]]


# --- fixtures ---------------------------------------------------------------------------------------


def tag() -> str:
    """A short random tag for IDs a test writes into a fixture (fixture IDs are unique emulator-wide)."""
    return uuid.uuid4().hex[:12]


def seed_account(control: httpx.Client, key: str, **parts: Any) -> dict[str, Any]:
    """Load a fixture with one account for `key` (its agents, numbers, conversations, calls ...), replacing
    whatever the key had; returns what was loaded."""
    return load(control, {"accounts": [{"key": key, **parts}]})


def sms_in(control: httpx.Client, sender: str, to: str, body: str) -> dict[str, Any]:
    """An inbound SMS whose `receivedAt` millisecond no earlier message of the emulator shares (cursor
    tests page by millisecond); returns the message."""
    message = dict(inbound(control, to, body, sender)["message"])
    tick(control, message["receivedAt"])
    return message


def tick(control: httpx.Client, stamp: str) -> None:
    """Wait until the emulator's clock shows a later millisecond than `stamp`."""
    wait_until(lambda: iso(emulator_now(control)) > stamp, "the next millisecond")


def hosted_call(api: httpx.Client, control: httpx.Client, agent_id: str, turns: list[dict[str, Any]] | None = None,
                **body: Any) -> dict[str, Any]:
    """A call the emulator answers itself (a system prompt makes any agent hosted), to a scripted callee;
    returns it once ended."""
    to = script(control, turns or [{"say": "Hello?"}, {"say": "Goodbye."}])
    placed = ok(api.post("/v1/calls", json={"agentId": agent_id, "toNumber": to, "systemPrompt": "Be brief.", **body}))
    return wait_ended(api, placed["id"])


# --- a voice turn that fails -----------------------------------------------------------------------

THREE_TURNS = [{"say": "First question"}, {"say": "Second question"}, {"say": "Third question"}]


def failed_turn(api: httpx.Client, voice: WebhookReceiver, call: dict[str, Any], transcript: str) -> dict[str, Any]:
    """The delivery-log row of the turn where the caller said `transcript` (sent exactly once)."""
    sent = [m for m in voice.messages(call["id"]) if m.transcript == transcript]
    assert len(sent) == 1, f"the turn {transcript!r} was sent {len(sent)} times"
    logged = {d["id"]: d for d in deliveries(api, call["id"], "agent.message")}
    return dict(logged[sent[0].headers["x-webhook-id"]])


def assert_silent_turn_and_call_went_on(api: httpx.Client, voice: WebhookReceiver,
                                        call: dict[str, Any]) -> dict[str, Any]:
    """A call of THREE_TURNS whose second turn failed: silence there, the call went on, the failure logged
    once and not retried. Returns the failed turn's delivery-log row."""
    assert call["status"] == "completed"
    assert call["endReason"] == "caller-finished"
    assert said(call) == [
        ("First question", "You said: First question"),
        ("Second question", None),
        ("Third question", "You said: Third question"),
    ]
    assert [m.transcript for m in voice.messages(call["id"])] == [t["say"] for t in THREE_TURNS]
    delivery = failed_turn(api, voice, call, "Second question")
    assert delivery["status"] == "failed"
    assert delivery["channel"] == "voice"
    assert delivery["errorMessage"]
    assert delivery["attemptCount"] == 1
    assert delivery["nextRetryAt"] is None
    assert rows(call)[1]["error"] == delivery["errorMessage"]
    for fine in ("First question", "Third question"):
        assert failed_turn(api, voice, call, fine)["status"] == "success"
    return delivery


EXAMPLE_AGENT = Path(__file__).resolve().parent.parent / "scenarios" / "example_agent" / "app.py"


@contextmanager
def example_agent(**env: str) -> Iterator[str]:
    """The shipped example webhook app in a child process, with these environment variables (and no webhook
    secret); yields its base URL (/agent behaves, /broken does not)."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k != "AGENTPHONE_WEBHOOK_SECRET"} | env
    proc = subprocess.Popen([sys.executable, str(EXAMPLE_AGENT), "--port", str(port)], env=environ,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_CAP_SECONDS  # a cap for a hung start, not an expectation
        while True:
            assert proc.poll() is None, f"the example app exited: {proc.stderr.read() if proc.stderr else ''}"
            try:
                httpx.get(base + "/", timeout=5)  # any answer (a 404 here) means it is listening
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, f"the example app did not start within {READY_CAP_SECONDS} s"
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stored_rows(emulator: Any, account_id: str | None = None, **where: str) -> dict[str, int]:
    """Rows per table as the emulator's own store reads them (SQLite or PostgreSQL alike): of the tables that
    have an `account_id` column, those of `account_id`; or, with `where` (column=value), of every table that
    has those columns."""
    async def count() -> dict[str, int]:
        counts: dict[str, int] = {}
        filters = {"account_id": account_id, **where} if account_id is not None else where
        async with emulator.state.store.read() as session:
            for table in Base.metadata.sorted_tables:
                if all(name in table.c for name in filters):
                    query = select(func.count()).select_from(table)
                    for name, value in filters.items():
                        query = query.where(table.c[name] == value)
                    counts[table.name] = int(await session.scalar(query) or 0)
        return counts

    return dict(emulator.run(count(), timeout=30))


TS_SDK_DIR = Path(__file__).parent / "ts_sdk"  # the pinned TypeScript SDK (tests/ts_sdk/package.json)


def ts_sdk_version() -> str:
    """The SDK's version tests/ts_sdk/package.json pins."""
    return str(json.loads((TS_SDK_DIR / "package.json").read_text())["dependencies"]["agentphone"])


def install_ts_sdk(npm: str, timeout: float = 300) -> Path:
    """`npm ci` of tests/ts_sdk from its committed lockfile, once, whichever test (in whichever pytest-xdist
    worker) needs it first: the others wait on a file lock and find it installed (two `npm ci` at once in one
    directory fail with ENOTEMPTY). Returns its node_modules."""
    import fcntl  # POSIX only, as the suite's servers are

    modules = TS_SDK_DIR / "node_modules"
    pinned = ts_sdk_version()
    with open(TS_SDK_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        installed = modules / "agentphone" / "package.json"
        if not installed.exists() or json.loads(installed.read_text())["version"] != pinned:
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=TS_SDK_DIR, capture_output=True,
                                  text=True, timeout=timeout)
            assert done.returncode == 0, f"npm ci failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return modules
