"""pytest plugin (installed with the package): an AgentPhone emulator for your test suite.

Fixtures:
  agentphone_emulator   session-wide emulator (real uvicorn on a free port, its own SQLite file),
                        with control helpers: reset, advance_clock, send_sms, dial_in, set_callee,
                        add_fault, load_fixtures, wait_for_call, and the request journal's
                        requests(...) and assert_requested(method, path, count=1, json={...})
  agentphone_base_url   its base URL (point your code or the SDK's base_url here)
  agentphone_key        a fresh API key per test: an isolated account
  agentphone_client     the official SDK client for that key (skipped if `agentphone` is absent)
  agentphone_webhook    a local webhook receiver that records requests and answers as told
  agentphone_scenario   run a scenario file, or a scenario dict, and fail the test with its message

Options: --agentphone-url URL (use a running emulator instead of starting one),
         --agentphone-arg ARG (extra `serve` arguments, repeatable),
         --agentphone-admin-token TOKEN (the emulator's admin token, sent on control calls).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.receiver import WebhookReceiver
from emulator.testing import EmulatorProcess, new_key


class EmulatorHandle:
    def __init__(self, base_url: str, admin_token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token
        headers = {"X-Emulator-Admin-Token": admin_token} if admin_token else {}
        self.control = httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.control.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json()

    def api(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def reset(self, key: str | None = None) -> Any:
        return self._call("POST", "/_emulator/reset", json={"key": key} if key else {})

    def advance_clock(self, seconds: float) -> Any:
        return self._call("POST", "/_emulator/clock", json={"advance": seconds})

    def send_sms(self, sender: str, to: str, body: str) -> Any:
        return self._call("POST", "/_emulator/sms", json={"from": sender, "to": to, "body": body})

    def dial_in(self, sender: str, to: str, turns: list[dict[str, Any]]) -> Any:
        return self._call("POST", "/_emulator/calls/inbound", json={"from": sender, "to": to, "turns": turns})

    def set_callee(self, e164: str, turns: list[dict[str, Any]]) -> Any:
        return self._call("PUT", f"/_emulator/callees/{e164}", json={"turns": turns})

    def add_fault(self, **fault: Any) -> Any:
        return self._call("POST", "/_emulator/faults", json=fault)

    def set_account(self, key: str, **settings: Any) -> Any:
        return self._call("PATCH", f"/_emulator/accounts/{key}", json=settings)

    def load_fixtures(self, fixture: dict[str, Any] | str | Path) -> Any:
        if isinstance(fixture, dict):
            return self._call("POST", "/_emulator/fixtures", json=fixture)
        return self._call("POST", "/_emulator/fixtures", content=Path(fixture).read_text(),
                          headers={"Content-Type": "application/yaml"})

    def wait_for_call(self, key: str, call_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll until the call is no longer in progress; returns it with its transcript."""
        deadline = time.monotonic() + timeout
        with self.api(key) as api:
            while True:
                call = api.get(f"/v1/calls/{call_id}").json()
                if call.get("status") != "in-progress":
                    return call
                if time.monotonic() > deadline:
                    raise AssertionError(f"call {call_id} still in progress after {timeout}s")
                time.sleep(0.02)

    # --- the request journal (GET /_emulator/requests): what the code under test asked of /v1 ---------------

    def requests(self, key: str | None = None, *, method: str | None = None, path: str | None = None,
                 since: int | str | None = None) -> list[dict[str, Any]]:
        """The /v1 requests made (by `key`, or by every key), oldest first: each with method, path, query,
        body, status and time. `path` is exact or a glob (`/v1/calls/*`); `since` a `seq` or an ISO time."""
        params = {name: value for name, value in
                  (("key", key), ("method", method), ("path", path), ("since", since)) if value is not None}
        journal: dict[str, Any] = self._call("GET", "/_emulator/requests", params={**params, "limit": 10_000})
        entries: list[dict[str, Any]] = journal["data"]
        return entries

    def assert_requested(self, method: str, path: str, *, count: int | None = 1, json: Any = ...,
                         key: str | None = None, since: int | str | None = None) -> list[dict[str, Any]]:
        """Fail unless exactly `count` (None: at least one) `method path` requests were made whose JSON body
        contains `json` (its fields with these values; others may be there too). Returns them."""
        made = self.requests(key, method=method, path=path, since=since)
        found = [e for e in made if json is ... or self._contains(e["body"], json)]
        if (len(found) == count) if count is not None else found:
            return found
        wanted = f"{'at least one' if count is None else count} {method.upper()} {path}"
        if json is not ...:
            wanted += f" with a body containing {json!r}"
        seen = "\n".join(f"  #{e['seq']} {e['method']} {e['path']} -> {e['status']}: {e['body']!r}" for e in made)
        raise AssertionError(f"Expected {wanted}; {len(found)} matched. The {method.upper()} {path} requests made:\n"
                             + (seen or "  (none)"))

    @staticmethod
    def _contains(actual: Any, expected: Any) -> bool:
        """Whether `actual` holds `expected`: objects by the fields `expected` names, lists item by item."""
        if isinstance(expected, dict):
            return isinstance(actual, dict) and all(
                name in actual and EmulatorHandle._contains(actual[name], value) for name, value in expected.items())
        if isinstance(expected, list):
            return isinstance(actual, list) and len(actual) == len(expected) and all(
                EmulatorHandle._contains(a, e) for a, e in zip(actual, expected, strict=True))
        if isinstance(actual, bool) or isinstance(expected, bool):  # True is not 1 in JSON
            return actual is expected
        return bool(actual == expected)

    def close(self) -> None:
        self.control.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("agentphone", "AgentPhone emulator")
    group.addoption("--agentphone-url", default=None, help="use a running emulator at this URL")
    group.addoption("--agentphone-arg", action="append", default=[], help="extra 'serve' argument (repeatable)")
    group.addoption("--agentphone-admin-token", default=None,
                    help="the emulator's admin token (passed to a started emulator and sent on control calls)")


@pytest.fixture(scope="session")
def agentphone_emulator(pytestconfig: pytest.Config) -> Iterator[EmulatorHandle]:
    url = pytestconfig.getoption("agentphone_url")
    token = pytestconfig.getoption("agentphone_admin_token")
    if url:
        handle = EmulatorHandle(url, token)
        yield handle
        handle.close()
        return
    args = list(pytestconfig.getoption("agentphone_arg")) + (["--admin-token", token] if token else [])
    with EmulatorProcess(args=args) as proc:
        handle = EmulatorHandle(proc.base_url, token)
        yield handle
        handle.close()


@pytest.fixture
def agentphone_base_url(agentphone_emulator: EmulatorHandle) -> str:
    return agentphone_emulator.base_url


@pytest.fixture
def agentphone_key(agentphone_emulator: EmulatorHandle) -> Iterator[str]:
    key = new_key()
    yield key
    agentphone_emulator.reset(key)


@pytest.fixture
def agentphone_client(agentphone_base_url: str, agentphone_key: str) -> Iterator[Any]:
    sdk = pytest.importorskip("agentphone")
    client = sdk.AgentPhone(api_key=agentphone_key, base_url=agentphone_base_url)
    yield client
    client.close()


@pytest.fixture
def agentphone_webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def agentphone_scenario(agentphone_emulator: EmulatorHandle) -> Any:
    """`agentphone_scenario(path_or_dict, target=URL)`: run it; a failed expectation fails the test."""
    from emulator.scenarios import report
    from emulator.scenarios.model import ScenarioError, build, discover
    from emulator.scenarios.runner import Outcome, Runner

    def run(scenario: str | Path | dict[str, Any], target: str | None = None) -> list[Outcome]:
        try:
            loaded = [build(scenario, "<inline scenario>")] if isinstance(scenario, dict) else discover([str(scenario)])
        except ScenarioError as exc:
            pytest.fail(str(exc), pytrace=False)
        runner = Runner(agentphone_emulator.base_url, target, agentphone_emulator.admin_token)
        try:
            outcomes = [runner.run(item) for item in loaded]
        finally:
            runner.close()
        failures = report.failures_text(outcomes)
        if failures:
            pytest.fail(failures, pytrace=False)
        return outcomes

    return run
