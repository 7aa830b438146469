"""Whole calls through the real server: placing them, the turn loop against a real voice webhook,
callee scripts, magic numbers, the generated caller, hosted mode and inbound calls."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from helpers import (
    Line,
    fresh_number,
    ok,
    rows,
    said,
    script,
    set_account,
    wait_ended,
)

from emulator.calls.callees import MAGIC_NUMBERS
from emulator.config import Settings
from emulator.testing import InProcessEmulator, new_key
from emulator.testing.receiver import WebhookReceiver, held, json_reply, say, streamed


@pytest.fixture(autouse=True)
def skill_doc_events(control: httpx.Client, key: str) -> None:
    """These tests check the skill doc's events (call.started, call.ended, message.received, message.sent), so the
    test's account speaks that vocabulary; the current one (the default) is tested in test_events_vocabulary.py."""
    set_account(control, key, webhookEvents="skill-doc")



def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def upgrade(control: httpx.Client, key: str) -> None:
    set_account(control, key, plan="pro")


# --- POST /v1/calls validation -----------------------------------------------------------------------


def test_unknown_agent_is_404(api: httpx.Client) -> None:
    resp = api.post("/v1/calls", json={"agentId": "agent_doesnotexist", "toNumber": "+14155550123"})
    assert resp.status_code == 404
    assert resp.json()["detail"]


def test_agent_without_number_is_400(api: httpx.Client, voice: WebhookReceiver) -> None:
    agent = ok(api.post("/v1/agents", json={"name": "No number"}))
    ok(api.post("/v1/webhooks", json={"url": voice.url}))
    resp = api.post("/v1/calls", json={"agentId": agent["id"], "toNumber": "+14155550123"})
    assert resp.status_code == 400
    assert resp.json()["detail"]


def test_from_number_id_of_another_agent_is_400(api: httpx.Client, control: httpx.Client, key: str,
                                                voice: WebhookReceiver) -> None:
    upgrade(control, key)
    line = Line.open(api, voice)
    other = ok(api.post("/v1/agents", json={"name": "Other"}))
    theirs = ok(api.post("/v1/numbers", json={"agentId": other["id"]}))
    resp = api.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": "+14155550123",
                                       "fromNumberId": theirs["id"]})
    assert resp.status_code == 400
    assert theirs["id"] in resp.json()["detail"]
    resp = api.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": "+14155550123",
                                       "fromNumberId": "pn_doesnotexist"})
    assert resp.status_code == 400


@pytest.mark.parametrize("to_number", ["4155550123", "+1415555012", "+1 415 555 0123", "call me", ""])
def test_to_number_not_e164_is_400(api: httpx.Client, voice: WebhookReceiver, to_number: str) -> None:
    line = Line.open(api, voice)
    resp = api.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": to_number})
    assert resp.status_code == 400, resp.text
    assert "toNumber" in resp.json()["detail"]


def test_webhook_agent_without_webhook_or_prompt_is_400(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, with_webhook=False)
    resp = api.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": "+14155550123"})
    assert resp.status_code == 400
    assert "webhook" in resp.json()["detail"].lower()
    assert ok(api.get("/v1/calls"))["total"] == 0


def test_place_call_answers_in_progress_and_echoes_the_request(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    to = script(api, [{"say": "Hello?"}])
    body = ok(api.post("/v1/calls", json={
        "agentId": line.agent["id"], "toNumber": to, "initialGreeting": "Hi {{name}}",
        "systemPrompt": "Be brief.", "variables": {"name": "Ada"},
    }))
    assert body["id"].startswith("call_")
    assert body["status"] == "in-progress"
    assert body["agentId"] == line.agent["id"]
    assert body["fromNumber"] == line.number["phoneNumber"]
    assert body["toNumber"] == to
    assert body["direction"] == "outbound"
    assert ts(body["startedAt"])
    assert body["initialGreeting"] == "Hi {{name}}"
    assert body["systemPrompt"] == "Be brief."
    assert body["variables"] == {"name": "Ada"}
    wait_ended(api, body["id"])


def test_first_number_is_the_caller_id_and_from_number_id_picks_another(
        api: httpx.Client, control: httpx.Client, key: str, voice: WebhookReceiver) -> None:
    upgrade(control, key)
    line = Line.open(api, voice)
    second = ok(api.post("/v1/numbers", json={"agentId": line.agent["id"]}))
    first = line.run([{"say": "Hi"}])
    assert first["fromNumber"] == line.number["phoneNumber"]
    assert first["phoneNumberId"] == line.number["id"]
    picked = line.run([{"say": "Hi"}], fromNumberId=second["id"])
    assert picked["fromNumber"] == second["phoneNumber"]
    assert picked["phoneNumberId"] == second["id"]
    assert [m.data["from"] for m in voice.messages(picked["id"])] == [second["phoneNumber"]]


# --- the turn loop -----------------------------------------------------------------------------------


def test_transcript_rows_word_for_word(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, beginMessage="Hello, Acme here.")
    voice.when("What are your hours?", say("Nine to five."))
    voice.when("And on weekends?", streamed("Let me check.", "We are closed on weekends.", gap=0.2))
    call = line.run([{"say": "What are your hours?"}, {"say": "And on weekends?"}, {"say": "Thanks"}],
                    initialGreeting="Hi, this is Acme calling back.")
    assert call["status"] == "completed"
    assert call["endReason"] == "caller-finished"
    assert said(call) == [
        ("", "Hi, this is Acme calling back."),
        ("What are your hours?", "Nine to five."),
        ("And on weekends?", "Let me check. We are closed on weekends."),
        ("Thanks", "You said: Thanks"),
    ]
    assert [t["kind"] for t in call["transcripts"]] == ["greeting", "speech", "speech", "speech"]
    plain, stream = rows(call, "speech")[:2]
    assert plain["confidence"] == pytest.approx(0.95)
    assert 0 <= plain["firstChunkMs"] <= plain["finalChunkMs"]
    assert stream["chunks"] == ["Let me check.", "We are closed on weekends."]
    assert stream["finalChunkMs"] - stream["firstChunkMs"] >= 150  # the agent waited 0.2 s between chunks
    created = [ts(t["createdAt"]) for t in call["transcripts"]]
    assert created == sorted(created)


def test_greeting_falls_back_to_begin_message(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, beginMessage="Hello {{who}}, Acme here.")
    call = line.run([{"say": "Hi"}], variables={"who": "Grace"})
    assert call["transcripts"][0]["kind"] == "greeting"
    assert call["transcripts"][0]["response"] == "Hello Grace, Acme here."


def test_no_greeting_row_without_greeting(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    call = line.run([{"say": "Hi"}])
    assert said(call) == [("Hi", "You said: Hi")]


def test_agent_message_payloads_and_bounded_history(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, webhook={"contextLimit": 2})
    turns = ["One", "Two", "Three"]
    call = line.run([{"say": t} for t in turns], initialGreeting="Greetings.")
    messages = voice.messages(call["id"])
    assert [m.transcript for m in messages] == turns
    logged = {d["id"]: d for d in ok(api.get("/v1/webhooks/deliveries", params={"limit": 100}))["data"]}
    assert len({m.headers["x-webhook-id"] for m in messages}) == len(messages)
    for i, message in enumerate(messages):
        p = message.event
        assert (message.verified.event, message.verified.channel) == ("agent.message", "voice")  # the SDK's parse
        assert (message.verified.data.call_id, message.verified.data.transcript) == (call["id"], turns[i])
        assert p["event"] == "agent.message" and p["channel"] == "voice"
        assert p["agentId"] == line.agent["id"]
        assert message.headers["x-webhook-event"] == "agent.message"
        assert logged[message.headers["x-webhook-id"]]["status"] == "success"
        assert p["data"] == {
            "callId": call["id"], "numberId": line.number["id"], "transcript": turns[i],
            "confidence": pytest.approx(0.95),
            "from": line.number["phoneNumber"], "to": call["toNumber"], "direction": "outbound",
            "status": "in-progress",
        }
        history = p["recentHistory"]
        assert len(history) == 2
        assert history[-1]["content"] == turns[i] and history[-1]["direction"] == "inbound"
        previous = "Greetings." if i == 0 else f"You said: {turns[i - 1]}"
        assert history[0]["content"] == previous and history[0]["direction"] == "outbound"
        assert {h["channel"] for h in history} == {"voice"}


def test_agent_webhook_takes_the_turns_instead_of_the_project_webhook(api: httpx.Client,
                                                                      voice: WebhookReceiver) -> None:
    with WebhookReceiver(strict=True, default=json_reply({})) as project:
        project.secret = ok(api.post("/v1/webhooks", json={"url": project.url}))["secret"]
        line = Line.open(api, voice, agent_webhook=True, webhook={"contextLimit": 1})
        voice.answer_turns_with(say("From the agent webhook."))
        call = line.run([{"say": "Who answers?"}], initialGreeting="Hello.")
        assert said(call)[-1] == ("Who answers?", "From the agent webhook.")
        (message,) = voice.messages(call["id"])
        assert [h["content"] for h in message.event["recentHistory"]] == ["Who answers?"]
        voice.wait_event("call.ended", call_id=call["id"])
        assert project.events(call_id=call["id"]) == []


@pytest.mark.parametrize("limit", [0, 10])
def test_recent_history_follows_context_limit(api: httpx.Client, voice: WebhookReceiver, limit: int) -> None:
    line = Line.open(api, voice, webhook={"contextLimit": limit})
    call = line.run([{"say": f"Line {i}"} for i in range(7)], initialGreeting="Hi.")
    messages = voice.messages(call["id"])
    assert len(messages) == 7
    for i, message in enumerate(messages):
        # greeting + (caller, agent) per earlier turn + this caller line, capped at the limit
        assert len(message.event["recentHistory"]) == min(limit, 2 + 2 * i)


@pytest.mark.parametrize("reply", [
    say("Goodbye!", hangup=True),
    say("Goodbye!", action="hangup"),
    streamed("One second.", "Goodbye!", gap=0.05, hangup=True),
], ids=["hangup", "action-hangup", "ndjson-hangup"])
def test_agent_hangup_ends_the_call(api: httpx.Client, voice: WebhookReceiver, reply: Any) -> None:
    line = Line.open(api, voice)
    voice.when("Bye now", reply)
    call = line.run([{"say": "Hi"}, {"say": "Bye now"}, {"say": "Are you still there?"}])
    assert call["status"] == "completed"
    assert call["endReason"] == "agent-hangup"
    assert said(call)[-1][0] == "Bye now"
    assert said(call)[-1][1].endswith("Goodbye!")
    assert [m.transcript for m in voice.messages(call["id"])] == ["Hi", "Bye now"]


def test_transfer_with_transfer_number_ends_the_call(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, transferNumber="+14155550199")
    voice.when("Get me a person", say("Transferring you now.", action="transfer"))
    call = line.run([{"say": "Get me a person"}, {"say": "Hello?"}])
    assert call["status"] == "completed"
    assert call["endReason"] == "transferred"
    last = call["transcripts"][-1]
    assert (last["transcript"], last["response"]) == ("Get me a person", "Transferring you now.")
    assert last["transferredTo"] == "+14155550199"
    ended = voice.wait_event("call.ended", call_id=call["id"])
    assert ended.data["endReason"] == "transferred"
    assert ended.data["transferredTo"] == "+14155550199"


def test_transfer_without_transfer_number_is_an_error_and_the_call_goes_on(api: httpx.Client,
                                                                          voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    voice.when("Get me a person", say("Transferring you now.", action="transfer"))
    call = line.run([{"say": "Get me a person"}, {"say": "Hello?"}])
    assert call["endReason"] == "caller-finished"
    row = rows(call, "speech")[0]
    assert row["response"] == "Transferring you now."
    assert "transferNumber" in row["error"]
    assert "transferredTo" not in row
    assert said(call)[-1] == ("Hello?", "You said: Hello?")


@pytest.mark.parametrize("alias", ["digits", "press_digit", "dtmf"])
@pytest.mark.parametrize(("digit", "branch"), [("1", "Sales here"), ("2", "Support here")])
def test_digits_pick_the_ivr_branch(api: httpx.Client, voice: WebhookReceiver, alias: str, digit: str,
                                    branch: str) -> None:
    line = Line.open(api, voice)
    ivr = script(api, [
        {"say": "Press 1 for sales, 2 for support"},
        {"on_digits": {"1": [{"say": "Sales here"}], "2": [{"say": "Support here"}]}},
    ])
    voice.when("Press 1 for sales, 2 for support", say("Pressing.", **{alias: digit}))
    call = line.run(to=ivr)
    assert said(call) == [("Press 1 for sales, 2 for support", "Pressing."), (branch, f"You said: {branch}")]
    assert rows(call)[0]["digits"] == digit
    assert [m.transcript for m in voice.messages(call["id"])] == ["Press 1 for sales, 2 for support", branch]


def test_ivr_without_matching_branch_skips_the_menu(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    ivr = script(api, [
        {"say": "Press 1 for sales"},
        {"on_digits": {"1": [{"say": "Sales here"}]}},
        {"say": "Goodbye then"},
    ])
    voice.when("Press 1 for sales", say("Pressing nine.", digits="9"))
    call = line.run(to=ivr)
    assert [t for t, _ in said(call)] == ["Press 1 for sales", "Goodbye then"]


def test_caller_presses_digits(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    voice.at(0, say("Got your digits."))  # the first turn of the call, whatever its transcript
    call = line.run([{"press": "42#"}, {"say": "Did you get them?"}])
    row = rows(call)[0]
    assert row["kind"] == "dtmf"
    assert row["callerDigits"] == "42#"
    assert row["response"] == "Got your digits."
    assert said(call)[1] == ("Did you get them?", "You said: Did you get them?")
    message = voice.messages(call["id"])[0]
    assert message.data["digits"] == "42#"
    assert message.data["transcript"] == ""


def test_barge_in_cuts_a_streamed_reply_after_its_first_chunk(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    voice.when("Tell me everything", streamed("First part.", "Second part.", "Third part.", gap=0.3))
    call = line.run([{"say": "Tell me everything"}, {"say": "Wait, stop", "interrupt": True}])
    cut, after = rows(call)
    assert (cut["transcript"], cut["response"]) == ("Tell me everything", "First part.")
    assert cut["interrupted"] is True
    assert cut["chunks"] == ["First part."]
    assert (after["transcript"], after["response"]) == ("Wait, stop", "You said: Wait, stop")
    assert "interrupted" not in after
    assert call["endReason"] == "caller-finished"


def test_without_barge_in_the_whole_stream_is_spoken(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    voice.when("Tell me everything", streamed("First part.", "Second part.", gap=0.05))
    call = line.run([{"say": "Tell me everything"}, {"say": "Wait, stop"}])
    first = rows(call)[0]
    assert first["response"] == "First part. Second part."
    assert "interrupted" not in first


def test_caller_hangup_ends_the_call(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    call = line.run([{"say": "Hi"}, {"hangup": True}, {"say": "Never said"}])
    assert call["status"] == "completed"
    assert call["endReason"] == "caller-hangup"
    assert [t["kind"] for t in call["transcripts"]] == ["speech", "hangup"]
    assert [m.transcript for m in voice.messages(call["id"])] == ["Hi"]


def test_silence_past_max_silence_ends_the_call(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, maxSilenceMs=10_000)
    call = line.run([{"say": "Hi"}, {"silence": 11}, {"say": "Still there?"}])
    assert call["endReason"] == "silence-timeout"
    assert [t["kind"] for t in call["transcripts"]] == ["speech", "silence"]
    assert call["transcripts"][-1]["response"] is None
    assert [m.transcript for m in voice.messages(call["id"])] == ["Hi"]
    assert call["durationSeconds"] >= 11


def test_short_silence_does_not_end_the_call(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, maxSilenceMs=10_000)
    call = line.run([{"silence": 6}, {"say": "Sorry, I was away"}, {"silence": 6}, {"say": "Bye"}])
    assert call["endReason"] == "caller-finished"
    assert [m.transcript for m in voice.messages(call["id"])] == ["Sorry, I was away", "Bye"]


def test_end_call_while_the_agent_is_answering(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    never = threading.Event()
    voice.answer_turns_with(held(never))  # the agent does not answer: only ending the call stops the wait
    placed = line.place([{"say": "Hi"}, {"say": "Anyone?"}])
    voice.wait_event("agent.message", call_id=placed["id"])
    resp = api.post(f"/v1/calls/{placed['id']}/end")
    assert resp.status_code == 200, resp.text
    ended = resp.json()
    assert ended["status"] == "completed"
    assert ended["endReason"] == "ended-by-api"
    assert ended["endedAt"] is not None
    call = ok(api.get(f"/v1/calls/{placed['id']}"))
    assert call["status"] == "completed" and call["endReason"] == "ended-by-api"
    assert [m.transcript for m in voice.messages(placed["id"])] == ["Hi"]
    again = api.post(f"/v1/calls/{placed['id']}/end")
    assert again.status_code == 400
    assert again.json()["detail"]


def test_end_inbound_call_while_call_started_is_being_delivered(api: httpx.Client, control: httpx.Client,
                                                                voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, beginMessage="Hello!")
    never = threading.Event()
    voice.on("call.started", held(never))  # the engine waits for call.started before the first turn
    placed = ok(control.post("/_emulator/calls/inbound", json={
        "from": fresh_number(), "to": line.number["phoneNumber"], "turns": [{"say": "Hi"}],
    }))
    delivery = voice.wait_event("call.started", call_id=placed["id"])
    ended = ok(api.post(f"/v1/calls/{placed['id']}/end"))
    # The end was answered while call.started was still unanswered and its delivery still open (it can
    # only end when the receiver answers, which it does not, or at the 30 s webhook timeout): it did not
    # wait for the delivery.
    assert not delivery.abandoned
    never.set()
    assert (ended["status"], ended["endReason"]) == ("completed", "ended-by-api")
    call = ok(api.get(f"/v1/calls/{placed['id']}"))
    assert call["transcripts"] == []  # nothing was said after the call was ended
    assert voice.messages(placed["id"]) == []


def test_end_unknown_call_is_404(api: httpx.Client) -> None:
    assert api.post("/v1/calls/call_doesnotexist/end").status_code == 404


def test_duration_times_and_snippet(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    call = line.run([{"say": "Hi there"}, {"say": "What is the weather like today?"}])
    assert call["durationSeconds"] > 0
    started, ended = ts(call["startedAt"]), ts(call["endedAt"])
    assert ended > started
    assert abs((ended - started).total_seconds() - call["durationSeconds"]) <= 1
    assert call["lastTranscriptSnippet"] == "You said: What is the weather like today?"
    listed = ok(api.get("/v1/calls"))["data"]
    assert [c["lastTranscriptSnippet"] for c in listed if c["id"] == call["id"]] == [call["lastTranscriptSnippet"]]


def test_call_ended_carries_the_full_transcript(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    call = line.run([{"say": "One"}, {"say": "Two"}], initialGreeting="Hello.")
    ended = voice.wait_event("call.ended", call_id=call["id"])
    assert ended.event["channel"] == "voice"
    data = ended.data
    assert data["status"] == "completed"
    assert data["endReason"] == "caller-finished"
    assert data["durationSeconds"] == call["durationSeconds"]
    assert data["direction"] == "outbound"
    assert [(t["id"], t["transcript"], t["response"]) for t in data["transcript"]] == [
        (t["id"], t["transcript"], t["response"]) for t in call["transcripts"]
    ]
    assert len(voice.events("call.ended", call["id"])) == 1
    assert voice.events("call.started", call["id"]) == []  # outbound calls get no call.started


# --- inbound -----------------------------------------------------------------------------------------


def test_inbound_call_delivers_call_started_before_the_first_turn(api: httpx.Client, control: httpx.Client,
                                                                 voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, beginMessage="Thanks for calling Acme.")
    caller = fresh_number()
    placed = ok(control.post("/_emulator/calls/inbound", json={
        "from": caller, "to": line.number["phoneNumber"], "turns": [{"say": "I need help"}, {"say": "Bye"}],
    }))
    assert placed["direction"] == "inbound"
    assert placed["status"] == "in-progress"
    call = wait_ended(api, placed["id"])
    assert call["direction"] == "inbound"
    assert call["fromNumber"] == caller
    assert call["toNumber"] == line.number["phoneNumber"]
    assert said(call) == [("", "Thanks for calling Acme."), ("I need help", "You said: I need help"),
                          ("Bye", "You said: Bye")]
    started = voice.wait_event("call.started", call_id=call["id"])
    messages = voice.messages(call["id"])
    assert started.seq < messages[0].seq
    assert started.data["direction"] == "inbound"
    assert started.data["from"] == caller
    assert started.data["status"] == "in-progress"
    assert {m.data["direction"] for m in messages} == {"inbound"}
    assert {m.data["from"] for m in messages} == {caller}
    ended = voice.wait_event("call.ended", call_id=call["id"])
    assert ended.seq > messages[-1].seq


def test_inbound_to_an_unknown_number_is_404(control: httpx.Client) -> None:
    resp = control.post("/_emulator/calls/inbound", json={"from": fresh_number(), "to": fresh_number()})
    assert resp.status_code == 404


def test_inbound_to_a_number_without_agent_is_400(api: httpx.Client, control: httpx.Client) -> None:
    number = ok(api.post("/v1/numbers", json={}))
    resp = control.post("/_emulator/calls/inbound", json={"from": fresh_number(), "to": number["phoneNumber"]})
    assert resp.status_code == 400
    assert resp.json()["detail"]


# --- who answers: magic numbers and the generated caller -----------------------------------------------


@pytest.mark.parametrize("number", ["+15005550001", "+15005550002", "+15005550003"])
def test_unanswered_magic_numbers(api: httpx.Client, voice: WebhookReceiver, number: str) -> None:
    line = Line.open(api, voice)
    call = line.run(to=number)
    magic = MAGIC_NUMBERS[number]
    assert (call["status"], call["endReason"]) == (magic.status, magic.end_reason)
    assert call["status"] in ("busy", "no-answer", "failed")
    assert call["transcripts"] == []
    assert call["durationSeconds"] == 0
    ended = voice.wait_event("call.ended", call_id=call["id"])
    assert ended.data["status"] == call["status"]
    assert voice.messages(call["id"]) == []


def test_voicemail_magic_number_records_the_voicemail_message(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, voicemailMessage="Hi {{name}}, please call us back.")
    call = line.run(to="+15005550004", variables={"name": "Ada"})
    assert (call["status"], call["endReason"]) == ("voicemail", "voicemail")
    assert said(call) == [("", "Hi Ada, please call us back.")]
    assert call["transcripts"][0]["kind"] == "voicemail"
    assert call["durationSeconds"] > 0
    assert voice.messages(call["id"]) == []


def test_magic_number_that_hangs_up_at_once(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, beginMessage="Hello!")
    call = line.run(to="+15005550005")
    assert (call["status"], call["endReason"]) == ("completed", "callee-hangup")
    assert call["transcripts"] == []
    assert voice.messages(call["id"]) == []


def test_default_callee_says_two_or_three_lines_then_goodbye(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    placed = line.place(to=fresh_number())
    assert placed["callee"] == "generated"
    call = wait_ended(api, placed["id"])
    lines = [t for t, _ in said(call)]
    assert 3 <= len(lines) <= 4
    assert lines[0].startswith("Hello, this is ")
    assert lines[-1] == "Okay, thank you. Goodbye!"
    assert call["endReason"] == "caller-finished"
    assert [m.transcript for m in voice.messages(call["id"])] == lines


# --- hosted mode ---------------------------------------------------------------------------------------


def test_hosted_agent_answers_without_the_webhook(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, voiceMode="hosted", systemPrompt="You are {{company}}'s receptionist.",
                     beginMessage="Welcome to {{company}}, {{name}}!")
    call = line.run([{"say": "I would like a table for two."}, {"say": "That's all, goodbye."},
                     {"say": "Hello?"}], variables={"company": "Acme", "name": "Ada"})
    assert said(call) == [
        ("", "Welcome to Acme, Ada!"),
        ("I would like a table for two.", 'I heard you say "I would like a table for two". How else can I help?'),
        ("That's all, goodbye.", "Thanks for calling. Goodbye!"),
    ]
    assert call["endReason"] == "agent-hangup"
    voice.wait_event("call.ended", call_id=call["id"])
    assert voice.messages() == []


def test_webhook_agent_called_with_system_prompt_is_hosted(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    call = line.run([{"say": "Is anyone there?"}, {"say": "Bye"}], systemPrompt="Confirm the booking.",
                    initialGreeting="Hi {{name}}, about your booking.", variables={"name": "Lin"})
    assert said(call) == [
        ("", "Hi Lin, about your booking."),
        ("Is anyone there?", 'I heard you say "Is anyone there". How else can I help?'),
        ("Bye", "Thanks for calling. Goodbye!"),
    ]
    assert call["endReason"] == "agent-hangup"
    voice.wait_event("call.ended", call_id=call["id"])
    assert voice.messages() == []


def test_hosted_agent_needs_no_webhook(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, with_webhook=False, voiceMode="hosted", systemPrompt="Be nice.")
    call = line.run([{"say": "Goodbye"}])
    assert said(call) == [("Goodbye", "Thanks for calling. Goodbye!")]
    assert call["endReason"] == "agent-hangup"


# --- realtime mode: speech takes wall-clock time --------------------------------------------------------


@pytest.fixture(scope="module")
def realtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessEmulator]:
    db = tmp_path_factory.mktemp("realtime") / "emulator.db"
    with InProcessEmulator(Settings(db=str(db), realtime=True)) as emulator:
        yield emulator


@pytest.fixture
def rt_api(realtime: InProcessEmulator) -> Iterator[httpx.Client]:
    with realtime.client(new_key()) as client:
        yield client


LONG = " ".join(["word"] * 50)  # 20 seconds of speech
LONG_SECONDS = 20


def test_realtime_end_during_the_greeting(rt_api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(rt_api, voice)
    started = time.monotonic()
    placed = line.place([{"say": "Hi"}], initialGreeting=LONG)
    ended = ok(rt_api.post(f"/v1/calls/{placed['id']}/end"))
    lasted = time.monotonic() - started
    assert (ended["status"], ended["endReason"]) == ("completed", "ended-by-api")
    # as long as the call really lasted (from placing it to ending it), not the whole greeting
    assert 0 < ended["durationSeconds"] <= math.ceil(lasted)
    assert ended["durationSeconds"] < LONG_SECONDS
    assert voice.messages(placed["id"]) == []


def test_realtime_end_while_the_caller_speaks(rt_api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(rt_api, voice)
    placed = line.place([{"say": LONG}, {"say": "Hello?"}])
    ended = ok(rt_api.post(f"/v1/calls/{placed['id']}/end"))
    assert (ended["status"], ended["endReason"]) == ("completed", "ended-by-api")
    call = ok(rt_api.get(f"/v1/calls/{placed['id']}"))
    assert said(call) == [(LONG, None)]
    assert call["durationSeconds"] < LONG_SECONDS
    assert voice.messages(placed["id"]) == []  # the agent was not asked to answer an ended call


def test_callee_scripts_scoped_to_an_account_do_not_meet(api: httpx.Client, control: httpx.Client, key: str,
                                                        server: InProcessEmulator) -> None:
    """Two accounts script the same destination differently; each call hears its own account's script."""
    other = new_key()
    destination = f"+1415558{uuid.uuid4().int % 10_000:04d}"
    for owner, line in ((key, "Mine."), (other, "Theirs.")):
        scoped = control.put(f"/_emulator/callees/{destination}", params={"key": owner},
                             json={"turns": [{"say": line}]})
        assert scoped.status_code == 200 and scoped.json()["accountId"]
    control.put(f"/_emulator/callees/{destination}", json={"turns": [{"say": "Everyone's."}]}).raise_for_status()

    def hears(client: httpx.Client) -> list[str]:
        agent = client.post("/v1/agents", json={"name": "H", "voiceMode": "hosted", "systemPrompt": "x"}).json()
        client.post("/v1/numbers", json={"agentId": agent["id"]}).raise_for_status()
        call = client.post("/v1/calls", json={"agentId": agent["id"], "toNumber": destination}).json()
        done = wait_ended(client, call["id"])
        return [t["transcript"] for t in done["transcripts"] if t["kind"] == "speech"]

    with server.client(other) as them, server.client(new_key()) as third:
        assert hears(api) == ["Mine."]
        assert hears(them) == ["Theirs."]
        assert hears(third) == ["Everyone's."]
    control.post("/_emulator/reset", json={"key": key}).raise_for_status()
    assert control.get(f"/_emulator/callees/{destination}", params={"key": key}).status_code == 404
    assert control.get(f"/_emulator/callees/{destination}", params={"key": other}).status_code == 200
