"""pytest plugin (installed with the package): an AgentPhone emulator for your test suite.

Fixtures:
  agentphone_emulator   session-wide emulator (real uvicorn on a free port, its own SQLite file): a
                        `ControlClient` with reset, advance_clock, send_sms, dial_in, set_callee,
                        add_fault, set_account, load_fixtures, wait_for_call and api(key)
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

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.testing.control import ControlClient
from emulator.testing.process import EmulatorProcess, new_key
from emulator.testing.receiver import WebhookReceiver

EmulatorHandle = ControlClient  # the fixture's type, by the name it had before


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("agentphone", "AgentPhone emulator")
    group.addoption("--agentphone-url", default=None, help="use a running emulator at this URL")
    group.addoption("--agentphone-arg", action="append", default=[], help="extra 'serve' argument (repeatable)")
    group.addoption("--agentphone-admin-token", default=None,
                    help="the emulator's admin token (passed to a started emulator and sent on control calls)")


@pytest.fixture(scope="session")
def agentphone_emulator(pytestconfig: pytest.Config) -> Iterator[ControlClient]:
    url = pytestconfig.getoption("agentphone_url")
    token = pytestconfig.getoption("agentphone_admin_token")
    if url:
        with ControlClient(url, token) as control:
            yield control
        return
    args = list(pytestconfig.getoption("agentphone_arg")) + (["--admin-token", token] if token else [])
    with EmulatorProcess(args=args) as proc, ControlClient(proc.base_url, token) as control:
        yield control


@pytest.fixture
def agentphone_base_url(agentphone_emulator: ControlClient) -> str:
    return agentphone_emulator.base_url


@pytest.fixture
def agentphone_key(agentphone_emulator: ControlClient) -> Iterator[str]:
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
def agentphone_scenario(agentphone_emulator: ControlClient) -> Any:
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
