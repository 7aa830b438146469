"""Refused input: malformed or mistyped bodies, out-of-range values and queries, oversized bodies.

Every refusal has a `detail` sentence that names the offending field, and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from emulator.testing import InProcessEmulator, new_key

ONE_MIB = 1024 * 1024


@dataclass
class World:
    api: httpx.Client
    control: httpx.Client
    key: str
    agent_id: str
    number_id: str

    def path(self, template: str) -> str:
        return template.format(agent=self.agent_id, number=self.number_id)

    def snapshot(self) -> dict[str, Any]:
        """Everything a refused write could have changed."""
        return {
            "agents": self.api.get("/v1/agents").json(),
            "numbers": self.api.get("/v1/numbers").json(),
            "webhook": self.api.get("/v1/webhooks").json(),
            "agentWebhook": self.api.get(f"/v1/agents/{self.agent_id}/webhook").json(),
            "account": self.control.get(f"/_emulator/accounts/{self.key}").json(),
        }


@pytest.fixture(scope="module")
def world(server: InProcessEmulator) -> Iterator[World]:
    """One account for the refusal tests: they must not change it, and each checks that it did not."""
    key = new_key()
    with server.client(key) as api, server.client() as control:
        agent = api.post("/v1/agents", json={"name": "Steady", "voiceSpeed": 1.25,
                                             "transferNumber": "+14155550123"})
        assert agent.status_code == 200, agent.text
        # Pro, with room for more numbers: a wrongly accepted purchase would succeed and be seen.
        assert control.patch(f"/_emulator/accounts/{key}", json={"plan": "pro"}).status_code == 200
        number = api.post("/v1/numbers", json={})
        assert number.status_code == 200, number.text
        yield World(api, control, key, agent.json()["id"], number.json()["id"])


@pytest.fixture
def fresh(api: httpx.Client, control: httpx.Client, key: str) -> World:
    """An account of its own, for tests that do write."""
    agent = api.post("/v1/agents", json={"name": "Steady", "voiceSpeed": 1.25, "transferNumber": "+14155550123"})
    assert control.patch(f"/_emulator/accounts/{key}", json={"plan": "pro"}).status_code == 200
    number = api.post("/v1/numbers", json={})
    return World(api, control, key, agent.json()["id"], number.json()["id"])


def refuse(world: World, method: str, path: str, status: int, field: str | None, *, snapshot: bool = True,
           **send: Any) -> str:
    """Send a refused request; check status, detail and that nothing was written. Returns the detail."""
    before = world.snapshot() if snapshot else None
    response = world.api.request(method, world.path(path), **send)
    assert response.status_code == status, (method, path, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.strip(), response.text
    if field is not None:
        assert field in detail, (field, detail)
    if before is not None:
        assert world.snapshot() == before, "a refused request changed stored state"
    return detail


WRITES = [
    ("POST", "/v1/agents"),
    ("PATCH", "/v1/agents/{agent}"),
    ("POST", "/v1/numbers"),
    ("POST", "/v1/webhooks"),
    ("POST", "/v1/agents/{agent}/webhook"),
    ("POST", "/v1/agents/{agent}/numbers"),
]


# --- the body is not a JSON object -------------------------------------------------------------


MALFORMED = [b"{not json", b'{"name": "x",}', b"{'name': 'x'}", b"\xff\xfe\x00", b'{"name": "x"} trailing',
             b'{"name": "x"', b"nul\x00l"]
NOT_OBJECTS: list[tuple[Any, str]] = [([], "array"), ([{"name": "x"}], "array"), ("x", "string"), (5, "number"),
                                      (2.5, "number"), (True, "boolean")]


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_malformed_json_is_400(world: World, method: str, path: str) -> None:
    before = world.snapshot()
    for raw in MALFORMED:
        detail = refuse(world, method, path, 400, None, snapshot=False, content=raw,
                        headers={"content-type": "application/json"})
        assert "JSON" in detail, (raw, detail)
    assert world.snapshot() == before


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_body_that_is_not_an_object_is_400(world: World, method: str, path: str) -> None:
    before = world.snapshot()
    for value, kind in NOT_OBJECTS:
        detail = refuse(world, method, path, 400, None, snapshot=False, json=value)
        assert "object" in detail and kind in detail, (value, detail)
    assert world.snapshot() == before


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_too_deeply_nested_json_is_400(world: World, method: str, path: str) -> None:
    refuse(world, method, path, 400, None, content=b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_body_over_one_mib_is_413(world: World, method: str, path: str) -> None:
    body = json.dumps({"name": "x" * ONE_MIB, "url": "https://example.com/" + "x" * ONE_MIB}).encode()
    detail = refuse(world, method, path, 413, None, content=body, headers={"content-type": "application/json"})
    assert "1024 KiB" in detail


def test_streamed_body_over_one_mib_is_413(world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 65_536
        yield b'"}'

    refuse(world, "POST", "/v1/agents", 413, None, content=chunks())


def test_body_just_under_the_limit_is_accepted(fresh: World) -> None:
    # Texts have their own maximum lengths; a tool's JSON Schema parameters are bounded only by the body limit.
    blob = "p" * (ONE_MIB - 300)
    tool = {"name": "lookup", "description": "Find a record.", "url": "https://tools.example/lookup",
            "parameters": {"type": "object", "description": blob}}
    response = fresh.api.post("/v1/agents", json={"name": "Big tool", "customTools": [tool]})
    assert response.status_code == 200, response.text[:300]
    assert response.json()["customTools"][0]["parameters"]["description"] == blob


@pytest.mark.parametrize("path", ["/v1/agents", "/v1/webhooks", "/v1/agents/{agent}/numbers"])
@pytest.mark.parametrize("raw", [b"", b"   \n"], ids=["empty", "blank"])
def test_empty_body_where_fields_are_required_is_400(world: World, path: str, raw: bytes) -> None:
    detail = refuse(world, "POST", path, 400, None, content=raw)
    assert "empty" in detail


# --- field-level rules: 400 naming the field ------------------------------------------------


AGENT_BAD = [
    ({"name": 5}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 501}, "name"),
    ({"name": None}, "name"),
    ({"name": "a", "enableMessaging": "yes"}, "enableMessaging"),
    ({"name": "a", "maxSilenceMs": "20000"}, "maxSilenceMs"),
    ({"name": "a", "maxSilenceMs": 20000.5}, "maxSilenceMs"),
    ({"name": "a", "voiceSpeed": "fast"}, "voiceSpeed"),
    ({"name": "a", "voiceSpeed": True}, "voiceSpeed"),
    ({"name": "a", "customTools": "search"}, "customTools"),
    ({"name": "a", "customTools": [{"name": "t"}]}, "customTools[0].description"),
    ({"name": "a", "voiceMode": "robot"}, "voiceMode"),
    ({"name": "a", "modelTier": "ultra"}, "modelTier"),
    ({"name": "a", "sttMode": "slow"}, "sttMode"),
    ({"name": "a", "ambientSound": "jungle"}, "ambientSound"),
    ({"name": "a", "denoisingMode": "all"}, "denoisingMode"),
    ({"name": "a", "language": "xx-XX"}, "language"),
    ({"name": "a", "maxSilenceMs": 5}, "maxSilenceMs"),
    ({"name": "a", "maxSilenceMs": 3_600_001}, "maxSilenceMs"),
    ({"name": "a", "voiceSpeed": 3}, "voiceSpeed"),
    ({"name": "a", "voiceSpeed": 0.4}, "voiceSpeed"),
    ({"name": "a", "interruptionSensitivity": 1.5}, "interruptionSensitivity"),
    ({"name": "a", "interruptionSensitivity": -0.1}, "interruptionSensitivity"),
    ({"name": "a", "transferNumber": "555-1234"}, "transferNumber"),
    ({"name": "a", "transferNumber": "14155551234"}, "transferNumber"),
    ({"name": "a", "transferNumber": "+1415555123"}, "transferNumber"),
    ({"name": "a", "transferNumber": "+0123456789"}, "transferNumber"),
    ({"name": "a", "transferNumber": 14155551234}, "transferNumber"),
    ({"name": "a", "voiceMode": "hosted"}, "systemPrompt"),
]


@pytest.mark.parametrize(("body", "field"), AGENT_BAD, ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else v)
def test_create_agent_rules(world: World, body: dict[str, Any], field: str) -> None:
    refuse(world, "POST", "/v1/agents", 400, field, json=body)


def test_missing_agent_name_is_400(world: World) -> None:
    detail = refuse(world, "POST", "/v1/agents", 400, "name", json={"description": "no name"})
    assert "required" in detail


def _as_patch(body: dict[str, Any]) -> dict[str, Any]:
    """The create case as a PATCH: the placeholder name that made the body creatable is left out."""
    return {k: v for k, v in body.items() if (k, v) != ("name", "a")}


PATCH_BAD = [(_as_patch(body), field) for body, field in AGENT_BAD if field != "systemPrompt"]


@pytest.mark.parametrize(("body", "field"), PATCH_BAD, ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else v)
def test_patch_agent_rules_leave_the_agent_unchanged(world: World, body: dict[str, Any], field: str) -> None:
    refuse(world, "PATCH", "/v1/agents/{agent}", 400, field, json=body)


@pytest.mark.parametrize(("body", "field"), [
    ({"voiceMode": None}, "voiceMode"),
    ({"voiceSpeed": None}, "voiceSpeed"),
    ({"voiceMode": "hosted"}, "systemPrompt"),  # 400: the agent has no prompt to keep
    ({"voiceMode": "hosted", "systemPrompt": "   "}, "systemPrompt"),
    ({"name": "Renamed", "voiceSpeed": 9}, "voiceSpeed"),
])
def test_patch_agent_more_rules(world: World, body: dict[str, Any], field: str) -> None:
    refuse(world, "PATCH", "/v1/agents/{agent}", 400, field, json=body)


def test_one_bad_field_refuses_the_whole_patch(world: World) -> None:
    before = world.api.get(f"/v1/agents/{world.agent_id}").json()
    refuse(world, "PATCH", "/v1/agents/{agent}", 400, "modelTier",
           json={"name": "Changed", "description": "changed", "modelTier": "nope"})
    after = world.api.get(f"/v1/agents/{world.agent_id}").json()
    assert after == before
    assert after["name"] == "Steady" and after["voiceSpeed"] == 1.25


def test_several_bad_fields_are_all_named(world: World) -> None:
    detail = refuse(world, "POST", "/v1/agents", 400, None,
                    json={"name": 7, "voiceSpeed": 9, "modelTier": "x"})
    for field in ("name", "voiceSpeed", "modelTier"):
        assert f"'{field}'" in detail


NUMBER_BAD = [
    ({"country": "MX"}, "country"),
    ({"country": "mx"}, "country"),
    ({"country": "USA"}, "country"),
    ({"country": 1}, "country"),
    ({"areaCode": "12"}, "areaCode"),
    ({"areaCode": "1234"}, "areaCode"),
    ({"areaCode": "911"}, "areaCode"),
    ({"areaCode": "411"}, "areaCode"),
    ({"areaCode": "015"}, "areaCode"),
    ({"areaCode": "4a5"}, "areaCode"),
    ({"areaCode": 415}, "areaCode"),
    ({"country": "CA", "areaCode": "415"}, "415"),  # 400: each field keeps its rule, together they do not
    ({"country": "US", "areaCode": "416"}, "416"),
    ({"type": "fax"}, "type"),
    ({"agentId": 5}, "agentId"),
    ({"agentId": "agent_nope"}, "agent_nope"),
    ({"expiresAt": "tomorrow"}, "expiresAt"),
    ({"expiresAt": "2001-01-01T00:00:00Z"}, "future"),  # 400: a rule of the current time
    ({"expiresAt": "0001-01-01T00:00:00+01:00"}, "future"),
    ({"externalId": "x" * 201}, "externalId"),
]


@pytest.mark.parametrize(("body", "field"), NUMBER_BAD, ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else v)
def test_buy_number_rules(world: World, body: dict[str, Any], field: str) -> None:
    status = 404 if body.get("agentId") == "agent_nope" else 400
    refuse(world, "POST", "/v1/numbers", status, field, json=body)


WEBHOOK_BAD = [
    ({"contextLimit": 5}, "url"),
    ({"url": 5}, "url"),
    ({"url": ""}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "ftp://example.com/hook"}, "url"),
    ({"url": "https://"}, "url"),
    ({"url": "https://example.com", "contextLimit": 51}, "contextLimit"),
    ({"url": "https://example.com", "contextLimit": -1}, "contextLimit"),
    ({"url": "https://example.com", "contextLimit": "10"}, "contextLimit"),
    ({"url": "https://example.com", "timeout": 4}, "timeout"),
    ({"url": "https://example.com", "timeout": 121}, "timeout"),
    ({"url": "https://example.com", "timeout": 30.5}, "timeout"),
]


@pytest.mark.parametrize("path", ["/v1/webhooks", "/v1/agents/{agent}/webhook"])
@pytest.mark.parametrize(("body", "field"), WEBHOOK_BAD,
                         ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else v)
def test_set_webhook_rules(world: World, path: str, body: dict[str, Any], field: str) -> None:
    refuse(world, "POST", path, 400, field, json=body)


@pytest.mark.parametrize("url", ["http://[::1", "https://[not-ipv6]/hook"])
def test_malformed_ipv6_webhook_url_is_400(world: World, url: str) -> None:
    refuse(world, "POST", "/v1/webhooks", 400, "url", json={"url": url})


def test_refused_webhook_update_keeps_the_old_settings(fresh: World) -> None:
    hook = fresh.api.post("/v1/webhooks", json={"url": "https://example.com/a", "contextLimit": 3, "timeout": 9})
    assert hook.status_code == 200
    refuse(fresh, "POST", "/v1/webhooks", 400, "timeout", json={"url": "https://example.com/b", "timeout": 500})
    assert fresh.api.get("/v1/webhooks").json() == hook.json()


ATTACH_BAD = [
    ({}, "numberId", 400),
    ({"numberId": 5}, "numberId", 400),
    ({"numberId": ["pn_x"]}, "numberId", 400),
    ({"numberId": ""}, "numberId", 400),
    ({"numberId": "pn_nope"}, "pn_nope", 404),
]


@pytest.mark.parametrize(("body", "field", "status"), ATTACH_BAD)
def test_attach_number_rules(world: World, body: dict[str, Any], field: str, status: int) -> None:
    refuse(world, "POST", "/v1/agents/{agent}/numbers", status, field, json=body)
    assert world.api.get(f"/v1/numbers/{world.number_id}").json()["agentId"] is None


# --- query parameters -------------------------------------------------------------------------


LISTS = ["/v1/agents", "/v1/numbers", "/v1/calls", "/v1/conversations", "/v1/agents/{agent}/calls",
         "/v1/agents/{agent}/conversations", "/v1/numbers/{number}/calls"]


@pytest.mark.parametrize("path", LISTS)
def test_bad_paging_is_400(world: World, path: str) -> None:
    for query in ("limit=0", "limit=101", "limit=-5", "limit=ten", "limit=2.5", "offset=-1", "offset=x"):
        response = world.api.get(world.path(path) + "?" + query)
        assert response.status_code == 400, (query, response.text)
        assert f"'{query.split('=')[0]}'" in response.json()["detail"], query


@pytest.mark.parametrize("path", LISTS)
def test_paging_bounds_are_accepted(world: World, path: str) -> None:
    for query in ("limit=1", "limit=100", "offset=0"):
        response = world.api.get(world.path(path) + "?" + query)
        assert response.status_code == 200, (query, response.text)
        assert {"data", "total", "hasMore"} <= response.json().keys()


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "before=yesterday", "after=0001-01-01T00:00:00+01:00"])
def test_bad_message_query_is_400(world: World, query: str) -> None:
    response = world.api.get(f"/v1/numbers/{world.number_id}/messages?{query}")
    assert response.status_code == 400, response.text
    assert f"'{query.split('=')[0]}'" in response.json()["detail"]


# --- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/nope", "/v2/agents", "/v1/agents/x/y/z", "/v1"])
def test_unknown_route_is_404_with_detail(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert path in response.json()["detail"]


@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/v1/agents"), ("DELETE", "/v1/usage"), ("POST", "/v1/usage/daily"), ("PATCH", "/v1/webhooks"),
    ("PUT", "/v1/numbers/pn_x"), ("POST", "/v1/agents/agent_x"),
])
def test_wrong_method_is_405_with_detail(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path)
    assert response.status_code == 405
    detail = response.json()["detail"]
    assert method in detail and path in detail
    assert "allow" in response.headers


def test_405_allow_header_lists_every_method_of_the_path(api: httpx.Client) -> None:
    response = api.put("/v1/agents")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "POST"}


# --- never a 500 --------------------------------------------------------------------------------


ODD_VALUES: list[Any] = [None, True, 0, -1, 2**63, 1e308, "", " ", "x" * 5000, "\u0000", "💥", [], [None], {},
                         {"a": {"b": [1]}}]
AGENT_FIELDS = ["name", "description", "voiceMode", "systemPrompt", "beginMessage", "voice", "modelTier",
                "enableMessaging", "transferNumber", "customTools", "voicemailMessage", "callScreeningIdentity",
                "sttMode", "ambientSound", "denoisingMode", "maxSilenceMs", "voiceSpeed", "interruptionSensitivity",
                "enableBackchannel", "language"]
WEBHOOK_FIELDS = ["url", "contextLimit", "timeout"]
ODD_TARGETS = [
    ("POST", "/v1/agents", {"name": "Odd"}, AGENT_FIELDS),
    ("PATCH", "/v1/agents/{agent}", {}, AGENT_FIELDS),
    ("POST", "/v1/numbers", {}, ["country", "areaCode", "agentId", "type", "externalId", "expiresAt"]),
    ("PATCH", "/v1/numbers/{number}", {}, ["externalId", "expiresAt"]),
    ("POST", "/v1/webhooks", {"url": "https://example.com/h"}, WEBHOOK_FIELDS),
    ("POST", "/v1/agents/{agent}/webhook", {"url": "https://example.com/h"}, WEBHOOK_FIELDS),
    ("POST", "/v1/agents/{agent}/numbers", {}, ["numberId"]),
]


@pytest.mark.parametrize(("method", "path", "base", "fields"), ODD_TARGETS,
                         ids=[f"{m} {p}" for m, p, _, _ in ODD_TARGETS])
def test_odd_values_never_cause_a_server_error(fresh: World, method: str, path: str, base: dict[str, Any],
                                               fields: list[str]) -> None:
    for field in fields:
        for value in ODD_VALUES:
            response = fresh.api.request(method, fresh.path(path), json={**base, field: value})
            assert response.status_code < 500, (method, path, field, value, response.text)
            if response.status_code >= 400:
                assert isinstance(response.json()["detail"], str)


ODD_QUERIES = ["", "-0", "0x10", "1e3", "\u0661", "9" * 5000, "%00", "true", "[]", "2024-13-45",
               "9999-12-31T23:59:59-01:00"]
QUERY_TARGETS = [
    ("/v1/agents", ["limit", "offset"]),
    ("/v1/numbers", ["limit", "offset"]),
    ("/v1/calls", ["limit", "offset", "status", "direction", "type", "search"]),
    ("/v1/conversations", ["limit", "offset"]),
    ("/v1/numbers/{number}/messages", ["limit", "before", "after"]),
    ("/v1/usage/daily", ["days"]),
    ("/v1/usage/monthly", ["months"]),
]


@pytest.mark.parametrize(("path", "names"), QUERY_TARGETS, ids=[p for p, _ in QUERY_TARGETS])
def test_odd_query_values_never_cause_a_server_error(world: World, path: str, names: list[str]) -> None:
    for name in names:
        for value in ODD_QUERIES:
            response = world.api.get(world.path(path), params={name: value})
            assert response.status_code in (200, 400), (path, name, value, response.text)
            if response.status_code == 400:
                assert f"'{name}'" in response.json()["detail"]
