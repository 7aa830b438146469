"""What a call leaves behind and how to follow it: the SSE transcript stream (through the official SDK),
the plain transcript, and recordings."""

from __future__ import annotations

import io
import time
import wave
from datetime import datetime
from typing import Any

import agentphone
import httpx
import pytest
from helpers import Line, ok, script, wait_ended

from emulator.testing.receiver import WebhookReceiver, echo, say, slow

TURNS = [{"say": "Hello there"}, {"say": "Can you hear me?"}, {"say": "Goodbye"}]


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- transcript stream (SSE) -------------------------------------------------------------------------


def test_stream_of_a_finished_call_replays_every_turn_then_ended(api: httpx.Client, voice: WebhookReceiver,
                                                                 sdk: agentphone.AgentPhone) -> None:
    line = Line.open(api, voice)
    call = line.run(TURNS, initialGreeting="Hi, Acme here.")
    events = list(sdk.calls.stream_transcript(call["id"]))
    kinds = [e["event"] for e in events]
    assert kinds == ["connected"] + ["turn"] * len(call["transcripts"]) + ["ended"]
    assert events[0]["data"] == {"callId": call["id"], "status": "completed"}
    turns = [e["data"] for e in events[1:-1]]
    assert turns == call["transcripts"]
    assert events[-1]["data"] == {"callId": call["id"], "status": "completed",
                                  "durationSeconds": call["durationSeconds"], "endReason": "caller-finished"}


def test_stream_of_a_live_call_yields_turns_as_they_happen(api: httpx.Client, voice: WebhookReceiver,
                                                           sdk: agentphone.AgentPhone) -> None:
    line = Line.open(api, voice)
    voice.answer_turns_with(lambda received: slow(0.3, echo(received)))
    placed = line.place(TURNS, initialGreeting="Hi, Acme here.")
    events: list[dict[str, Any]] = []
    status_at_first_answer = None
    arrived: list[float] = []
    for event in sdk.calls.stream_transcript(placed["id"]):
        events.append(event)
        arrived.append(time.monotonic())
        if event["event"] == "turn" and event["data"]["kind"] == "speech" and status_at_first_answer is None:
            status_at_first_answer = ok(api.get(f"/v1/calls/{placed['id']}"))["status"]
    assert events[0]["event"] == "connected"
    assert events[0]["data"]["status"] == "in-progress"
    # the first answer arrived while the agent was still to answer two more turns
    assert status_at_first_answer == "in-progress"
    assert events[-1]["event"] == "ended"
    assert events[-1]["data"]["status"] == "completed"
    speech = [i for i, e in enumerate(events) if e["event"] == "turn" and e["data"]["kind"] == "speech"]
    assert arrived[speech[-1]] - arrived[speech[0]] >= 0.5  # two more slow answers came later, one by one
    call = wait_ended(api, placed["id"])
    assert [e["data"]["id"] for e in events if e["event"] == "turn"] == [t["id"] for t in call["transcripts"]]
    assert [e["data"]["response"] for e in events if e["event"] == "turn"] == [
        "Hi, Acme here.", "You said: Hello there", "You said: Can you hear me?", "You said: Goodbye"]


def test_stream_of_an_unknown_call_is_404(sdk: agentphone.AgentPhone) -> None:
    with pytest.raises(agentphone.NotFoundError):
        list(sdk.calls.stream_transcript("call_doesnotexist"))


def test_stream_of_another_accounts_call_is_404(api: httpx.Client, voice: WebhookReceiver, base_url: str) -> None:
    line = Line.open(api, voice)
    call = line.run(TURNS[:1])
    with agentphone.AgentPhone(api_key=f"sk_test_other{time.time_ns()}", base_url=base_url) as stranger, \
            pytest.raises(agentphone.NotFoundError):
        list(stranger.calls.stream_transcript(call["id"]))


def test_plain_transcript_in_order(api: httpx.Client, voice: WebhookReceiver, sdk: agentphone.AgentPhone) -> None:
    line = Line.open(api, voice)
    voice.when("Can you hear me?", say("Loud and clear."))
    call = line.run(TURNS, initialGreeting="Hi, Acme here.")
    body = ok(api.get(f"/v1/calls/{call['id']}/transcript"))
    assert body["callId"] == call["id"]
    assert body["total"] == 4
    assert [(t["transcript"], t["response"]) for t in body["data"]] == [
        ("", "Hi, Acme here."),
        ("Hello there", "You said: Hello there"),
        ("Can you hear me?", "Loud and clear."),
        ("Goodbye", "You said: Goodbye"),
    ]
    assert body["data"] == call["transcripts"]
    created = [ts(t["createdAt"]) for t in body["data"]]
    assert created == sorted(created) and len(set(created)) == len(created)
    assert sdk.calls.get_transcript(call["id"])["data"] == body["data"]


# --- recordings --------------------------------------------------------------------------------------


def test_recording_is_off_by_default(api: httpx.Client, voice: WebhookReceiver, sdk: agentphone.AgentPhone) -> None:
    line = Line.open(api, voice)
    call = line.run(TURNS)
    assert call["recordingUrl"] is None
    assert call["recordingAvailable"] is False
    assert api.get(f"/v1/calls/{call['id']}/recording").status_code == 404
    with pytest.raises(agentphone.NotFoundError):
        sdk.calls.get_recording(call["id"])


def test_recording_when_the_add_on_is_enabled(api: httpx.Client, control: httpx.Client, key: str, base_url: str,
                                              voice: WebhookReceiver, sdk: agentphone.AgentPhone) -> None:
    assert ok(control.patch(f"/_emulator/accounts/{key}", json={"recordingEnabled": True}))["recordingEnabled"]
    line = Line.open(api, voice)
    call = line.run(TURNS + [{"say": "One more thing: what are your opening hours on public holidays?"}])
    assert call["recordingAvailable"] is True
    assert call["recordingUrl"] == f"{base_url}/v1/calls/{call['id']}/recording"
    listed = [c for c in ok(api.get("/v1/calls"))["data"] if c["id"] == call["id"]]
    assert listed[0]["recordingUrl"] == call["recordingUrl"]
    resp = httpx.get(call["recordingUrl"], timeout=30)  # the URL works on its own, like the vendor's
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("audio/wav")
    with wave.open(io.BytesIO(resp.content)) as audio:
        assert audio.getnchannels() == 1
        assert audio.getnframes() > 0
        assert audio.getnframes() / audio.getframerate() == pytest.approx(call["durationSeconds"], abs=0.01)
    recording = sdk.calls.get_recording(call["id"])
    assert recording.content == resp.content
    assert (recording.content_type or "").startswith("audio/wav")


def test_recording_of_an_unanswered_call_is_404(api: httpx.Client, control: httpx.Client, key: str,
                                                voice: WebhookReceiver) -> None:
    ok(control.patch(f"/_emulator/accounts/{key}", json={"recordingEnabled": True}))
    line = Line.open(api, voice)
    call = line.run(to="+15005550001")
    assert call["status"] == "busy"
    assert call["recordingAvailable"] is False
    assert call["recordingUrl"] is None
    assert api.get(f"/v1/calls/{call['id']}/recording").status_code == 404


def test_disable_recording_stores_no_recording(api: httpx.Client, control: httpx.Client, key: str,
                                               voice: WebhookReceiver, sdk: agentphone.AgentPhone) -> None:
    ok(control.patch(f"/_emulator/accounts/{key}", json={"recordingEnabled": True}))
    line = Line.open(api, voice)
    call = sdk.calls.make(line.agent["id"], script(api, TURNS), disable_recording=True)
    ended = wait_ended(api, call.id)
    assert ended["transcripts"]  # the transcript is still captured
    assert ended["recordingAvailable"] is False
    assert ended["recordingUrl"] is None
    assert api.get(f"/v1/calls/{call.id}/recording").status_code == 404
    recorded = line.run(TURNS, disableRecording=False)
    assert recorded["recordingAvailable"] is True


def test_turning_the_add_on_off_hides_the_url_and_keeps_the_recording(api: httpx.Client, control: httpx.Client,
                                                                      key: str, voice: WebhookReceiver) -> None:
    ok(control.patch(f"/_emulator/accounts/{key}", json={"recordingEnabled": True}))
    line = Line.open(api, voice)
    call = line.run(TURNS)
    url = call["recordingUrl"]
    assert url is not None
    ok(control.patch(f"/_emulator/accounts/{key}", json={"recordingEnabled": False}))
    hidden = ok(api.get(f"/v1/calls/{call['id']}"))
    assert (hidden["recordingAvailable"], hidden["recordingUrl"]) == (True, None)
    assert httpx.get(url, timeout=30).status_code == 404
    ok(control.patch(f"/_emulator/accounts/{key}", json={"recordingEnabled": True}))
    shown = ok(api.get(f"/v1/calls/{call['id']}"))
    assert shown["recordingUrl"] == url
    assert httpx.get(url, timeout=30).status_code == 200
