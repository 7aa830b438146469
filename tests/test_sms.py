"""SMS: inbound messages (POST /_emulator/sms), outbound ones (POST /v1/messages), their threading into
conversations, the webhook events they produce, and what usage counts afterwards."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from agentphone import AgentPhone
from helpers import (
    SENDER,
    buy_number,
    inbound,
    make_agent,
    set_account,
    set_webhook,
    settled,
    upgrade,
    wait_log,
)

from emulator.testing import InProcessEmulator, new_key
from emulator.testing.receiver import WebhookReceiver

pytestmark = pytest.mark.also_on_postgresql  # and on PostgreSQL, where CI names a server

OTHER_SENDER = "+14155550124"

@pytest.fixture(autouse=True)
def skill_doc_events(control: httpx.Client, key: str) -> None:
    """These tests check the skill doc's events (call.started, call.ended, message.received, message.sent), so the
    test's account speaks that vocabulary; the current one (the default) is tested in test_events_vocabulary.py."""
    set_account(control, key, webhookEvents="skill-doc")



@pytest.fixture
def line(api: httpx.Client) -> dict[str, Any]:
    """An agent with one number: {"agent": ..., "number": ...}."""
    agent = make_agent(api, "SMS agent")
    return {"agent": agent, "number": buy_number(api, agent["id"])}


def send(api: httpx.Client, **fields: Any) -> httpx.Response:
    return api.post("/v1/messages", json=fields)


# --- inbound ------------------------------------------------------------------------------------


def test_inbound_to_an_unknown_number_is_404(control: httpx.Client) -> None:
    resp = control.post("/_emulator/sms", json={"from": SENDER, "to": "+19995550100", "body": "hi"})
    assert resp.status_code == 404
    assert "+19995550100" in resp.json()["detail"]


@pytest.mark.parametrize("field", ["from", "to"])
@pytest.mark.parametrize("value", ["4155550123", "+1 415 555 0123", "not a number", "+1415555012"])
def test_inbound_needs_e164_numbers(api: httpx.Client, control: httpx.Client, field: str, value: str) -> None:
    number = buy_number(api)["phoneNumber"]
    payload = {"from": SENDER, "to": number, "body": "hi", field: value}
    resp = control.post("/_emulator/sms", json=payload)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["detail"]
    assert api.get("/v1/conversations").json()["total"] == 0


def test_inbound_to_a_released_number_is_404(api: httpx.Client, control: httpx.Client) -> None:
    number = buy_number(api)
    assert api.delete(f"/v1/numbers/{number['id']}").status_code == 200
    resp = control.post("/_emulator/sms", json={"from": SENDER, "to": number["phoneNumber"], "body": "hi"})
    assert resp.status_code == 404
    assert api.get("/v1/conversations").json()["total"] == 0


def test_inbound_is_stored_and_threaded_per_number_pair(api: httpx.Client, control: httpx.Client,
                                                        line: dict[str, Any]) -> None:
    number = line["number"]
    first = inbound(control, number["phoneNumber"], "Hi, is this the bakery?")
    second = inbound(control, number["phoneNumber"], "Do you have sourdough?")
    third = inbound(control, number["phoneNumber"], "Hello from someone else", sender=OTHER_SENDER)

    message = first["message"]
    assert message["from"] == message["fromNumber"] == SENDER
    assert message["to"] == message["toNumber"] == number["phoneNumber"]
    assert (message["direction"], message["status"], message["channel"]) == ("inbound", "received", "sms")
    assert message["body"] == "Hi, is this the bakery?"
    conversation_id = first["conversation"]["id"]
    assert second["conversation"]["id"] == conversation_id
    assert third["conversation"]["id"] != conversation_id

    by_number = api.get(f"/v1/numbers/{number['id']}/messages").json()
    assert by_number["total"] == 3
    assert [m["body"] for m in by_number["data"]] == [
        "Hello from someone else", "Do you have sourdough?", "Hi, is this the bakery?"
    ]
    assert by_number["data"][-1] == message

    conversations = api.get("/v1/conversations").json()
    assert conversations["total"] == 2
    listed = {c["participant"]: c for c in conversations["data"]}
    assert listed[SENDER]["id"] == conversation_id
    assert listed[SENDER]["messageCount"] == 2
    assert listed[SENDER]["phoneNumber"] == number["phoneNumber"]
    assert listed[SENDER]["agentId"] == line["agent"]["id"]
    assert listed[SENDER]["lastMessagePreview"] == "Do you have sourdough?"
    assert listed[OTHER_SENDER]["messageCount"] == 1

    thread = api.get(f"/v1/conversations/{conversation_id}/messages").json()
    assert [m["id"] for m in thread["data"]] == [second["message"]["id"], message["id"]]
    assert {m["conversationId"] for m in thread["data"]} == {conversation_id}
    full = api.get(f"/v1/conversations/{conversation_id}").json()
    assert full["messageCount"] == 2 and len(full["messages"]) == 2


def test_inbound_delivers_agent_message_and_message_received(api: httpx.Client, control: httpx.Client,
                                                             line: dict[str, Any], rx: WebhookReceiver) -> None:
    set_webhook(api, rx, "/hook")
    sent = inbound(control, line["number"]["phoneNumber"], "ping")
    message_id = sent["message"]["id"]

    for event in ("agent.message", "message.received"):
        delivery = rx.wait_event(event, message_id)
        assert delivery.verified is not None
        assert delivery.verified.channel == "sms"
        assert delivery.verified.agent_id == line["agent"]["id"]
        assert delivery.verified.data.message == "ping"
        assert delivery.verified.data.direction == "inbound"
    assert len(rx.wait_for(2)) == 2


# --- outbound -----------------------------------------------------------------------------------


def test_outbound_from_agent_number_or_from_number(api: httpx.Client, line: dict[str, Any]) -> None:
    agent, number = line["agent"], line["number"]
    by_agent = send(api, agent_id=agent["id"], to_number="+14155550130", body="via agent")
    by_number = send(api, number_id=number["id"], to_number="+14155550131", body="via number id")
    by_from = send(api, from_number=number["phoneNumber"], to_number="+14155550132", body="via from number")
    for resp in (by_agent, by_number, by_from):
        assert resp.status_code == 200, resp.text
        assert resp.json()["from_number"] == number["phoneNumber"]
    assert [r.json()["to_number"] for r in (by_agent, by_number, by_from)] == [
        "+14155550130", "+14155550131", "+14155550132"
    ]
    stored = api.get(f"/v1/numbers/{number['id']}/messages").json()
    assert stored["total"] == 3
    assert {m["direction"] for m in stored["data"]} == {"outbound"}


@pytest.mark.parametrize("written", ["(415) 555-0140", "415.555.0140", "4155550140", "14155550140",
                                     "+1 415 555 0140"])
def test_outbound_normalises_to_number(api: httpx.Client, line: dict[str, Any], written: str) -> None:
    resp = send(api, agent_id=line["agent"]["id"], to_number=written, body="hello")
    assert resp.status_code == 200, resp.text
    assert resp.json()["to_number"] == "+14155550140"
    conversation = api.get(f"/v1/conversations/{resp.json()['conversation_id']}").json()
    assert conversation["participant"] == "+14155550140"


def test_outbound_response_shape(api: httpx.Client, line: dict[str, Any]) -> None:
    resp = send(api, agent_id=line["agent"]["id"], to_number=SENDER, body="Your table is ready",
                media_urls=["https://example.com/menu.png"])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"].startswith("msg_")
    assert body["status"] == "sent"
    assert body["channel"] == "sms"
    assert body["from_number"] == line["number"]["phoneNumber"]
    assert body["to_number"] == SENDER
    assert body["media_urls"] == ["https://example.com/menu.png"]
    conversation = api.get(f"/v1/conversations/{body['conversation_id']}").json()
    assert conversation["participant"] == SENDER
    assert [m["id"] for m in conversation["messages"]] == [body["id"]]
    assert conversation["messages"][0]["mediaUrls"] == ["https://example.com/menu.png"]


def test_outbound_media_without_text_is_allowed(api: httpx.Client, line: dict[str, Any]) -> None:
    resp = send(api, agent_id=line["agent"]["id"], to_number=SENDER, media_url="https://example.com/a.jpg")
    assert resp.status_code == 200, resp.text
    assert resp.json()["media_urls"] == ["https://example.com/a.jpg"]


def test_outbound_and_inbound_share_one_conversation(api: httpx.Client, control: httpx.Client,
                                                     line: dict[str, Any]) -> None:
    first = inbound(control, line["number"]["phoneNumber"], "table for two?")
    reply = send(api, agent_id=line["agent"]["id"], to_number=SENDER, body="Sure, at 7?")
    assert reply.json()["conversation_id"] == first["conversation"]["id"]
    conversations = api.get("/v1/conversations").json()
    assert conversations["total"] == 1
    assert conversations["data"][0]["messageCount"] == 2
    assert conversations["data"][0]["lastMessagePreview"] == "Sure, at 7?"


def test_outbound_errors(api: httpx.Client, control: httpx.Client, line: dict[str, Any],
                         server: InProcessEmulator) -> None:
    agent = line["agent"]
    no_sender = send(api, to_number=SENDER, body="who sends this?")
    assert no_sender.status_code == 400
    assert "agent_id" in no_sender.json()["detail"]
    assert send(api, agent_id="agent_nope", to_number=SENDER, body="hi").status_code == 404
    assert send(api, number_id="pn_nope", to_number=SENDER, body="hi").status_code == 404
    lonely = make_agent(api, "No number")
    resp = send(api, agent_id=lonely["id"], to_number=SENDER, body="hi")
    assert resp.status_code == 400 and "number" in resp.json()["detail"]
    assert send(api, agent_id=agent["id"], to_number=SENDER, body="").status_code == 400
    assert send(api, agent_id=agent["id"], to_number=SENDER, body="   ").status_code == 400
    assert send(api, agent_id=agent["id"], to_number="not a number", body="hi").status_code == 400
    assert send(api, agent_id=agent["id"], body="hi").status_code == 400

    # Another account's number is not found, however it is named.
    with server.client(new_key()) as other:
        foreign = buy_number(other)
    assert send(api, number_id=foreign["id"], to_number=SENDER, body="hi").status_code == 404
    assert send(api, from_number=foreign["phoneNumber"], to_number=SENDER, body="hi").status_code == 404
    assert api.get(f"/v1/numbers/{line['number']['id']}/messages").json()["total"] == 0


def test_outbound_from_an_agent_sends_from_its_first_attached_active_number(
        api: httpx.Client, control: httpx.Client, key: str, server: InProcessEmulator) -> None:
    upgrade(control, key)
    agent = make_agent(api, "Two lines")
    first, second = buy_number(api, agent["id"]), buy_number(api, agent["id"])
    sent = send(api, agent_id=agent["id"], to_number=SENDER, body="from the first")
    assert sent.status_code == 200, sent.text
    assert sent.json()["from_number"] == first["phoneNumber"]
    assert api.delete(f"/v1/agents/{agent['id']}/numbers/{first['id']}").status_code == 200
    again = send(api, agent_id=agent["id"], to_number=SENDER, body="from the second")
    assert again.status_code == 200, again.text
    assert again.json()["from_number"] == second["phoneNumber"]
    with server.client(new_key()) as other:
        foreign = send(other, agent_id=agent["id"], to_number=SENDER, body="not mine")
    assert foreign.status_code == 404
    assert foreign.json()["detail"].startswith("Agent ")
    assert api.get(f"/v1/numbers/{first['id']}/messages").json()["total"] == 1


def test_outbound_delivers_message_sent(api: httpx.Client, line: dict[str, Any], rx: WebhookReceiver) -> None:
    set_webhook(api, rx, "/hook")
    resp = send(api, agent_id=line["agent"]["id"], to_number=SENDER, body="We open at 9")
    assert resp.status_code == 200

    delivery = rx.wait_event("message.sent", resp.json()["id"])
    body = delivery.json
    assert (body["event"], body["channel"], body["agentId"]) == ("message.sent", "sms", line["agent"]["id"])
    data = body["data"]
    assert data["direction"] == "outbound"
    assert (data["from"], data["to"], data["message"]) == (line["number"]["phoneNumber"], SENDER, "We open at 9")
    assert data["conversationId"] == resp.json()["conversation_id"]
    [logged] = wait_log(api, settled(1, "success"))
    assert logged["eventType"] == "message.sent" and logged["messageId"] == resp.json()["id"]


def test_usage_counts_messages_and_deliveries(api: httpx.Client, control: httpx.Client, line: dict[str, Any],
                                              rx: WebhookReceiver) -> None:
    number = line["number"]["phoneNumber"]
    inbound(control, number, "before any webhook")  # 2 failed deliveries
    set_webhook(api, rx, "/hook")
    inbound(control, number, "after")  # 2 successful
    send(api, agent_id=line["agent"]["id"], to_number=SENDER, body="answer")  # 1 successful
    wait_log(api, lambda items: len(items) == 5 and all(i["status"] != "pending" for i in items))

    stats = api.get("/v1/usage").json()["stats"]
    assert stats["totalMessages"] == 3
    assert stats["messagesLast24h"] == 3
    assert stats["totalWebhookDeliveries"] == 5
    assert stats["successfulWebhookDeliveries"] == 3
    assert stats["failedWebhookDeliveries"] == 2


# --- the official SDK ---------------------------------------------------------------------------


def test_sdk_send_read_and_update(sdk: AgentPhone, control: httpx.Client, line: dict[str, Any],
                                  rx: WebhookReceiver) -> None:
    number = line["number"]["phoneNumber"]
    hook = sdk.webhooks.set(rx.url_for("/hook"))
    rx.expect("/hook", hook.secret)
    incoming = inbound(control, number, "Can I book for Friday?")
    conversation_id = incoming["conversation"]["id"]

    sent = sdk.messages.send(agent_id=line["agent"]["id"], to_number="(415) 555-0123", body="Friday works!")
    assert sent["to_number"] == SENDER and sent["conversation_id"] == conversation_id

    page = sdk.conversations.get_messages(conversation_id, limit=10)
    assert [m.body for m in page.data] == ["Friday works!", "Can I book for Friday?"]
    assert [m.direction for m in page.data] == ["outbound", "inbound"]
    assert page.data[1].from_number == SENDER and page.data[0].to_number == SENDER
    assert page.has_more is False
    older = sdk.conversations.get_messages(conversation_id, limit=1)
    assert len(older.data) == 1 and older.has_more is True

    updated = sdk.conversations.update(conversation_id, metadata={"booking": "friday"})
    assert updated.metadata == {"booking": "friday"}
    assert sdk.conversations.get(conversation_id).metadata == {"booking": "friday"}

    follow_up = inbound(control, number, "Great, thanks")["message"]["id"]
    event = rx.wait_event("agent.message", follow_up).verified
    assert event is not None and event.conversation_state == {"booking": "friday"}
    assert [h.content for h in event.recent_history][-3:] == [
        "Can I book for Friday?", "Friday works!", "Great, thanks"
    ]
    rx.wait_event("message.sent", sent["id"])


def test_another_sender_gets_its_own_conversation_on_a_shared_number(api: httpx.Client, control: httpx.Client,
                                                                     key: str) -> None:
    upgrade(control, key)
    first, second = buy_number(api)["phoneNumber"], buy_number(api)["phoneNumber"]
    a = inbound(control, first, "to the first number")["conversation"]["id"]
    b = inbound(control, second, "same sender, second number")["conversation"]["id"]
    assert a != b  # a conversation is per (our number, participant) pair
    assert api.get("/v1/conversations").json()["total"] == 2
