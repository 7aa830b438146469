"""The pytest plugin's view of the request journal: `agentphone_emulator.requests(...)` and
`assert_requested(...)`, so a test proves its code texted once, not twice."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from helpers import ok

from emulator.testing import EmulatorProcess
from emulator.testing.control import ControlClient as EmulatorHandle

pytest_plugins = ["pytester"]


@pytest.fixture
def handle(server: EmulatorProcess) -> Iterator[EmulatorHandle]:
    opened = EmulatorHandle(server.base_url)
    yield opened
    opened.close()


def texting_line(api: httpx.Client) -> dict:
    agent = ok(api.post("/v1/agents", json={"name": "Texter"}))
    ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
    return agent


def test_requests_lists_what_a_key_asked_of_the_api(handle: EmulatorHandle, api: httpx.Client, key: str) -> None:
    agent = texting_line(api)
    ok(api.post("/v1/messages", json={"agent_id": agent["id"], "to_number": "+14155550170", "body": "Hello"}))
    made = handle.requests(key)
    assert [(r["method"], r["path"]) for r in made] == [
        ("POST", "/v1/agents"), ("POST", "/v1/numbers"), ("POST", "/v1/messages")]
    assert handle.requests(key, method="POST", path="/v1/messages")[0]["body"]["body"] == "Hello"
    assert handle.requests(key, path="/v1/numbers*")[0]["status"] == 200
    assert handle.requests(key, since=made[1]["seq"]) == made[2:]


def test_assert_requested_counts_matching_bodies(handle: EmulatorHandle, api: httpx.Client, key: str) -> None:
    agent = texting_line(api)
    for body in ("Your code is 1234", "Your code is 1234", "Welcome!"):
        ok(api.post("/v1/messages", json={"agent_id": agent["id"], "to_number": "+14155550171", "body": body}))
    found = handle.assert_requested("POST", "/v1/messages", count=1, json={"body": "Welcome!"}, key=key)
    assert found[0]["body"]["to_number"] == "+14155550171"
    handle.assert_requested("POST", "/v1/messages", count=2, json={"body": "Your code is 1234"}, key=key)
    handle.assert_requested("POST", "/v1/messages", count=3, key=key)
    handle.assert_requested("POST", "/v1/messages", count=None, key=key)  # at least one
    handle.assert_requested("POST", "/v1/calls", count=0, key=key)

    with pytest.raises(AssertionError) as failed:
        handle.assert_requested("POST", "/v1/messages", count=1, json={"body": "Your code is 1234"}, key=key)
    message = str(failed.value)
    assert "Expected 1 POST /v1/messages with a body containing {'body': 'Your code is 1234'}; 2 matched" in message
    assert message.count("POST /v1/messages -> 200") == 3  # it lists what was sent, to see what went wrong
    with pytest.raises(AssertionError, match="at least one POST /v1/calls"):
        handle.assert_requested("POST", "/v1/calls", count=None, key=key)


def test_json_matching_is_by_the_fields_named(handle: EmulatorHandle) -> None:
    contains = handle._contains
    assert contains({"a": 1, "b": {"c": [1, {"d": 2, "e": 3}]}}, {"b": {"c": [1, {"d": 2}]}})
    assert not contains({"a": 1}, {"a": 1, "b": None})  # a field named must be there
    assert not contains({"a": [1, 2]}, {"a": [1]})  # lists item by item, whole
    assert not contains({"a": 1}, {"a": True}) and not contains({"a": True}, {"a": 1})
    assert contains({"a": 1.0}, {"a": 1}) and contains("text", "text") and not contains(None, {})


INNER = '''
import httpx


def test_the_agent_texts_once(agentphone_emulator, agentphone_key):
    api = httpx.Client(base_url=agentphone_emulator.base_url, headers={"Authorization": f"Bearer {agentphone_key}"})
    agent = api.post("/v1/agents", json={"name": "Once"}).json()
    api.post("/v1/numbers", json={"agentId": agent["id"]})
    api.post("/v1/messages", json={"agent_id": agent["id"], "to_number": "+14155550172", "body": "Hi"})
    agentphone_emulator.assert_requested("POST", "/v1/messages", count=1, json={"body": "Hi"}, key=agentphone_key)
    assert len(agentphone_emulator.requests(agentphone_key)) == 3


def test_the_agent_texts_twice_by_mistake(agentphone_emulator, agentphone_key):
    api = httpx.Client(base_url=agentphone_emulator.base_url, headers={"Authorization": f"Bearer {agentphone_key}"})
    agent = api.post("/v1/agents", json={"name": "Twice"}).json()
    api.post("/v1/numbers", json={"agentId": agent["id"]})
    for _ in range(2):
        api.post("/v1/messages", json={"agent_id": agent["id"], "to_number": "+14155550173", "body": "Hi"})
    agentphone_emulator.assert_requested("POST", "/v1/messages", count=1, key=agentphone_key)
'''


def test_a_users_suite_proves_its_agent_texted_once(pytester: pytest.Pytester, server: EmulatorProcess) -> None:
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest("--agentphone-url", server.base_url, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Expected 1 POST /v1/messages; 2 matched*"])
