"""Webhook delivery end to end: the emulator posts to a real local receiver (over loopback HTTP), which
checks every request with the official SDK (`agentphone.construct_event`) before the test looks at it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from agentphone import AgentPhone, AgentPhoneError, WebhookVerificationError, verify_webhook
from helpers import (
    SENDER,
    advance,
    buy_number,
    delivery_log,
    inbound,
    make_agent,
    set_account,
    set_webhook,
    settled,
    upgrade,
    wait_log,
    when,
)

from emulator.config import Settings
from emulator.testing import InProcessEmulator, free_port, new_key
from emulator.testing.receiver import (
    CLOSE,
    OK,
    Reply,
    WebhookReceiver,
    endless,
    huge,
    json_reply,
    status,
)
from emulator.webhooks.delivery import MAX_ATTEMPTS, RETRY_SCHEDULE
from emulator.webhooks.transport import RESPONSE_LIMIT

SMS_EVENTS = ["agent.message", "message.received"]

@pytest.fixture(autouse=True)
def skill_doc_events(control: httpx.Client, key: str) -> None:
    """These tests check the skill doc's events (call.started, call.ended, message.received, message.sent), so the
    test's account speaks that vocabulary; the current one (the default) is tested in test_events_vocabulary.py."""
    set_account(control, key, webhookEvents="skill-doc")



def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


# --- routing ------------------------------------------------------------------------------------


def test_agent_webhook_wins_over_project_webhook(api: httpx.Client, control: httpx.Client, rx: WebhookReceiver) -> None:
    agent = make_agent(api)
    number = buy_number(api, agent["id"])
    set_webhook(api, rx, "/project")
    hook = set_webhook(api, rx, "/agent", agent["id"])

    sent = inbound(control, number["phoneNumber"], "Which webhook gets this?")

    got = rx.wait_for(2, path="/agent")
    assert sorted(d.name or "" for d in got) == SMS_EVENTS
    assert all(d.verified is not None and d.verified.agent_id == agent["id"] for d in got)
    items = wait_log(api, settled(2, "success"))
    assert {i["webhookId"] for i in items} == {hook["id"]}
    assert {i["url"] for i in items} == {rx.url_for("/agent")}
    assert {i["messageId"] for i in items} == {sent["message"]["id"]}
    # Both events were routed (and delivered) to the agent's webhook: nothing can reach the project's.
    assert rx.received("/project") == []


def test_events_fall_back_to_the_project_webhook(api: httpx.Client, control: httpx.Client, key: str,
                                                 rx: WebhookReceiver) -> None:
    upgrade(control, key)
    agent = make_agent(api)
    number = buy_number(api, agent["id"])["phoneNumber"]
    unassigned = buy_number(api)["phoneNumber"]
    project = set_webhook(api, rx, "/project")

    inbound(control, number, "agent without a webhook")
    got = rx.wait_for(2, path="/project")
    assert {d.verified.agent_id for d in got if d.verified} == {agent["id"]}

    inbound(control, unassigned, "number without an agent")
    got = rx.wait_for(4, path="/project")
    assert [d.verified.agent_id for d in got[2:] if d.verified] == [None, None]

    set_webhook(api, rx, "/agent", agent["id"])
    inbound(control, number, "now the agent has one")
    rx.wait_for(2, path="/agent")

    assert api.delete(f"/v1/agents/{agent['id']}/webhook").status_code == 200
    inbound(control, number, "and now it is gone again")
    rx.wait_for(6, path="/project")
    items = wait_log(api, settled(8, "success"))
    assert Counter(i["webhookId"] == project["id"] for i in items) == {True: 6, False: 2}
    assert len(rx.received("/agent")) == 2


def test_no_webhook_is_recorded_as_a_failed_delivery(api: httpx.Client, control: httpx.Client) -> None:
    agent = make_agent(api)
    number = buy_number(api, agent["id"])

    sent = inbound(control, number["phoneNumber"], "Is anyone listening?")

    assert sorted(d["eventType"] for d in sent["deliveries"]) == SMS_EVENTS
    assert {d["status"] for d in sent["deliveries"]} == {"failed"}
    items = delivery_log(api)
    assert {i["id"] for i in items} == {d["id"] for d in sent["deliveries"]}
    for item in items:
        assert item["status"] == "failed"
        assert "no webhook" in item["errorMessage"].lower()
        assert item["attemptCount"] == 0
        assert item["httpStatus"] is None and item["nextRetryAt"] is None
        assert item["messageId"] == sent["message"]["id"]
        assert item["agentId"] == agent["id"]
        assert item["channel"] == "sms"


# --- headers and signing ------------------------------------------------------------------------


def test_headers_identify_and_sign_each_delivery(api: httpx.Client, control: httpx.Client, rx: WebhookReceiver) -> None:
    agent = make_agent(api)
    number = buy_number(api, agent["id"])
    hook = set_webhook(api, rx, "/hook", agent["id"])
    before = time.time()

    sent = inbound(control, number["phoneNumber"], "sign me")

    got = rx.wait_for(2)
    after = time.time()
    delivery_ids = {d["eventType"]: d["id"] for d in sent["deliveries"]}
    assert {d.webhook_id for d in got} == set(delivery_ids.values())
    for d in got:
        assert d.verified is not None  # the receiver verified it with construct_event
        assert d.name == d.verified.event
        assert d.webhook_id == delivery_ids[d.verified.event]
        assert d.headers["content-type"].startswith("application/json")
        stamp = d.headers["x-webhook-timestamp"]
        assert stamp.isdigit() and before - 2 <= int(stamp) <= after + 2
        assert d.headers["x-webhook-signature"].startswith("sha256=")
        verify_webhook(d.body, d.headers["x-webhook-signature"], hook["secret"], stamp)
    assert set(by_id(wait_log(api, settled(2, "success")))) == set(delivery_ids.values())


def test_setting_the_webhook_again_signs_with_the_new_secret(api: httpx.Client, control: httpx.Client,
                                                             rx: WebhookReceiver) -> None:
    number = buy_number(api)
    old = set_webhook(api, rx, "/hook")
    new = set_webhook(api, rx, "/hook")
    assert new["secret"] != old["secret"]

    inbound(control, number["phoneNumber"], "rotated")

    for d in rx.wait_for(2):
        assert d.verified is not None  # verified with the new secret
        with pytest.raises(WebhookVerificationError):
            verify_webhook(d.body, d.headers["x-webhook-signature"], old["secret"], d.headers["x-webhook-timestamp"])


# --- the envelope -------------------------------------------------------------------------------


def test_sms_envelope_carries_the_message(api: httpx.Client, control: httpx.Client, rx: WebhookReceiver) -> None:
    agent = make_agent(api)
    number = buy_number(api, agent["id"])
    set_webhook(api, rx, "/hook")
    text = "Is my order ready? 🚚"

    sent = inbound(control, number["phoneNumber"], text)
    message = sent["message"]

    delivery = rx.wait_event("agent.message", message["id"])
    body = delivery.json
    assert body["event"] == "agent.message"
    assert body["channel"] == "sms"
    assert body["agentId"] == agent["id"]
    assert abs(when(body["timestamp"]) - when(message["receivedAt"])) < timedelta(seconds=2)
    assert "test" not in body
    data = body["data"]
    assert data["from"] == SENDER
    assert data["to"] == number["phoneNumber"]
    assert data["message"] == text
    assert data["direction"] == "inbound"
    assert data["receivedAt"] == message["receivedAt"]
    assert data["conversationId"] == message["conversationId"] == sent["conversation"]["id"]
    assert data["numberId"] == number["id"]
    assert data["messageId"] == message["id"]
    assert body["recentHistory"] == [
        {"content": text, "direction": "inbound", "channel": "sms", "at": message["receivedAt"],
         "messageId": message["id"]}
    ]
    assert body["conversationState"] is None

    event = delivery.verified  # the SDK's reading of the same bytes
    assert event is not None
    assert (event.data.from_number, event.data.to_number) == (SENDER, number["phoneNumber"])
    assert event.data.message == text and event.data.message_id == message["id"]
    assert event.data.conversation_id == message["conversationId"] and event.data.number_id == number["id"]
    assert [h.content for h in event.recent_history] == [text]

    received = rx.wait_event("message.received", message["id"])
    assert received.json["channel"] == "sms"
    assert received.json["data"] == data


def test_recent_history_is_bounded_by_context_limit(api: httpx.Client, control: httpx.Client,
                                                    rx: WebhookReceiver) -> None:
    number = buy_number(api)["phoneNumber"]
    set_webhook(api, rx, "/hook", contextLimit=3)

    sent = [inbound(control, number, f"message {i}")["message"] for i in range(1, 6)]

    fifth = rx.wait_event("agent.message", sent[-1]["id"]).json["recentHistory"]
    assert [h["content"] for h in fifth] == ["message 3", "message 4", "message 5"]
    assert fifth[-1] == {"content": "message 5", "direction": "inbound", "channel": "sms",
                         "at": sent[-1]["receivedAt"], "messageId": sent[-1]["id"]}
    first = rx.wait_event("agent.message", sent[0]["id"]).json["recentHistory"]
    assert [h["content"] for h in first] == ["message 1"]
    second = rx.wait_event("agent.message", sent[1]["id"]).json["recentHistory"]
    assert [h["content"] for h in second] == ["message 1", "message 2"]
    assert all(len(d.json["recentHistory"]) <= 3 for d in rx.wait_for(10))


def test_context_limit_zero_sends_no_history(api: httpx.Client, control: httpx.Client, rx: WebhookReceiver) -> None:
    number = buy_number(api)["phoneNumber"]
    set_webhook(api, rx, "/hook", contextLimit=0)

    inbound(control, number, "first")
    inbound(control, number, "second")

    for d in rx.wait_for(4):
        assert d.json["recentHistory"] == []


def test_recent_history_includes_outbound_replies(api: httpx.Client, control: httpx.Client,
                                                  rx: WebhookReceiver) -> None:
    agent = make_agent(api)
    number = buy_number(api, agent["id"])["phoneNumber"]
    set_webhook(api, rx, "/hook")

    inbound(control, number, "hi")
    reply = api.post("/v1/messages", json={"agent_id": agent["id"], "to_number": SENDER, "body": "hello!"})
    assert reply.status_code == 200, reply.text
    last = inbound(control, number, "what are your hours?")["message"]

    history = rx.wait_event("agent.message", last["id"]).json["recentHistory"]
    assert [(h["content"], h["direction"]) for h in history] == [
        ("hi", "inbound"), ("hello!", "outbound"), ("what are your hours?", "inbound")
    ]
    sent_event = rx.wait_event("message.sent", reply.json()["id"]).json
    assert sent_event["data"]["direction"] == "outbound"
    assert [h["content"] for h in sent_event["recentHistory"]] == ["hi", "hello!"]


def test_conversation_state_is_the_conversation_metadata(api: httpx.Client, control: httpx.Client,
                                                         rx: WebhookReceiver) -> None:
    number = buy_number(api)["phoneNumber"]
    set_webhook(api, rx, "/hook")
    first = inbound(control, number, "I'd like to order")
    assert rx.wait_event("agent.message", first["message"]["id"]).json["conversationState"] is None

    metadata = {"stage": "qualified", "orderId": 42, "tags": ["vip"], "nested": {"step": 2}}
    resp = api.patch(f"/v1/conversations/{first['conversation']['id']}", json={"metadata": metadata})
    assert resp.status_code == 200, resp.text
    assert resp.json()["metadata"] == metadata

    second = inbound(control, number, "two pizzas please")["message"]
    for event in ("agent.message", "message.received"):
        delivery = rx.wait_event(event, second["id"])
        assert delivery.json["conversationState"] == metadata
        assert delivery.verified is not None and delivery.verified.conversation_state == metadata


# --- failure modes ------------------------------------------------------------------------------

FAILURES: dict[str, tuple[Reply | None, int | None, str]] = {
    # mode: (what the receiver does or None for a URL that is not the receiver, HTTP status, error words)
    "refused": (None, None, "connect"),
    "dns": (None, None, "resolve"),
    "5xx": (status(503, "down for maintenance"), 503, "HTTP 503"),
    "endless body": (endless(), 200, f"{RESPONSE_LIMIT // 1024} KiB"),
    "huge body": (huge(10 * 1024 * 1024), 200, f"{RESPONSE_LIMIT // 1024} KiB"),
    "connection closed": (CLOSE, None, "connection"),
}


@pytest.mark.parametrize("mode", list(FAILURES))
def test_a_failing_target_is_a_recorded_failed_attempt(mode: str, api: httpx.Client, control: httpx.Client,
                                                       rx: WebhookReceiver) -> None:
    reply, http_status, words = FAILURES[mode]
    number = buy_number(api)["phoneNumber"]
    if mode == "refused":
        url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    elif mode == "dns":
        url = "http://nonexistent.invalid/hook"
    else:
        url = rx.url_for("/hook")
        assert reply is not None
        rx.route("/hook", reply)
    hook = api.post("/v1/webhooks", json={"url": url})
    assert hook.status_code == 200
    rx.expect("/hook", hook.json()["secret"])

    inbound(control, number, "hello?")
    items = wait_log(api, settled(2))

    for item in items:
        assert "timeout" not in item["errorMessage"].lower()  # it failed on its own, not at the webhook timeout
        assert item["attemptCount"] == 1
        assert item["status"] == "pending"  # a failed attempt, retried later on the schedule
        assert item["lastAttemptAt"] is not None and item["nextRetryAt"] is not None
        assert item["httpStatus"] == http_status
        assert words.lower() in item["errorMessage"].lower()
    if mode == "5xx":
        assert {i["responseBody"] for i in items} == {"down for maintenance"}
    if mode == "huge body":
        assert all(len(i["responseBody"] or "") <= RESPONSE_LIMIT for i in items)
    if reply is not None:
        assert {d.webhook_id for d in rx.wait_for(2)} == {i["id"] for i in items}
    assert control.get("/_emulator/health").status_code == 200
    assert api.get("/v1/webhooks/deliveries/stats").json()["pending"] == 2


# --- test sends ---------------------------------------------------------------------------------


def test_project_test_send_with_overrides(api: httpx.Client, rx: WebhookReceiver) -> None:
    agent = make_agent(api)
    number = buy_number(api, agent["id"])
    set_webhook(api, rx, "/hook")
    rx.route("/hook", json_reply({"received": True}))

    resp = api.post("/v1/webhooks/test", params={"agentId": agent["id"]},
                    json={"from": "+12125550111", "to": number["phoneNumber"], "message": "ping", "channel": "sms"})

    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["delivered"] is True
    assert result["httpStatus"] == 200
    assert isinstance(result["latencyMs"], int | float) and result["latencyMs"] >= 0
    assert result["responseSnippet"] == '{"received": true}'
    delivery = rx.wait_for(1)[0]
    assert delivery.webhook_id == result["deliveryId"]
    body = delivery.json
    assert body["test"] is True and delivery.verified is not None and delivery.verified.test is True
    assert (body["event"], body["channel"], body["agentId"]) == ("agent.message", "sms", agent["id"])
    assert body["data"]["from"] == "+12125550111"
    assert body["data"]["to"] == number["phoneNumber"]
    assert body["data"]["message"] == "ping"
    [logged] = delivery_log(api)
    assert logged["id"] == result["deliveryId"]
    assert (logged["status"], logged["attemptCount"], logged["test"]) == ("success", 1, True)


def test_sdk_test_send_passes_its_overrides(sdk: AgentPhone, rx: WebhookReceiver) -> None:
    hook = sdk.webhooks.set(rx.url_for("/hook"))
    rx.expect("/hook", hook.secret)

    result = sdk.webhooks.test(from_="+12125550111", to="+14155550199", message="sdk ping", channel="imessage")

    assert result["delivered"] is True and result["httpStatus"] == 200
    event = rx.wait_for(1)[0].verified
    assert event is not None and event.test is True
    assert (event.event, event.channel) == ("agent.message", "imessage")
    assert (event.data.from_number, event.data.to_number, event.data.message) == (
        "+12125550111", "+14155550199", "sdk ping"
    )


def test_agent_test_send_goes_to_the_agent_webhook(api: httpx.Client, sdk: AgentPhone, rx: WebhookReceiver) -> None:
    agent = make_agent(api)
    buy_number(api, agent["id"])
    set_webhook(api, rx, "/project")
    set_webhook(api, rx, "/agent", agent["id"])

    resp = api.post(f"/v1/agents/{agent['id']}/webhook/test")
    assert resp.status_code == 200, resp.text
    assert resp.json()["delivered"] is True and resp.json()["httpStatus"] == 200
    assert sdk.agents.test_webhook(agent["id"])["delivered"] is True

    got = rx.wait_for(2, path="/agent")
    for delivery in got:
        assert delivery.json["test"] is True
        assert delivery.verified is not None and delivery.verified.agent_id == agent["id"]
    assert rx.received("/project") == []


def test_test_send_without_a_webhook_is_400(api: httpx.Client, sdk: AgentPhone) -> None:
    agent = make_agent(api)
    resp = api.post("/v1/webhooks/test")
    assert resp.status_code == 400
    assert "webhook" in resp.json()["detail"].lower()
    with pytest.raises(AgentPhoneError) as err:
        sdk.webhooks.test()
    assert err.value.status == 400
    assert api.post(f"/v1/agents/{agent['id']}/webhook/test").status_code == 400
    assert api.post("/v1/agents/agent_nope/webhook/test").status_code == 404
    assert delivery_log(api) == []


def test_failed_test_send_is_reported_and_not_retried(api: httpx.Client, rx: WebhookReceiver) -> None:
    set_webhook(api, rx, "/hook")
    rx.route("/hook", status(500, "boom"))

    result = api.post("/v1/webhooks/test").json()

    assert result["delivered"] is False
    assert result["httpStatus"] == 500
    assert result["responseSnippet"] == "boom"
    [logged] = delivery_log(api)
    assert (logged["status"], logged["attemptCount"], logged["nextRetryAt"]) == ("failed", 1, None)
    assert logged["test"] is True


# --- the delivery log and its statistics --------------------------------------------------------


def test_delivery_stats_match_the_attempts(api: httpx.Client, control: httpx.Client, sdk: AgentPhone,
                                           rx: WebhookReceiver) -> None:
    agent = make_agent(api)
    number = buy_number(api, agent["id"])["phoneNumber"]
    inbound(control, number, "nobody listens yet")  # 2 failed: no webhook
    set_webhook(api, rx, "/hook")
    inbound(control, number, "one")
    inbound(control, number, "two")  # 4 success
    out = api.post("/v1/messages", json={"agent_id": agent["id"], "to_number": SENDER, "body": "reply"})
    assert out.status_code == 200  # 1 success (message.sent)
    wait_log(api, lambda items: len(items) == 7 and all(i["status"] != "pending" for i in items))
    rx.route("/hook", status(500))
    inbound(control, number, "three")  # 2 pending after a failed attempt
    wait_log(api, lambda items: len(items) == 9 and all(i["attemptCount"] >= 1 for i in items[:2]))

    stats = api.get("/v1/webhooks/deliveries/stats", params={"hours": 24}).json()
    assert (stats["total"], stats["success"], stats["failed"], stats["pending"]) == (9, 5, 2, 2)
    assert stats["successRate"] == pytest.approx(100 * 5 / 7, abs=0.01)
    counts = {"agent.message": {"total": 4, "success": 2, "failed": 1, "pending": 1},
              "message.received": {"total": 4, "success": 2, "failed": 1, "pending": 1},
              "message.sent": {"total": 1, "success": 1, "failed": 0, "pending": 0}}
    assert stats["byEventType"] == counts
    for name in ("total", "success", "failed", "pending"):
        assert sum(hour[name] for hour in stats["byHour"]) == stats[name]
    assert all(hour["hour"].endswith(":00:00.000Z") for hour in stats["byHour"])

    all_time = api.get("/v1/webhooks/deliveries/all-time").json()
    assert (all_time["total"], all_time["success"], all_time["failed"], all_time["pending"]) == (9, 5, 2, 2)
    assert all_time["successRate"] == stats["successRate"]

    typed = sdk.webhooks.get_delivery_stats(hours=24)
    assert (typed.total, typed.success, typed.failed, typed.pending) == (9, 5, 2, 2)
    assert typed.by_event_type == counts and typed.success_rate == stats["successRate"]
    assert sdk.webhooks.get_all_time_stats()["total"] == 9


def test_delivery_list_pages(api: httpx.Client, control: httpx.Client, sdk: AgentPhone, rx: WebhookReceiver) -> None:
    number = buy_number(api)["phoneNumber"]
    set_webhook(api, rx, "/hook")
    for i in range(3):
        inbound(control, number, f"message {i}")
    inbound(control, number, "last", sender="+14155550124")  # 8 deliveries
    everything = wait_log(api, settled(8, "success"))

    full = api.get("/v1/webhooks/deliveries").json()
    assert full["items"] == full["data"] == everything
    assert (full["total"], full["offset"], full["limit"]) == (8, 0, 50)
    stamps = [when(i["createdAt"]) for i in everything]
    assert stamps == sorted(stamps, reverse=True)  # newest first

    pages = []
    for offset in (0, 3, 6):
        page = api.get("/v1/webhooks/deliveries", params={"limit": 3, "offset": offset}).json()
        assert (page["total"], page["offset"], page["limit"]) == (8, offset, 3)
        assert page["items"] == page["data"]
        pages.append(page["items"])
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [i["id"] for p in pages for i in p] == [i["id"] for i in everything]
    assert api.get("/v1/webhooks/deliveries", params={"offset": 8}).json()["items"] == []
    assert api.get("/v1/webhooks/deliveries", params={"hours": 1}).json()["total"] == 8
    assert api.get("/v1/webhooks/deliveries", params={"limit": 0}).status_code == 400

    typed = sdk.webhooks.list_deliveries(limit=3, offset=3)
    assert [d.id for d in typed] == [i["id"] for i in everything[3:6]]
    assert {d.status for d in typed} == {"success"} and {d.attempt_count for d in typed} == {1}
    assert len(sdk.webhooks.list_deliveries(hours=24)) == 8


def test_agent_delivery_list_is_that_agents_only(api: httpx.Client, control: httpx.Client, key: str,
                                                 sdk: AgentPhone, rx: WebhookReceiver) -> None:
    upgrade(control, key)
    first, second = make_agent(api, "First"), make_agent(api, "Second")
    first_number = buy_number(api, first["id"])["phoneNumber"]
    second_number = buy_number(api, second["id"])["phoneNumber"]
    set_webhook(api, rx, "/hook")
    inbound(control, first_number, "for the first")
    inbound(control, second_number, "for the second")
    inbound(control, second_number, "for the second again")
    wait_log(api, settled(6, "success"))

    resp = api.get(f"/v1/agents/{first['id']}/webhook/deliveries")
    assert resp.status_code == 200
    listed = resp.json()
    assert isinstance(listed, list) and len(listed) == 2
    assert {d["agentId"] for d in listed} == {first["id"]}
    assert len(api.get(f"/v1/agents/{second['id']}/webhook/deliveries").json()) == 4
    assert len(api.get(f"/v1/agents/{second['id']}/webhook/deliveries", params={"limit": 1}).json()) == 1
    typed = sdk.agents.list_webhook_deliveries(first["id"])
    assert sorted(d.id for d in typed) == sorted(d["id"] for d in listed)
    assert {d.event_type for d in typed} == set(SMS_EVENTS)
    assert api.get("/v1/agents/agent_nope/webhook/deliveries").status_code == 404


# --- retries on the emulator's clock (their own emulator: the test moves its clock) --------------------


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessEmulator]:
    db = tmp_path_factory.mktemp("clocked") / "emulator.db"
    with InProcessEmulator(Settings(db=str(db), webhook_events="skill-doc")) as emulator:
        yield emulator


@pytest.fixture
def capi(clocked: InProcessEmulator) -> Iterator[httpx.Client]:
    with clocked.client(new_key()) as client:
        yield client


@pytest.fixture
def ctl(clocked: InProcessEmulator) -> Iterator[httpx.Client]:
    with clocked.client() as client:
        yield client


def quiet_for(rx: WebhookReceiver, count: int, seconds: float = 0.3) -> None:
    """Nothing more than `count` requests arrives within `seconds` (for "this must not happen yet")."""
    with pytest.raises(AssertionError):
        rx.wait_for(count + 1, timeout=seconds)


def retry_gap(item: dict[str, Any]) -> float:
    return (when(item["nextRetryAt"]) - when(item["lastAttemptAt"])).total_seconds()


def test_a_failed_delivery_is_retried_on_schedule_then_succeeds(capi: httpx.Client, ctl: httpx.Client,
                                                                rx: WebhookReceiver) -> None:
    number = buy_number(capi)["phoneNumber"]
    set_webhook(capi, rx, "/flaky")
    rx.route("/flaky", status(500, "try later"))

    sent = inbound(ctl, number, "hello")
    rx.wait_for(2)
    items = wait_log(capi, settled(2))
    assert {i["id"] for i in items} == {d["id"] for d in sent["deliveries"]}
    for item in items:
        assert (item["status"], item["attemptCount"], item["httpStatus"]) == ("pending", 1, 500)
        assert item["responseBody"] == "try later"
        assert retry_gap(item) == RETRY_SCHEDULE[0] == 10

    advance(ctl, 9)  # not due yet
    quiet_for(rx, 2)
    assert {i["attemptCount"] for i in delivery_log(capi)} == {1}

    rx.route("/flaky", OK)
    advance(ctl, 1)
    got = rx.wait_for(4)
    assert Counter(d.webhook_id for d in got) == {i["id"]: 2 for i in items}
    for delivery_id in by_id(items):
        bodies = {d.body for d in got if d.webhook_id == delivery_id}
        assert len(bodies) == 1  # the same signed payload, re-sent
    for item in wait_log(capi, settled(2, "success")):
        assert (item["attemptCount"], item["httpStatus"], item["nextRetryAt"]) == (2, 200, None)
        assert item["errorMessage"] is None


def test_a_target_that_always_fails_gives_up_after_max_attempts(capi: httpx.Client, ctl: httpx.Client,
                                                                rx: WebhookReceiver) -> None:
    number = buy_number(capi)["phoneNumber"]
    set_webhook(capi, rx, "/down")
    rx.route("/down", status(502))

    inbound(ctl, number, "hello")
    items = wait_log(capi, settled(2))
    for attempt, delay in enumerate(RETRY_SCHEDULE, start=1):
        assert {i["attemptCount"] for i in items} == {attempt}
        assert {i["status"] for i in items} == {"pending"}
        assert {retry_gap(i) for i in items} == {delay}
        advance(ctl, delay)
        items = wait_log(capi, lambda found, n=attempt + 1: {i["attemptCount"] for i in found} == {n})

    assert MAX_ATTEMPTS == len(RETRY_SCHEDULE) + 1
    for item in items:
        assert (item["status"], item["attemptCount"], item["nextRetryAt"]) == ("failed", MAX_ATTEMPTS, None)
        assert item["httpStatus"] == 502 and "502" in item["errorMessage"]
    got = rx.wait_for(2 * MAX_ATTEMPTS)
    assert Counter(d.webhook_id for d in got) == {i["id"]: MAX_ATTEMPTS for i in items}

    advance(ctl, 10 * RETRY_SCHEDULE[-1])
    quiet_for(rx, 2 * MAX_ATTEMPTS)
    stats = capi.get("/v1/webhooks/deliveries/all-time").json()
    assert (stats["total"], stats["failed"], stats["pending"]) == (2, 2, 0)


def test_hours_filter_the_log_and_the_stats_window(capi: httpx.Client, ctl: httpx.Client, rx: WebhookReceiver) -> None:
    number = buy_number(capi)["phoneNumber"]
    set_webhook(capi, rx, "/hook")
    old = {d["id"] for d in inbound(ctl, number, "before")["deliveries"]}
    wait_log(capi, settled(2, "success"))

    advance(ctl, 2 * 3600)
    new = {d["id"] for d in inbound(ctl, number, "after")["deliveries"]}
    wait_log(capi, settled(4, "success"))

    recent = capi.get("/v1/webhooks/deliveries", params={"hours": 1}).json()
    assert recent["total"] == 2 and {i["id"] for i in recent["items"]} == new
    assert {i["id"] for i in delivery_log(capi)} == old | new
    assert capi.get("/v1/webhooks/deliveries/stats", params={"hours": 1}).json()["total"] == 2
    assert capi.get("/v1/webhooks/deliveries/stats", params={"hours": 24}).json()["total"] == 4
    assert capi.get("/v1/webhooks/deliveries/all-time").json()["total"] == 4
