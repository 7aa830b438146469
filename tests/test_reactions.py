"""A tapback on an iMessage message shows up on that message wherever messages are listed."""

from __future__ import annotations

import httpx


def test_reaction_appears_on_the_message(api: httpx.Client, control: httpx.Client, key: str) -> None:
    control.patch(f"/_emulator/accounts/{key}", json={"plan": "scale"})
    line = api.post("/v1/numbers", json={"type": "imessage"}).json()
    sent = control.post("/_emulator/sms", json={"from": "+14155550142", "to": line["phoneNumber"], "body": "hi"})
    message = sent.json()["message"]
    assert message["channel"] == "imessage"

    reacted = api.post(f"/v1/messages/{message['id']}/reactions", json={"reaction": "love"})
    assert reacted.status_code == 200, reacted.text

    listed = api.get(f"/v1/conversations/{message['conversationId']}/messages").json()["data"][0]
    detail = api.get(f"/v1/conversations/{message['conversationId']}").json()["messages"][0]
    by_number = api.get(f"/v1/numbers/{line['id']}/messages").json()["data"][0]
    for shown in (listed, detail, by_number):
        assert [(r["id"], r["reactionType"], r["fromNumber"], r["direction"]) for r in shown["reactions"]] == [
            (reacted.json()["id"], "love", line["phoneNumber"], "outbound")
        ]
