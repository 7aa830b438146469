"""Rows rendered by SQLite (emulator/wire/sqlite_json.py) read as the Python render functions write them: the same
keys in the same order and values that parse to the same document, for awkward text, floats that 15 digits do
not hold, JSON columns, nulls and timestamps, straight from a table and through the API's lists."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

import httpx
import pytest
from helpers import buy_number, fresh_number, make_agent, ok, seed_account, tag, upgrade
from sqlalchemy import create_engine, insert, literal_column, select

from emulator.store.models import Agent, Base, table
from emulator.wire import agents as wire
from emulator.wire.sqlite_json import object_sql, stamp_sql

AGENTS = table(Agent)
AWKWARD = 'quote " backslash \\ newline \n tab \t bell \x07 \x01 é 日本 🙂 </script>'
TOOLS = [{"name": "look_up", "description": AWKWARD, "url": "https://tools.example/look", "method": "POST",
          "parameters": {"type": "object", "big": 2**70, "ratio": 0.1, "list": [1, 2.5, None, True, "x"]}}]


def _agent(**fields: Any) -> dict[str, Any]:
    at = datetime(2025, 1, 2, 3, 4, 5, 678901)
    values: dict[str, Any] = {**wire.DEFAULTS, "id": "agent_1", "account_id": "acct_1", "name": "Bot",
                              "created_at": at, "updated_at": at}
    return {**values, **fields}


CASES = [
    _agent(),
    _agent(name=AWKWARD, description=AWKWARD, system_prompt="", custom_tools=TOOLS, enable_messaging=False,
           enable_backchannel=False),
    # floats that need 16 and 17 digits, one with an exponent; timestamps with no and with all microseconds
    _agent(voice_speed=0.5000000000000001, interruption_sensitivity=0.30000000000000004,
           created_at=datetime(2025, 1, 2, 3, 4, 5), updated_at=datetime(1999, 12, 31, 23, 59, 59, 999999)),
    _agent(interruption_sensitivity=1e-07, voice_speed=2.0, max_silence_ms=3_600_000, custom_tools=[]),
]


@pytest.mark.parametrize("values", CASES)
def test_sqlite_writes_an_agent_as_its_render_function_does(values: dict[str, Any]) -> None:
    # JSON columns stored as the store stores them (compact UTF-8): SQLite's json() keeps the stored spelling
    engine = create_engine("sqlite://", json_serializer=lambda value: json.dumps(value, ensure_ascii=False,
                                                                                 separators=(",", ":")))
    Base.metadata.create_all(engine, tables=[AGENTS])
    rendered = literal_column(object_sql(wire.Agent, AGENTS, skip=wire.LISTED_SKIP)).label("wire")
    with engine.begin() as conn:
        conn.execute(insert(AGENTS).values(values))
        row = conn.execute(select(AGENTS)).one()
        text = conn.execute(select(rendered).select_from(AGENTS)).scalar_one()
    expected = wire.agent(row, [])
    del expected["numbers"], expected["phoneNumbers"]
    written = json.loads(text)
    assert list(written) == list(expected)  # the same keys in the same order
    assert written == expected
    for name in ("voiceSpeed", "interruptionSensitivity"):  # the very same doubles, not nearly
        assert written[name].hex() == expected[name].hex()
    if values in CASES[:2]:  # floats that 15 digits hold: the very same text, string escapes included
        assert text == json.dumps(expected, ensure_ascii=False, separators=(",", ":"))


def test_a_page_of_agents_shows_each_agent_as_its_own_get_does(api: httpx.Client, control: httpx.Client,
                                                               key: str, python_rendering: Any) -> None:
    upgrade(control, key)
    made = [make_agent(api, "Plain"),
            make_agent(api, AWKWARD, description=AWKWARD, customTools=TOOLS, voiceSpeed=0.5000000000000001,
                       interruptionSensitivity=0.30000000000000004, enableMessaging=False),
            make_agent(api, "Hosted", voiceMode="hosted", systemPrompt="Be brief.", beginMessage="Hi")]
    for _ in range(2):
        buy_number(api, made[1]["id"])
    buy_number(api, made[2]["id"])
    listed = ok(api.get("/v1/agents"))
    assert listed["total"] == 3 and listed["hasMore"] is False
    assert [item["id"] for item in listed["data"]] == [agent["id"] for agent in reversed(made)]
    for item in listed["data"]:
        alone = ok(api.get(f"/v1/agents/{item['id']}"))
        with python_rendering:
            rendered = ok(api.get(f"/v1/agents/{item['id']}"))
        assert list(item) == list(alone) == list(rendered)
        assert item == alone == rendered
    assert [len(item["numbers"]) for item in listed["data"]] == [1, 2, 0]
    second = ok(api.get("/v1/agents", params={"limit": 1, "offset": 1}))
    assert [item["id"] for item in second["data"]] == [made[1]["id"]] and second["hasMore"] is True
    assert second["total"] == 3
    beyond = ok(api.get("/v1/agents", params={"offset": 5}))  # no row to carry the count: counted on its own
    assert beyond == {"data": [], "total": 3, "hasMore": False}


def _same(written: Any, rendered: Any) -> None:
    assert written == rendered
    for a, b in zip(written["data"], rendered["data"], strict=True):
        assert list(a) == list(b)  # the same keys in the same order


@pytest.mark.parametrize("recording", [True, False])
def test_lists_written_by_sqlite_equal_the_python_rendering(control: httpx.Client, key: str, recording: bool,
                                                            python_rendering: Any, server: Any) -> None:
    t, first, second = tag(), fresh_number(), fresh_number()
    seed_account(control, key, plan="scale", recordingEnabled=recording,
                 agents=[{"id": f"agent_a{t}", "name": AWKWARD},
                         {"id": f"agent_b{t}", "name": "B", "voiceSpeed": 1.25}],
                 numbers=[{"id": f"pn_a{t}", "phoneNumber": first, "agentId": f"agent_a{t}"},
                          {"id": f"pn_free{t}", "phoneNumber": second}],
                 calls=[{"id": f"call_1{t}", "agentId": f"agent_a{t}", "numberId": f"pn_a{t}", "direction": "inbound",
                         "from": "+14155559999", "startedAt": "2026-01-05T11:00:00.123456Z", "durationSeconds": 42,
                         "lastTranscriptSnippet": AWKWARD[:200], "endReason": "hangup"},
                        {"id": f"call_2{t}", "numberId": f"pn_free{t}", "to": "+14155559998", "status": "no-answer",
                         "startedAt": "2026-01-05T12:00:00Z"},
                        {"id": f"call_3{t}", "agentId": f"agent_a{t}", "numberId": f"pn_a{t}",
                         "recordingAvailable": False, "to": "+14155559997", "startedAt": "2026-01-05T13:00:00Z",
                         "durationSeconds": 5}])
    with server.client(key) as api:
        paths = ["/v1/agents", "/v1/calls", "/v1/calls?limit=2&offset=1", "/v1/calls?status=completed",
                 f"/v1/agents/agent_a{t}/calls", f"/v1/numbers/pn_a{t}/calls"]
        written = [ok(api.get(path)) for path in paths]
        with python_rendering:
            rendered = [ok(api.get(path)) for path in paths]
    for a, b in zip(written, rendered, strict=True):
        _same(a, b)
    calls = {call["id"]: call for call in written[1]["data"]}
    assert calls[f"call_1{t}"]["agentName"] == AWKWARD and calls[f"call_2{t}"]["agentName"] is None
    assert (calls[f"call_1{t}"]["recordingUrl"] is not None) is recording
    assert calls[f"call_3{t}"]["recordingUrl"] is None


def test_messages_written_by_sqlite_equal_the_python_rendering(control: httpx.Client, key: str,
                                                               python_rendering: Any, server: Any) -> None:
    t, sms_line, participant = tag(), fresh_number(), fresh_number()
    seed_account(control, key, plan="scale",
                 numbers=[{"id": f"pn_s{t}", "phoneNumber": sms_line}],
                 conversations=[{"id": f"conv_{t}", "numberId": f"pn_s{t}", "participant": participant, "messages": [
                     {"direction": "inbound", "body": AWKWARD, "at": "2026-01-05T10:00:00.000999Z",
                      "mediaUrls": ["https://media.example/a.png", "https://media.example/b.png"]},
                     {"direction": "outbound", "body": "", "at": "2026-01-05T10:00:05Z",
                      "mediaUrls": ["https://media.example/c.png"]},
                     {"direction": "outbound", "body": "plain", "at": "2026-01-05T10:00:06Z"}]}])
    with server.client(key) as api:
        line = ok(api.post("/v1/numbers", json={"type": "imessage"}))
        sent = ok(control.post("/_emulator/sms", json={"from": participant, "to": line["phoneNumber"], "body": "hi"}))
        message = sent["message"]
        ok(api.post(f"/v1/messages/{message['id']}/reactions", json={"reaction": "love"}))
        ok(control.post("/_emulator/reactions", json={"messageId": message["id"], "reaction": "like"}))
        ok(api.post(f"/v1/messages/{message['id']}/reactions", json={"reaction": "laugh"}))
        paths = [f"/v1/conversations/conv_{t}", f"/v1/conversations/conv_{t}/messages",
                 f"/v1/conversations/conv_{t}/messages?limit=1", f"/v1/numbers/pn_s{t}/messages",
                 f"/v1/conversations/{message['conversationId']}", f"/v1/numbers/{line['id']}/messages"]
        written = [ok(api.get(path)) for path in paths]
        with python_rendering:
            rendered = [ok(api.get(path)) for path in paths]
    for index, (a, b) in enumerate(zip(written, rendered, strict=True)):
        if index in (0, 4):  # a conversation with its messages
            assert list(a) == list(b) and a == b
            a, b = {"data": a["messages"]}, {"data": b["messages"]}
        _same(a, b)
    media = written[1]["data"]
    assert [m["mediaUrls"] for m in media] == [[], ["https://media.example/c.png"],
                                               ["https://media.example/a.png", "https://media.example/b.png"]]
    assert [m["mediaUrl"] for m in media] == [None, "https://media.example/c.png", "https://media.example/a.png"]
    tapbacks = written[4]["messages"][0]["reactions"]
    assert [(r["reactionType"], r["direction"]) for r in tapbacks] == [
        ("love", "outbound"), ("like", "inbound"), ("laugh", "outbound")]
    assert [r["fromNumber"] for r in tapbacks] == [line["phoneNumber"], participant, line["phoneNumber"]]


@pytest.mark.parametrize(("stored", "sent"), [
    ("2025-01-02 03:04:05.678901", "2025-01-02T03:04:05.678Z"),  # SQLAlchemy's form: milliseconds truncated
    ("2025-01-02 03:04:05.999999", "2025-01-02T03:04:05.999Z"),
    ("2025-01-02 03:04:05", "2025-01-02T03:04:05.000Z"),  # written by other means, without a fraction
    (None, None),
])
def test_a_stored_timestamp_is_sent_in_the_wire_form(stored: str | None, sent: str | None) -> None:
    conn = sqlite3.connect(":memory:")
    assert conn.execute(f"SELECT {stamp_sql('?1')}", (stored,)).fetchone()[0] == sent
