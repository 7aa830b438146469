"""A voice webhook that fails one turn: the caller hears silence for that turn, the delivery log says why,
the call goes on with the next turn, and the failed turn is never retried."""

from __future__ import annotations

import socket

import httpx
import pytest
from helpers import (
    THREE_TURNS,
    Line,
    assert_silent_turn_and_call_went_on,
    deliveries,
    failed_turn,
    ok,
    said,
)

from emulator.testing.receiver import Reply, WebhookReceiver, dropped, http_error, json_reply, ndjson

TURNS = THREE_TURNS


def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/voice"


@pytest.mark.parametrize("reply", [
    json_reply("Just a string"),
    json_reply(["an", "array"]),
    json_reply(42),
    json_reply(None),
], ids=["string", "array", "number", "null"])
def test_non_object_reply_is_silence(api: httpx.Client, voice: WebhookReceiver, reply: Reply) -> None:
    line = Line.open(api, voice)
    voice.when("Second question", reply)
    call = line.run(TURNS)
    delivery = assert_silent_turn_and_call_went_on(api, voice, call)
    assert delivery["httpStatus"] == 200
    assert "object" in delivery["errorMessage"]


@pytest.mark.parametrize("reply", [
    ndjson("{not json at all"),
    ndjson('["a list line"]'),
    ndjson("{\"text\": \"unterminated"),
], ids=["garbage", "array-line", "cut-line"])
def test_malformed_ndjson_is_silence(api: httpx.Client, voice: WebhookReceiver, reply: Reply) -> None:
    line = Line.open(api, voice)
    voice.when("Second question", reply)
    call = line.run(TURNS)
    delivery = assert_silent_turn_and_call_went_on(api, voice, call)
    assert delivery["httpStatus"] == 200


@pytest.mark.parametrize("status", [500, 503, 404])
def test_http_error_is_silence(api: httpx.Client, voice: WebhookReceiver, status: int) -> None:
    line = Line.open(api, voice)
    voice.when("Second question", http_error(status, {"text": "This must not be spoken"}))
    call = line.run(TURNS)
    delivery = assert_silent_turn_and_call_went_on(api, voice, call)
    assert delivery["httpStatus"] == status
    assert str(status) in delivery["errorMessage"]


def test_connection_closed_without_answer_is_silence(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    voice.when("Second question", dropped())
    call = line.run(TURNS)
    assert_silent_turn_and_call_went_on(api, voice, call)


def test_connection_closed_after_an_interim_chunk_keeps_what_was_spoken(api: httpx.Client,
                                                                      voice: WebhookReceiver) -> None:
    line = Line.open(api, voice)
    voice.when("Second question", dropped({"text": "Let me look.", "interim": True}))
    call = line.run(TURNS)
    assert said(call)[1] == ("Second question", "Let me look.")
    assert said(call)[2] == ("Third question", "You said: Third question")
    delivery = failed_turn(api, voice, call, "Second question")
    assert delivery["status"] == "failed"
    assert delivery["errorMessage"]
    assert delivery["attemptCount"] == 1


def test_refused_connection_is_silence_for_every_turn(api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(api, voice, with_webhook=False)
    ok(api.post("/v1/webhooks", json={"url": closed_port_url()}))
    call = line.run(TURNS, initialGreeting="Hello.")
    assert call["status"] == "completed"
    assert call["endReason"] == "caller-finished"
    assert said(call) == [("", "Hello.")] + [(t["say"], None) for t in TURNS]
    logged = deliveries(api, call["id"], "agent.message")
    assert len(logged) == len(TURNS)
    for delivery in logged:
        assert delivery["status"] == "failed"
        assert delivery["httpStatus"] is None
        assert "connect" in delivery["errorMessage"].lower()
        assert delivery["attemptCount"] == 1
        assert delivery["nextRetryAt"] is None
