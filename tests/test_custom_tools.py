"""Hosted mode acts on the agent's customTools, over real HTTP: a caller line naming a tool (or a script saying
so) makes the emulator call the tool's URL with its method, headers and arguments, bounded by timeoutMs; the
agent speaks the executionMessage first when told to, reads out the answer, and the transcript row records the
call. Every fault of the tool server leaves the call going on."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from helpers import ok, rows, script, wait_ended

from emulator.testing.receiver import CLOSE, WebhookReceiver, dribble, held, http_error, huge, json_reply, status

ORDER = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}


@pytest.fixture
def tool_server() -> Any:
    with WebhookReceiver(default=json_reply({"result": "Order 4417 shipped on Monday."})) as server:
        yield server


def _agent(api: httpx.Client, tools: list[dict[str, Any]]) -> dict[str, Any]:
    agent = ok(api.post("/v1/agents", json={"name": "Tools", "voiceMode": "hosted", "systemPrompt": "Help.",
                                            "customTools": tools}))
    ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
    return agent


def _call(api: httpx.Client, agent: dict[str, Any], turns: list[dict[str, Any]]) -> dict[str, Any]:
    placed = ok(api.post("/v1/calls", json={"agentId": agent["id"], "toNumber": script(api, turns)}))
    return wait_ended(api, placed["id"])


def test_a_caller_naming_the_tool_makes_a_real_post_and_hears_the_answer(api: httpx.Client,
                                                                          tool_server: WebhookReceiver) -> None:
    agent = _agent(api, [{"name": "lookup_order", "description": "Find an order", "url": tool_server.url_for("/o"),
                          "headers": {"Authorization": "Bearer tool-secret"}, "parameters": ORDER,
                          "speakDuringExecution": True, "executionMessage": "One moment, checking.",
                          "timeoutMs": 5000}])
    call = _call(api, agent, [{"say": "Can you lookup order 4417?"}, {"say": "Thanks, bye."}])
    (request,) = tool_server.received(path="/o")
    body = json.loads(request.body)
    assert body["name"] == "lookup_order" and body["args"] == {"order_id": "4417"}
    assert body["call"]["callId"] == call["id"] and body["call"]["agentId"] == agent["id"]
    assert request.headers["authorization"] == "Bearer tool-secret"
    row = rows(call, "speech")[0]
    assert row["chunks"] == ["One moment, checking.", "Here is what lookup_order found: Order 4417 shipped on Monday."]
    assert row["response"] == "One moment, checking. Here is what lookup_order found: Order 4417 shipped on Monday."
    tool = row["toolCall"]
    assert (tool["name"], tool["method"], tool["ok"], tool["httpStatus"], tool["arguments"]) == (
        "lookup_order", "POST", True, 200, {"order_id": "4417"})
    assert json.loads(tool["result"]) == {"result": "Order 4417 shipped on Monday."} and tool["error"] is None
    assert "toolCall" not in rows(call, "speech")[1]  # "Thanks, bye." names no tool
    assert call["status"] == "completed"


def test_get_tools_send_the_arguments_as_query_parameters_and_scripts_can_choose(
        api: httpx.Client, tool_server: WebhookReceiver) -> None:
    agent = _agent(api, [{"name": "check_slot", "description": "Free slots", "url": tool_server.url_for("/slot"),
                          "method": "GET", "parameters": {"type": "object", "properties": {
                              "day": {"type": "string"}, "hour": {"type": "integer"}}}}])
    call = _call(api, agent, [{"say": "Please check slot day=tuesday hour: 10"},
                              {"say": "And later?", "tool": {"name": "check_slot", "arguments": {"day": "friday"}}},
                              {"say": "Use a tool I do not have", "tool": {"name": "nope"}}])
    first, second = tool_server.received(where=lambda r: r.path.startswith("/slot?"))
    assert first.body == b""
    assert parse_qs(urlsplit(first.path).query) == {"day": ["tuesday"], "hour": ["10"]}
    assert parse_qs(urlsplit(second.path).query) == {"day": ["friday"]}
    speech = rows(call, "speech")
    assert speech[0]["toolCall"]["arguments"] == {"day": "tuesday", "hour": 10}
    assert "executionMessage" not in json.dumps(speech[0]) and len(speech[0]["chunks"]) == 1
    assert "does not have" in speech[2]["error"] and "toolCall" not in speech[2]


@pytest.mark.parametrize("fault", ["refused", "500", "timeout", "huge", "dribble", "not json", "closed"])
def test_the_call_survives_every_fault_of_the_tool_server(api: httpx.Client, tool_server: WebhookReceiver,
                                                          fault: str) -> None:
    gate = threading.Event()
    replies = {"500": http_error(500), "timeout": held(gate), "huge": huge(200_000), "dribble": dribble(0.2),
               "not json": status(200, "all good, no JSON here"), "closed": CLOSE}
    url = "http://127.0.0.1:9/unreachable" if fault == "refused" else tool_server.url_for("/t")
    if fault in replies:
        tool_server.route("/t", replies[fault])
    agent = _agent(api, [{"name": "fragile", "description": "May fail", "url": url, "timeoutMs": 1000}])
    try:
        call = _call(api, agent, [{"say": "Please run fragile now"}, {"say": "Still there?"}])
    finally:
        gate.set()
    speech = rows(call, "speech")
    assert call["status"] == "completed" and len(speech) == 2
    tool = speech[0]["toolCall"]
    assert speech[1]["response"] == 'I heard you say "Still there". How else can I help?'
    if fault == "not json":  # a 2xx with any body is an answer: the agent reads out what it got
        assert tool["ok"] is True and speech[0]["response"] == "Here is what fragile found: all good, no JSON here"
        return
    assert tool["ok"] is False and tool["error"], tool
    assert speech[0]["response"] == "Sorry, I could not get an answer from fragile just now."
    if fault == "timeout":
        assert "1 s" in tool["error"]
