"""Read side of calls and conversations, over rows from real calls, SMS and fixtures."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from helpers import ISO_MS, advance, emulator_now, fresh_number, iso, ok, script, seed_account, tag, wait_ended

from emulator.config import Settings
from emulator.testing import InProcessEmulator, new_key
from emulator.testing.receiver import WebhookReceiver, held, json_reply, say

pytestmark = pytest.mark.also_on_postgresql  # and on PostgreSQL, where CI names a server

CALL_KEYS = {
    "id", "agentId", "phoneNumberId", "phoneNumber", "fromNumber", "toNumber", "direction", "status", "startedAt",
    "endedAt", "durationSeconds", "lastTranscriptSnippet", "recordingUrl", "recordingAvailable",
}
CONVERSATION_KEYS = {"id", "agentId", "phoneNumberId", "phoneNumber", "participant", "lastMessageAt",
                     "lastMessagePreview", "messageCount", "createdAt", "isGroup", "metadata"}
MESSAGE_KEYS = {"id", "from", "to", "fromNumber", "toNumber", "from_", "body", "direction", "status", "channel",
                "receivedAt", "conversationId"}


@dataclass
class Calls:
    """Four calls of one account, a minute or more apart: a (oldest, inbound completed) .. d (newest,
    outbound, still in progress). a and d are real calls (d waits on its agent's answer), b and c come
    from a fixture; the account is in an emulator of this module's own, whose clock moves between them."""

    api: httpx.Client
    agent: dict[str, Any]
    number: dict[str, Any]
    ids: dict[str, str]
    ended_a: dict[str, Any]

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Calls]:
    key, t, secret = new_key(), tag(), "whsec_read_apis_" + uuid.uuid4().hex
    db = tmp_path_factory.mktemp("read-apis") / "emulator.db"
    answer = threading.Event()
    with InProcessEmulator(Settings(db=str(db))) as emulator, emulator.client(key) as api, \
            emulator.client() as control, WebhookReceiver(secret, strict=True, default=json_reply({})) as voice:
        mine = "+14155559876"  # its own emulator: no other account has it; nothing a search below looks for
        agent = {"id": f"agent_{t}", "name": "Reader"}
        number = {"id": f"pn_{t}", "phoneNumber": mine}
        later = emulator_now(control) + timedelta(days=1)
        seed_account(control, key, plan="free", agents=[agent], numbers=[{**number, "agentId": agent["id"]}],
                     webhook={"url": voice.url, "secret": secret}, calls=[
            {"id": f"call_{t}_b", "numberId": number["id"], "direction": "inbound", "from": "+13125550002",
             "status": "failed", "startedAt": iso(later + timedelta(minutes=1))},
            {"id": f"call_{t}_c", "numberId": number["id"], "direction": "outbound", "to": "+12125550003",
             "startedAt": iso(later + timedelta(minutes=2)), "durationSeconds": 42,
             "transcripts": [{"transcript": "Thanks", "response": "Goodbye!"}]},
        ])
        voice.when("Bye now", say("Goodbye!"))
        voice.when("Hello?", held(answer))  # d stays in progress until the module is done
        a = ok(control.post("/_emulator/calls/inbound", json={"from": "+12125550001", "to": mine,
                                                              "turns": [{"say": "Bye now"}]}))
        ended_a = wait_ended(api, a["id"])
        advance(control, 86_400 + 180)
        d = ok(api.post("/v1/calls", json={"agentId": agent["id"],
                                           "toNumber": script(control, [{"say": "Hello?"}], "+16465550004")}))
        voice.wait_event("agent.message", call_id=d["id"])
        try:
            yield Calls(api, agent, number, {"a": a["id"], "b": f"call_{t}_b", "c": f"call_{t}_c", "d": d["id"]},
                        ended_a)
        finally:
            answer.set()
            wait_ended(api, d["id"])


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["data"]]


def test_list_calls_newest_first_with_all_fields(calls: Calls) -> None:
    resp = calls.api.get("/v1/calls")
    assert resp.status_code == 200
    body = resp.json()
    assert ids(body) == [calls["d"], calls["c"], calls["b"], calls["a"]]
    assert body["total"] == 4 and body["hasMore"] is False
    for call in body["data"]:
        assert set(call) >= CALL_KEYS
        assert call["agentId"] == calls.agent["id"]
        assert call["phoneNumberId"] == calls.number["id"]
        assert ISO_MS.match(call["startedAt"])
        assert "transcripts" not in call
    oldest = body["data"][-1]
    assert oldest["fromNumber"] == "+12125550001" and oldest["toNumber"] == calls.number["phoneNumber"]
    assert oldest["durationSeconds"] == calls.ended_a["durationSeconds"] > 0
    assert oldest["lastTranscriptSnippet"] == "Goodbye!"
    assert (oldest["startedAt"], oldest["endedAt"]) == (calls.ended_a["startedAt"], calls.ended_a["endedAt"])
    assert ISO_MS.match(oldest["endedAt"])
    assert body["data"][0]["endedAt"] is None and body["data"][0]["durationSeconds"] is None
    assert oldest["recordingUrl"] is None and oldest["recordingAvailable"] is False


def test_list_calls_limit_and_offset(calls: Calls) -> None:
    api = calls.api
    first = api.get("/v1/calls", params={"limit": 3}).json()
    assert ids(first) == [calls["d"], calls["c"], calls["b"]]
    assert first["hasMore"] is True and first["total"] == 4
    rest = api.get("/v1/calls", params={"limit": 3, "offset": 3}).json()
    assert ids(rest) == [calls["a"]]
    assert rest["hasMore"] is False and rest["total"] == 4
    assert api.get("/v1/calls", params={"limit": 101}).status_code == 400
    assert api.get("/v1/calls", params={"offset": -1}).status_code == 400


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
def test_list_calls_filters(calls: Calls, params: dict[str, Any], expected: list[str]) -> None:
    body = calls.api.get("/v1/calls", params=params).json()
    assert ids(body) == [calls[name] for name in expected]
    if "limit" in params:
        assert body["total"] == 2 and body["hasMore"] is True
    else:
        assert body["total"] == len(expected) and body["hasMore"] is False


@pytest.mark.parametrize("params", [{"status": "done"}, {"direction": "sideways"}, {"type": "fax"}])
def test_list_calls_rejects_unknown_filter_values(api: httpx.Client, params: dict[str, str]) -> None:
    resp = api.get("/v1/calls", params=params)
    assert resp.status_code == 400
    assert next(iter(params)) in resp.json()["detail"]


def test_calls_are_per_account(calls: Calls) -> None:
    other = calls.api
    stranger = {"Authorization": f"Bearer {new_key()}"}
    assert other.get("/v1/calls", headers=stranger).json() == {"data": [], "total": 0, "hasMore": False}
    assert other.get(f"/v1/calls/{calls['a']}", headers=stranger).status_code == 404
    assert other.get(f"/v1/calls/{calls['a']}/transcript", headers=stranger).status_code == 404


def test_get_call_includes_transcripts_in_order(api: httpx.Client, control: httpx.Client, key: str) -> None:
    t = tag()
    at = emulator_now(control).replace(microsecond=123000)
    call_id, other_call = f"call_{t}_a", f"call_{t}_b"
    turns = [f"tx_{t}_{i}" for i in range(3)]
    seed_account(control, key, agents=[{"id": f"agent_{t}", "name": "Reader"}],
                 numbers=[{"id": f"pn_{t}", "phoneNumber": fresh_number(), "agentId": f"agent_{t}"}],
                 calls=[
        {"id": call_id, "numberId": f"pn_{t}", "direction": "inbound", "from": "+12125550001",
         "startedAt": at.isoformat() + "Z", "durationSeconds": 15, "transcripts": [
             {"id": turns[0], "transcript": "Hello, thanks for calling.", "response": None, "confidence": 0.95},
             {"id": turns[1], "transcript": "I need help with my order.", "response": "Sure, what's the number?",
              "confidence": 0.92},
             {"id": turns[2], "transcript": "It's 4521.", "response": "It shipped yesterday.", "confidence": None},
         ]},
        {"id": other_call, "numberId": f"pn_{t}", "direction": "inbound", "from": "+13125550002",
         "transcripts": [{"transcript": "Another call", "response": None}]},
    ])

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


def test_call_without_transcripts(calls: Calls) -> None:
    assert calls.api.get(f"/v1/calls/{calls['d']}").json()["transcripts"] == []
    assert calls.api.get(f"/v1/calls/{calls['d']}/transcript").json()["data"] == []


def test_unknown_call_is_404(api: httpx.Client) -> None:
    for path in ("/v1/calls/call_nope", "/v1/calls/call_nope/transcript"):
        resp = api.get(path)
        assert resp.status_code == 404
        assert "call_nope" in resp.json()["detail"]


# --- conversations -------------------------------------------------------------------------


@pytest.fixture
def threads(control: httpx.Client, key: str) -> dict[str, Any]:
    """Three conversations (quiet, busy, recent) with messages; `busy` has 4 messages m0..m3."""
    t = tag()
    agent, number = {"id": f"agent_{t}", "name": "Reader"}, {"id": f"pn_{t}", "phoneNumber": fresh_number()}
    now = emulator_now(control).replace(microsecond=0)
    times = [now - timedelta(hours=1, minutes=3 - i) for i in range(4)]
    out: dict[str, Any] = {"agent": agent, "number": number, "times": times,
                           "quiet": f"conv_{t}_quiet", "busy": f"conv_{t}_busy", "recent": f"conv_{t}_recent",
                           "busy_messages": [f"msg_{t}_{i}" for i in range(4)]}
    seed_account(control, key, agents=[agent], numbers=[{**number, "agentId": agent["id"]}], conversations=[
        {"id": out["quiet"], "numberId": number["id"], "participant": "+12125550101",
         "messages": [{"direction": "inbound", "body": "old", "at": iso(now - timedelta(hours=3))}]},
        {"id": out["busy"], "numberId": number["id"], "participant": "+12125550102", "metadata": {"stage": "booked"},
         "messages": [{"id": out["busy_messages"][i], "direction": "inbound" if i % 2 == 0 else "outbound",
                       "body": f"m{i}", "at": iso(at)} for i, at in enumerate(times)]},
        {"id": out["recent"], "numberId": number["id"], "participant": "+12125550103",
         "messages": [{"direction": "inbound", "body": "hi", "at": iso(now - timedelta(minutes=5))}]},
    ])
    return out


def test_list_conversations_sorted_by_last_message(api: httpx.Client, threads: dict[str, Any]) -> None:
    resp = api.get("/v1/conversations")
    assert resp.status_code == 200
    body = resp.json()
    assert ids(body) == [threads["recent"], threads["busy"], threads["quiet"]]
    assert body["total"] == 3 and body["hasMore"] is False
    for conversation in body["data"]:
        assert set(conversation) >= CONVERSATION_KEYS
    busy = body["data"][1]
    assert busy["participant"] == "+12125550102"
    assert busy["phoneNumber"] == threads["number"]["phoneNumber"]
    assert busy["phoneNumberId"] == threads["number"]["id"]
    assert busy["agentId"] == threads["agent"]["id"]
    assert busy["messageCount"] == 4 and busy["lastMessagePreview"] == "m3"
    assert busy["metadata"] == {"stage": "booked"}
    assert ISO_MS.match(busy["lastMessageAt"]) and ISO_MS.match(busy["createdAt"])
    assert "messages" not in busy

    page = api.get("/v1/conversations", params={"limit": 2, "offset": 1}).json()
    assert ids(page) == [threads["busy"], threads["quiet"]]
    assert page["hasMore"] is False and page["total"] == 3
    first = api.get("/v1/conversations", params={"limit": 1}).json()
    assert first["hasMore"] is True


def test_get_conversation_with_messages(api: httpx.Client, threads: dict[str, Any]) -> None:
    resp = api.get(f"/v1/conversations/{threads['busy']}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["id"] == threads["busy"]
    assert body["messageCount"] == 4
    messages = body["messages"]
    assert [m["id"] for m in messages] == list(reversed(threads["busy_messages"]))
    mine = threads["number"]["phoneNumber"]
    for message in messages:
        assert set(message) >= MESSAGE_KEYS
        assert message["from"] == message["fromNumber"] == message["from_"]
        assert message["to"] == message["toNumber"]
        assert message["channel"] == "sms"
        assert message["conversationId"] == threads["busy"]
        assert ISO_MS.match(message["receivedAt"])
    newest = messages[0]
    assert newest["body"] == "m3" and newest["direction"] == "outbound" and newest["status"] == "sent"
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
        assert api.get(f"/v1/conversations/{threads['busy']}", params={name: bad}).status_code == 400


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


def test_conversations_are_per_account(api: httpx.Client, server: InProcessEmulator, threads: dict[str, Any]) -> None:
    with server.client(new_key()) as other:
        assert other.get("/v1/conversations").json() == {"data": [], "total": 0, "hasMore": False}
        assert other.get(f"/v1/conversations/{threads['busy']}").status_code == 404
