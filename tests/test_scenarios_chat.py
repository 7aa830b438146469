"""Model-driven callers: recorded against a chat-completions endpoint (a real HTTP server on loopback that
speaks the OpenAI shape), replayed from the cassette with no endpoint and no key, and the useful failures:
a conversation that left the recording, no cassette, no endpoint, an endpoint that fails."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from emulator.calls import disturb
from emulator.scenarios import cli as scenario_cli
from emulator.scenarios.chat import KEY_ENV, MODEL_ENV, URL_ENV, to_turn
from emulator.testing import InProcessEmulator
from emulator.testing.receiver import Received, Reply, WebhookReceiver, json_reply, say

SCENARIO = """\
name: Model caller
agent: {name: Order Bot, beginMessage: "Acme support, how can I help?"}
direction: inbound
from: "+14155550141"
persona:
  goal: find out when my order arrives
  knows: {order number: "4521"}
  mustBeTold: {arrival day: Friday}
  stop: {maxTurns: 6}
  disturb: [{turn: 2, noise: low-confidence}]
  model: {name: stub-caller, instructions: "Be brief."}
"""


class ChatStub:
    """A chat-completions endpoint: answers by the last user message, records every request."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.status = status
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                heard = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
                answer = json.dumps({
                    "id": f"chatcmpl-{len(stub.requests)}", "object": "chat.completion", "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": stub.answer(heard)}}],
                }).encode() if stub.status == 200 else b'{"error": {"message": "overloaded"}}'
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def answer(heard: str) -> str:
        if "how can I help" in heard:
            return "Hi, when does my order arrive?"
        if "order number" in heard:
            return "It's 4521."
        if "Press 1" in heard:
            return "[press 1]"
        if "Friday" in heard:
            return "Great, thanks! [hangup]"
        return "Sorry?"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def order_desk(received: Received) -> Reply:
    said = received.transcript or ""
    if received.data.get("digits") == "1":
        return say("It arrives on Friday.")
    if "arrive" in said:
        return say("What's your order number?")
    if "4521" in said:
        return say("Press 1 to confirm the order.")
    return say("Hmm?")


@pytest.fixture
def stub() -> Iterator[ChatStub]:
    chat = ChatStub()
    yield chat
    chat.close()


@pytest.fixture
def agent() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(default=json_reply({})) as receiver:
        receiver.answer_turns_with(order_desk)
        yield receiver


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "model_caller.yaml"
    path.write_text(SCENARIO)
    return path


def run(path: Path, server: InProcessEmulator, agent: WebhookReceiver, **options: Any) -> tuple[int, str, Any]:
    out = io.StringIO()
    report = path.parent / "report.json"
    code = scenario_cli.run([str(path)], base_url=server.base_url, target=agent.url, out=out, report_json=str(report),
                            **options)
    return code, out.getvalue(), json.loads(report.read_text())["scenarios"][0]


def test_record_then_replay_offline(scenario: Path, server: InProcessEmulator, agent: WebhookReceiver,
                                    stub: ChatStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, stub.url)
    monkeypatch.setenv(KEY_ENV, "sk-stub-key")
    code, out, recorded = run(scenario, server, agent, record=True)
    assert code == 0, out
    said = [(r["turn"], r["transcript"]) for r in recorded["transcript"][1:]]
    assert said == [("caller[0]", "Hi, when does my order arrive?"), ("caller[1]", "It's 4521."),
                    ("caller[2]", "[DTMF 1]"), ("caller[3]", "Great, thanks!"), ("caller[4]", "[caller hung up]")]
    assert recorded["transcript"][2]["confidence"] == disturb.LOW_CONFIDENCE  # the persona's turn 2 was noisy
    assert recorded["endReason"] == "caller-hangup"
    assert "call: the agent told the caller the arrival day" in [e["name"] for e in recorded["expectations"]]
    # what the endpoint was sent
    assert len(stub.requests) == 4
    headers, first = stub.requests[0]
    assert headers["authorization"] == "Bearer sk-stub-key" and headers["content-type"] == "application/json"
    assert first["model"] == "stub-caller" and first["temperature"] == 0.0
    system = first["messages"][0]
    assert system["role"] == "system" and "find out when my order arrives" in system["content"]
    assert "order number: 4521" in system["content"] and system["content"].endswith("Be brief.")
    assert first["messages"][1:] == [{"role": "user", "content": "Acme support, how can I help?"}]
    last = stub.requests[-1][1]["messages"]
    assert [m["role"] for m in last[1:]] == ["user", "assistant"] * 3 + ["user"]
    assert last[-1]["content"] == "It arrives on Friday."
    # the cassette, beside the scenario
    cassette = json.loads((scenario.parent / "model_caller.cassette.json").read_text())
    assert cassette["format"] == "agentphone-emulator cassette" and len(cassette["exchanges"]) == 4
    assert cassette["exchanges"][0]["request"] == first
    assert cassette["exchanges"][3]["response"] == {"content": "Great, thanks! [hangup]"}
    assert "sk-stub-key" not in (scenario.parent / "model_caller.cassette.json").read_text()

    # replay: no endpoint, no key, the same call
    monkeypatch.delenv(URL_ENV)
    monkeypatch.delenv(KEY_ENV)
    stub.close()
    code, out, replayed = run(scenario, server, agent)
    assert code == 0, out
    assert [(r["turn"], r["transcript"]) for r in replayed["transcript"][1:]] == said
    assert len(stub.requests) == 4


def test_a_conversation_that_leaves_the_recording_fails_and_says_where(
        scenario: Path, server: InProcessEmulator, agent: WebhookReceiver, stub: ChatStub,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, stub.url)
    assert run(scenario, server, agent, record=True)[0] == 0
    monkeypatch.delenv(URL_ENV)
    agent.when("It's 4521.", say("Which store did you buy it in?"))  # the agent changed
    code, out, changed = run(scenario, server, agent)
    assert code == 1
    failure = next(e for e in changed["expectations"] if e["name"] == "call: the model caller had an answer")
    assert failure["message"] == (
        f"{scenario}: {scenario.parent / 'model_caller.cassette.json'}: exchange 3 differs from the recording: the "
        "caller now hears 'Which store did you buy it in?', the recording heard 'Press 1 to confirm the order.'. "
        "The agent's words (or the scenario) changed; re-record with --record.")
    assert changed["transcript"][-1]["kind"] == "hangup"  # the caller hung up rather than leave the call hanging
    assert len(stub.requests) == 4  # replaying never asks the endpoint


def test_replaying_without_a_cassette_says_how_to_record_one(scenario: Path, server: InProcessEmulator,
                                                              agent: WebhookReceiver) -> None:
    code, out, result = run(scenario, server, agent)
    assert code == 1
    assert (f"{scenario.parent / 'model_caller.cassette.json'}: no cassette for this model caller. Record one with "
            f"--record (it needs {URL_ENV}, and {MODEL_ENV} unless the scenario names its model).") in out
    assert result["endReason"] == "caller-hangup"


def test_recording_needs_an_endpoint_that_answers(scenario: Path, server: InProcessEmulator,
                                                  agent: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    code, out, _ = run(scenario, server, agent, record=True)
    assert code == 1 and f"{URL_ENV} is not set: --record asks an OpenAI-compatible endpoint there" in out
    failing = ChatStub(status=500)
    try:
        monkeypatch.setenv(URL_ENV, failing.url)
        code, out, _ = run(scenario, server, agent, record=True)
    finally:
        failing.close()
    assert code == 1 and f"the caller model at {failing.url} answered HTTP 500: " in out and "overloaded" in out


@pytest.mark.parametrize(("content", "turns"), [
    ("Hello there.", [{"say": "Hello there."}]),
    ("Bye now. [hangup]", [{"say": "Bye now."}, {"hangup": True}]),
    ("[HANGUP]", [{"hangup": True}]),
    ("[press 12#]", [{"press": "12#"}]),
    ("Let me think [silence]", [{"say": "Let me think"}, {"silence": 3}]),
    ("", [{"silence": 3}]),
])
def test_model_answers_become_caller_turns(content: str, turns: list[dict[str, Any]]) -> None:
    assert to_turn(content) == turns
