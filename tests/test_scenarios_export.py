"""`scenario export`: an emulated call (scripted or persona, with faults, noise, keys, an interruption, silence)
written out as a scenario whose expectations are what was observed, and that scenario run again against the
same agent, passing; an SMS thread exported the same way; and the command's refusals."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from helpers import Line, fresh_number, ok, wait_ended

from emulator.scenarios import cli as scenario_cli
from emulator.scenarios.export import export, export_command, from_conversation, to_yaml
from emulator.scenarios.model import build
from emulator.testing import InProcessEmulator
from emulator.testing.receiver import Received, Reply, WebhookReceiver, json_reply, say, streamed

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = [
    {"say": "Hello, menu please."},
    {"say": "Tell me about plans."},
    {"say": "Stop, thanks.", "interrupt": True},
    {"press": "5", "fault": "stale-timestamp"},
    {"silence": 2},
    {"say": "Where is my order?", "noise": "garbled"},
    {"say": "Okay, bye."},
]


def desk(received: Received) -> Reply:
    said = (received.transcript or "").lower()
    if received.data.get("digits"):
        return say(f"You pressed {received.data['digits']}.")
    if "menu" in said:
        return say("Pressing two.", digits="2")
    if "plans" in said:
        return streamed("We have three plans.", "Starter is ten dollars.", gap=0.02)
    if "bye" in said:
        return say("Goodbye!", hangup=True)
    return say(f"You said: {received.transcript}")


@pytest.fixture
def agent() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(default=json_reply({})) as receiver:
        receiver.answer_turns_with(desk)
        yield receiver


def placed(line: Line, definition: dict[str, Any]) -> dict[str, Any]:
    to = fresh_number()
    ok(line.api.put(f"/_emulator/callees/{to}", json=definition))
    call = ok(line.api.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": to}))
    return wait_ended(line.api, call["id"])


def rerun(scenario: dict[str, Any], tmp_path: Path, server: InProcessEmulator, target: str) -> tuple[int, str]:
    path = tmp_path / "exported.yaml"
    path.write_text(to_yaml(scenario))
    out = io.StringIO()
    return scenario_cli.run([str(path)], base_url=server.base_url, target=target, out=out), out.getvalue()


def test_an_exported_call_reproduces_it(api: httpx.Client, agent: WebhookReceiver, server: InProcessEmulator,
                                        tmp_path: Path) -> None:
    line = Line.open(api, agent, name="Desk Bot", beginMessage="Acme desk.", maxSilenceMs=30_000)
    done = placed(line, {"turns": SCRIPT})
    scenario = export(api, done["id"])
    assert scenario["agent"] == {"name": "Desk Bot", "beginMessage": "Acme desk.", "maxSilenceMs": 30_000}
    assert scenario["direction"] == "outbound" and scenario["to"] == done["toNumber"]
    assert scenario["turns"] == [
        {"say": "Hello, menu please.", "expect": {"contains": "Pressing two.", "digits": "2"}},
        {"say": "Tell me about plans.", "expect": {"contains": "We have three plans.", "interrupted": True}},
        {"say": "Stop, thanks.", "interrupt": True, "expect": {"contains": "You said: Stop, thanks."}},
        {"press": "5", "fault": "stale-timestamp", "expect": {"contains": "You pressed 5."}},
        {"silence": 2.0},
        {"say": "Where is my order?", "noise": "garbled", "expect": {"contains": "You said: Whr is my ordr?"}},
        {"say": "Okay, bye.", "expect": {"contains": "Goodbye!", "hangup": True}},
    ]
    assert scenario["expect"] == {"status": "completed", "endReason": "agent-hangup",
                                  "transcriptContains": "Acme desk.", "deliveries": 6}
    build(yaml.safe_load(to_yaml(scenario)), "exported")  # a valid scenario, as written
    code, out = rerun(scenario, tmp_path, server, agent.url)
    assert code == 0, out
    assert "[1/1] PASS  Desk Bot: call " in out and "(13/13 expectations" in out  # 9 turn expectations, 4 call ones


def test_a_persona_call_exports_as_the_turns_it_took(api: httpx.Client, agent: WebhookReceiver,
                                                    server: InProcessEmulator, tmp_path: Path) -> None:
    line = Line.open(api, agent)
    done = placed(line, {"persona": {"goal": "say hello", "stop": {"maxTurns": 2}, "temperament": {"patience": 5}}})
    scenario = export(api, done["id"])
    assert [t["say"] for t in scenario["turns"]] == [
        "Hi, I'm calling to say hello.", "I'm calling to say hello.", "Sorry, I have to go now. Goodbye."]
    assert scenario["turns"][-1]["expect"] == {"contains": "Goodbye!", "hangup": True}
    code, out = rerun(scenario, tmp_path, server, agent.url)
    assert code == 0, out


def test_an_exported_sms_thread(api: httpx.Client, control: httpx.Client) -> None:
    line = Line.open(api, WebhookReceiver(), with_webhook=False, name="Texting Bot")
    number = line.number["phoneNumber"]
    for text, answer in [("Hi, are you open?", "Yes, 9 to 5."), ("Thanks!", "You're welcome, have a great day.")]:
        if text == "Thanks!":
            ok(api.post("/_emulator/clock", json={"advance": 7200}))  # this account's clock only
        ok(control.post("/_emulator/sms", json={"from": "+14155550151", "to": number, "body": text}))
        ok(api.post("/v1/messages", json={"agent_id": line.agent["id"], "to_number": "+14155550151", "body": answer}))
    conversation = ok(api.get("/v1/conversations"))["data"][0]
    scenario = export(api, conversation["id"])
    assert scenario["channel"] == "sms" and scenario["from"] == "+14155550151"
    assert scenario["agent"] == {"name": "Texting Bot"}
    assert scenario["messages"] == [{"send": "Hi, are you open?", "expect": {"contains": "Yes, 9 to 5."}},
                                    {"send": "Thanks!", "after": "2h",
                                     "expect": {"contains": "You're welcome, have a great day."}}]
    build(yaml.safe_load(to_yaml(scenario)), "exported")


def test_a_reply_written_within_the_millisecond_of_its_message_is_its_expectation() -> None:
    """Times on the wire are to the millisecond: a message and its reply can share one. The API lists them newest
    first in the order they were written, and the export keeps that order for equal times."""
    at = "2026-12-01T10:00:00.000Z"
    listed = [{"direction": "outbound", "body": "Yes, 9 to 5.", "receivedAt": at},
              {"direction": "inbound", "body": "Hi, are you open?", "receivedAt": at}]
    scenario = from_conversation({"id": "conv_1", "participant": "+14155550151", "messages": listed},
                                 {"name": "Texting Bot"})
    assert scenario["messages"] == [{"send": "Hi, are you open?", "expect": {"contains": "Yes, 9 to 5."}}]


def test_the_export_command(server: InProcessEmulator, api: httpx.Client, agent: WebhookReceiver, key: str,
                            tmp_path: Path) -> None:
    line = Line.open(api, agent)
    done = placed(line, {"turns": [{"say": "Hello"}, {"hangup": True}]})
    target = tmp_path / "out" / "call.yaml"
    command = [sys.executable, "-m", "emulator", "scenario", "export", done["id"], "--base-url", server.base_url,
               "--key", key, "--out", str(target)]
    result = subprocess.run(command,
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    written = target.read_text()
    assert written.startswith("# Written by `agentphone-emulator scenario export`.")
    assert yaml.safe_load(written)["turns"] == [{"say": "Hello", "expect": {"contains": "You said: Hello"}},
                                               {"hangup": True}]


def test_the_export_command_refuses_without_a_key_or_a_known_call(server: InProcessEmulator, key: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert export_command("call_x", server.base_url, None, None) == 2
    assert ("error: give the API key of the account that owns it (--key, or AGENTPHONE_API_KEY)."
            in capsys.readouterr().err)
    assert export_command("call_doesnotexist", server.base_url, key, None) == 1
    assert ("error: GET /v1/calls/call_doesnotexist answered 404: Call 'call_doesnotexist' was not found."
            in capsys.readouterr().err)
    assert export_command("call_x", "http://127.0.0.1:9", key, None) == 1
    assert "error: the emulator at http://127.0.0.1:9 could not be reached" in capsys.readouterr().err
