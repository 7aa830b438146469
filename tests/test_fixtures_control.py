"""Fixtures (at start and through the control API), the control API (reset, clock, accounts, admin token),
injected API and webhook faults, and `--seed`."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from agentphone import WebhookVerificationError, verify_webhook
from helpers import ok

from emulator import ids
from emulator.config import Settings
from emulator.testing import InProcessEmulator, new_key
from emulator.testing.receiver import Received, WebhookReceiver

ADMIN_TOKEN = "admin-token-for-tests"
START_KEY = "sk_test_fixture_at_start"
_phones = itertools.count(1)


def phone() -> str:
    """A phone number no other fixture of this module uses (numbers are unique among active ones)."""
    return f"+1628555{next(_phones):04d}"


def fixture(key: str, tag: str, number: str) -> dict[str, Any]:
    """One account with every kind of row a fixture can hold, all with explicit IDs and secrets."""
    return {"accounts": [{
        "key": key, "plan": "pro", "balanceCents": 12345, "recordingEnabled": True,
        "webhook": {"id": f"wh_project_{tag}", "url": "http://127.0.0.1:9/hook", "secret": f"whsec_project_{tag}"},
        "agents": [{
            "id": f"agent_{tag}", "name": "Support Bot", "beginMessage": "Hello!",
            "webhook": {"id": f"wh_agent_{tag}", "url": "http://127.0.0.1:9/support", "secret": f"whsec_agent_{tag}",
                        "contextLimit": 5},
        }],
        "numbers": [{"id": f"pn_{tag}", "phoneNumber": number, "agentId": f"agent_{tag}"}],
        "conversations": [{
            "id": f"conv_{tag}", "numberId": f"pn_{tag}", "participant": "+14155559942", "metadata": {"tier": "gold"},
            "messages": [
                {"id": f"msg_{tag}_1", "direction": "inbound", "body": "Hi!", "at": "2026-01-05T10:00:00Z"},
                {"id": f"msg_{tag}_2", "direction": "outbound", "body": "How can I help?",
                 "at": "2026-01-05T10:00:05Z"},
            ],
        }],
        "calls": [{
            "id": f"call_{tag}", "agentId": f"agent_{tag}", "numberId": f"pn_{tag}", "direction": "inbound",
            "from": "+14155559942", "startedAt": "2026-01-05T11:00:00Z", "durationSeconds": 42,
            "transcripts": [{"id": f"tx_{tag}", "transcript": "Where is my order?", "response": "It shipped."}],
        }],
    }]}


def api(emulator: InProcessEmulator, key: str) -> httpx.Client:
    return emulator.client(key)


def assert_fixture_state(emulator: InProcessEmulator, fx: dict[str, Any]) -> None:
    """Everything the fixture wrote reads back exactly as written, and nothing else is there."""
    account = fx["accounts"][0]
    key, agent, number = account["key"], account["agents"][0], account["numbers"][0]
    conv, call = account["conversations"][0], account["calls"][0]
    with api(emulator, key) as c:
        got = ok(c.get(f"/v1/agents/{agent['id']}"))
        assert (got["name"], got["beginMessage"]) == (agent["name"], agent["beginMessage"])
        assert [(n["id"], n["phoneNumber"]) for n in got["numbers"]] == [(number["id"], number["phoneNumber"])]
        got = ok(c.get(f"/v1/numbers/{number['id']}"))
        assert (got["phoneNumber"], got["agentId"], got["status"]) == (number["phoneNumber"], agent["id"], "active")
        project = ok(c.get("/v1/webhooks"))
        assert (project["id"], project["url"], project["secret"]) == (
            account["webhook"]["id"], account["webhook"]["url"], account["webhook"]["secret"])
        hook = ok(c.get(f"/v1/agents/{agent['id']}/webhook"))
        assert (hook["id"], hook["secret"], hook["contextLimit"]) == (
            agent["webhook"]["id"], agent["webhook"]["secret"], 5)
        got = ok(c.get(f"/v1/conversations/{conv['id']}"))
        assert (got["participant"], got["metadata"], got["messageCount"]) == ("+14155559942", {"tier": "gold"}, 2)
        messages = ok(c.get(f"/v1/conversations/{conv['id']}/messages"))["data"]
        assert [(m["id"], m["direction"], m["body"], m["receivedAt"]) for m in messages] == [
            (f"{conv['messages'][1]['id']}", "outbound", "How can I help?", "2026-01-05T10:00:05.000Z"),
            (f"{conv['messages'][0]['id']}", "inbound", "Hi!", "2026-01-05T10:00:00.000Z"),
        ]
        got = ok(c.get(f"/v1/calls/{call['id']}"))
        assert (got["status"], got["durationSeconds"], got["fromNumber"], got["toNumber"]) == (
            "completed", 42, "+14155559942", number["phoneNumber"])
        assert (got["startedAt"], got["endedAt"]) == ("2026-01-05T11:00:00.000Z", "2026-01-05T11:00:42.000Z")
        transcript = ok(c.get(f"/v1/calls/{call['id']}/transcript"))["data"]
        assert [(t["id"], t["transcript"], t["response"]) for t in transcript] == [
            (call["transcripts"][0]["id"], "Where is my order?", "It shipped.")]
        # nothing twice, nothing else
        assert [a["id"] for a in ok(c.get("/v1/agents"))["data"]] == [agent["id"]]
        assert [n["id"] for n in ok(c.get("/v1/numbers"))["data"]] == [number["id"]]
        assert [x["id"] for x in ok(c.get("/v1/conversations"))["data"]] == [conv["id"]]
        assert [x["id"] for x in ok(c.get("/v1/calls"))["data"]] == [call["id"]]
    with emulator.client() as control:
        settings = ok(control.get(f"/_emulator/accounts/{key}"))
    assert (settings["plan"], settings["balanceCents"], settings["recordingEnabled"]) == ("pro", 12345, True)


def started(tmp: Path, **settings: Any) -> InProcessEmulator:
    return InProcessEmulator(Settings(db=str(tmp / "emulator.db"), **settings)).start()


@pytest.fixture(scope="module")
def start_fixture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    fx = fixture(START_KEY, "start", "+16285559999")
    path = tmp_path_factory.mktemp("fixtures") / "start.yaml"
    path.write_text(yaml.safe_dump(fx, sort_keys=False))
    return path, fx


@pytest.fixture(scope="module")
def main(start_fixture: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[InProcessEmulator]:
    """This module's emulator, with a fixture loaded at start (other tests use keys of their own)."""
    # a directory, so files written there later can be loaded by path (paths are read only under one)
    emulator = started(tmp_path_factory.mktemp("main"), fixtures=[str(start_fixture[0].parent)])
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def strict(start_fixture: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[InProcessEmulator]:
    emulator = started(tmp_path_factory.mktemp("strict"), strict_keys=True, fixtures=[str(start_fixture[0])])
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessEmulator]:
    """An emulator with an admin token: also where the whole emulator is reset and its clock moved."""
    emulator = started(tmp_path_factory.mktemp("admin"), admin_token=ADMIN_TOKEN)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def control(main: InProcessEmulator) -> Iterator[httpx.Client]:
    with main.client() as client:
        yield client


# --- fixtures ------------------------------------------------------------------------------------------------


def test_fixture_loaded_at_start(main: InProcessEmulator, start_fixture: tuple[Path, dict[str, Any]]) -> None:
    assert_fixture_state(main, start_fixture[1])


def _post_json(control: httpx.Client, fx: dict[str, Any], _tmp: Path) -> httpx.Response:
    return control.post("/_emulator/fixtures", json=fx)


def _post_yaml(control: httpx.Client, fx: dict[str, Any], _tmp: Path) -> httpx.Response:
    return control.post("/_emulator/fixtures", content=yaml.safe_dump(fx), headers={"Content-Type": "application/yaml"})


def _post_path(control: httpx.Client, fx: dict[str, Any], tmp: Path) -> httpx.Response:
    path = tmp / "fixture.yaml"
    path.write_text(yaml.safe_dump(fx))
    return control.post("/_emulator/fixtures", json={"path": str(path)})


LOADERS: dict[str, Callable[[httpx.Client, dict[str, Any], Path], httpx.Response]] = {
    "json": _post_json, "yaml": _post_yaml, "path": _post_path}


@pytest.mark.parametrize("how", list(LOADERS))
def test_fixture_loaded_through_the_control_api(how: str, main: InProcessEmulator, control: httpx.Client,
                                                start_fixture: tuple[Path, dict[str, Any]]) -> None:
    tag = uuid.uuid4().hex[:10]
    fx = fixture(new_key(), tag, phone())
    here = start_fixture[0].parent / tag  # paths are read only under a --fixtures directory (or the cwd)
    here.mkdir()
    body = ok(LOADERS[how](control, fx, here))
    assert body == {"success": True, "loaded": {"accounts": 1, "agents": 1, "numbers": 1, "conversations": 1,
                                                 "messages": 2, "calls": 1}}
    assert_fixture_state(main, fx)


def test_loading_the_same_fixture_again_replaces_it(main: InProcessEmulator, control: httpx.Client,
                                                    tmp_path: Path) -> None:
    key, tag = new_key(), uuid.uuid4().hex[:10]
    fx = fixture(key, tag, phone())
    ok(_post_yaml(control, fx, tmp_path))
    with api(main, key) as c:  # what a test run adds on top of the fixture
        ok(c.post("/v1/agents", json={"name": "Added by a test"}))
        ok(c.post(f"/v1/agents/agent_{tag}/webhook", json={"url": "http://127.0.0.1:9/other"}))
    ok(control.patch(f"/_emulator/accounts/{key}", json={"plan": "scale"}))
    ok(_post_yaml(control, fx, tmp_path))
    ok(_post_json(control, fx, tmp_path))
    assert_fixture_state(main, fx)  # exactly the fixture again: no duplicates, nothing left over


def _with(fx: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    change(fx["accounts"][0])
    return fx


INVALID: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "voice-mode": (lambda a: a["agents"][0].update(voiceMode="x"),
                   "Field 'accounts[1].agents[0].voiceMode' must be one of 'webhook' or 'hosted' (got 'x')"),
    "agent-name": (lambda a: a["agents"][0].pop("name"), "Field 'accounts[1].agents[0].name' is required"),
    "unknown-key": (lambda a: a.update(agentz=[]), "Field 'accounts[1].agentz' is invalid"),
    "message-direction": (lambda a: a["conversations"][0]["messages"][0].update(direction="sideways"),
                          "Field 'accounts[1].conversations[0].messages[0].direction'"),
    "phone-number": (lambda a: a["numbers"][0].update(phoneNumber="555"),
                     "numbers[0].phoneNumber' must be a phone number in E.164 format"),
    "context-limit": (lambda a: a["webhook"].update(contextLimit=99), "Field 'accounts[1].webhook.contextLimit'"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_fixture_is_400_and_writes_nothing(case: str, main: InProcessEmulator, control: httpx.Client) -> None:
    change, named = INVALID[case]
    first, key, tag = new_key(), new_key(), uuid.uuid4().hex[:10]
    valid = fixture(first, f"{tag}_ok", phone())["accounts"][0]
    fx = _with(fixture(key, tag, phone()), change)
    fx["accounts"].insert(0, valid)  # a valid account before the bad one is not written either
    response = control.post("/_emulator/fixtures", json=fx)
    assert response.status_code == 400, response.text
    assert named in response.json()["detail"]
    for written in (first, key):
        assert control.get(f"/_emulator/accounts/{written}").status_code == 404
    with api(main, first) as c:
        assert c.get(f"/v1/agents/agent_{tag}_ok").status_code == 404


def test_invalid_reload_keeps_the_loaded_state(main: InProcessEmulator, control: httpx.Client) -> None:
    key, tag = new_key(), uuid.uuid4().hex[:10]
    fx = fixture(key, tag, phone())
    ok(control.post("/_emulator/fixtures", json=fx))
    bad = _with(json.loads(json.dumps(fx)), lambda a: a["numbers"][0].update(phoneNumber="not a number"))
    assert control.post("/_emulator/fixtures", json=bad).status_code == 400
    assert_fixture_state(main, fx)


def _set_id(row: dict[str, Any], value: str) -> str:
    row["id"] = value
    return value


def _rename_agent(account: dict[str, Any], value: str) -> str:
    """Give the first agent a new ID, and its numbers and calls with it (a fixture must be consistent)."""
    old = account["agents"][0]["id"]
    for row in [*account.get("numbers", []), *account.get("calls", [])]:
        if row.get("agentId") == old:
            row["agentId"] = value
    return _set_id(account["agents"][0], value)


# Give the intruder's fixture one ID of the owner's (tagged `t`); returns that ID.
CLASHES: dict[str, Callable[[dict[str, Any], str], str]] = {
    "agent": lambda a, t: _rename_agent(a, f"agent_{t}"),
    "number": lambda a, t: _set_id(a["numbers"][0], f"pn_{t}"),
    "webhook": lambda a, t: _set_id(a["agents"][0]["webhook"], f"wh_agent_{t}"),
    "conversation": lambda a, t: _set_id(a["conversations"][0], f"conv_{t}"),
    "message": lambda a, t: _set_id(a["conversations"][0]["messages"][1], f"msg_{t}_2"),
    "call": lambda a, t: _set_id(a["calls"][0], f"call_{t}"),
    "transcript": lambda a, t: _set_id(a["calls"][0]["transcripts"][0], f"tx_{t}"),
}


@pytest.mark.parametrize("what", [*CLASHES, "account"])
def test_fixture_id_of_another_account_is_409(what: str, main: InProcessEmulator, control: httpx.Client) -> None:
    owner, owner_tag = new_key(), uuid.uuid4().hex[:10]
    mine = fixture(owner, owner_tag, phone())
    ok(control.post("/_emulator/fixtures", json=mine))
    intruder = new_key()
    fx = fixture(intruder, uuid.uuid4().hex[:10], phone())
    if what == "account":
        clash = _set_id(fx["accounts"][0], ok(control.get(f"/_emulator/accounts/{owner}"))["id"])
    else:
        clash = CLASHES[what](fx["accounts"][0], owner_tag)
    response = control.post("/_emulator/fixtures", json=fx)
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert detail.startswith("accounts[")  # names the account of the file
    assert detail.endswith(f"ID '{clash}' already belongs to another account; fixture IDs must be unique.")
    assert control.get(f"/_emulator/accounts/{intruder}").status_code == 404
    assert_fixture_state(main, mine)  # the owner's rows are untouched


def test_phone_number_active_in_another_account_is_409(control: httpx.Client) -> None:
    fx = fixture(new_key(), uuid.uuid4().hex[:10], "+16285559999")  # the start fixture's number
    response = control.post("/_emulator/fixtures", json=fx)
    assert response.status_code == 409
    assert "+16285559999 is already active in another account" in response.json()["detail"]


def test_strict_keys_accept_fixture_keys_only(strict: InProcessEmulator) -> None:
    with api(strict, START_KEY) as c:
        assert [a["id"] for a in ok(c.get("/v1/agents"))["data"]] == ["agent_start"]
    stranger = new_key()
    with api(strict, stranger) as c, strict.client() as control:
        response = c.get("/v1/agents")
        assert response.status_code == 401 and "--strict-keys" in response.json()["detail"]
        ok(control.post("/_emulator/fixtures", json=fixture(stranger, "strict_late", phone())))
        assert [a["id"] for a in ok(c.get("/v1/agents"))["data"]] == ["agent_strict_late"]  # known from now on


# --- control API ---------------------------------------------------------------------------------------------


def test_reset_one_key_removes_only_its_data(main: InProcessEmulator, control: httpx.Client) -> None:
    gone, kept = new_key(), new_key()
    agents = {}
    for key in (gone, kept):
        with api(main, key) as c:
            agents[key] = ok(c.post("/v1/agents", json={"name": "Short-lived"}))["id"]
            ok(c.post("/v1/numbers", json={"agentId": agents[key]}))
    body = ok(control.post("/_emulator/reset", json={"key": gone}))
    assert body["success"] is True and isinstance(body["elapsedMs"], float)
    assert control.get(f"/_emulator/accounts/{gone}").status_code == 404
    with api(main, gone) as c:
        assert c.get(f"/v1/agents/{agents[gone]}").status_code == 404
        assert ok(c.get("/v1/numbers"))["data"] == []
    with api(main, kept) as c:
        assert ok(c.get(f"/v1/agents/{agents[kept]}"))["numbers"] != []


def test_reset_of_a_fixture_key(main: InProcessEmulator, control: httpx.Client) -> None:
    key, tag = new_key(), uuid.uuid4().hex[:10]
    fx = fixture(key, tag, phone())
    ok(control.post("/_emulator/fixtures", json=fx))
    ok(control.post("/_emulator/reset", json={"key": key}))
    with api(main, key) as c:
        for path in (f"/v1/agents/agent_{tag}", f"/v1/calls/call_{tag}", f"/v1/conversations/conv_{tag}"):
            assert c.get(path).status_code == 404, path
    ok(control.post("/_emulator/fixtures", json=fx))  # its IDs and number are free again
    assert_fixture_state(main, fx)


ADMIN = {"X-Emulator-Admin-Token": ADMIN_TOKEN}


def test_reset_everything(admin: InProcessEmulator) -> None:
    keys = [new_key(), new_key()]
    with admin.client(headers=ADMIN) as control:
        for key in keys:
            with api(admin, key) as c:
                ok(c.post("/v1/agents", json={"name": "Everything goes"}))
        fixture_key = new_key()
        ok(control.post("/_emulator/fixtures", json=fixture(fixture_key, "scratch", phone())))
        ok(control.post("/_emulator/faults", json={"key": keys[0], "status": 503, "count": 5}))
        ok(control.put("/_emulator/callees/+14155550150", json={"turns": [{"say": "Hello?"}]}))
        ok(control.post("/_emulator/clock", json={"advance": 86400}))

        body = ok(control.post("/_emulator/reset"))
        assert (body["success"], body["reset"]) == (True, "everything")

        for key in [*keys, fixture_key]:
            assert control.get(f"/_emulator/accounts/{key}").status_code == 404
        assert ok(control.get("/_emulator/faults")) == {"api": [], "webhook": []}
        assert ok(control.get("/_emulator/callees"))["data"] == []
        assert ok(control.get("/_emulator/clock"))["offsetSeconds"] == 0
        with api(admin, keys[0]) as c:
            assert ok(c.get("/v1/agents"))["data"] == []  # no fault left either: a plain 200


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_clock_advance_and_set(admin: InProcessEmulator) -> None:
    # The emulator's clock keeps running between requests: it may be ahead of a target by at most the
    # time that passed (measured here) since the change, plus the millisecond the API rounds to.
    def since(started: float) -> timedelta:
        return timedelta(seconds=time.monotonic() - started, milliseconds=1)

    with admin.client(headers=ADMIN) as control:
        started = time.monotonic()
        before = ok(control.get("/_emulator/clock"))
        advanced = ok(control.post("/_emulator/clock", json={"advance": 3600}))
        assert advanced["offsetSeconds"] == pytest.approx(before["offsetSeconds"] + 3600, abs=1e-6)
        assert timedelta(seconds=3600) <= ts(advanced["now"]) - ts(before["now"]) <= timedelta(hours=1) + since(started)

        target = (ts(advanced["now"]) + timedelta(days=2)).replace(microsecond=0)
        started = time.monotonic()
        moved = ok(control.post("/_emulator/clock", json={"set": target.strftime("%Y-%m-%dT%H:%M:%SZ")}))
        assert timedelta(0) <= ts(moved["now"]) - target <= since(started)
        with api(admin, new_key()) as c:  # what the API records uses the emulator's time
            created = ts(ok(c.post("/v1/agents", json={"name": "In the future"}))["createdAt"])
        assert timedelta(0) <= created - target <= since(started)

        back = control.post("/_emulator/clock", json={"set": (target - timedelta(hours=1)).isoformat()})
        assert back.status_code == 400 and "only moves forward" in back.json()["detail"]
        for body in ({}, {"advance": 1, "set": target.isoformat()}, {"advance": -5}):
            assert control.post("/_emulator/clock", json=body).status_code == 400, body
        after = ok(control.get("/_emulator/clock"))
        assert after["offsetSeconds"] == pytest.approx(moved["offsetSeconds"], abs=1e-6)  # refusals moved nothing


def test_accounts_patch_and_get(main: InProcessEmulator, control: httpx.Client) -> None:
    key = new_key()
    assert control.get(f"/_emulator/accounts/{key}").status_code == 404
    with api(main, key) as c:
        ok(c.post("/v1/numbers", json={}))
        refused = c.post("/v1/numbers", json={})
        assert refused.status_code == 403 and "free plan" in refused.json()["detail"]
        patched = ok(control.patch(f"/_emulator/accounts/{key}", json={"plan": "pro", "balanceCents": 777,
                                                                       "recordingEnabled": True}))
        assert (patched["key"], patched["plan"], patched["balanceCents"], patched["recordingEnabled"]) == (
            key, "pro", 777, True)
        assert ok(control.get(f"/_emulator/accounts/{key}")) == patched
        ok(c.post("/v1/numbers", json={}))  # the pro plan allows a second number
    bad = control.patch(f"/_emulator/accounts/{key}", json={"plan": "gold"})
    assert bad.status_code == 400 and "plan" in bad.json()["detail"]
    assert ok(control.get(f"/_emulator/accounts/{key}"))["plan"] == "pro"


CONTROL_ROUTES = [
    ("GET", "/_emulator/clock", None),
    ("POST", "/_emulator/clock", {"advance": 0}),
    ("POST", "/_emulator/reset", {"key": "sk_test_admin_reset"}),
    ("PATCH", "/_emulator/accounts/sk_test_admin_acct", {"plan": "pro"}),
    ("GET", "/_emulator/accounts/sk_test_admin_acct", None),
    ("POST", "/_emulator/fixtures", {"accounts": [{"key": "sk_test_admin_fx"}]}),
    ("POST", "/_emulator/faults", {"key": "sk_test_admin_fault", "status": 503}),
    ("GET", "/_emulator/faults", None),
    ("DELETE", "/_emulator/faults", None),
    ("GET", "/_emulator/callees", None),
]


def test_admin_token_guards_the_control_routes(admin: InProcessEmulator) -> None:
    with admin.client() as client:
        for method, path, body in CONTROL_ROUTES:
            for headers in ({}, {"X-Emulator-Admin-Token": "wrong"}):
                refused = client.request(method, path, json=body, headers=headers)
                assert refused.status_code == 401, (method, path, headers)
                assert "X-Emulator-Admin-Token" in refused.json()["detail"]
            allowed = client.request(method, path, json=body, headers={"X-Emulator-Admin-Token": ADMIN_TOKEN})
            assert allowed.status_code == 200, (method, path, allowed.text)
        assert ok(client.get("/_emulator/health"))["status"] == "ok"  # no token needed
    with api(admin, new_key()) as c:  # the /v1 API only needs an API key
        ok(c.post("/v1/agents", json={"name": "No admin needed"}))
        assert len(ok(c.get("/v1/agents"))["data"]) == 1


# --- API faults ----------------------------------------------------------------------------------------------


def test_api_fault_answers_the_next_requests_of_one_key(main: InProcessEmulator, control: httpx.Client) -> None:
    key, other = new_key(), new_key()
    armed = ok(control.post("/_emulator/faults", json={"key": key, "status": 503, "count": 2}))
    assert armed["fault"] == {"key": key, "status": 503, "remaining": 2, "path": None}
    assert armed["fault"] in ok(control.get("/_emulator/faults"))["api"]
    with api(main, key) as c, api(main, other) as o:
        first = c.get("/v1/agents")
        assert first.status_code == 503 and "Injected fault" in first.json()["detail"]
        assert o.get("/v1/agents").status_code == 200  # another key is unaffected
        assert c.post("/v1/agents", json={"name": "Not created"}).status_code == 503
        assert ok(c.get("/v1/agents"))["data"] == []  # then normal again, and the faulted POST wrote nothing
        assert c.get("/v1/agents").status_code == 200
    assert all(f["key"] != key for f in ok(control.get("/_emulator/faults"))["api"])


@pytest.mark.parametrize(("fault", "retry_after"), [({}, "1"), ({"retryAfter": 7}, "7")])
def test_429_fault_has_retry_after(fault: dict[str, Any], retry_after: str, main: InProcessEmulator,
                                   control: httpx.Client) -> None:
    key = new_key()
    ok(control.post("/_emulator/faults", json={"key": key, "status": 429, **fault}))
    with api(main, key) as c:
        limited = c.get("/v1/agents")
        assert limited.status_code == 429 and limited.headers["Retry-After"] == retry_after
        assert c.get("/v1/agents").status_code == 200


def test_path_scoped_fault_hits_only_that_path(main: InProcessEmulator, control: httpx.Client) -> None:
    key = new_key()
    ok(control.post("/_emulator/faults", json={"key": key, "status": 500, "path": "/v1/numbers"}))
    with api(main, key) as c:
        assert c.get("/v1/agents").status_code == 200
        assert c.get("/v1/calls").status_code == 200
        assert c.get("/v1/numbers").status_code == 500
        assert c.get("/v1/numbers").status_code == 200


def test_delete_faults_disarms_them(main: InProcessEmulator, control: httpx.Client) -> None:
    key = new_key()
    ok(control.post("/_emulator/faults", json={"key": key, "status": 502, "count": 100}))
    ok(control.delete("/_emulator/faults"))
    with api(main, key) as c:
        assert c.get("/v1/agents").status_code == 200


@pytest.mark.parametrize("body", [
    {"status": 404}, {"status": 503, "webhook": "delay"}, {}, {"webhook": "delay"}, {"webhook": "garbled"},
    {"status": 503, "count": 0},
])
def test_invalid_fault_is_400(body: dict[str, Any], control: httpx.Client) -> None:
    key = new_key()
    assert control.post("/_emulator/faults", json={"key": key, **body}).status_code == 400
    assert all(f["key"] != key for f in ok(control.get("/_emulator/faults"))["api"])


# --- webhook faults ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hook:
        yield hook


class Project:
    """A fresh account whose project webhook points at the receiver; `send` makes one delivery now."""

    def __init__(self, main: InProcessEmulator, receiver: WebhookReceiver) -> None:
        self.key = new_key()
        self.receiver = receiver
        self.client = api(main, self.key)
        self.secret = ok(self.client.post("/v1/webhooks", json={"url": receiver.url}))["secret"]

    def send(self, label: str) -> tuple[Received, dict[str, Any], float]:
        """The request that arrived, the test send's answer, and the seconds from sending to arrival."""
        started = time.time()
        answer = ok(self.client.post("/v1/webhooks/test", json={"message": label}))
        found = [r for r in list(self.receiver.requests) if r.event.get("data", {}).get("message") == label]
        assert len(found) == 1, label
        return found[0], answer, found[0].at - started

    def verify(self, received: Received, tolerance: int | None = 300) -> None:
        verify_webhook(received.body, received.headers["X-Webhook-Signature"], self.secret,
                       received.headers["X-Webhook-Timestamp"], tolerance=tolerance)


@pytest.fixture
def project(main: InProcessEmulator, receiver: WebhookReceiver) -> Iterator[Project]:
    p = Project(main, receiver)
    yield p
    p.client.close()


def arm(control: httpx.Client, key: str, kind: str, **extra: Any) -> None:
    body = ok(control.post("/_emulator/faults", json={"key": key, "webhook": kind, **extra}))
    assert body["fault"]["webhook"] == kind and body["fault"]["remaining"] == extra.get("count", 1)


def test_normal_deliveries_verify(project: Project) -> None:
    for label in ("plain one", "plain two"):
        received, answer, _ = project.send(label)
        project.verify(received)
        assert answer["delivered"] is True and received.headers["X-Webhook-ID"] == answer["deliveryId"]


@pytest.mark.parametrize("kind", ["bad-signature", "stale-timestamp", "tampered-body"])
def test_webhook_fault_fails_verification(kind: str, project: Project, control: httpx.Client, main: InProcessEmulator,
                                          receiver: WebhookReceiver) -> None:
    bystander = Project(main, receiver)
    arm(control, project.key, kind)
    other, _, _ = bystander.send(f"{kind}: another account")
    bystander.verify(other)  # the fault belongs to one account
    faulted, _, _ = project.send(f"{kind}: faulted")
    with pytest.raises(WebhookVerificationError):
        project.verify(faulted)
    stamp = int(faulted.headers["X-Webhook-Timestamp"])
    if kind == "stale-timestamp":
        assert time.time() - stamp > 3000  # an old timestamp, correctly signed
        project.verify(faulted, tolerance=None)
    if kind == "tampered-body":
        assert faulted.body.endswith(b" ")  # the signed bytes plus a change
        verify_webhook(faulted.body[:-1], faulted.headers["X-Webhook-Signature"], project.secret, str(stamp))
        assert faulted.event["data"]["message"] == f"{kind}: faulted"  # still JSON
    normal, _, _ = project.send(f"{kind}: normal again")
    project.verify(normal)
    bystander.client.close()


def test_reused_id_fault_repeats_the_previous_id(project: Project, control: httpx.Client) -> None:
    first, answer, _ = project.send("reused: first")
    assert first.headers["X-Webhook-ID"] == answer["deliveryId"]
    arm(control, project.key, "reused-id")
    second, answer2, _ = project.send("reused: second")
    assert answer2["deliveryId"] != answer["deliveryId"]
    assert second.headers["X-Webhook-ID"] == first.headers["X-Webhook-ID"]  # a replay, as far as IDs go
    project.verify(second)  # otherwise correctly signed
    third, answer3, _ = project.send("reused: third")
    assert third.headers["X-Webhook-ID"] == answer3["deliveryId"] not in (answer["deliveryId"],
                                                                          answer2["deliveryId"])


def test_delay_fault_delivers_later(project: Project, control: httpx.Client) -> None:
    arm(control, project.key, "delay", delaySeconds=0.6)
    delayed, answer, late = project.send("delayed")
    assert answer["delivered"] is True and late >= 0.55
    project.verify(delayed)
    # used up: the next delivery is not delayed (no webhook fault is left armed for the key)
    assert all(f["key"] != project.key for f in ok(control.get("/_emulator/faults"))["webhook"])
    normal, answer, _ = project.send("on time")
    assert answer["delivered"] is True
    project.verify(normal)


# --- --seed --------------------------------------------------------------------------------------------------


def generated(emulator: InProcessEmulator) -> tuple[str, ...]:
    with api(emulator, "sk_test_seeded_sequence") as c:
        agent = ok(c.post("/v1/agents", json={"name": "Seeded"}))
        number = ok(c.post("/v1/numbers", json={"agentId": agent["id"]}))
        hook = ok(c.post(f"/v1/agents/{agent['id']}/webhook", json={"url": "http://127.0.0.1:9/hook"}))
    return agent["id"], number["id"], number["phoneNumber"], hook["id"], hook["secret"]


def test_seed_makes_generated_values_reproducible(tmp_path: Path) -> None:
    """Three emulators, one after another (the seeded random source is shared by this process)."""
    runs = []
    try:
        for name, seed in (("a", 42), ("b", 42), ("c", 43)):
            (tmp_path / name).mkdir()
            emulator = started(tmp_path / name, seed=seed)
            try:
                runs.append(generated(emulator))
            finally:
                emulator.stop()
    finally:
        ids.seed(None)  # the other emulators of this process get their OS randomness back
    first, second, other = runs
    assert first == second
    assert first[2].startswith("+1") and first[4].startswith("whsec_")
    assert all(a != b for a, b in zip(first, other, strict=True))
