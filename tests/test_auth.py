"""Authentication, per-key account isolation, strict key mode and per-key rate limiting."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import account_id, fresh_number, http_client, ok, seed_account, tag

from emulator.config import read_keys_file
from emulator.testing import InProcessEmulator, new_key

PROTECTED = [
    ("GET", "/v1/agents"),
    ("POST", "/v1/agents"),
    ("GET", "/v1/agents/agent_x"),
    ("GET", "/v1/numbers"),
    ("POST", "/v1/numbers"),
    ("GET", "/v1/calls"),
    ("GET", "/v1/conversations"),
    ("GET", "/v1/webhooks"),
    ("GET", "/v1/usage"),
    ("GET", "/v1/usage/daily"),
]


def client(base_url: str, key: str | None = None) -> httpx.Client:
    """Over real HTTP: authentication is checked the way clients meet it."""
    return http_client(base_url, key)


def assert_401(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.endswith(".") and len(detail.split()) >= 4
    for word in words:
        assert word.lower() in detail.lower(), detail


# --- the Authorization header ---------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_missing_header_is_401_on_every_route(base_url: str, method: str, path: str) -> None:
    with client(base_url) as anon:
        assert_401(anon.request(method, path, json={"name": "x"}), "missing", "Bearer")


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("Basic dXNlcjpwYXNz", ("Bearer", "Basic")),
        ("Token sk_test_abc", ("Bearer", "Token")),
        ("sk_test_abc", ("Bearer",)),
        ("Bearer", ("empty",)),
        ("Bearer abc", ("sk_live_", "sk_test_")),
        ("Bearer sk_prod_abc", ("sk_live_", "sk_test_")),
        ("Bearer sk_test_", ("sk_live_", "sk_test_")),
        ("Bearer pk_test_abc", ("sk_live_", "sk_test_")),
        ("Bearer sk_test_abc def", ("sk_live_", "sk_test_")),
        ("Bearer sk_test_ab$c", ("sk_live_", "sk_test_")),
        ("Bearer sk_test_" + "a" * 201, ("sk_live_", "sk_test_")),
    ],
)
def test_bad_authorization_header_is_401(base_url: str, header: str, words: tuple[str, ...]) -> None:
    with client(base_url) as anon:
        response = anon.get("/v1/agents", headers={"Authorization": header.rstrip()})
        assert_401(response, *words)


def test_rejected_key_creates_no_account(base_url: str, control: httpx.Client) -> None:
    with client(base_url) as anon:
        assert_401(anon.post("/v1/agents", json={"name": "x"}, headers={"Authorization": "Token sk_test_nope1"}))
    assert control.get("/_emulator/accounts/sk_test_nope1").status_code == 404


def test_authentication_comes_before_body_validation_and_lookup(base_url: str) -> None:
    with client(base_url) as anon:
        assert_401(anon.post("/v1/agents", content=b"{not json"))
        assert_401(anon.post("/v1/agents", json={"name": 5}))
        assert_401(anon.get("/v1/agents/agent_does_not_exist"))
        assert_401(anon.get("/v1/agents?limit=0"))


def test_scheme_is_case_insensitive(base_url: str) -> None:
    key = new_key()
    with client(base_url) as anon:
        response = anon.get("/v1/agents", headers={"Authorization": f"bearer {key}"})
    assert response.status_code == 200
    assert response.json() == {"data": [], "total": 0, "hasMore": False}


# --- keys and accounts ------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["sk_live_", "sk_test_"])
def test_any_well_formed_key_gets_its_own_account_on_first_use(
    base_url: str, control: httpx.Client, prefix: str
) -> None:
    key = prefix + new_key().removeprefix("sk_test_")
    assert control.get(f"/_emulator/accounts/{key}").status_code == 404
    with client(base_url, key) as api:
        created = api.post("/v1/agents", json={"name": "Mine"})
        assert created.status_code == 200
        listed = api.get("/v1/agents").json()
    assert [agent["id"] for agent in listed["data"]] == [created.json()["id"]]
    account = control.get(f"/_emulator/accounts/{key}").json()
    assert account["key"] == key
    assert account["plan"] == "free"
    assert account["id"].startswith("acct")


def test_two_keys_see_nothing_of_each_other(base_url: str, control: httpx.Client) -> None:
    key_a, key_b = new_key(), "sk_live_" + new_key().removeprefix("sk_test_")
    with client(base_url, key_a) as a, client(base_url, key_b) as b:
        agent = a.post("/v1/agents", json={"name": "A's agent"}).json()
        number = a.post("/v1/numbers", json={}).json()
        assert a.post("/v1/webhooks", json={"url": "https://a.example/hook"}).status_code == 200
        assert b.get("/v1/agents").json() == {"data": [], "total": 0, "hasMore": False}
        assert b.get("/v1/numbers").json() == {"data": [], "total": 0, "hasMore": False}
        assert b.get("/v1/webhooks").json() is None
        assert b.get("/v1/usage").json()["numbers"]["used"] == 0
        assert a.get("/v1/agents").json()["data"][0]["id"] == agent["id"]
        assert a.get("/v1/numbers").json()["data"][0]["id"] == number["id"]
    assert account_id(control, key_a) != account_id(control, key_b)


# --- account isolation on every route that takes an ID ----------------------------------------


@dataclass
class World:
    agent: dict[str, Any]
    number: dict[str, Any]
    webhook: dict[str, Any]
    call_id: str
    conversation_id: str


@pytest.fixture
def owner(base_url: str, control: httpx.Client) -> Iterator[tuple[httpx.Client, World]]:
    """An account with an agent, its number and webhook, a call with a transcript and a conversation."""
    key, t = new_key(), tag()
    agent, number = f"agent_{t}", f"pn_{t}"
    seed_account(control, key, plan="free", agents=[{
        "id": agent, "name": "Owner agent", "description": "private",
        "webhook": {"id": f"wh_{t}", "url": "https://owner.example/hook"},
    }], numbers=[{"id": number, "phoneNumber": fresh_number(), "agentId": agent}], calls=[{
        "id": f"call_{t}", "numberId": number, "direction": "inbound", "from": "+14155550100", "durationSeconds": 30,
        "transcripts": [{"transcript": "hello"}],
    }], conversations=[{
        "id": f"conv_{t}", "numberId": number, "participant": "+14155550100",
        "messages": [{"direction": "inbound", "body": "hi"}],
    }])
    with client(base_url, key) as api:
        world = World(ok(api.get(f"/v1/agents/{agent}")), ok(api.get(f"/v1/numbers/{number}")),
                      ok(api.get(f"/v1/agents/{agent}/webhook")), f"call_{t}", f"conv_{t}")
        yield api, world


def _foreign_requests(mine_agent: str, mine_number: str, w: World) -> list[tuple[str, str, Any]]:
    agent, number = w.agent["id"], w.number["id"]
    return [
        ("GET", f"/v1/agents/{agent}", None),
        ("PATCH", f"/v1/agents/{agent}", {"name": "stolen"}),
        ("DELETE", f"/v1/agents/{agent}", None),
        ("POST", f"/v1/agents/{agent}/numbers", {"numberId": mine_number}),
        ("POST", f"/v1/agents/{mine_agent}/numbers", {"numberId": number}),
        ("DELETE", f"/v1/agents/{agent}/numbers/{number}", None),
        ("DELETE", f"/v1/agents/{mine_agent}/numbers/{number}", None),
        ("DELETE", f"/v1/agents/{agent}/numbers/{mine_number}", None),
        ("GET", f"/v1/agents/{agent}/calls", None),
        ("GET", f"/v1/agents/{agent}/conversations", None),
        ("GET", f"/v1/agents/{agent}/webhook", None),
        ("POST", f"/v1/agents/{agent}/webhook", {"url": "https://thief.example/hook"}),
        ("DELETE", f"/v1/agents/{agent}/webhook", None),
        ("GET", f"/v1/numbers/{number}", None),
        ("PATCH", f"/v1/numbers/{number}", {"externalId": "stolen"}),
        ("DELETE", f"/v1/numbers/{number}", None),
        ("GET", f"/v1/numbers/{number}/messages", None),
        ("GET", f"/v1/numbers/{number}/calls", None),
        ("GET", f"/v1/calls/{w.call_id}", None),
        ("GET", f"/v1/calls/{w.call_id}/transcript", None),
        ("GET", f"/v1/conversations/{w.conversation_id}", None),
        ("GET", f"/v1/conversations/{w.conversation_id}/messages", None),
    ]


def test_other_accounts_ids_are_404_everywhere_and_nothing_changes(
    base_url: str, owner: tuple[httpx.Client, World]
) -> None:
    owner_api, world = owner
    before = {
        "agent": owner_api.get(f"/v1/agents/{world.agent['id']}").json(),
        "number": owner_api.get(f"/v1/numbers/{world.number['id']}").json(),
        "webhook": owner_api.get(f"/v1/agents/{world.agent['id']}/webhook").json(),
        "call": owner_api.get(f"/v1/calls/{world.call_id}").json(),
        "conversation": owner_api.get(f"/v1/conversations/{world.conversation_id}").json(),
    }
    assert before["agent"]["numbers"][0]["id"] == world.number["id"]
    assert before["webhook"]["id"] == world.webhook["id"]
    assert before["call"]["id"] == world.call_id
    assert before["conversation"]["id"] == world.conversation_id

    with client(base_url, new_key()) as thief:
        mine_agent = thief.post("/v1/agents", json={"name": "Thief"}).json()["id"]
        mine_number = thief.post("/v1/numbers", json={}).json()["id"]
        foreign_ids = (world.agent["id"], world.number["id"], world.call_id, world.conversation_id)
        for method, path, body in _foreign_requests(mine_agent, mine_number, world):
            response = thief.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)
            detail = response.json()["detail"]
            assert "was not found" in detail, (method, path, detail)
            assert any(ident in detail for ident in foreign_ids), (method, path, detail)
        # The thief's own resources were not touched by the refused requests either.
        assert thief.get(f"/v1/numbers/{mine_number}").json()["agentId"] is None
        assert thief.get("/v1/calls").json()["total"] == 0
        assert thief.get("/v1/conversations").json()["total"] == 0

    after = {
        "agent": owner_api.get(f"/v1/agents/{world.agent['id']}").json(),
        "number": owner_api.get(f"/v1/numbers/{world.number['id']}").json(),
        "webhook": owner_api.get(f"/v1/agents/{world.agent['id']}/webhook").json(),
        "call": owner_api.get(f"/v1/calls/{world.call_id}").json(),
        "conversation": owner_api.get(f"/v1/conversations/{world.conversation_id}").json(),
    }
    assert after == before


def test_foreign_404_is_indistinguishable_from_a_missing_id(base_url: str, owner: tuple[httpx.Client, World]) -> None:
    _, world = owner
    with client(base_url, new_key()) as other:
        for kind, real in (("agents", world.agent["id"]), ("numbers", world.number["id"]),
                           ("calls", world.call_id), ("conversations", world.conversation_id)):
            fake = real[:-4] + ("0000" if not real.endswith("0000") else "1111")
            foreign = other.get(f"/v1/{kind}/{real}")
            missing = other.get(f"/v1/{kind}/{fake}")
            assert foreign.status_code == missing.status_code == 404
            assert foreign.json()["detail"].replace(real, "ID") == missing.json()["detail"].replace(fake, "ID")


def test_buying_with_another_accounts_agent_is_404_and_uses_no_slot(
    base_url: str, owner: tuple[httpx.Client, World]
) -> None:
    _, world = owner
    with client(base_url, new_key()) as other:
        refused = other.post("/v1/numbers", json={"agentId": world.agent["id"]})
        assert refused.status_code == 404
        assert world.agent["id"] in refused.json()["detail"]
        assert other.get("/v1/numbers").json()["total"] == 0
        assert other.get("/v1/usage").json()["numbers"] == {"used": 0, "limit": 1, "remaining": 1}
        assert other.post("/v1/numbers", json={}).status_code == 200


def test_project_webhooks_are_per_account(base_url: str) -> None:
    with client(base_url, new_key()) as a, client(base_url, new_key()) as b:
        hook_a = a.post("/v1/webhooks", json={"url": "https://a.example/hook"}).json()
        assert b.delete("/v1/webhooks").status_code == 404
        hook_b = b.post("/v1/webhooks", json={"url": "https://b.example/hook"}).json()
        assert hook_a["id"] != hook_b["id"]
        assert a.get("/v1/webhooks").json() == hook_a
        assert b.get("/v1/webhooks").json()["url"] == "https://b.example/hook"


# --- strict key mode ---------------------------------------------------------------------------


def test_strict_keys_accepts_only_the_given_keys(make_emulator: Callable[..., InProcessEmulator]) -> None:
    known, other_known, unknown = new_key(), "sk_live_" + new_key().removeprefix("sk_test_"), new_key()
    proc = make_emulator(serve=True, strict_keys=True, keys=[known, other_known])
    with client(proc.base_url, known) as api, client(proc.base_url, other_known) as api2:
        assert api.post("/v1/agents", json={"name": "ok"}).status_code == 200
        assert api.get("/v1/agents").json()["total"] == 1
        assert api2.get("/v1/agents").json()["total"] == 0
    with client(proc.base_url, unknown) as stranger:
        assert_401(stranger.get("/v1/agents"), "strict")
        assert_401(stranger.post("/v1/agents", json={"name": "no"}), "strict")
    with client(proc.base_url) as control:
        assert control.get(f"/_emulator/accounts/{unknown}").status_code == 404
        assert control.get(f"/_emulator/accounts/{known}").status_code == 200


def test_strict_keys_from_a_keys_file(tmp_path: Path, make_emulator: Callable[..., InProcessEmulator]) -> None:
    first, second, commented = new_key(), new_key(), new_key()
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(f"# emulator keys\n{first}\n\n   {second}   \n# {commented}\n")
    proc = make_emulator(serve=True, strict_keys=True, keys=read_keys_file(str(keys_file)))
    for key in (first, second):
        with client(proc.base_url, key) as api:
            assert api.get("/v1/numbers").status_code == 200
    for key in (commented, new_key()):
        with client(proc.base_url, key) as stranger:
            assert_401(stranger.get("/v1/numbers"), "strict")
    with client(proc.base_url) as anon:
        assert_401(anon.get("/v1/numbers"), "missing")


# --- rate limiting -----------------------------------------------------------------------------


def burst(api: httpx.Client, count: int) -> list[httpx.Response]:
    """`count` requests of one key within one second. Should the machine stall so that they spread over
    more than a second (the limiter's window), the burst is sent again once the window is clear."""
    for _ in range(5):
        started = time.monotonic()
        responses = [api.get("/v1/agents") for _ in range(count)]
        if time.monotonic() - started < 1.0:
            return responses
        time.sleep(1.0)
    raise AssertionError(f"{count} requests never fell within one second")


def test_rate_limit_is_per_key_with_retry_after(make_emulator: Callable[..., InProcessEmulator]) -> None:
    limited, bystander = new_key(), new_key()
    proc = make_emulator(serve=True, rate_limit=3)
    with client(proc.base_url, limited) as api, client(proc.base_url, bystander) as other:
        *allowed, refused = burst(api, 4)
        assert [r.status_code for r in allowed] == [200, 200, 200]
        assert refused.status_code == 429, refused.text
        retry_after = refused.headers["retry-after"]
        assert retry_after.isdigit() and int(retry_after) >= 1
        detail = refused.json()["detail"]
        assert "rate limit" in detail.lower() and "3" in detail
        # A refused write is not performed.
        assert api.post("/v1/agents", json={"name": "over"}).status_code == 429

        assert [other.get("/v1/agents").status_code for _ in range(3)] == [200, 200, 200]

        time.sleep(int(retry_after))  # the limit is a window of real time: wait it out, as a client must
        assert api.get("/v1/agents").json()["total"] == 0
