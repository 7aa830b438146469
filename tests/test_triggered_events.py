"""`POST /_emulator/events`: any documented event on demand, built like a real one, delivered signed and logged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from helpers import make_agent, ok, refused, set_webhook
from jsonschema import Draft202012Validator
from test_events_vocabulary import CALL_ENDED_SCHEMA

from emulator.testing import new_key
from emulator.testing.receiver import WebhookReceiver

pytestmark = pytest.mark.also_on_postgresql  # and on PostgreSQL, where CI names a server


@pytest.fixture
def hooked(api: httpx.Client, control: httpx.Client, key: str) -> Any:
    """An agent with a number and a project webhook at a strict receiver (every request must verify)."""
    with WebhookReceiver(strict=True) as rx:
        agent = make_agent(api, "Triggered")
        number = ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
        set_webhook(api, rx, "/hook")
        yield rx, agent, number


def trigger(control: httpx.Client, key: str, **body: Any) -> dict[str, Any]:
    return dict(ok(control.post("/_emulator/events", json={"key": key, **body})))


@pytest.mark.parametrize(("event", "channel", "fields"), [
    ("agent.message", "sms", {"messageId", "conversationId", "numberId", "message", "contact", "receivedAt"}),
    ("agent.message", "voice", {"callId", "numberId", "transcript", "confidence"}),
    ("message.received", "imessage", {"messageId", "message"}),
    ("message.sent", "whatsapp", {"messageId", "message"}),
    ("agent.reaction", "imessage", {"reactionType", "messageId", "messageBody", "fromNumber"}),
    ("call.started", "voice", {"callId", "startedAt"}),
    ("call.ended", "voice", {"callId", "endedAt", "transcript", "endReason"}),
    ("agent.call_ended", "voice", {"callId", "disconnectionReason", "transcript", "summary"}),
])
def test_each_event_arrives_signed_with_the_real_shape(control: httpx.Client, key: str, hooked: Any, event: str,
                                                       channel: str, fields: set[str]) -> None:
    rx, agent, number = hooked
    answer = trigger(control, key, event=event, channel=channel)
    got = rx.wait_for(1, event=event)[0]
    assert got.webhook_id == answer["delivery"]["id"] and got.name == event
    assert got.event == answer["payload"]
    assert (got.event["event"], got.event["channel"], got.event["agentId"]) == (event, channel, agent["id"])
    assert fields <= got.event["data"].keys()
    if channel != "voice":
        assert got.event["data"].get("numberId") == number["id"]
    if event == "agent.call_ended":
        Draft202012Validator(CALL_ENDED_SCHEMA).validate(got.event["data"])
    logged = ok(control.get(f"/_emulator/deliveries/{answer['delivery']['id']}"))
    assert logged["status"] in ("pending", "success") and logged["eventType"] == event


def test_overrides_are_laid_over_the_built_data(control: httpx.Client, key: str, hooked: Any) -> None:
    rx, _agent, _number = hooked
    trigger(control, key, event="agent.message", channel="sms", **{"from": "+14155550166"}, text="Is it open?",
            data={"contact": {"name": "Ada"}, "extra": 7}, recentHistory=[], conversationState={"tier": "gold"})
    event = rx.wait_for(1)[0].event
    assert (event["data"]["from"], event["data"]["message"]) == ("+14155550166", "Is it open?")
    assert event["data"]["contact"] == {"name": "Ada"} and event["data"]["extra"] == 7
    assert event["data"]["direction"] == "inbound"  # what the override leaves alone stays built
    assert event["recentHistory"] == [] and event["conversationState"] == {"tier": "gold"}


def test_wrong_events_and_channels_are_refused(control: httpx.Client, key: str, hooked: Any) -> None:
    refused(control.post("/_emulator/events", json={"key": key, "event": "call.exploded"}), 400, "'event'")
    refused(control.post("/_emulator/events", json={"key": key, "event": "agent.reaction", "channel": "sms"}), 400,
            "imessage")
    refused(control.post("/_emulator/events", json={"event": "agent.message"}), 400, "'key' is required")


def test_an_account_key_triggers_events_for_itself_only(control: httpx.Client, base_url: str, key: str,
                                                        hooked: Any) -> None:
    rx, _agent, _number = hooked
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as own:
        ok(own.post("/_emulator/events", json={"event": "agent.message"}))  # no key needed: its own
    assert len(rx.wait_for(1)) == 1
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {new_key()}"}) as other:
        refused(other.post("/_emulator/events", json={"key": key, "event": "agent.message"}), 403, "own account")
    assert len(rx.requests) == 1
