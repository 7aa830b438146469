"""The request journal (GET /_emulator/requests): the /v1 requests each key made, with method, path, query,
body, status and time; filtered, bounded, private to the key, forgotten by reset."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
import pytest
from helpers import ok

from emulator import journal as journal_module
from emulator.clock import Clock, iso
from emulator.journal import Filter, Journal
from emulator.testing import new_key


def journal(control: httpx.Client, key: str, **params: str | int) -> dict:
    return ok(control.get("/_emulator/requests", params={"key": key, **params}))


def test_each_request_is_journaled_with_what_was_sent_and_answered(api: httpx.Client, control: httpx.Client,
                                                                   key: str) -> None:
    made = ok(api.post("/v1/agents", json={"name": "Journaled", "voiceMode": "webhook"}))
    ok(api.get("/v1/agents", params={"limit": 5, "offset": 0}))
    assert api.post("/v1/agents", json={"name": ""}).status_code == 400
    assert api.get(f"/v1/agents/{made['id']}", headers={"X-Emulator-Inspector": "1"}).status_code == 200

    entries = journal(control, key)["data"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/v1/agents", 200), ("GET", "/v1/agents", 200), ("POST", "/v1/agents", 400)]  # not the inspector's
    created, listed, refused = entries
    assert created["body"] == {"name": "Journaled", "voiceMode": "webhook"} and created["query"] == {}
    assert listed["query"] == {"limit": "5", "offset": "0"} and listed["body"] is None
    assert refused["body"] == {"name": ""}
    assert created["keyHint"] == f"sk_test_…{key[-4:]}" and key not in json.dumps(entries)
    account = ok(control.get(f"/_emulator/accounts/{key}"))["id"]
    assert {e["accountId"] for e in entries} == {account}
    assert created["seq"] < listed["seq"] < refused["seq"]
    assert created["time"] <= listed["time"] <= refused["time"]
    assert all(e["durationMs"] >= 0 and e["bodyTruncated"] is False for e in entries)


def test_filters_by_method_path_glob_and_since(api: httpx.Client, control: httpx.Client, key: str) -> None:
    agent = ok(api.post("/v1/agents", json={"name": "Filtered"}))
    ok(api.get(f"/v1/agents/{agent['id']}"))
    ok(api.get("/v1/calls"))
    mark = journal(control, key)["lastSeq"]
    ok(api.patch(f"/v1/agents/{agent['id']}", json={"name": "Renamed"}))
    ok(api.get("/v1/agents"))

    def paths(**params: str | int) -> list[str]:
        return [f"{e['method']} {e['path']}" for e in journal(control, key, **params)["data"]]

    assert paths(method="get") == [f"GET /v1/agents/{agent['id']}", "GET /v1/calls", "GET /v1/agents"]
    assert paths(path="/v1/agents") == ["POST /v1/agents", "GET /v1/agents"]
    assert paths(path="/v1/agents/*") == [f"GET /v1/agents/{agent['id']}", f"PATCH /v1/agents/{agent['id']}"]
    assert paths(since=mark) == [f"PATCH /v1/agents/{agent['id']}", "GET /v1/agents"]
    first = journal(control, key)["data"][0]["time"]
    assert len(paths(since=first)) == 5
    later = iso(datetime.fromisoformat(first.replace("Z", "")) + timedelta(days=1)) or ""
    assert paths(since=later) == []
    newest = journal(control, key, order="newest", limit=2)
    assert [e["method"] for e in newest["data"]] == ["GET", "PATCH"] and newest["total"] == 5
    bad = control.get("/_emulator/requests", params={"key": key, "since": "yesterday"})
    assert bad.status_code == 400 and "sequence number" in bad.json()["detail"]


def test_a_key_reads_its_own_journal_only(api: httpx.Client, base_url: str, key: str) -> None:
    ok(api.get("/v1/agents"))
    other = new_key()
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {other}"}, timeout=10) as them:
        ok(them.get("/v1/numbers"))
        assert them.get("/_emulator/requests", params={"key": key}).status_code == 403
        theirs = ok(them.get("/_emulator/requests"))["data"]  # no key named: its own
    assert [(e["method"], e["path"]) for e in theirs] == [("GET", "/v1/numbers")]
    mine = ok(api.get("/_emulator/requests"))["data"]
    assert [(e["method"], e["path"]) for e in mine] == [("GET", "/v1/agents")]


def test_reset_and_fixture_loads_forget_the_accounts_requests(api: httpx.Client, control: httpx.Client,
                                                              key: str) -> None:
    ok(api.get("/v1/agents"))
    assert journal(control, key)["total"] == 1
    ok(control.post("/_emulator/reset", json={"key": key}))
    assert journal(control, key)["total"] == 0
    ok(api.get("/v1/calls"))
    ok(control.post("/_emulator/fixtures", json={"accounts": [{"key": key}]}))  # replaces the account
    assert journal(control, key)["total"] == 0


def test_large_bodies_are_kept_in_part_and_still_reach_the_api(api: httpx.Client, control: httpx.Client,
                                                               key: str) -> None:
    description = "x" * (70 * 1024)
    resp = api.post("/v1/agents", json={"name": "Big", "description": description})
    assert resp.status_code in (200, 400)  # whatever the API says, it read the whole body
    entry = journal(control, key)["data"][-1]
    assert entry["bodyTruncated"] is True and entry["status"] == resp.status_code
    assert isinstance(entry["body"], str) and len(entry["body"].encode()) == journal_module.BODY_LIMIT
    assert entry["body"].startswith('{"name":"Big"') or entry["body"].startswith('{"name": "Big"')
    too_big = api.post("/v1/agents", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                       headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413
    assert journal(control, key)["data"][-1]["status"] == 413


def test_requests_without_a_usable_key_are_journaled_for_the_admin(base_url: str, control: httpx.Client) -> None:
    assert httpx.get(f"{base_url}/v1/agents", headers={"Authorization": "Bearer not-a-key"}).status_code == 401
    entries = ok(control.get("/_emulator/requests", params={"order": "newest", "limit": 20}))["data"]
    unkeyed = [e for e in entries if e["keyHint"] is None and e["path"] == "/v1/agents"]
    assert unkeyed and unkeyed[0]["status"] == 401 and unkeyed[0]["accountId"] is None


# --- the journal itself: bounded in entries and in bytes ---------------------------------------------------


def _add(book: Journal, key: str, size: int = 0) -> None:
    book.add(key, None, None, "GET", "/v1/agents", b"", b"x" * size, False, 200, 1.0)


def test_the_journal_drops_its_oldest_entries_past_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "MAX_ENTRIES", 3)
    monkeypatch.setattr(journal_module, "MAX_BYTES", 10_000)
    book = Journal(Clock())
    for _ in range(5):
        _add(book, "sk_test_a")
    seqs = [e.seq for e in book.find(Filter(), 100)[0]]
    assert seqs == [3, 4, 5]
    _add(book, "sk_test_b", size=9_500 - len("/v1/agents"))  # over the byte bound: older ones go until it fits
    found, total, newest = book.find(Filter(), 100)
    assert [e.seq for e in found] == [6] and total == 1 and newest == 6
    book.forget([], ["sk_test_b"])
    assert book.find(Filter(), 100)[1] == 0
