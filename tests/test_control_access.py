"""Who may use each control route, against a real emulator with an admin token: an account key acts on its own
account only, the admin on any, and nobody without credentials (health aside). Every control route the app
serves must appear in ROUTES, so a new route cannot slip in untested."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from emulator.api import openapi
from emulator.app import create_app
from emulator.config import Settings
from emulator.testing import EmulatorProcess, new_key

TOKEN = "control-access-admin-token"
LEVELS = {(method.upper(), path): op["security"] for path, item in openapi.build_document(
    create_app(Settings(db=":memory:")).routes)["paths"].items() for method, op in item.items()
    if path.startswith("/_emulator/")}


@dataclass
class Account:
    key: str
    number: str
    web_call: str
    verification: str
    tag: str
    delivery: str = ""


@dataclass
class World:
    base_url: str
    a: Account
    b: Account

    def client(self, who: str | None) -> httpx.Client:
        headers = {}
        if who == "admin":
            headers["X-Emulator-Admin-Token"] = TOKEN
        elif who == "wrong-token":
            headers["X-Emulator-Admin-Token"] = "not-the-token"
        elif who in ("a", "b"):
            headers["Authorization"] = f"Bearer {getattr(self, who).key}"
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


def _account(base_url: str, tag: str, number: str) -> Account:
    key = new_key()
    fixture = {"accounts": [{
        "key": key, "plan": "pro",
        "webhook": {"url": "http://127.0.0.1:9/hook"},
        "agents": [{"id": f"agent_{tag}", "name": "Bot", "voiceMode": "hosted", "systemPrompt": "Be brief."}],
        "numbers": [{"id": f"pn_{tag}", "phoneNumber": number, "agentId": f"agent_{tag}"}],
    }]}
    with httpx.Client(base_url=base_url, headers={"X-Emulator-Admin-Token": TOKEN}, timeout=30) as admin:
        assert admin.post("/_emulator/fixtures", json=fixture).status_code == 200
        texted = admin.post("/_emulator/sms", json={"from": "+14155550189", "to": number, "body": "hi"}).json()
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        web = api.post("/v1/calls/web", json={"agentId": f"agent_{tag}"}).json()
        sent = api.post("/v1/verify/send", json={"phone_number": "+14155550177"}).json()
        api.post("/v1/feedback", json={"category": "bug", "note": f"feedback of {tag}"})
    return Account(key, number, web["id"], sent["verification_id"], tag, texted["deliveries"][0]["id"])


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with EmulatorProcess(args=["--admin-token", TOKEN]) as proc:
        yield World(proc.base_url, _account(proc.base_url, new_key()[-8:], "+14155550171"),
                    _account(proc.base_url, new_key()[-8:], "+14155550172"))


Request = Callable[[World, Account], tuple[str, str, dict[str, Any]]]


def _throwaway(w: World) -> Account:
    """A fresh account for requests that would destroy what other cases need."""
    return Account(new_key(), "", "", "", "")


# (method, path template) -> the request acting on account `acc`. Destructive ones act on a throwaway account.
ROUTES: dict[tuple[str, str], Request] = {
    ("GET", "/_emulator/health"): lambda w, acc: ("GET", "/_emulator/health", {}),
    ("GET", "/_emulator/clock"): lambda w, acc: ("GET", "/_emulator/clock", {}),
    ("POST", "/_emulator/clock"): lambda w, acc: ("POST", "/_emulator/clock",
                                                  {"json": {"advance": 0, "key": acc.key}}),
    ("POST", "/_emulator/reset"): lambda w, acc: ("POST", "/_emulator/reset", {"json": {"key": acc.key}}),
    ("GET", "/_emulator/accounts/{key}"): lambda w, acc: ("GET", f"/_emulator/accounts/{acc.key}", {}),
    ("PATCH", "/_emulator/accounts/{key}"): lambda w, acc: ("PATCH", f"/_emulator/accounts/{acc.key}",
                                                            {"json": {"plan": "pro"}}),
    ("PUT", "/_emulator/accounts/{key}"): lambda w, acc: ("PUT", f"/_emulator/accounts/{acc.key}",
                                                          {"json": {"plan": "pro"}}),
    ("POST", "/_emulator/fixtures"): lambda w, acc: ("POST", "/_emulator/fixtures",
                                                     {"json": {"accounts": [{"key": acc.key}]}}),
    ("POST", "/_emulator/faults"): lambda w, acc: ("POST", "/_emulator/faults",
                                                   {"json": {"key": acc.key, "status": 503, "path": "/v1/none"}}),
    ("GET", "/_emulator/faults"): lambda w, acc: ("GET", "/_emulator/faults", {}),
    ("DELETE", "/_emulator/faults"): lambda w, acc: ("DELETE", "/_emulator/faults", {}),
    ("POST", "/_emulator/sms"): lambda w, acc: ("POST", "/_emulator/sms",
                                                {"json": {"from": "+14155550190", "to": acc.number, "body": "hi"}}),
    ("POST", "/_emulator/calls/inbound"): lambda w, acc: ("POST", "/_emulator/calls/inbound", {"json": {
        "from": "+14155550190", "to": acc.number, "turns": [{"hangup": True}]}}),
    ("POST", "/_emulator/calls/web/{call_id}/join"): lambda w, acc: (
        "POST", f"/_emulator/calls/web/{acc.web_call}/join", {"json": {"accessToken": "wrong", "turns": []}}),
    ("POST", "/_emulator/calls/{call_id}/caller"): lambda w, acc: (
        "POST", f"/_emulator/calls/{acc.web_call}/caller", {"json": {}}),
    ("GET", "/_emulator/callees"): lambda w, acc: ("GET", "/_emulator/callees", {}),
    ("PUT", "/_emulator/callees/{e164}"): lambda w, acc: ("PUT", "/_emulator/callees/+14155550191",
                                                          {"params": {"key": acc.key}, "json": {"turns": []}}),
    ("GET", "/_emulator/callees/{e164}"): lambda w, acc: ("GET", "/_emulator/callees/+14155550191",
                                                          {"params": {"key": acc.key}}),
    ("DELETE", "/_emulator/callees/{e164}"): lambda w, acc: ("DELETE", "/_emulator/callees/+14155550191",
                                                             {"params": {"key": acc.key}}),
    ("GET", "/_emulator/verifications/{verification_id}"): lambda w, acc: (
        "GET", f"/_emulator/verifications/{acc.verification}", {}),
    ("GET", "/_emulator/feedback"): lambda w, acc: ("GET", "/_emulator/feedback", {}),
    ("GET", "/_emulator/accounts"): lambda w, acc: ("GET", "/_emulator/accounts", {}),
    ("GET", "/_emulator/events"): lambda w, acc: ("GET", "/_emulator/events",
                                                  {"params": {"key": acc.key, "follow": "false"}}),
    ("GET", "/_emulator/requests"): lambda w, acc: ("GET", "/_emulator/requests", {"params": {"key": acc.key}}),
    ("GET", "/_emulator/deliveries/{delivery_id}"): lambda w, acc: (
        "GET", f"/_emulator/deliveries/{acc.delivery}", {}),
    ("POST", "/_emulator/deliveries/{delivery_id}/redeliver"): lambda w, acc: (
        "POST", f"/_emulator/deliveries/{acc.delivery}/redeliver", {}),
    ("GET", "/_emulator/calls/{call_id}/timeline"): lambda w, acc: (
        "GET", f"/_emulator/calls/{acc.web_call}/timeline", {"params": {"follow": "false"}}),
    ("POST", "/_emulator/events"): lambda w, acc: ("POST", "/_emulator/events",
                                                   {"json": {"key": acc.key, "event": "agent.message"}}),
    ("POST", "/_emulator/reactions"): lambda w, acc: ("POST", "/_emulator/reactions",
                                                      {"json": {"messageId": f"msg_of_{acc.tag}", "reaction": "love"}}),
    ("PATCH", "/_emulator/whatsapp/{connection_id}"): lambda w, acc: (
        "PATCH", f"/_emulator/whatsapp/wac_of_{acc.tag}", {"json": {"status": "connected"}}),
}
DESTRUCTIVE = {("POST", "/_emulator/reset"), ("POST", "/_emulator/fixtures")}
# The web-call join answers 401 for the wrong access token: reaching that check means the route let the caller in.
# Reading or removing a callee script may find none (404): what counts is that the caller was not refused.
# A tapback on, or Meta's signup of, something the account does not have is a 404 past the access check.
# A driven caller's route answers 400 for a call whose caller is not driven (the web call has none yet).
ALLOWED = {("POST", "/_emulator/calls/web/{call_id}/join"): 401, ("GET", "/_emulator/callees/{e164}"): None,
           ("DELETE", "/_emulator/callees/{e164}"): None, ("POST", "/_emulator/reactions"): None,
           ("PATCH", "/_emulator/whatsapp/{connection_id}"): None, ("POST", "/_emulator/calls/{call_id}/caller"): 400}


def _send(w: World, who: str | None, route: tuple[str, str], acc: Account) -> httpx.Response:
    method, path, kwargs = ROUTES[route](w, acc)
    with w.client(who) as client:
        return client.request(method, path, **kwargs)


def _level(route: tuple[str, str]) -> str:
    security = LEVELS[route]
    return "public" if security == [] else "account" if {"bearer": []} in security else "global"


def _let_in(route: tuple[str, str], response: httpx.Response) -> bool:
    expected = ALLOWED.get(route, 0)
    if expected is None:  # a read that may be 404 when there is nothing to read: anything but 401/403
        return response.status_code not in (401, 403)
    return response.status_code == expected if expected else response.status_code < 300


def test_every_control_route_is_covered() -> None:
    assert set(ROUTES) == set(LEVELS), sorted(set(LEVELS) ^ set(ROUTES))


@pytest.mark.parametrize("route", sorted(ROUTES), ids=" ".join)
def test_without_credentials_only_health_answers(world: World, route: tuple[str, str]) -> None:
    for who in (None, "wrong-token"):
        response = _send(world, who, route, world.a)
        if _level(route) == "public":
            assert response.status_code == 200
        else:
            assert response.status_code == 401, response.text
            assert "admin token" in response.json()["detail"]
            assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("route", sorted(ROUTES), ids=" ".join)
def test_the_admin_token_opens_every_route(world: World, route: tuple[str, str]) -> None:
    target = _throwaway(world) if route in DESTRUCTIVE else world.a
    response = _send(world, "admin", route, target)
    assert _let_in(route, response), response.text


@pytest.mark.parametrize("route", sorted(r for r in ROUTES if _level(r) == "global"), ids=" ".join)
def test_an_account_key_cannot_use_global_routes(world: World, route: tuple[str, str]) -> None:
    response = _send(world, "a", route, world.a)
    assert response.status_code == 403, response.text
    assert "every account" in response.json()["detail"]


@pytest.mark.parametrize("route", sorted(r for r in ROUTES if _level(r) == "account"), ids=" ".join)
def test_an_account_key_acts_on_its_own_account(world: World, route: tuple[str, str]) -> None:
    if route in DESTRUCTIVE:  # a fresh account resets or replaces itself, leaving A for the other cases
        fresh = _throwaway(world)
        method, path, kwargs = ROUTES[route](world, fresh)
        with httpx.Client(base_url=world.base_url, headers={"Authorization": f"Bearer {fresh.key}"}) as client:
            response = client.request(method, path, **kwargs)
    else:
        response = _send(world, "a", route, world.a)
    assert _let_in(route, response), response.text


@pytest.mark.parametrize("route", sorted(r for r in ROUTES if _level(r) == "account"), ids=" ".join)
def test_an_account_key_never_reaches_another_account(world: World, route: tuple[str, str]) -> None:
    """Key B names A's account, number, call or code: refused (403), or not found (404) where B cannot even
    know the thing exists; reads without a target show B's own things only."""
    response = _send(world, "b", route, world.a)
    if route in (("GET", "/_emulator/clock"),):
        assert response.status_code == 200
        return
    if route in (("GET", "/_emulator/faults"), ("DELETE", "/_emulator/faults"), ("GET", "/_emulator/callees"),
                 ("GET", "/_emulator/feedback")):
        assert response.status_code == 200, response.text
        return
    assert response.status_code in (403, 404), response.text


def test_reads_without_a_target_show_only_the_callers_things(world: World) -> None:
    with world.client("admin") as admin:
        admin.post("/_emulator/faults", json={"key": world.a.key, "status": 503, "path": "/v1/none", "count": 5})
        admin.put("/_emulator/callees/+14155550199", params={"key": world.a.key}, json={"turns": [{"say": "A"}]})
    with world.client("b") as b:
        assert [f["key"] for f in b.get("/_emulator/faults").json()["api"]] == []
        assert b.get("/_emulator/callees").json()["data"] == []
        assert [f["note"] for f in b.get("/_emulator/feedback").json()["data"]] == [f"feedback of {world.b.tag}"]
        assert b.delete("/_emulator/faults").status_code == 200
        # B's own callee script for the same number does not touch A's
        assert b.put("/_emulator/callees/+14155550199", json={"turns": [{"say": "B"}]}).status_code == 200
    with world.client("admin") as admin:
        faults = admin.get("/_emulator/faults").json()["api"]
        assert any(f["key"] == world.a.key for f in faults)  # B's clear left A's faults armed
        scripts = admin.get("/_emulator/callees").json()["data"]
        said = {s["accountId"]: s["turns"][0]["say"] for s in scripts if s["number"] == "+14155550199"}
        assert sorted(said.values()) == ["A", "B"]
        admin.delete("/_emulator/faults")


def test_an_account_key_cannot_load_a_fixture_naming_another_key(world: World) -> None:
    with world.client("b") as b:
        response = b.post("/_emulator/fixtures", json={"accounts": [{"key": world.b.key}, {"key": world.a.key}]})
    assert response.status_code == 403 and "its own account only" in response.json()["detail"]
    with world.client("a") as a:
        assert a.get(f"/_emulator/accounts/{world.a.key}").json()["plan"] == "pro"  # A untouched


_NAMED = sorted(r for r in ROUTES if "{" in r[1] and r[0] != "PUT")  # a PUT may make what it names


@pytest.mark.parametrize("name", ["0", "nothing_0123456789abcdef01234567", "+14155550000"])
@pytest.mark.parametrize("route", _NAMED, ids=" ".join)
def test_the_admin_naming_nothing_gets_a_4xx_with_a_reason(world: World, route: tuple[str, str], name: str) -> None:
    """Every route with an ID in its path, asked by the admin (who may act on any account) about something that
    does not exist: a 4xx that says why, never a server error."""
    method, template = route
    path = re.sub(r"\{[^}]+\}", lambda _m: quote(name, safe=""), template)
    with world.client("admin") as admin:
        response = admin.request(method, path, **({} if method in ("GET", "DELETE") else {"json": {}}))
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
    assert response.json()["detail"], response.text
