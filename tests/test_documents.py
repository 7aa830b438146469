"""The JSON SQLite keeps for each agent, call and message (emulator/store/documents.py) stays what the row reads
as now through every kind of change, lists stay the Python rendering, a row without its document is listed all
the same, and a database made before the documents gets them, filled, at start-up."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from helpers import Line, fresh_number, make_agent, ok, seed_account, tag, upgrade

from emulator.store import documents, schema, sql
from emulator.testing import InProcessEmulator, new_key
from emulator.testing.receiver import WebhookReceiver

LISTS = ["/v1/agents", "/v1/calls", "/v1/calls?status=completed"]


def _account(db: str, key: str) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT id FROM accounts WHERE key = ?", (key,)).fetchone()[0])


def _stale(db: str, account: str) -> dict[str, list[Any]]:
    """Per documents table, the account's rows whose stored document is not what the row reads as now (or that
    have none), and stored documents of no row."""
    out: dict[str, list[Any]] = {}
    with sqlite3.connect(db) as conn:
        for kind in documents.kinds():
            name, source = kind.documents.name, kind.source
            now = dict(conn.execute(f"SELECT {source}.pk, {kind.body} FROM {source} "
                                    f"WHERE {source}.account_id = ?", (account,)).fetchall())
            kept = dict(conn.execute(f"SELECT d.pk, d.body FROM {name} AS d JOIN {source} ON {source}.pk = d.pk "
                                     f"WHERE {source}.account_id = ?", (account,)).fetchall())
            orphans = conn.execute(f"SELECT count(*) FROM {name} WHERE pk NOT IN (SELECT pk FROM {source})")
            out[name] = [pk for pk in now if kept.get(pk) != now[pk]] + ["orphan"] * orphans.fetchone()[0]
    return out


def _as_rendered(api: httpx.Client, paths: list[str], python_rendering: Any) -> list[Any]:
    written = [ok(api.get(path)) for path in paths]
    with python_rendering:
        rendered = [ok(api.get(path)) for path in paths]
    for a, b in zip(written, rendered, strict=True):
        assert a == b
        for x, y in zip(a.get("data", a.get("messages", [])), b.get("data", b.get("messages", [])), strict=True):
            assert list(x) == list(y)  # the same keys in the same order
    return written


def test_documents_follow_every_change_of_their_rows(server: InProcessEmulator, control: httpx.Client,
                                                     python_rendering: Any, voice: WebhookReceiver) -> None:
    if "://" in server.db:
        pytest.skip("the documents are kept on SQLite only (the suite runs on a server database)")
    key, t = new_key(), tag()
    upgrade(control, key)
    participant = fresh_number()
    seed_account(control, key, plan="scale",
                 agents=[{"id": f"agent_k{t}", "name": "Kept"}, {"id": f"agent_g{t}", "name": "Gone"}],
                 numbers=[{"id": f"pn_k{t}", "phoneNumber": fresh_number(), "agentId": f"agent_k{t}"},
                          {"id": f"pn_g{t}", "phoneNumber": fresh_number()}],
                 calls=[{"id": f"call_k{t}", "agentId": f"agent_k{t}", "numberId": f"pn_k{t}", "to": fresh_number(),
                         "startedAt": "2026-01-05T11:00:00Z", "durationSeconds": 7},
                        {"id": f"call_g{t}", "agentId": f"agent_g{t}", "numberId": f"pn_g{t}", "to": fresh_number(),
                         "startedAt": "2026-01-05T12:00:00Z"}],
                 conversations=[{"id": f"conv_{t}", "numberId": f"pn_k{t}", "participant": participant,
                                 "messages": [{"direction": "inbound", "body": "hello",
                                               "at": "2026-01-05T10:00:00Z"}]}])
    account = _account(server.db, key)
    with server.client(key) as api:
        assert _stale(server.db, account) == {"agent_documents": [], "call_documents": [], "message_documents": []}
        extra = ok(api.post("/v1/numbers", json={"agentId": f"agent_k{t}"}))  # a number joins
        ok(api.patch(f"/v1/agents/agent_k{t}", json={"name": "Renamed", "voiceSpeed": 0.5000000000000001}))
        ok(api.delete(f"/v1/agents/agent_k{t}/numbers/{extra['id']}"))  # ... and leaves
        moved = ok(api.post("/v1/numbers", json={"agentId": f"agent_g{t}"}))
        ok(api.post(f"/v1/agents/agent_k{t}/numbers", json={"numberId": moved["id"]}))  # from one agent to another
        ok(api.delete(f"/v1/numbers/{moved['id']}"))  # released
        ok(api.delete(f"/v1/agents/agent_g{t}"))
        imessage = ok(api.post("/v1/numbers", json={"type": "imessage"}))
        message = ok(control.post("/_emulator/sms", json={"from": participant, "to": imessage["phoneNumber"],
                                                           "body": "hi"}))["message"]
        ok(api.post(f"/v1/messages/{message['id']}/reactions", json={"reaction": "love"}))
        ok(control.post("/_emulator/reactions", json={"messageId": message["id"], "reaction": "like"}))
        line = Line.open(api, voice, voiceMode="hosted", systemPrompt="Be brief.")
        live = line.run([{"say": "Hello?"}, {"say": "Goodbye."}])  # a call written as it goes, then ended
        assert _stale(server.db, account) == {"agent_documents": [], "call_documents": [], "message_documents": []}
        written = _as_rendered(api, [*LISTS, f"/v1/conversations/conv_{t}",
                                     f"/v1/conversations/{message['conversationId']}"], python_rendering)
    agents = {agent["id"]: agent for agent in written[0]["data"]}
    assert f"agent_g{t}" not in agents
    kept = agents[f"agent_k{t}"]
    assert kept["name"] == "Renamed" and kept["voiceSpeed"] == 0.5000000000000001
    assert [n["id"] for n in kept["numbers"]] == [f"pn_k{t}"] == [n["id"] for n in kept["phoneNumbers"]]
    calls = {call["id"]: call for call in written[1]["data"]}
    assert calls[f"call_k{t}"]["agentName"] == "Renamed"  # the agent renamed after the call was written
    assert calls[f"call_g{t}"]["agentName"] is None  # its agent deleted
    assert calls[live["id"]]["status"] == live["status"] and calls[live["id"]]["endedAt"] == live["endedAt"]
    assert [r["reactionType"] for r in written[4]["messages"][0]["reactions"]] == ["love", "like"]


def test_a_row_without_its_document_is_listed_all_the_same(make_emulator: Callable[..., InProcessEmulator],
                                                            python_rendering: Any) -> None:
    emulator, key = make_emulator(), new_key()
    with emulator.client() as control, emulator.client(key) as api:
        t = tag()
        seed_account(control, key, plan="scale", agents=[{"id": f"agent_u{t}", "name": "Undocumented"}],
                     numbers=[{"id": f"pn_{t}", "phoneNumber": fresh_number(), "agentId": f"agent_u{t}"}],
                     calls=[{"agentId": f"agent_u{t}", "numberId": f"pn_{t}", "to": fresh_number()},
                            {"numberId": f"pn_{t}", "to": fresh_number()}])
        agent = ok(api.get(f"/v1/agents/agent_u{t}"))
        make_agent(api, "Documented")
        before = _as_rendered(api, LISTS, python_rendering)
        with sqlite3.connect(emulator.db) as conn:
            conn.execute("DELETE FROM agent_documents WHERE pk = (SELECT pk FROM agents WHERE id = ?)", (agent["id"],))
            conn.execute("DELETE FROM call_documents WHERE pk = (SELECT min(pk) FROM calls)")
        assert _stale(emulator.db, _account(emulator.db, key))["agent_documents"] != []
        assert _as_rendered(api, LISTS, python_rendering) == before
        assert ok(api.get(f"/v1/agents/{agent['id']}")) == before[0]["data"][1]


def test_a_database_made_before_the_documents_gets_them_filled(make_emulator: Callable[..., InProcessEmulator],
                                                               python_rendering: Any, tmp_path: Any) -> None:
    db, key = str(tmp_path / "older.db"), new_key()
    first = make_emulator(db=db)
    with first.client() as control, first.client(key) as api:
        t = tag()
        seed_account(control, key, plan="scale", agents=[{"id": f"agent_o{t}", "name": "Older"}],
                     numbers=[{"id": f"pn_{t}", "phoneNumber": fresh_number()}],
                     calls=[{"agentId": f"agent_o{t}", "numberId": f"pn_{t}", "to": fresh_number()}])
        agent = ok(api.get(f"/v1/agents/agent_o{t}"))
        ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
        before = _as_rendered(api, LISTS, python_rendering)
    first.stop()
    with sqlite3.connect(db) as conn:  # the file as a version before the documents left it
        documents.remove(conn)
        conn.execute("DELETE FROM store_meta WHERE name = 'documents'")
    second = make_emulator(db=db)
    with second.client(key) as api:
        assert _stale(db, _account(db, key)) == {"agent_documents": [], "call_documents": [], "message_documents": []}
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM agent_documents").fetchone()[0] == 1
        assert _as_rendered(api, LISTS, python_rendering) == before
        renamed = ok(api.patch(f"/v1/agents/{agent['id']}", json={"name": "Newer"}))  # the triggers are there too
        assert ok(api.get("/v1/agents"))["data"] == [renamed]


def test_an_account_removed_or_a_reset_of_everything_leaves_no_document_behind(
        make_emulator: Callable[..., InProcessEmulator]) -> None:
    emulator = make_emulator()
    keys = [new_key(), new_key()]
    with emulator.client() as control:
        for key in keys:
            t = tag()
            seed_account(control, key, plan="scale", agents=[{"id": f"agent_{t}", "name": "A"}],
                         numbers=[{"id": f"pn_{t}", "phoneNumber": fresh_number(), "agentId": f"agent_{t}"}],
                         calls=[{"agentId": f"agent_{t}", "numberId": f"pn_{t}", "to": fresh_number()}],
                         conversations=[{"id": f"conv_{t}", "numberId": f"pn_{t}", "participant": fresh_number(),
                                         "messages": [{"direction": "inbound", "body": "hi",
                                                       "at": "2026-01-05T10:00:00Z"}]}])
        kept = _account(emulator.db, keys[1])
        for key in keys:  # a reaction each: deleting one writes its message's document again
            with emulator.client(key) as api:
                line = ok(api.post("/v1/numbers", json={"type": "imessage"}))
                message = ok(control.post("/_emulator/sms", json={"from": fresh_number(), "to": line["phoneNumber"],
                                                                   "body": "hi"}))["message"]
                ok(api.post(f"/v1/messages/{message['id']}/reactions", json={"reaction": "love"}))

        def counts() -> list[int]:
            with sqlite3.connect(emulator.db) as conn:
                return [conn.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0]
                        for table in documents.tables()]

        assert counts() == [2, 2, 4]
        ok(control.post("/_emulator/reset", json={"key": keys[0]}))  # one account: its rows and their documents
        assert counts() == [1, 1, 2]
        assert _stale(emulator.db, kept) == {"agent_documents": [], "call_documents": [], "message_documents": []}
        ok(control.post("/_emulator/reset", json={}))  # everything
        assert counts() == [0, 0, 0]


def _triggers(db: str) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                               "AND name LIKE '%documents%'")}


def test_a_database_without_json_functions_gets_its_documents_where_they_are(
        make_emulator: Callable[..., InProcessEmulator], monkeypatch: pytest.MonkeyPatch, python_rendering: Any,
        tmp_path: Any) -> None:
    db, key = str(tmp_path / "moved.db"), new_key()
    with monkeypatch.context() as no_json:  # made where SQLite has no JSON functions: no documents, no triggers
        no_json.setattr(documents, "has_json", lambda raw: False)
        no_json.setattr(sql, "_json_functions", False)
        first = make_emulator(db=db)
        with first.client() as control, first.client(key) as api:
            t = tag()
            seed_account(control, key, plan="scale", agents=[{"id": f"agent_{t}", "name": "Moved"}],
                         numbers=[{"id": f"pn_{t}", "phoneNumber": fresh_number(), "agentId": f"agent_{t}"}],
                         calls=[{"agentId": f"agent_{t}", "numberId": f"pn_{t}", "to": fresh_number()}])
            made = _as_rendered(api, LISTS, python_rendering)
        first.stop()
        assert _triggers(db) == set()
    second = make_emulator(db=db)  # opened where it has them: made and filled now
    with second.client(key) as api:
        assert _stale(db, _account(db, key)) == {"agent_documents": [], "call_documents": [], "message_documents": []}
        assert _as_rendered(api, LISTS, python_rendering) == made
    second.stop()
    with monkeypatch.context() as no_json:  # and back: the triggers go, so that its writes can run
        no_json.setattr(documents, "has_json", lambda raw: False)
        no_json.setattr(sql, "_json_functions", False)
        third = make_emulator(db=db)
        with third.client(key) as api:
            assert _triggers(db) == set()
            assert ok(api.post("/v1/agents", json={"name": "Plain"}))["name"] == "Plain"


def test_a_trigger_of_an_earlier_definition_goes_whatever_its_name(make_emulator: Callable[..., InProcessEmulator],
                                                                  tmp_path: Any) -> None:
    db = str(tmp_path / "earlier.db")
    make_emulator(db=db).stop()
    with sqlite3.connect(db) as conn:  # as an earlier definition left it: another fingerprint, another trigger
        conn.execute("CREATE TRIGGER call_documents_gone AFTER DELETE ON calls BEGIN "
                     "DELETE FROM call_documents WHERE pk = OLD.pk; END")
        conn.execute("UPDATE store_meta SET value = 'earlier' WHERE name = 'documents'")
    current = _triggers(db) - {"call_documents_gone"}
    make_emulator(db=db)
    assert _triggers(db) == current


def test_a_write_with_its_own_conflict_policy_still_writes_the_document() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for statement in schema.statements():
        conn.execute(statement)
    conn.execute("INSERT INTO agents (id, account_id, name, voice_mode, voice, model_tier, enable_messaging, stt_mode, "
                 "ambient_sound, denoising_mode, max_silence_ms, voice_speed, interruption_sensitivity, "
                 "enable_backchannel, language, created_at, updated_at) VALUES ('agent_1', 'acct_1', 'Before', "
                 "'webhook', 'alloy', 'turbo', 1, 'fast', 'none', 'noise-cancellation', 1000, 1.0, 0.5, 1, 'en-US', "
                 "'2026-01-02 03:04:05.000000', '2026-01-02 03:04:05.000000')")
    for policy in ("IGNORE", "ABORT", "FAIL", "ROLLBACK"):
        conn.execute("BEGIN")
        conn.execute(f"UPDATE OR {policy} agents SET name = ?", (policy,))
        conn.execute("COMMIT")
        body = conn.execute("SELECT body FROM agent_documents").fetchone()[0]
        assert json.loads(body)["name"] == policy
