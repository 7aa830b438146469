"""Callers asked for one turn at a time: per-turn faults and noise on scripted turns, rule-based personas
registered through the control API (callee scripts and dial-ins), a persona mixed with scripted turns, and
callers driven turn by turn through `POST /_emulator/calls/{id}/caller`. Real webhooks: a receiver on
loopback answers the agent's side and records exactly what arrived."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers import Line, fresh_number, ok, refused, rows, wait_ended

from emulator.calls import disturb
from emulator.testing.receiver import Received, Reply, WebhookReceiver, json_reply, say, signature
from emulator.wire.calls import CallDetail


@pytest.fixture
def agent() -> Iterator[WebhookReceiver]:
    """A voice agent that checks nothing itself (faulted deliveries are answered too) and echoes the caller."""
    with WebhookReceiver(default=json_reply({})) as receiver:
        receiver.answer_turns_with(lambda r: say(f"You said: {r.transcript}"))
        yield receiver


def callee(api: httpx.Client, definition: dict[str, Any]) -> str:
    number = fresh_number()
    ok(api.put(f"/_emulator/callees/{number}", json=definition))
    return number


def call(line: Line, definition: dict[str, Any], **body: Any) -> dict[str, Any]:
    to = callee(line.api, definition)
    placed = ok(line.api.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": to, **body}))
    return wait_ended(line.api, placed["id"])


def speech(done: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in done["transcripts"] if r["kind"] in ("speech", "dtmf")]


# --- faults -------------------------------------------------------------------------------------------------


def test_signing_faults_apply_to_their_own_turn_only(api: httpx.Client, agent: WebhookReceiver) -> None:
    line = Line.open(api, agent)
    done = call(line, {"turns": [
        {"say": "one"}, {"say": "two", "fault": "no-signature"}, {"say": "three", "fault": "bad-signature"},
        {"say": "four", "fault": "stale-timestamp"}, {"say": "five", "fault": "reused-id"},
        {"say": "six", "fault": "tampered-body"}, {"say": "seven"}]})
    turns = agent.messages(done["id"])
    assert [t.transcript for t in turns] == ["one", "two", "three", "four", "five", "six", "seven"]
    secret = line.hook["secret"] if line.hook else ""

    def verifies(r: Received) -> bool:
        stamp = r.headers["x-webhook-timestamp"]
        return r.headers.get("x-webhook-signature") == signature(secret, stamp, r.body)

    assert [verifies(t) for t in turns] == [True, False, False, True, True, False, True]
    assert "x-webhook-signature" not in turns[1].headers and "x-webhook-signature" in turns[2].headers
    stale = int(turns[3].headers["x-webhook-timestamp"])
    fresh = int(turns[2].headers["x-webhook-timestamp"])
    assert fresh - stale >= 3600 - 60  # an hour old, however long the turns in between took
    assert turns[4].webhook_id == turns[3].webhook_id  # the previous delivery's ID again
    assert len({t.webhook_id for t in turns}) == 6
    assert json.loads(turns[5].body)["data"]["transcript"] == "six"  # still JSON, not the signed bytes
    faults = [r.get("fault") for r in speech(done)]
    assert faults == [None, ["no-signature"], ["bad-signature"], ["stale-timestamp"], ["reused-id"],
                      ["tampered-body"], None]
    assert ok(api.get("/_emulator/faults")) == {"api": [], "webhook": []}  # nothing was armed for later


def test_no_signature_can_be_armed_for_later_deliveries_too(api: httpx.Client, agent: WebhookReceiver,
                                                            key: str) -> None:
    line = Line.open(api, agent)
    ok(api.post("/_emulator/faults", json={"key": key, "webhook": "no-signature", "count": 1}))
    done = call(line, {"turns": [{"say": "one"}, {"say": "two"}]})
    first, second = agent.messages(done["id"])
    assert "x-webhook-signature" not in first.headers and "x-webhook-signature" in second.headers


def test_webhook_timeout_is_silence_and_dead_air(api: httpx.Client, agent: WebhookReceiver) -> None:
    line = Line.open(api, agent, webhook={"timeout": 7})
    plain = call(line, {"turns": [{"say": "hello there"}, {"say": "bye"}]})
    faulted = call(line, {"turns": [{"say": "hello there", "fault": "webhook-timeout"}, {"say": "bye"}]})
    first = speech(faulted)[0]
    assert first["response"] is None and first["fault"] == ["webhook-timeout"]
    assert first["error"] == ("The webhook did not answer within its timeout (7 s; an injected fault); "
                              "the caller heard silence.")
    assert speech(faulted)[1]["response"] == "You said: bye"  # the call went on
    # 7 s of dead air instead of the 2.1 s reply ("You said: hello there"), each duration rounded up
    assert faulted["durationSeconds"] - plain["durationSeconds"] in (4, 5)
    assert len(agent.messages(faulted["id"])) == 2  # the agent was asked; its answer came too late
    failed = [d for d in ok(api.get("/v1/webhooks/deliveries", params={"limit": 100}))["data"]
              if d["messageId"] == faulted["id"] and d["eventType"] == "agent.message"]
    assert sorted(d["status"] for d in failed) == ["failed", "success"]


def test_api_error_fails_the_agents_api_calls_during_that_turn(api: httpx.Client, base_url: str, key: str) -> None:
    seen: list[int] = []

    def answer(received: Received) -> Reply:
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as own:
            seen.append(own.get("/v1/agents").status_code)
        return say(f"lookup {seen[-1]}")

    with WebhookReceiver(default=json_reply({})) as hook:
        hook.answer_turns_with(answer)
        line = Line.open(api, hook)
        done = call(line, {"turns": [{"say": "one"}, {"say": "two", "fault": "api-error"}, {"say": "three"}]})
    assert seen == [200, 503, 200]
    assert [r["response"] for r in speech(done)] == ["lookup 200", "lookup 503", "lookup 200"]
    assert ok(api.get("/v1/agents"))["total"] == 1  # the outage ended with the turn


def test_slow_speech_makes_the_callers_words_take_three_times_as_long(api: httpx.Client,
                                                                       agent: WebhookReceiver) -> None:
    line = Line.open(api, agent)
    words = "I would like to talk about the bill I got last month for my phone line"  # 16 words: 6.9 s
    plain = call(line, {"turns": [{"say": words}]})
    slow = call(line, {"turns": [{"say": words, "fault": "slow-speech"}]})
    spoken = 16 / 2.5 + 0.5
    assert slow["durationSeconds"] - plain["durationSeconds"] in range(int(2 * spoken) - 1, int(2 * spoken) + 2)
    assert speech(slow)[0]["fault"] == ["slow-speech"]


# --- noise --------------------------------------------------------------------------------------------------


def test_noise_changes_what_the_agent_hears_and_the_row_keeps_what_was_said(api: httpx.Client,
                                                                           agent: WebhookReceiver) -> None:
    line = Line.open(api, agent)
    done = call(line, {"turns": [
        {"say": "Hi, where is my order?", "noise": "garbled"},
        {"say": "I need to book a table", "noise": "overlap"},
        {"say": "Yes please", "noise": "low-confidence"},
        {"say": "Clear as day"}]})
    sent = [(t.transcript, t.data["confidence"]) for t in agent.messages(done["id"])]
    assert sent == [("Hi, whr is my ordr?", disturb.GARBLED_CONFIDENCE),
                    ("I need to no the blue one book a table", disturb.OVERLAP_CONFIDENCE),
                    ("Yes please", disturb.LOW_CONFIDENCE), ("Clear as day", 0.95)]
    got = [(r["transcript"], r.get("said"), r.get("noise"), r["confidence"]) for r in speech(done)]
    assert got == [("Hi, whr is my ordr?", "Hi, where is my order?", ["garbled"], disturb.GARBLED_CONFIDENCE),
                   (sent[1][0], "I need to book a table", ["overlap"], disturb.OVERLAP_CONFIDENCE),
                   ("Yes please", None, ["low-confidence"], disturb.LOW_CONFIDENCE),
                   ("Clear as day", None, None, 0.95)]


@pytest.mark.parametrize(("turn", "detail"), [
    ({"say": "x", "fault": "explode"}, "Field 'turns[0].fault' has unknown fault 'explode': use no-signature"),
    ({"say": "x", "fault": ["bad-signature", "stale-timestamp"]}, "Field 'turns[0].fault' may hold one signing"),
    ({"say": "x", "noise": 3}, "Field 'turns[0].noise' must be one of low-confidence, garbled, overlap"),
    ({"silence": 2, "fault": "api-error"}, "Field 'turns[0]' has unknown keys ['fault'] for a silence turn."),
    ({"persona": True}, "Field 'turns[0]' hands the call to a persona, but none is given"),
])
def test_bad_disturbances_are_refused_with_the_field(api: httpx.Client, turn: dict[str, Any], detail: str) -> None:
    refused(api.put(f"/_emulator/callees/{fresh_number()}", json={"turns": [turn]}), 400, detail)


# --- personas -----------------------------------------------------------------------------------------------

DENTIST = {
    "goal": "book a cleaning",
    "knows": {"name": "Ada Lovelace", "date of birth": "December 10"},
    "mustBeTold": {"day": "Tuesday", "time": ["2pm", "2 pm"]},
}


def dental_desk(received: Received) -> Reply:
    """A receptionist: asks for the name, then the date of birth, then offers Tuesday at 2pm."""
    said = (received.transcript or "").lower()
    if "date of birth" in said:
        return say("Thanks. I can book you on Tuesday at 2pm.")
    if "my name is" in said:
        return say("And what is your date of birth?")
    if "cleaning" in said:
        return say("Sure. Can I have your name, please?")
    return say("Sorry, I didn't catch that.")


def test_a_persona_answers_what_it_knows_and_stops_once_told(api: httpx.Client) -> None:
    with WebhookReceiver(default=json_reply({})) as hook:
        hook.answer_turns_with(dental_desk)
        line = Line.open(api, hook)
        done = call(line, {"persona": DENTIST})
    said = [(r["turn"], r["transcript"], r["persona"]) for r in done["transcripts"] if r["kind"] != "greeting"]
    assert said == [
        ("persona[0]", "Hi, I'm calling to book a cleaning.", "opening"),
        ("persona[1]", "My name is Ada Lovelace.", "gives what it knows: name"),
        ("persona[2]", "My date of birth is December 10.", "gives what it knows: date of birth"),
        ("persona[3]", "Thanks, that's everything I needed. Goodbye.", "was told everything it needed"),
        ("persona[4]", "[caller hung up]", "hangs up after its goodbye"),
    ]
    assert done["endReason"] == "caller-hangup"


def test_a_persona_presses_the_menu_option_matching_its_goal(api: httpx.Client) -> None:
    with WebhookReceiver(default=json_reply({})) as hook:
        hook.answer_turns_with(lambda r: say("You're through to the billing desk.") if r.data.get("digits") == "2"
                               else say("Press 1 for sales. For billing, press 2. Press 3 to hear this again."))
        line = Line.open(api, hook)
        done = call(line, {"persona": {"goal": "sort out a billing question",
                                       "mustBeTold": {"desk": "billing desk"}}})
    presses = [r for r in done["transcripts"] if r["kind"] == "dtmf"]
    assert [(r["callerDigits"], r["persona"]) for r in presses] == [("2", "presses 2 for 'billing' in the menu")]
    assert done["transcripts"][-2]["persona"] == "was told everything it needed"


def test_an_unhelpful_agent_gets_a_request_for_a_human_then_the_persona_gives_up(api: httpx.Client) -> None:
    with WebhookReceiver(default=json_reply({})) as hook:
        hook.answer_turns_with(lambda r: say("Sorry, I didn't catch that."))
        line = Line.open(api, hook)
        done = call(line, {"persona": {**DENTIST, "temperament": {"patience": 3, "askForHumanAfter": 2}}})
    notes = [r.get("persona") for r in done["transcripts"] if r["kind"] != "greeting"]
    assert notes == ["opening", "asks to be told the day", "asks for a human after 2 unhelpful replies",
                     "out of patience after 3 unhelpful replies", "hangs up after its goodbye"]
    assert "real person" in done["transcripts"][2]["transcript"]
    assert done["endReason"] == "caller-hangup"


def test_a_persona_stops_after_its_turn_limit(api: httpx.Client, agent: WebhookReceiver) -> None:
    line = Line.open(api, agent)
    done = call(line, {"persona": {"goal": "chat", "stop": {"maxTurns": 2}, "temperament": {"patience": 50}}})
    notes = [r.get("persona") for r in done["transcripts"] if r["kind"] != "greeting"]
    assert notes == ["opening", "restates its goal", "stops after 2 turns", "hangs up after its goodbye"]


CHATTY = {"goal": "hear about plans", "temperament": {"patience": 50, "interrupts": 0.5, "backchannels": 0.7,
                                                       "silence": 0.3, "silenceSeconds": 2},
          "stop": {"maxTurns": 10}}


def plans(received: Received) -> Reply:
    return Reply(200, b"".join(json.dumps(c).encode() + b"\n" for c in [
        {"text": "We have three plans, starter, pro and business, each with a month free.", "interim": True},
        {"text": "Starter is ten dollars."}]), "application/x-ndjson")


def test_a_persona_against_a_hosted_agent_asks_for_a_person_and_is_transferred(api: httpx.Client,
                                                                              agent: WebhookReceiver) -> None:
    line = Line.open(api, agent, with_webhook=False, voiceMode="hosted", systemPrompt="Be brief.",
                     transferNumber="+14155550199")
    done = call(line, {"persona": {"goal": "dispute a charge", "temperament": {"askForHumanAfter": 1},
                                   "disturb": [{"turn": 1, "noise": "garbled", "fault": "slow-speech"}]}})
    said = [(r["transcript"], r["response"], r.get("persona")) for r in done["transcripts"]]
    garbled = disturb.garble("Hi, I'm calling to dispute a charge.")
    assert garbled == "Hi, I'm cllng to dspt a chrg."
    assert said == [(garbled, f'I heard you say "{garbled[:-1]}". How else can I help?', "opening"),
                    ("Can I speak to a real person, please?", "Let me transfer you to a person now.",
                     "asks for a human after 1 unhelpful replies")]
    assert done["endReason"] == "transferred"
    CallDetail.model_validate(done)  # every field the persona, fault and noise add is in the wire model


def test_a_persona_is_the_same_call_for_the_same_seed(api: httpx.Client) -> None:
    with WebhookReceiver(default=json_reply({})) as hook:
        hook.answer_turns_with(plans)
        line = Line.open(api, hook)
        runs = [call(line, {"persona": CHATTY, "seed": seed}) for seed in (7, 7, 8)]
    shape = [[(r["kind"], r["transcript"], r.get("persona"), r.get("interrupted")) for r in done["transcripts"]]
             for done in runs]
    assert shape[0] == shape[1] and shape[0] != shape[2]
    notes = {r.get("persona") for done in runs for r in done["transcripts"]}
    assert {"backchannel", "goes silent"} <= notes
    assert any(r.get("interrupted") for done in runs for r in done["transcripts"])  # barged in on a reply
    assert all(r["transcript"] == "Mm-hmm." for done in runs for r in done["transcripts"]
               if r.get("persona") == "backchannel")


def test_a_persona_answers_a_dial_in_and_carries_its_disturbances(api: httpx.Client, control: httpx.Client,
                                                                   agent: WebhookReceiver) -> None:
    line = Line.open(api, agent)
    persona = {"goal": "complain", "stop": {"maxTurns": 2}, "temperament": {"patience": 9},
               "disturb": [{"turn": 2, "fault": "stale-timestamp", "noise": "low-confidence"}]}
    dialed = ok(api.post("/_emulator/calls/inbound", json={"from": "+14155550161", "to": line.number["phoneNumber"],
                                                          "persona": persona}))
    done = wait_ended(api, dialed["id"])
    second = next(r for r in done["transcripts"] if r.get("turn") == "persona[1]")
    assert second["fault"] == ["stale-timestamp"] and second["noise"] == ["low-confidence"]
    assert second["confidence"] == disturb.LOW_CONFIDENCE


def test_scripted_turns_hand_over_to_the_persona_and_take_back(api: httpx.Client, agent: WebhookReceiver) -> None:
    line = Line.open(api, agent)
    done = call(line, {"turns": [{"say": "First, a scripted line."}, {"persona": True}, {"say": "Scripted again."}],
                       "persona": {"goal": "ask one thing", "stop": {"maxTurns": 1}}})
    said = [(r["turn"], r["transcript"]) for r in done["transcripts"] if r["kind"] != "greeting"]
    # the persona stops after one turn without a goodbye: a scripted turn follows its part
    assert said == [("turns[0]", "First, a scripted line."), ("persona[0]", "Hi, I'm calling to ask one thing."),
                    ("turns[2]", "Scripted again.")]
    assert done["endReason"] == "caller-finished"


def test_a_callee_definition_reads_back_with_its_persona(api: httpx.Client, key: str) -> None:
    number = fresh_number()
    stored = ok(api.put(f"/_emulator/callees/{number}", json={"persona": DENTIST, "seed": 3}))
    assert stored["turns"] == [] and stored["seed"] == 3
    assert stored["persona"]["goal"] == "book a cleaning" and stored["persona"]["mustBeTold"]["day"] == "Tuesday"
    assert ok(api.get(f"/_emulator/callees/{number}")) == stored


@pytest.mark.parametrize(("body", "detail"), [
    ({"persona": {"knows": {}}}, "Field 'persona.goal' is required."),
    ({"persona": {"goal": "x", "temperament": {"patience": 0}}}, "Field 'persona.temperament.patience' must be at"),
    ({"persona": {"goal": "x", "temperament": {"interrupts": 2}}}, "Field 'persona.temperament.interrupts' must be"),
    ({"persona": {"goal": "x", "mood": "grumpy"}}, "Field 'persona.mood' is invalid"),
    ({"persona": {"goal": "x", "disturb": [{"turn": 1, "noise": "hiss"}]}}, "Field 'persona.disturb[0].noise'"),
    ({"persona": "angry"}, "Field 'persona' must be an object with at least a 'goal'."),
    ({"persona": {"goal": "x"}, "drive": True}, "Send one of 'persona' or 'drive', not both"),
    ({"persona": {"goal": "x"}, "seed": "7"}, "Field 'seed' must be an integer"),
])
def test_bad_personas_are_refused_with_the_field(api: httpx.Client, body: dict[str, Any], detail: str) -> None:
    refused(api.put(f"/_emulator/callees/{fresh_number()}", json=body), 400, detail)


# --- a caller driven turn by turn ---------------------------------------------------------------------------


def test_a_driven_caller_hears_each_reply_and_answers_it(api: httpx.Client, agent: WebhookReceiver) -> None:
    line = Line.open(api, agent, beginMessage="Hello, Acme here.")
    to = callee(api, {"turns": [{"say": "Scripted first."}], "drive": True})
    placed = ok(api.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": to}))
    route = f"/_emulator/calls/{placed['id']}/caller"
    first = ok(api.post(route, json={}))
    assert first["state"] == "asking" and first["question"] == 1
    assert first["heard"] == {"text": "You said: Scripted first.", "greeting": False, "asked": True}
    assert ok(api.post(route, json={})) == first  # asking again without a turn reads the same question
    second = ok(api.post(route, json={"turn": {"say": "Driven now.", "noise": "low-confidence"}}))
    assert second["heard"]["text"] == "You said: Driven now." and second["question"] == 2
    ended = ok(api.post(route, json={"turn": {"hangup": True}}))
    assert ended == {"callId": placed["id"], "state": "ended", "question": 2, "heard": None,
                     "status": "completed", "endReason": "caller-hangup"}
    done = wait_ended(api, placed["id"])
    assert [(r["turn"], r["transcript"]) for r in rows(done)[1:]] == [
        ("turns[0]", "Scripted first."), ("caller[0]", "Driven now."), ("caller[1]", "[caller hung up]")]
    assert rows(done)[2]["confidence"] == disturb.LOW_CONFIDENCE
    assert ok(api.post(route, json={}))["state"] == "ended"  # the ended call still answers


def test_a_driven_caller_refuses_out_of_turn_and_other_accounts(api: httpx.Client, server: Any,
                                                              agent: WebhookReceiver) -> None:
    line = Line.open(api, agent)
    dialed = ok(api.post("/_emulator/calls/inbound", json={"from": "+14155550162", "to": line.number["phoneNumber"],
                                                          "drive": True}))
    route = f"/_emulator/calls/{dialed['id']}/caller"
    with server.client("sk_test_someone_else_entirely") as stranger:
        refused(stranger.post(route, json={}), 404, f"Call '{dialed['id']}' was not found.")
    asked = ok(api.post(route, json={}))
    assert asked["heard"]["greeting"] is True
    refused(api.post(route, json={"turn": {"on_digits": {"1": []}}}), 400, "say, silence, press or hangup")
    refused(api.post(route, json={"turn": {"say": ""}}), 400, "Field 'turn.say' must be a non-empty string.")
    ok(api.post(route, json={"turn": {"hangup": True}}))
    refused(api.post(route, json={"turn": {"say": "late"}}), 409, "already ended (caller-hangup); the turn was not")
    assert ok(api.post(route, json={}))["endReason"] == "caller-hangup"
    plain = call(line, {"turns": [{"say": "hi"}]})
    assert ok(api.post(f"/_emulator/calls/{plain['id']}/caller", json={}))["state"] == "ended"


def test_a_driven_caller_that_is_still_asked_refuses_a_second_answer(api: httpx.Client) -> None:
    release = threading.Event()
    with WebhookReceiver(default=json_reply({})) as hook:
        hook.answer_turns_with(lambda r: say("slow answer") if release.wait(30) else say("late"))
        line = Line.open(api, hook)
        dialed = ok(api.post("/_emulator/calls/inbound", json={"from": "+14155550163",
                                                              "to": line.number["phoneNumber"], "drive": True}))
        route = f"/_emulator/calls/{dialed['id']}/caller"
        ok(api.post(route, json={}))
        answered: list[dict[str, Any]] = []
        worker = threading.Thread(target=lambda: answered.append(ok(api.post(route, json={"turn": {"say": "hi"}}))))
        worker.start()
        hook.wait_for(1, where=lambda r: r.is_voice_turn)  # the agent is answering "hi": nobody asks the caller
        refused(api.post(route, json={"turn": {"say": "again"}}), 409, "is not waiting for a caller turn now")
        release.set()
        worker.join(30)
        assert answered and answered[0]["heard"]["text"] == "slow answer"
        ok(api.post(route, json={"turn": {"hangup": True}}))


def test_ending_a_call_stops_a_driven_callers_wait(api: httpx.Client, agent: WebhookReceiver) -> None:
    line = Line.open(api, agent)
    dialed = ok(api.post("/_emulator/calls/inbound", json={"from": "+14155550164", "to": line.number["phoneNumber"],
                                                          "drive": True}))
    route = f"/_emulator/calls/{dialed['id']}/caller"
    assert ok(api.post(route, json={}))["state"] == "asking"  # the engine waits for the driver ...
    ok(api.post(f"/v1/calls/{dialed['id']}/end"))  # ... and the API ends the call at once
    done = wait_ended(api, dialed["id"])
    assert done["endReason"] == "ended-by-api"
    assert ok(api.post(route, json={}))["state"] == "ended"
