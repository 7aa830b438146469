"""Fixtures that cannot be loaded get a 4xx naming the problem, and nothing is written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator.testing import new_key


def account(**extra: Any) -> dict[str, Any]:
    return {"key": new_key(), "agents": [{"id": f"agent_{new_key()[-12:]}", "name": "A"}], **extra}


def load(control: httpx.Client, fixture: Any) -> httpx.Response:
    return control.post("/_emulator/fixtures", json=fixture)


@pytest.mark.parametrize("body, status, phrase", [
    ({"path": "/no/such/fixture.yaml"}, 403, "inside the emulator's working directory"),
    ({"path": "no/such/fixture.yaml"}, 400, "Cannot read the fixture"),
    ({"path": 5}, 400, "Field 'path' must be a string"),
])
def test_bad_paths(control: httpx.Client, body: dict[str, Any], status: int, phrase: str) -> None:
    response = load(control, body)
    assert response.status_code == status and phrase in response.json()["detail"]


def test_duplicates_within_one_fixture_are_409(control: httpx.Client) -> None:
    first = account()
    twice = {"accounts": [first, {**account(), "key": first["key"]}]}
    response = load(control, twice)
    assert response.status_code == 409 and "repeats the key" in response.json()["detail"]

    same_number = account(numbers=[{"phoneNumber": "+14155550190"}, {"phoneNumber": "+14155550190"}])
    response = load(control, {"accounts": [same_number]})
    assert response.status_code == 409 and "repeats the phone number '+14155550190'" in response.json()["detail"]
    api = httpx.Client(base_url=str(control.base_url), headers={"Authorization": f"Bearer {same_number['key']}"})
    assert api.get("/v1/numbers").json()["total"] == 0  # nothing was written


def test_numbers_and_calls_must_point_at_the_fixtures_own_agents(control: httpx.Client) -> None:
    stray = account(numbers=[{"phoneNumber": "+14155550191", "agentId": "agent_elsewhere"}])
    response = load(control, {"accounts": [stray]})
    assert response.status_code == 400 and "'agent_elsewhere' is not an agent" in response.json()["detail"]


@pytest.mark.parametrize("call, phrase", [
    ({"status": "in-progress"}, "status"),
    ({"durationSeconds": 10**15}, "durationSeconds"),
])
def test_call_rows_are_bounded(control: httpx.Client, call: dict[str, Any], phrase: str) -> None:
    fixture = account(numbers=[{"id": f"pn_{new_key()[-12:]}", "phoneNumber": "+14155550192"}])
    fixture["calls"] = [{"numberId": fixture["numbers"][0]["id"], "to": "+14155550193", **call}]
    response = load(control, {"accounts": [fixture]})
    assert response.status_code == 400 and phrase in response.json()["detail"]
