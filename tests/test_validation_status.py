"""Field-rule errors answer 400 (the skill doc's status) unless the emulator runs with `--validation-status 422`
(FastAPI's default); malformed bodies stay 400 and over-size ones 413 in both modes. Over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from helpers import http_client, refused

from emulator.testing import InProcessEmulator, new_key

BIG = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'


def _statuses(client: httpx.Client) -> dict[str, httpx.Response]:
    return {
        "body rule": client.post("/v1/agents", json={"name": "Bot", "voiceSpeed": 9}),
        "query rule": client.get("/v1/agents", params={"limit": 0}),
        "domain rule": client.post("/v1/calls", json={"agentId": "agent_x", "toNumber": "not a number"}),
        "malformed": client.post("/v1/agents", content=b"{not json", headers={"Content-Type": "application/json"}),
        "not an object": client.post("/v1/agents", json=[1, 2]),
        "too large": client.post("/v1/agents", content=BIG, headers={"Content-Type": "application/json"}),
    }


def test_field_rule_errors_are_400_by_default(base_url: str, key: str) -> None:
    with http_client(base_url, key) as client:
        seen = _statuses(client)
    for name in ("body rule", "query rule", "malformed", "not an object"):
        refused(seen[name], 400)
    detail = refused(seen["body rule"], 400, "voiceSpeed")
    assert seen["body rule"].json()["errors"][0]["loc"][:2] == ["body", "voiceSpeed"], detail
    assert seen["domain rule"].status_code in (400, 404)
    refused(seen["too large"], 413)


@pytest.mark.parametrize("setting", [422, 400])
def test_the_setting_chooses_the_status_of_field_rule_errors(
        make_emulator: Callable[..., InProcessEmulator], setting: int) -> None:
    emulator = make_emulator(serve=True, validation_status=setting)
    with http_client(emulator.base_url, new_key()) as client:
        seen = _statuses(client)
    refused(seen["body rule"], setting, "voiceSpeed")
    refused(seen["query rule"], setting, "limit")
    assert seen["body rule"].json()["errors"], "the FastAPI-style list rides along in both modes"
    refused(seen["malformed"], 400, "not valid JSON")
    refused(seen["not an object"], 400, "JSON object")
    refused(seen["too large"], 413)
