"""Fixture rows are built by the same domain functions as the API's, so they behave like rows the API made."""

from __future__ import annotations

import httpx

from emulator.testing import new_key


def _fixture(key: str, tag: str, kind: str, number: str) -> dict[str, object]:
    return {"accounts": [{
        "key": key,
        "agents": [{"id": f"agent_{tag}", "name": "Bot"}],
        "numbers": [{"id": f"pn_{tag}", "phoneNumber": number, "agentId": f"agent_{tag}", "type": kind}],
        "conversations": [{
            "id": f"conv_{tag}", "numberId": f"pn_{tag}", "participant": "+14155559981",
            "messages": [
                {"id": f"msg_{tag}_in", "direction": "inbound", "body": "Hi!", "at": "2026-01-05T10:00:00Z"},
                {"id": f"msg_{tag}_out", "direction": "outbound", "body": "Hello.", "at": "2026-01-05T10:00:05Z"},
            ],
        }],
    }]}


def test_fixture_messages_on_an_imessage_number_are_imessages_and_take_reactions(control: httpx.Client) -> None:
    key, tag = new_key(), new_key()[-10:]
    loaded = control.post("/_emulator/fixtures", json=_fixture(key, tag, "imessage", "+14155550181"))
    assert loaded.status_code == 200, loaded.text
    with httpx.Client(base_url=str(control.base_url), headers={"Authorization": f"Bearer {key}"}) as api:
        conversation = api.get(f"/v1/conversations/conv_{tag}").json()
        assert conversation["channel"] == "imessage"
        assert [(m["id"], m["channel"]) for m in conversation["messages"]] == [
            (f"msg_{tag}_out", "imessage"), (f"msg_{tag}_in", "imessage")]
        assert conversation["lastMessagePreview"] == "Hello."
        assert conversation["messageCount"] == 2
        reacted = api.post(f"/v1/messages/msg_{tag}_in/reactions", json={"reaction": "love"})
        assert reacted.status_code == 200, reacted.text
        assert reacted.json()["reaction_type"] == "love"
        listed = api.get(f"/v1/conversations/conv_{tag}/messages").json()["data"]
        assert [r["reactionType"] for r in listed[-1]["reactions"]] == ["love"]


def test_fixture_messages_on_an_sms_number_are_sms_and_refuse_reactions(control: httpx.Client) -> None:
    key, tag = new_key(), new_key()[-10:]
    assert control.post("/_emulator/fixtures", json=_fixture(key, tag, "sms", "+14155550182")).status_code == 200
    with httpx.Client(base_url=str(control.base_url), headers={"Authorization": f"Bearer {key}"}) as api:
        messages = api.get(f"/v1/conversations/conv_{tag}/messages").json()["data"]
        assert {m["channel"] for m in messages} == {"sms"}
        refused = api.post(f"/v1/messages/msg_{tag}_in/reactions", json={"reaction": "love"})
        assert refused.status_code == 400
        assert "only for iMessage" in refused.json()["detail"]


def test_fixture_calls_and_messages_carry_what_a_recorded_history_needs(control: httpx.Client) -> None:
    key, tag = new_key(), new_key()[-10:]
    fixture = {"accounts": [{
        "key": key, "recordingEnabled": True,
        "agents": [{"id": f"agent_{tag}", "name": "Bot"}],
        "numbers": [{"id": f"pn_{tag}", "phoneNumber": "+14155550183", "agentId": f"agent_{tag}"}],
        "conversations": [{"id": f"conv_{tag}", "numberId": f"pn_{tag}", "participant": "+14155559982",
                           "messages": [
                               {"direction": "inbound", "mediaUrls": ["https://cdn.example/a.png"],
                                "at": "2026-01-05T10:00:00Z"},
                               {"direction": "outbound", "body": "Got it.", "status": "delivered",
                                "at": "2026-01-05T10:00:05Z"}]}],
        "calls": [{
            "id": f"call_{tag}", "numberId": f"pn_{tag}", "direction": "inbound", "from": "+14155559982",
            "startedAt": "2026-01-05T11:00:00Z", "durationSeconds": 30, "endReason": "agent-hangup",
            "recordingAvailable": False, "lastTranscriptSnippet": "Bye for now.",
            "transcripts": [
                {"kind": "greeting", "response": "Hello!", "confidence": None, "at": "2026-01-05T11:00:00Z"},
                {"transcript": "Is my order here?", "response": "Tomorrow.", "at": "2026-01-05T11:00:10Z"},
            ],
        }],
    }]}
    loaded = control.post("/_emulator/fixtures", json=fixture)
    assert loaded.status_code == 200, loaded.text
    with httpx.Client(base_url=str(control.base_url), headers={"Authorization": f"Bearer {key}"}) as api:
        messages = api.get(f"/v1/conversations/conv_{tag}/messages").json()["data"]
        assert [(m["body"], m["mediaUrls"], m["status"]) for m in messages] == [
            ("Got it.", [], "delivered"), ("", ["https://cdn.example/a.png"], "received")]
        call = api.get(f"/v1/calls/call_{tag}").json()
        assert (call["endReason"], call["recordingAvailable"], call["recordingUrl"]) == ("agent-hangup", False, None)
        assert call["lastTranscriptSnippet"] == "Bye for now."
        assert [(t["kind"], t["createdAt"]) for t in call["transcripts"]] == [
            ("greeting", "2026-01-05T11:00:00.000Z"), ("speech", "2026-01-05T11:00:10.000Z")]
    bad = {"accounts": [{"key": new_key(), "numbers": [{"id": f"pn_{tag}b", "phoneNumber": "+14155550184"}],
                         "conversations": [{"numberId": f"pn_{tag}b", "participant": "+14155559983",
                                            "messages": [{"direction": "inbound"}]}]}]}
    refused = control.post("/_emulator/fixtures", json=bad)
    assert refused.status_code == 400 and "needs a 'body' or 'mediaUrls'" in refused.json()["detail"]
