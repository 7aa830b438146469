"""The fields and routes real clients read that the sources spell differently, over real HTTP: voices, test sends,
delivery lists (and `hours` on an agent's), daily usage, `status=ringing`, `agentName` in call lists, the recording
add-on route, `numberId`/`contact`/`messageId` in webhook data, `mms` for media on SMS lines, reactions that
arrive, iMessage groups through the control API, WhatsApp messages through conversations and agent.message."""

from __future__ import annotations

import httpx
from helpers import (
    Line,
    advance,
    ok,
    refused,
    set_account,
    set_webhook,
    upgrade,
    wait_log,
)

from emulator.testing import InProcessEmulator, new_key
from emulator.testing.receiver import WebhookReceiver

TEXTER = "+14155550141"


def test_voices_in_both_spellings(http_api: httpx.Client) -> None:
    voices = ok(http_api.get("/v1/agents/voices"))["data"]
    assert voices and all(v["voice_id"] == v["voiceId"] and v["voice_name"] == v["name"] for v in voices)
    assert all(v["accent"] in ("American", "British") and v["preview_audio_url"] is None for v in voices)


def test_test_sends_and_delivery_lists_carry_the_other_spellings(http_api: httpx.Client, control: httpx.Client,
                                                                 key: str, rx: WebhookReceiver) -> None:
    upgrade(control, key)
    line = Line.open(http_api, rx, agent_webhook=True)
    sent = ok(http_api.post(f"/v1/agents/{line.agent['id']}/webhook/test", json={}))
    assert (sent["success"], sent["statusCode"], sent["error"]) == (True, 200, None)
    assert sent["responseMs"] == sent["latencyMs"] and sent["statusCode"] == sent["httpStatus"]
    ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": line.number["phoneNumber"], "body": "Hi"}))
    items = wait_log(http_api, lambda found: len(found) == 2 and all(i["status"] == "success" for i in found))
    for item in items:
        assert item["event"] == item["eventType"] and item["success"] is True and item["statusCode"] == 200
        assert item["deliveredAt"] == item["lastAttemptAt"] and item["responseMs"] == item["latencyMs"]
    agent_items = ok(http_api.get(f"/v1/agents/{line.agent['id']}/webhook/deliveries", params={"hours": 1}))
    assert {i["id"] for i in agent_items} == {i["id"] for i in items}
    refused(http_api.get(f"/v1/agents/{line.agent['id']}/webhook/deliveries", params={"hours": 0}), 400, "hours")


def test_hours_on_an_agents_delivery_list_follow_the_emulator_clock(make_emulator: type[InProcessEmulator],
                                                                    rx: WebhookReceiver) -> None:
    emulator = make_emulator(serve=True)  # its own clock, moved below
    with emulator.http_client(new_key()) as api, emulator.http_client() as control:
        line = Line.open(api, rx, agent_webhook=True)
        ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": line.number["phoneNumber"], "body": "old"}))
        advance(control, 3 * 3600)
        ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": line.number["phoneNumber"], "body": "new"}))
        route = f"/v1/agents/{line.agent['id']}/webhook/deliveries"
        rx.wait_for(2)
        everything = ok(api.get(route))  # newest first
        assert len(everything) == 2
        (recent,) = ok(api.get(route, params={"hours": 1}))
        assert recent["id"] == everything[0]["id"] and '"message":"new"' in logged_payload(rx, recent["id"])


def logged_payload(rx: WebhookReceiver, delivery_id: str) -> str:
    (received,) = rx.received(where=lambda r: r.webhook_id == delivery_id)
    return received.body.decode()


def test_usage_series_carry_voice_minutes(http_api: httpx.Client, control: httpx.Client,
                                          voice: WebhookReceiver) -> None:
    call = Line.open(http_api, voice).run([{"say": " ".join(["word"] * 200)}])  # over a minute of speech
    minutes = -(-call["durationSeconds"] // 60)
    assert minutes >= 2
    today = ok(http_api.get("/v1/usage/daily", params={"days": 1}))["data"][-1]
    assert (today["calls"], today["voiceMinutes"]) == (1, minutes)
    assert ok(http_api.get("/v1/usage/monthly", params={"months": 1}))["data"][-1]["voiceMinutes"] == minutes


def test_call_lists_name_the_agent_and_accept_ringing(http_api: httpx.Client, voice: WebhookReceiver) -> None:
    line = Line.open(http_api, voice, name="Front desk")
    call = line.run([{"say": "Hi"}])
    for route in ("/v1/calls", f"/v1/agents/{line.agent['id']}/calls", f"/v1/numbers/{line.number['id']}/calls"):
        (item,) = ok(http_api.get(route))["data"]
        assert (item["id"], item["agentName"]) == (call["id"], "Front desk")
    # The engine answers a placed call at once: no call is ever ringing, but the filter is accepted.
    assert ok(http_api.get("/v1/calls", params={"status": "ringing"}))["data"] == []


def test_the_recording_add_on_route(http_api: httpx.Client, control: httpx.Client, key: str) -> None:
    assert set_account(control, key)["recordingEnabled"] is False
    enabled = ok(http_api.post("/credits/recording/enable"))
    assert enabled["success"] is True and enabled["recordingEnabled"] is True
    assert ok(control.get(f"/_emulator/accounts/{key}"))["recordingEnabled"] is True
    refused(httpx.post(f"{http_api.base_url}/credits/recording/enable"), 401, "API key")


def test_message_events_carry_contact_message_ids_and_mms(http_api: httpx.Client, control: httpx.Client,
                                                          rx: WebhookReceiver) -> None:
    number = ok(http_api.post("/v1/numbers", json={"externalId": "crm-line-7"}))
    set_webhook(http_api, rx, "/hook")
    contact = ok(http_api.post("/v1/contacts", json={"phoneNumber": TEXTER, "name": "Ada"}), 201)
    first = ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": number["phoneNumber"], "body": "Hi"}))
    second = ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": number["phoneNumber"], "body": "Look",
                                                     "mediaUrls": ["https://example.com/a.jpg"]}))
    event = rx.wait_event("agent.message", second["message"]["id"]).event
    assert event["channel"] == "mms" and event["data"]["channel"] == "mms"
    data = event["data"]
    assert data["contact"] == {"id": contact["id"], "name": "Ada", "email": None, "phoneNumber": TEXTER}
    assert (data["messageId"], data["senderIdentifier"], data["group"]) == (second["message"]["id"], TEXTER, None)
    assert (data["externalId"], data["externalMessageId"]) == ("crm-line-7", None)
    assert [h["messageId"] for h in event["recentHistory"]] == [first["message"]["id"], second["message"]["id"]]
    assert [h["channel"] for h in event["recentHistory"]] == ["sms", "mms"]
    assert ok(http_api.get(f"/v1/conversations/{second['conversation']['id']}"))["messages"][0]["channel"] == "sms"


def test_reactions_arrive_on_imessage_only_and_are_listed(http_api: httpx.Client, control: httpx.Client,
                                                          base_url: str, key: str) -> None:
    upgrade(control, key)
    blue = ok(http_api.post("/v1/numbers", json={"type": "imessage"}))
    green = ok(http_api.post("/v1/numbers", json={}))
    chat = ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": blue["phoneNumber"], "body": "Hey"}))
    sent = ok(http_api.post("/v1/messages", json={"number_id": blue["id"], "to_number": TEXTER, "body": "Hi!"}))
    got = ok(control.post("/_emulator/reactions", json={"messageId": sent["id"], "reaction": "laugh"}))
    assert (got["reaction"]["direction"], got["reaction"]["fromNumber"]) == ("inbound", TEXTER)
    messages = ok(http_api.get(f"/v1/conversations/{chat['conversation']['id']}"))["messages"]
    reacted = next(m for m in messages if m["id"] == sent["id"])
    assert [(r["reactionType"], r["fromNumber"], r["direction"]) for r in reacted["reactions"]] == [
        ("laugh", TEXTER, "inbound")]
    sms = ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": green["phoneNumber"], "body": "Yo"}))
    refused(control.post("/_emulator/reactions", json={"messageId": sms["message"]["id"], "reaction": "love"}),
            400, "iMessage")
    refused(control.post("/_emulator/reactions", json={"messageId": sent["id"], "reaction": "wow"}), 400, "love")
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {new_key()}"}) as stranger:
        refused(stranger.post("/_emulator/reactions", json={"messageId": sent["id"], "reaction": "love"}), 404,
                sent["id"])


def test_inbound_group_messages_carry_data_group(http_api: httpx.Client, control: httpx.Client, key: str,
                                                 rx: WebhookReceiver) -> None:
    upgrade(control, key)
    blue = ok(http_api.post("/v1/numbers", json={"type": "imessage"}))
    green = ok(http_api.post("/v1/numbers", json={}))
    set_webhook(http_api, rx, "/hook")
    started = ok(control.post("/_emulator/sms", json={
        "from": TEXTER, "to": blue["phoneNumber"], "body": "Hi all",
        "group": {"name": "Book club", "participants": ["+14155550142", "bo@example.com"]}}))
    group_id = started["conversation"]["groupId"]
    assert group_id.startswith("grp_") and started["conversation"]["isGroup"] is True
    data = rx.wait_event("agent.message", started["message"]["id"]).event["data"]
    assert data["group"] == {"isGroup": True, "groupId": group_id, "groupName": "Book club", "groupIconUrl": None,
                             "participants": [{"identifier": TEXTER, "name": None},
                                              {"identifier": "+14155550142", "name": None},
                                              {"identifier": "bo@example.com", "name": None}]}
    assert (data["from"], data["senderIdentifier"], data["conversationId"]) == (
        TEXTER, TEXTER, started["conversation"]["id"])
    again = ok(control.post("/_emulator/sms", json={"from": "+14155550142", "to": blue["phoneNumber"],
                                                    "body": "Hello!", "group": group_id}))
    assert again["conversation"]["id"] == started["conversation"]["id"]
    sent = ok(http_api.post("/v1/messages", json={"to_number": group_id, "body": "Welcome"}))
    assert (sent["to_number"], sent["conversation_id"]) == (group_id, started["conversation"]["id"])
    refused(control.post("/_emulator/sms", json={"from": "+14155550199", "to": blue["phoneNumber"], "body": "?",
                                                 "group": group_id}), 400, "not a member")
    refused(control.post("/_emulator/sms", json={"from": TEXTER, "to": green["phoneNumber"], "body": "?",
                                                 "group": {"participants": ["+14155550142"]}}), 400, "iMessage")
    refused(http_api.post("/v1/messages", json={"number_id": green["id"], "body": "Hi",
                                                "recipients": ["+14155550142", "+14155550143"]}), 400, "iMessage")
    refused(http_api.post("/v1/messages", json={"to_number": "grp_nope", "body": "Hi"}), 404, "grp_nope")
    refused(http_api.post("/v1/messages", json={"to_number": TEXTER, "recipients": ["+14155550142", TEXTER],
                                                "body": "Hi"}), 400, "not both")


def test_whatsapp_messages_flow_through_conversations_and_agent_message(
        http_api: httpx.Client, control: httpx.Client, key: str, rx: WebhookReceiver) -> None:
    agent = ok(http_api.post("/v1/agents", json={"name": "WA"}))
    set_webhook(http_api, rx, "/wa", agent["id"])
    connection = ok(http_api.post("/integrations/whatsapp/connect", json={"code": "abc", "agent_id": agent["id"]}))
    ok(control.patch(f"/_emulator/whatsapp/{connection['id']}", json={
        "status": "connected", "numbers": [{"phoneNumber": "+14155550190", "phoneNumberId": "777"}]}))
    number = ok(http_api.post(f"/integrations/whatsapp/{connection['id']}/numbers", json={"phone_number_id": "777"}))
    assert (number["phoneNumber"], number["agentId"], number["type"]) == ("+14155550190", agent["id"], "whatsapp")
    inbound = ok(control.post("/_emulator/sms", json={"from": TEXTER, "to": "+14155550190", "body": "Hola"}))
    event = rx.wait_event("agent.message", inbound["message"]["id"]).event
    assert (event["channel"], event["data"]["channel"], event["agentId"]) == ("whatsapp", "whatsapp", agent["id"])
    reply = ok(http_api.post("/v1/messages", json={"agent_id": agent["id"], "to_number": TEXTER, "body": "Hi!"}))
    assert reply["channel"] == "whatsapp" and reply["conversation_id"] == inbound["conversation"]["id"]
    conversation = ok(http_api.get(f"/v1/conversations/{reply['conversation_id']}"))
    assert conversation["channel"] == "whatsapp" and [m["channel"] for m in conversation["messages"]] == [
        "whatsapp", "whatsapp"]
    assert ok(http_api.get("/v1/usage"))["numbers"]["used"] == 0  # connected, not bought
    refused(http_api.post("/v1/calls", json={"agentId": agent["id"], "toNumber": TEXTER}), 400, "no phone number")
    refused(http_api.post("/v1/calls", json={"agentId": agent["id"], "toNumber": TEXTER,
                                             "fromNumberId": number["id"]}), 400, "WhatsApp")
    other = new_key()
    refused(control.patch(f"/_emulator/whatsapp/{connection['id']}", json={"status": "connected"},
                          headers={"Authorization": f"Bearer {other}"}), 404, connection["id"])


def test_a_fixture_connects_whatsapp(control: httpx.Client, key: str, http_api: httpx.Client) -> None:
    from helpers import load, tag

    t = tag()
    load(control, {"accounts": [{"key": key, "agents": [{"id": f"agent_{t}", "name": "WA"}], "whatsapp": [{
        "id": f"wac_{t}", "numbers": [
            {"phoneNumber": "+14155550193", "phoneNumberId": "555", "connected": True, "numberId": f"pn_{t}",
             "agentId": f"agent_{t}"},
            {"phoneNumber": "+14155550194"}]}]}]})
    status = ok(http_api.get("/integrations/whatsapp/status"))
    assert status["connected"] is True and [c["id"] for c in status["connections"]] == [f"wac_{t}"]
    offered = ok(http_api.get(f"/integrations/whatsapp/wac_{t}/available-numbers"))["data"]
    assert [(n["phoneNumber"], n["numberId"]) for n in offered] == [("+14155550193", f"pn_{t}"),
                                                                    ("+14155550194", None)]
    assert ok(http_api.get(f"/v1/numbers/pn_{t}"))["type"] == "whatsapp"
