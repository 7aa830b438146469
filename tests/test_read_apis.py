"""Read side of calls and conversations, over rows seeded into the store."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from seed import ISO_MS, Seeder, account_id, iso, upgrade, utcnow

from emulator.testing import EmulatorProcess, new_key

CALL_KEYS = {
    "id", "agentId", "phoneNumberId", "phoneNumber", "fromNumber", "toNumber", "direction", "status", "startedAt",
    "endedAt", "durationSeconds", "lastTranscriptSnippet", "recordingUrl", "recordingAvailable",
}
CONVERSATION_KEYS = {"id", "agentId", "phoneNumberId", "phoneNumber", "participant", "lastMessageAt",
                     "lastMessagePreview", "messageCount", "createdAt", "isGroup", "metadata"}
MESSAGE_KEYS = {"id", "from", "to", "fromNumber", "toNumber", "from_", "body", "direction", "status", "channel",
                "receivedAt", "conversationId"}


@pytest.fixture
def world(api: httpx.Client, control: httpx.Client, key: str, server: EmulatorProcess) -> dict[str, Any]:
    """An agent with one number, and a seeder for the account."""
    upgrade(control, key)
    agent = api.post("/v1/agents", json={"name": "Reader"}).json()
    number = api.post("/v1/numbers", json={"agentId": agent["id"], "areaCode": "415"}).json()
    return {"agent": agent, "number": number, "seed": Seeder(server.db, account_id(control, key))}


@pytest.fixture
def calls(world: dict[str, Any]) -> dict[str, str]:
    """Four calls a minute apart: a (oldest, inbound completed) .. d (newest, outbound in-progress)."""
    seed: Seeder = world["seed"]
    agent, number = world["agent"], world["number"]
    mine = number["phoneNumber"]
    base = utcnow() - timedelta(minutes=10)
    common = {"agent_id": agent["id"], "number_id": number["id"], "phone_number": mine}
    return {
        "a": seed.call(**common, from_number="+12125550001", to_number=mine, direction="inbound",
                       status="completed", started_at=base),
        "b": seed.call(**common, from_number="+13125550002", to_number=mine, direction="inbound", status="failed",
                       started_at=base + timedelta(minutes=1), duration=None, snippet=None),
        "c": seed.call(**common, from_number=mine, to_number="+12125550003", direction="outbound",
                       status="completed", started_at=base + timedelta(minutes=2)),
        "d": seed.call(**common, from_number=mine, to_number="+16465550004", direction="outbound",
                       status="in-progress", started_at=base + timedelta(minutes=3), duration=None),
    }


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["data"]]


def test_list_calls_newest_first_with_all_fields(api: httpx.Client, world: dict[str, Any],
                                                 calls: dict[str, str]) -> None:
    resp = api.get("/v1/calls")
    assert resp.status_code == 200
    body = resp.json()
    assert ids(body) == [calls["d"], calls["c"], calls["b"], calls["a"]]
    assert body["total"] == 4 and body["hasMore"] is False
    for call in body["data"]:
        assert set(call) >= CALL_KEYS
        assert call["agentId"] == world["agent"]["id"]
        assert call["phoneNumberId"] == world["number"]["id"]
        assert ISO_MS.match(call["startedAt"])
        assert "transcripts" not in call
    oldest = body["data"][-1]
    assert oldest["fromNumber"] == "+12125550001" and oldest["toNumber"] == world["number"]["phoneNumber"]
    assert oldest["durationSeconds"] == 42 and oldest["lastTranscriptSnippet"] == "Goodbye!"
    assert ISO_MS.match(oldest["endedAt"])
    assert body["data"][0]["endedAt"] is None and body["data"][0]["durationSeconds"] is None
    assert oldest["recordingUrl"] is None and oldest["recordingAvailable"] is False


def test_list_calls_limit_and_offset(api: httpx.Client, calls: dict[str, str]) -> None:
    first = api.get("/v1/calls", params={"limit": 3}).json()
    assert ids(first) == [calls["d"], calls["c"], calls["b"]]
    assert first["hasMore"] is True and first["total"] == 4
    rest = api.get("/v1/calls", params={"limit": 3, "offset": 3}).json()
    assert ids(rest) == [calls["a"]]
    assert rest["hasMore"] is False and rest["total"] == 4
    assert api.get("/v1/calls", params={"limit": 101}).status_code == 422
    assert api.get("/v1/calls", params={"offset": -1}).status_code == 422


@pytest.mark.parametrize(("params", "expected"), [
    ({"status": "completed"}, ["c", "a"]),
    ({"status": "failed"}, ["b"]),
    ({"status": "in-progress"}, ["d"]),
    ({"direction": "inbound"}, ["b", "a"]),
    ({"direction": "outbound"}, ["d", "c"]),
    ({"direction": "web"}, []),
    ({"status": "completed", "direction": "outbound"}, ["c"]),
    ({"search": "+1212"}, ["c", "a"]),
    ({"search": "5550004"}, ["d"]),
    ({"search": "+19999999999"}, []),
    ({"search": "212", "limit": 1}, ["c"]),
])
def test_list_calls_filters(api: httpx.Client, calls: dict[str, str], params: dict[str, Any],
                            expected: list[str]) -> None:
    body = api.get("/v1/calls", params=params).json()
    assert ids(body) == [calls[name] for name in expected]
    if "limit" in params:
        assert body["total"] == 2 and body["hasMore"] is True
    else:
        assert body["total"] == len(expected) and body["hasMore"] is False


@pytest.mark.parametrize("params", [{"status": "done"}, {"direction": "sideways"}, {"type": "fax"}])
def test_list_calls_rejects_unknown_filter_values(api: httpx.Client, params: dict[str, str]) -> None:
    resp = api.get("/v1/calls", params=params)
    assert resp.status_code == 422
    assert next(iter(params)) in resp.json()["detail"]


def test_calls_are_per_account(api: httpx.Client, base_url: str, calls: dict[str, str]) -> None:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {new_key()}"}) as other:
        assert other.get("/v1/calls").json() == {"data": [], "total": 0, "hasMore": False}
        assert other.get(f"/v1/calls/{calls['a']}").status_code == 404
        assert other.get(f"/v1/calls/{calls['a']}/transcript").status_code == 404


def test_get_call_includes_transcripts_in_order(api: httpx.Client, world: dict[str, Any],
                                                calls: dict[str, str]) -> None:
    seed: Seeder = world["seed"]
    call_id = calls["a"]
    at = utcnow().replace(microsecond=123000)
    turns = [
        seed.transcript(call_id, "Hello, thanks for calling.", None, 0.95, at),
        seed.transcript(call_id, "I need help with my order.", "Sure, what's the number?", 0.92,
                        at + timedelta(seconds=5)),
        seed.transcript(call_id, "It's 4521.", "It shipped yesterday.", None, at + timedelta(seconds=9)),
    ]
    seed.transcript(calls["b"], "Another call", None)

    resp = api.get(f"/v1/calls/{call_id}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["id"] == call_id
    assert set(body) >= CALL_KEYS | {"transcripts"}
    assert body["agentName"] == "Reader"
    assert [t["id"] for t in body["transcripts"]] == turns
    first, second, third = body["transcripts"]
    assert first["transcript"] == "Hello, thanks for calling." and first["response"] is None
    assert first["confidence"] == 0.95
    assert first["createdAt"] == iso(at)
    assert second["response"] == "Sure, what's the number?" and second["confidence"] == 0.92
    assert third["confidence"] is None
    for turn in body["transcripts"]:
        assert set(turn) >= {"id", "transcript", "response", "confidence", "createdAt"}

    transcript = api.get(f"/v1/calls/{call_id}/transcript")
    assert transcript.status_code == 200
    data = transcript.json()["data"]
    assert data == body["transcripts"]


def test_call_without_transcripts(api: httpx.Client, calls: dict[str, str]) -> None:
    assert api.get(f"/v1/calls/{calls['d']}").json()["transcripts"] == []
    assert api.get(f"/v1/calls/{calls['d']}/transcript").json()["data"] == []


def test_unknown_call_is_404(api: httpx.Client) -> None:
    for path in ("/v1/calls/call_nope", "/v1/calls/call_nope/transcript"):
        resp = api.get(path)
        assert resp.status_code == 404
        assert "call_nope" in resp.json()["detail"]


# --- conversations -------------------------------------------------------------------------


@pytest.fixture
def threads(world: dict[str, Any]) -> dict[str, Any]:
    """Three conversations (quiet, busy, recent) with messages; `busy` has 4 messages m0..m3."""
    seed: Seeder = world["seed"]
    number, agent = world["number"], world["agent"]
    mine = number["phoneNumber"]
    now = utcnow().replace(microsecond=0)
    out: dict[str, Any] = {"times": []}
    out["quiet"] = seed.conversation(number_id=number["id"], phone_number=mine, participant="+12125550101",
                                     agent_id=agent["id"], last_message_at=now - timedelta(hours=3),
                                     preview="old", count=1)
    out["busy"] = seed.conversation(number_id=number["id"], phone_number=mine, participant="+12125550102",
                                    agent_id=agent["id"], last_message_at=now - timedelta(hours=1),
                                    preview="m3", count=4, state={"stage": "booked"})
    out["recent"] = seed.conversation(number_id=number["id"], phone_number=mine, participant="+12125550103",
                                      agent_id=agent["id"], last_message_at=now - timedelta(minutes=5),
                                      preview="hi", count=1)
    seed.message(conversation_id=out["quiet"], number_id=number["id"], from_number="+12125550101", to_number=mine,
                 body="old", at=now - timedelta(hours=3))
    seed.message(conversation_id=out["recent"], number_id=number["id"], from_number="+12125550103", to_number=mine,
                 body="hi", at=now - timedelta(minutes=5))
    busy: list[str] = []
    for i in range(4):
        at = now - timedelta(hours=1, minutes=3 - i)
        inbound = i % 2 == 0
        busy.append(seed.message(
            conversation_id=out["busy"], number_id=number["id"], body=f"m{i}", at=at,
            from_number="+12125550102" if inbound else mine, to_number=mine if inbound else "+12125550102",
            direction="inbound" if inbound else "outbound", status="received" if inbound else "delivered",
            agent_id=agent["id"],
        ))
        out["times"].append(at)
    out["busy_messages"] = busy
    return out


def test_list_conversations_sorted_by_last_message(api: httpx.Client, world: dict[str, Any],
                                                   threads: dict[str, Any]) -> None:
    resp = api.get("/v1/conversations")
    assert resp.status_code == 200
    body = resp.json()
    assert ids(body) == [threads["recent"], threads["busy"], threads["quiet"]]
    assert body["total"] == 3 and body["hasMore"] is False
    for conversation in body["data"]:
        assert set(conversation) >= CONVERSATION_KEYS
    busy = body["data"][1]
    assert busy["participant"] == "+12125550102"
    assert busy["phoneNumber"] == world["number"]["phoneNumber"]
    assert busy["phoneNumberId"] == world["number"]["id"]
    assert busy["agentId"] == world["agent"]["id"]
    assert busy["messageCount"] == 4 and busy["lastMessagePreview"] == "m3"
    assert busy["metadata"] == {"stage": "booked"}
    assert ISO_MS.match(busy["lastMessageAt"]) and ISO_MS.match(busy["createdAt"])
    assert "messages" not in busy

    page = api.get("/v1/conversations", params={"limit": 2, "offset": 1}).json()
    assert ids(page) == [threads["busy"], threads["quiet"]]
    assert page["hasMore"] is False and page["total"] == 3
    first = api.get("/v1/conversations", params={"limit": 1}).json()
    assert first["hasMore"] is True


def test_get_conversation_with_messages(api: httpx.Client, world: dict[str, Any], threads: dict[str, Any]) -> None:
    resp = api.get(f"/v1/conversations/{threads['busy']}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["id"] == threads["busy"]
    assert body["messageCount"] == 4
    messages = body["messages"]
    assert [m["id"] for m in messages] == list(reversed(threads["busy_messages"]))
    mine = world["number"]["phoneNumber"]
    for message in messages:
        assert set(message) >= MESSAGE_KEYS
        assert message["from"] == message["fromNumber"] == message["from_"]
        assert message["to"] == message["toNumber"]
        assert message["channel"] == "sms"
        assert message["conversationId"] == threads["busy"]
        assert ISO_MS.match(message["receivedAt"])
    newest = messages[0]
    assert newest["body"] == "m3" and newest["direction"] == "outbound" and newest["status"] == "delivered"
    assert newest["from"] == mine and newest["to"] == "+12125550102"
    assert newest["receivedAt"] == iso(threads["times"][3])
    oldest = messages[-1]
    assert oldest["body"] == "m0" and oldest["direction"] == "inbound" and oldest["status"] == "received"
    assert oldest["from"] == "+12125550102" and oldest["to"] == mine


@pytest.mark.parametrize("name", ["messageLimit", "message_limit"])
def test_get_conversation_message_limit_both_spellings(api: httpx.Client, threads: dict[str, Any],
                                                       name: str) -> None:
    resp = api.get(f"/v1/conversations/{threads['busy']}", params={name: 2})
    assert resp.status_code == 200
    assert [m["body"] for m in resp.json()["messages"]] == ["m3", "m2"]
    for bad in (0, 101):
        assert api.get(f"/v1/conversations/{threads['busy']}", params={name: bad}).status_code == 422


def test_conversation_messages_endpoint(api: httpx.Client, threads: dict[str, Any]) -> None:
    path = f"/v1/conversations/{threads['busy']}/messages"
    body = api.get(path, params={"limit": 3}).json()
    assert [m["body"] for m in body["data"]] == ["m3", "m2", "m1"]
    assert body["hasMore"] is True
    times: list[datetime] = threads["times"]
    older = api.get(path, params={"before": iso(times[1])}).json()
    assert [m["body"] for m in older["data"]] == ["m0"]
    assert older["hasMore"] is False


def test_unknown_conversation_is_404(api: httpx.Client) -> None:
    for path in ("/v1/conversations/conv_nope", "/v1/conversations/conv_nope/messages"):
        resp = api.get(path)
        assert resp.status_code == 404
        assert "conv_nope" in resp.json()["detail"]


def test_conversations_are_per_account(api: httpx.Client, base_url: str, threads: dict[str, Any]) -> None:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {new_key()}"}) as other:
        assert other.get("/v1/conversations").json() == {"data": [], "total": 0, "hasMore": False}
        assert other.get(f"/v1/conversations/{threads['busy']}").status_code == 404
