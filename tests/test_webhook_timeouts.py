"""Webhook timeouts: the one slow test. The shortest timeout a webhook can have is 5 s, so its targets wait
it out once, together: an SMS delivery whose target answers long after the timeout, one whose target
sends headers and then trickles a body for ever, and a voice turn whose agent answers too late."""

from __future__ import annotations

import httpx
from helpers import (
    SENDER,
    THREE_TURNS,
    Line,
    assert_silent_turn_and_call_went_on,
    buy_number,
    delivery_log,
    make_agent,
    ok,
    set_account,
    set_webhook,
    settled,
    upgrade,
    wait_ended,
    wait_log,
)

from emulator.testing.receiver import WebhookReceiver, delayed, dribble, say, slow

# The webhook timeout a target gets unless it sets one: an attempt that ended before it was cut at 5 s.
DEFAULT_TIMEOUT_MS = 30_000


def test_timeouts_fail_the_attempt_and_api_calls_never_wait(api: httpx.Client, control: httpx.Client, key: str,
                                                           rx: WebhookReceiver, voice: WebhookReceiver) -> None:
    upgrade(control, key)
    set_account(control, key, webhookEvents="skill-doc")  # an outbound SMS produces an event (message.sent)
    # A voice agent that answers the second turn after the timeout: that turn is silence, the call goes on.
    line = Line.open(api, voice, agent_webhook=True, webhook={"timeout": 5})
    assert line.hook is not None and line.hook["timeout"] == 5
    voice.when("Second question", slow(8, say("Far too late.")))
    placed = line.place(THREE_TURNS)

    agent = make_agent(api)
    agent_number = buy_number(api, agent["id"])["phoneNumber"]
    plain_number = buy_number(api)["phoneNumber"]
    set_webhook(api, rx, "/late", timeout=5)
    set_webhook(api, rx, "/trickle", agent["id"], timeout=5)
    rx.route("/late", delayed(8))  # answers long after the timeout
    rx.route("/trickle", dribble(0.2))  # headers at once, then a body that never ends

    sends = [
        lambda: control.post("/_emulator/sms", json={"from": SENDER, "to": plain_number, "body": "anyone there?"}),
        lambda: control.post("/_emulator/sms", json={"from": SENDER, "to": agent_number, "body": "hello?"}),
        lambda: api.post("/v1/messages", json={"agent_id": agent["id"], "to_number": SENDER, "body": "one moment"}),
    ]
    for send in sends:
        logged = {d["id"] for d in delivery_log(api)}
        assert send().status_code == 200
        # The call answered while its deliveries' attempts were still running (none can end before the
        # 5 s timeout): it did not wait on the target.
        new = [d for d in delivery_log(api) if d["id"] not in logged and d["channel"] == "sms"]
        assert new and all(d["attemptCount"] == 0 and d["status"] == "pending" for d in new), new
    rx.wait_for(2, path="/late")
    rx.wait_for(3, path="/trickle")

    items = wait_log(api, lambda found: settled(5)([d for d in found if d["channel"] == "sms"]))
    sms = [d for d in items if d["channel"] == "sms"]
    assert len(sms) == 5
    for item in sms:
        assert item["status"] == "pending" and item["attemptCount"] == 1
        assert "5 s" in item["errorMessage"] and "timeout" in item["errorMessage"]
        assert 4500 <= item["latencyMs"] < DEFAULT_TIMEOUT_MS
    assert {i["httpStatus"] for i in sms if i["url"].endswith("/late")} == {None}
    assert {i["httpStatus"] for i in sms if i["url"].endswith("/trickle")} == {200}
    assert ok(control.get("/_emulator/health"))["status"] == "ok"

    call = wait_ended(api, placed["id"])
    delivery = assert_silent_turn_and_call_went_on(api, voice, call)
    assert "timeout" in delivery["errorMessage"].lower()
    assert 4_900 <= delivery["latencyMs"] < DEFAULT_TIMEOUT_MS
