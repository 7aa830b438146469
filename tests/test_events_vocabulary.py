"""The two webhook event vocabularies, against the real server and a real receiver that verifies every delivery
with the official SDK: exactly which events arrive for the same happenings, once each; `agent.call_ended`
validated against the reference's shape (a JSON Schema below); `agent.reaction`; the choice per emulator,
per account (control API and fixture) and per webhook (`eventTypes`)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from typing import Any

import httpx
import pytest
from helpers import (
    Line,
    fresh_number,
    http_client,
    load,
    ok,
    refused,
    set_account,
    tag,
    upgrade,
    wait_ended,
    wait_log,
)
from jsonschema import Draft202012Validator

from emulator.testing import EmulatorProcess, new_key
from emulator.testing.receiver import WebhookReceiver, echo

NULLABLE_STRING = {"type": ["string", "null"]}
CALL_ENDED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["callId", "numberId", "agentId", "from", "to", "contact", "direction", "status", "startedAt",
                 "endedAt", "durationSeconds", "disconnectionReason", "transcript", "summary", "userSentiment",
                 "callSuccessful"],
    "properties": {
        "callId": {"type": "string", "pattern": "^call_"},
        "numberId": NULLABLE_STRING,
        "agentId": {"type": "string"},
        "from": {"type": "string"},
        "to": {"type": "string"},
        "contact": {"oneOf": [{"type": "null"}, {
            "type": "object", "additionalProperties": False, "required": ["id", "name", "email", "phoneNumber"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "email": NULLABLE_STRING,
                           "phoneNumber": {"type": "string"}}}]},
        "direction": {"enum": ["inbound", "outbound", "web"]},
        "status": {"type": "string"},
        "startedAt": {"type": "string", "format": "date-time"},
        "endedAt": {"type": "string", "format": "date-time"},
        "durationSeconds": {"type": "integer", "minimum": 0},
        "disconnectionReason": {"oneOf": [{"type": "null"}, {"enum": [
            "user_hangup", "agent_hangup", "call_transfer", "dial_no_answer", "dial_busy", "dial_failed",
            "voicemail_reached", "inactivity", "max_duration_reached"]}, {"type": "string", "pattern": "^error_"}]},
        "transcript": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["role", "content"],
            "properties": {"role": {"enum": ["agent", "user"]}, "content": {"type": "string"}}}},
        "summary": NULLABLE_STRING,
        "userSentiment": {"enum": ["Positive", "Neutral", "Negative", None]},
        "callSuccessful": {"type": ["boolean", "null"]},
    },
}
REACTION_KEYS = {"conversationId", "numberId", "reactionType", "fromNumber", "direction", "messageId", "messageBody",
                 "messageMediaUrl", "messageMediaUrls", "createdAt"}
CALLER = "+14155550131"
TEXTER = "+14155550132"
EXPECTED = {
    "current": {"agent.message": 2, "agent.call_ended": 2, "agent.reaction": 1},
    "skill-doc": {"agent.message": 2, "message.received": 2, "message.sent": 1, "call.started": 1, "call.ended": 2},
}
EXPECTED["all"] = EXPECTED["current"] | EXPECTED["skill-doc"]


def call_ended_errors(data: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in Draft202012Validator(CALL_ENDED_SCHEMA).iter_errors(data)]


def happenings(api: httpx.Client, control: httpx.Client, voice: WebhookReceiver) -> dict[str, Any]:
    """The same things happen on every vocabulary's account: an SMS in and one out, an iMessage in and a tapback
    on it, a call dialled in and one placed (voice turns are agent.message on the voice channel)."""
    line = Line.open(api, voice)
    blue = ok(api.post("/v1/numbers", json={"type": "imessage", "agentId": line.agent["id"]}))
    ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": line.number["phoneNumber"], "body": "Hi there"}))
    ok(api.post("/v1/messages", json={"agent_id": line.agent["id"], "number_id": line.number["id"],
                                      "to_number": TEXTER, "body": "Hello back"}))
    chat = ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": blue["phoneNumber"], "body": "Lunch?"}))
    reacted = ok(control.post("/_emulator/reactions", json={"messageId": chat["message"]["id"], "reaction": "Love"}))
    dialled = ok(control.post("/_emulator/calls/inbound", json={
        "from": CALLER, "to": line.number["phoneNumber"], "turns": [{"say": "Hi, are you open?"}, {"hangup": True}]}))
    placed = line.place([{"say": "Hello?"}, {"say": "Thanks, bye."}])
    calls = [wait_ended(api, dialled["id"]), wait_ended(api, placed["id"])]
    return {"line": line, "chat": chat, "reacted": reacted, "calls": calls}


@pytest.mark.parametrize("vocabulary", ["current", "skill-doc", "all"])
def test_each_vocabulary_sends_its_events_once_each(vocabulary: str, api: httpx.Client, control: httpx.Client,
                                                    key: str, voice: WebhookReceiver) -> None:
    upgrade(control, key)
    if vocabulary != "current":  # the default needs no setting
        assert set_account(control, key, webhookEvents=vocabulary)["webhookEvents"] == vocabulary
    seen = happenings(api, control, voice)
    # Every event is a delivery row written with what caused it: once the calls ended, the log is complete.
    logged = [d for d in wait_log(api, lambda items: all(i["attemptCount"] >= 1 for i in items))
              if d["channel"] != "voice" or d["eventType"] != "agent.message"]
    assert Counter(d["eventType"] for d in logged) == EXPECTED[vocabulary]
    arrived = voice.wait_for(len(logged), where=lambda r: not r.is_voice_turn)
    assert Counter(r.name for r in arrived) == EXPECTED[vocabulary]
    assert len({r.webhook_id for r in arrived}) == len(arrived)  # once each
    assert all(r.verified is not None for r in arrived)  # the SDK's construct_event took every one

    ended = [r.event for r in arrived if r.name == "agent.call_ended"]
    reactions = [r.event for r in arrived if r.name == "agent.reaction"]
    if vocabulary == "skill-doc":
        assert ended == [] and reactions == []
        return
    assert len(ended) == 2 and {e["data"]["callId"] for e in ended} == {c["id"] for c in seen["calls"]}
    for event in ended:
        assert event["channel"] == "voice" and event["agentId"] == seen["line"].agent["id"]
        assert call_ended_errors(event["data"]) == [], event["data"]
    (reaction,) = reactions
    chat = seen["chat"]["message"]
    assert reaction["channel"] == "imessage" and set(reaction["data"]) == REACTION_KEYS
    assert reaction["data"] | {"createdAt": None} == {
        "conversationId": chat["conversationId"], "numberId": chat["numberId"], "reactionType": "love",
        "fromNumber": TEXTER, "direction": "inbound", "messageId": chat["id"], "messageBody": "Lunch?",
        "messageMediaUrl": None, "messageMediaUrls": [], "createdAt": None}
    assert reaction["data"]["createdAt"] == seen["reacted"]["reaction"]["createdAt"]


def test_agent_call_ended_carries_the_spoken_transcript_and_the_analysis(
        api: httpx.Client, control: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, beginMessage="Hello, Acme Dental.")
    ok(api.post("/v1/contacts", json={"phoneNumber": CALLER, "name": "Ada Lovelace", "email": "ada@example.com"}), 201)
    dialled = ok(control.post("/_emulator/calls/inbound", json={"from": CALLER, "to": line.number["phoneNumber"],
                              "turns": [{"say": "Thanks, this is great"}, {"press": "1"}, {"silence": 1},
                                        {"say": "Perfect, bye."}]}))
    call = wait_ended(api, dialled["id"])
    data = voice.wait_event("agent.call_ended", call_id=call["id"]).event["data"]
    assert call_ended_errors(data) == []
    replies = [t["response"] for t in call["transcripts"] if t["kind"] == "dtmf"]
    assert data["transcript"] == [  # the keypad press and the silence are no words; the reply to the press is
        {"role": "agent", "content": "Hello, Acme Dental."},
        {"role": "user", "content": "Thanks, this is great"},
        {"role": "agent", "content": "You said: Thanks, this is great"},
        *({"role": "agent", "content": reply} for reply in replies if reply),
        {"role": "user", "content": "Perfect, bye."},
        {"role": "agent", "content": "You said: Perfect, bye."},
    ]
    assert data["contact"] == {"id": data["contact"]["id"], "name": "Ada Lovelace", "email": "ada@example.com",
                               "phoneNumber": CALLER}
    assert (data["from"], data["to"], data["direction"]) == (CALLER, line.number["phoneNumber"], "inbound")
    assert data["disconnectionReason"] == "user_hangup"  # the caller's script ran out: they hung up
    assert (data["userSentiment"], data["callSuccessful"]) == ("Positive", True)
    assert data["summary"].startswith("A caller phoned the agent for ") and '"Thanks, this is great"' in data["summary"]
    assert data["durationSeconds"] == call["durationSeconds"] and data["endedAt"] == call["endedAt"]


@pytest.mark.parametrize(("to", "status", "reason", "successful"), [
    ("+15005550001", "busy", "dial_busy", None),
    ("+15005550002", "no-answer", "dial_no_answer", None),
    ("+15005550003", "failed", "dial_failed", None),
    ("+15005550004", "voicemail", "voicemail_reached", None),
])
def test_unanswered_calls_map_their_end_reason(api: httpx.Client, voice: WebhookReceiver, to: str, status: str,
                                               reason: str, successful: bool | None) -> None:
    call = Line.open(api, voice).run(to=to)
    data = voice.wait_event("agent.call_ended", call_id=call["id"]).event["data"]
    assert call_ended_errors(data) == []
    assert (data["status"], data["disconnectionReason"], data["callSuccessful"]) == (status, reason, successful)


def test_a_callee_script_states_the_analysis(api: httpx.Client, control: httpx.Client, key: str,
                                             voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    to = fresh_number()
    ok(control.put(f"/_emulator/callees/{to}", params={"key": key}, json={
        "turns": [{"say": "This is terrible"}],
        "analysis": {"summary": "Booked a cleaning for Tuesday.", "callSuccessful": True}}))
    call = line.run(to=to)
    data = voice.wait_event("agent.call_ended", call_id=call["id"]).event["data"]
    assert data["summary"] == "Booked a cleaning for Tuesday." and data["callSuccessful"] is True
    assert data["userSentiment"] == "Negative"  # not stated: derived from the caller's words
    refused(control.put(f"/_emulator/callees/{to}", json={"turns": [], "analysis": {"userSentiment": "Happy"}}),
            400, "userSentiment")


def test_event_types_on_a_webhook_pick_events_from_either_vocabulary(
        api: httpx.Client, control: httpx.Client, voice: WebhookReceiver, rx: WebhookReceiver) -> None:
    line = Line.open(api, voice)  # the project webhook: the account's vocabulary (current)
    hook = ok(api.post(f"/v1/agents/{line.agent['id']}/webhook",
                       json={"url": rx.url_for("/agent"), "event_types": ["call.ended", "agent.message"]}))
    rx.expect("/agent", hook["secret"])
    rx.answer_turns_with(echo)
    assert hook["eventTypes"] == ["call.ended", "agent.message"]
    call = line.run([{"say": "Hello"}])
    rx.wait_event("call.ended", call_id=call["id"])  # sent in the background once the call ended
    assert [r.name for r in rx.received(call_id=call["id"])] == ["agent.message", "call.ended"]
    assert voice.received(call_id=call["id"]) == []  # the agent's own webhook wins over the project's

    only_ends = ok(api.post(f"/v1/agents/{line.agent['id']}/webhook",
                            json={"url": rx.url_for("/agent"), "eventTypes": ["agent.call_ended"]}))
    rx.expect("/agent", only_ends["secret"])
    silent = line.run([{"say": "Anyone?"}])
    assert [t["response"] for t in silent["transcripts"]] == [None]  # voice turns are not sent there: silence
    assert "eventTypes leave out agent.message" in silent["transcripts"][0]["error"]
    assert rx.wait_event("agent.call_ended", call_id=silent["id"]).event["data"]["callId"] == silent["id"]

    refused(api.post("/v1/webhooks", json={"url": rx.url, "eventTypes": ["call.finished"]}), 400, "call.finished")
    refused(api.post("/v1/webhooks", json={"url": rx.url, "eventTypes": []}), 400, "eventTypes")


def test_the_vocabulary_of_an_account_from_a_fixture_and_back_to_the_default(
        control: httpx.Client, key: str, rx: WebhookReceiver) -> None:
    t = tag()
    number = fresh_number()
    load(control, {"accounts": [{"key": key, "webhookEvents": "skill-doc",
                                 "webhook": {"url": rx.url_for("/fx"), "secret": "whsec_fixture", "eventTypes": None},
                                 "numbers": [{"id": f"pn_{t}", "phoneNumber": number}]}]})
    rx.expect("/fx", "whsec_fixture")
    assert ok(control.get(f"/_emulator/accounts/{key}"))["webhookEvents"] == "skill-doc"
    first = ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": number, "body": "one"}))
    assert sorted(d["eventType"] for d in first["deliveries"]) == ["agent.message", "message.received"]
    assert set_account(control, key, webhookEvents=None)["webhookEvents"] is None  # the emulator's again
    second = ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": number, "body": "two"}))
    assert [d["eventType"] for d in second["deliveries"]] == ["agent.message"]
    refused(control.patch(f"/_emulator/accounts/{key}", json={"webhookEvents": "legacy"}), 400, "webhookEvents")


def test_the_emulator_setting_over_a_served_process() -> None:
    """`serve --webhook-events skill-doc`: accounts that choose nothing speak the skill doc's vocabulary."""
    help_text = subprocess.run([sys.executable, "-m", "emulator", "serve", "--help"], capture_output=True, text=True,
                               check=True).stdout
    assert "AGENTPHONE_EMULATOR_WEBHOOK_EVENTS" in help_text and "AGENTPHONE_EMULATOR_VALIDATION_STATUS" in help_text
    with EmulatorProcess(args=["--webhook-events", "skill-doc", "--validation-status", "422"]) as proc, \
            http_client(proc.base_url, new_key()) as api, http_client(proc.base_url) as control:
        number = ok(api.post("/v1/numbers", json={}))["phoneNumber"]
        got = ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": number, "body": "hi"}))
        assert sorted(d["eventType"] for d in got["deliveries"]) == ["agent.message", "message.received"]
        refused(api.post("/v1/agents", json={"name": "Bot", "voiceSpeed": 9}), 422, "voiceSpeed")


def test_a_scenario_states_the_analysis_and_its_errors_name_the_field() -> None:
    from emulator.scenarios.model import ScenarioError, build

    loaded = build({"name": "Booked", "turns": [{"say": "Hi"}], "analysis": {"callSuccessful": False}}, "s.yaml")
    assert loaded.scenario.analysis == {"callSuccessful": False}
    with pytest.raises(ScenarioError, match="s.yaml: .*analysis.userSentiment"):
        build({"name": "Bad", "turns": [], "analysis": {"userSentiment": "Happy"}}, "s.yaml")


def test_an_inbound_call_states_the_analysis(api: httpx.Client, control: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    dialled = ok(control.post("/_emulator/calls/inbound", json={
        "from": CALLER, "to": line.number["phoneNumber"], "turns": [{"say": "Hi"}],
        "analysis": {"summary": "Said hi.", "userSentiment": "Neutral", "callSuccessful": False}}))
    call = wait_ended(api, dialled["id"])
    data = voice.wait_event("agent.call_ended", call_id=call["id"]).event["data"]
    assert (data["summary"], data["userSentiment"], data["callSuccessful"]) == ("Said hi.", "Neutral", False)
