"""Strict mode accepts only the keys it was given (flags, keys file, environment, fixtures loaded at start or by
the admin since), and no other way makes a key valid: not a control route naming it, not an account key."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import yaml

from emulator.testing import EmulatorProcess, new_key

ENV_KEY = new_key()


@pytest.fixture(scope="module")
def strict() -> Iterator[tuple[EmulatorProcess, str]]:
    given = new_key()
    proc = EmulatorProcess(db=":memory:", args=["--strict-keys", "--key", given])
    proc.env = {**(proc.env or {}), "AGENTPHONE_EMULATOR_KEYS": f" {ENV_KEY} ,"}
    with proc:
        yield proc, given


@pytest.fixture
def control(strict: tuple[EmulatorProcess, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=strict[0].base_url, timeout=10) as client:
        yield client


def status(control: httpx.Client, key: str) -> int:
    return control.get("/v1/agents", headers={"Authorization": f"Bearer {key}"}).status_code


def as_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_configured_keys_are_valid_and_others_are_not(control: httpx.Client, strict: tuple[EmulatorProcess, str]) \
        -> None:
    assert status(control, strict[1]) == 200
    assert status(control, ENV_KEY) == 200
    assert status(control, new_key()) == 401


@pytest.mark.parametrize("how", ["json", "yaml"])
def test_a_fixture_the_admin_loads_makes_its_keys_valid(control: httpx.Client, how: str) -> None:
    key = new_key()
    assert status(control, key) == 401
    document = {"accounts": [{"key": key, "plan": "pro"}]}
    if how == "json":
        loaded = control.post("/_emulator/fixtures", json=document)
    else:
        loaded = control.post("/_emulator/fixtures", content=yaml.safe_dump(document),
                              headers={"Content-Type": "application/yaml"})
    assert loaded.status_code == 200, loaded.text
    assert status(control, key) == 200


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PATCH", "/_emulator/accounts/{key}", {"plan": "pro"}),
    ("PUT", "/_emulator/accounts/{key}", {"balanceCents": 100}),
    ("POST", "/_emulator/faults", {"key": "{key}", "webhook": "bad-signature"}),
    ("POST", "/_emulator/faults", {"key": "{key}", "status": 503}),
    ("PUT", "/_emulator/callees/+14155550123?key={key}", {"turns": [{"say": "hi"}]}),
])
def test_control_routes_naming_an_unknown_key_are_refused_and_make_nothing(
        control: httpx.Client, method: str, path: str, body: dict[str, object] | None) -> None:
    stranger = new_key()
    filled = None if body is None else {k: (stranger if v == "{key}" else v) for k, v in body.items()}
    response = control.request(method, path.format(key=stranger), json=filled)
    assert response.status_code == 403, response.text
    assert "--strict-keys" in response.json()["detail"]
    assert status(control, stranger) == 401
    assert control.get(f"/_emulator/accounts/{stranger}").status_code == 404  # no account was made


def test_an_unknown_key_cannot_let_itself_in(control: httpx.Client) -> None:
    stranger = new_key()
    for method, path, body in [
        ("PATCH", f"/_emulator/accounts/{stranger}", {"plan": "pro"}),
        ("POST", "/_emulator/fixtures", {"accounts": [{"key": stranger}]}),
        ("POST", "/_emulator/reset", {}),
    ]:
        response = control.request(method, path, json=body, headers=as_key(stranger))
        assert response.status_code == 401 and "--strict-keys" in response.json()["detail"], (path, response.text)
    assert status(control, stranger) == 401


def test_a_valid_account_key_cannot_add_another_key(control: httpx.Client, strict: tuple[EmulatorProcess, str]) \
        -> None:
    given, stranger = strict[1], new_key()
    both = {"accounts": [{"key": given}, {"key": stranger}]}
    refused = control.post("/_emulator/fixtures", json=both, headers=as_key(given))
    assert refused.status_code == 403 and "its own account only" in refused.json()["detail"]
    assert control.patch(f"/_emulator/accounts/{stranger}", json={}, headers=as_key(given)).status_code == 403
    assert status(control, stranger) == 401
    own = control.post("/_emulator/fixtures", json={"accounts": [{"key": given, "plan": "scale"}]},
                       headers=as_key(given))
    assert own.status_code == 200 and status(control, given) == 200


def test_resetting_an_unknown_key_resets_nothing_and_lets_nothing_in(control: httpx.Client) -> None:
    stranger = new_key()
    response = control.post("/_emulator/reset", json={"key": stranger})
    assert response.status_code == 200 and response.json()["reset"].startswith("account of key")
    assert status(control, stranger) == 401


def test_known_keys_stay_known_across_a_reset(control: httpx.Client, strict: tuple[EmulatorProcess, str]) -> None:
    fixture_key = new_key()
    assert control.post("/_emulator/fixtures", json={"accounts": [{"key": fixture_key}]}).status_code == 200
    assert control.post("/_emulator/reset").status_code == 200
    assert status(control, strict[1]) == 200 and status(control, fixture_key) == 200
    assert control.patch(f"/_emulator/accounts/{fixture_key}", json={"plan": "pro"}).status_code == 200
