"""Text a database cannot store and numbers a 4-byte column cannot hold: a NUL character anywhere a request
carries text is a 400 (on SQLite as on PostgreSQL, which cannot store one), text as long as the API allows fits
its column (PostgreSQL holds text to its declared length), integers the API allows up to 2^63-1 are stored in
64-bit columns, and two first requests with the same new key at once make one account."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import account_id, buy_number, make_agent, ok, upgrade
from sqlalchemy import BigInteger, Integer, String, text
from sqlalchemy.dialects import postgresql

from emulator.config import Settings
from emulator.keys import KEY_RULE
from emulator.store.models import Base
from emulator.testing.inprocess import InProcessEmulator
from emulator.testing.postgres import throwaway_database
from emulator.testing.process import new_key
from emulator.wire import accounts, agents, contacts, numbers

pytestmark = pytest.mark.also_on_postgresql  # and on PostgreSQL, where CI names a server


def _refused_for_nul(resp: httpx.Response, *words: str) -> str:
    assert resp.status_code == 400, resp.text
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and detail.endswith(".") and "NUL" in detail, detail
    for word in words:
        assert word in detail, detail
    return detail


@pytest.mark.parametrize("body", [
    '{"name": "Bad\\u0000Bot"}',
    '{"name": "ok", "beginMessage": "hello\\u0000"}',
    '{"name": "ok", "customTools": [{"name": "t", "description": "d", "url": "https://e.test/\\u0000"}]}',
    '{"name": "ok", "bad\\u0000key": 1}',
])
def test_a_nul_in_any_string_of_a_json_body_is_a_400_and_nothing_is_written(
        server: InProcessEmulator, body: str) -> None:
    with server.client(new_key()) as api:
        resp = api.post("/v1/agents", content=body, headers={"content-type": "application/json"})
        _refused_for_nul(resp, "field")
        assert ok(api.get("/v1/agents"))["total"] == 0


def test_the_field_is_named_and_an_escaped_backslash_is_not_a_nul(server: InProcessEmulator) -> None:
    with server.client(new_key()) as api:
        detail = _refused_for_nul(api.post("/v1/agents", content='{"name": "a\\u0000"}',
                                           headers={"content-type": "application/json"}), "'name'")
        assert "\x00" not in detail
        # "\\u0000" in JSON is a backslash followed by "u0000": six ordinary characters, stored as sent
        agent = ok(api.post("/v1/agents", content='{"name": "a\\\\u0000"}',
                            headers={"content-type": "application/json"}))
        assert agent["name"] == "a\\u0000"
        assert ok(api.get(f"/v1/agents/{agent['id']}"))["name"] == "a\\u0000"


def test_a_nul_in_a_control_api_body_is_a_400(server: InProcessEmulator, control: httpx.Client) -> None:
    key = new_key()
    with server.client(key) as api:
        upgrade(control, key)
        number = buy_number(api)["phoneNumber"]
        resp = control.post("/_emulator/sms", json={"from": "+14155550123", "to": number, "body": "hi\x00there"})
        _refused_for_nul(resp, "'body'")
        assert ok(api.get("/v1/conversations"))["total"] == 0


def test_a_nul_in_a_fixture_is_a_400(control: httpx.Client) -> None:
    key = new_key()
    yaml = f'accounts:\n  - key: {key}\n    agents:\n      - name: "Bad\\0Bot"\n'
    resp = control.post("/_emulator/fixtures", content=yaml, headers={"content-type": "application/yaml"})
    _refused_for_nul(resp, "accounts[0].agents[0].name")
    assert control.get(f"/_emulator/accounts/{key}").status_code == 404


@pytest.mark.parametrize("path", [
    "/v1/calls?search=%00", "/v1/calls?limit=20&search=a%00b", "/v1/contacts?search=%00",
    "/v1/conversations?x%00=1", "/v1/agents?limit=%00",
])
def test_a_nul_in_a_query_parameter_is_a_400(server: InProcessEmulator, path: str) -> None:
    with server.client(new_key()) as api:
        detail = _refused_for_nul(api.get(path), "Query parameter")
        assert "\x00" not in detail


def test_a_nul_in_the_path_or_a_control_query_is_a_400(server: InProcessEmulator, control: httpx.Client) -> None:
    with server.client(new_key()) as api:
        _refused_for_nul(api.get("/v1/agents/agent%00x"), "path")
    _refused_for_nul(control.get("/_emulator/clock?key=%00"), "'key'")
    assert ok(control.get("/_emulator/clock"))  # the same routes answer without the NUL


def test_over_real_http_too(server: InProcessEmulator) -> None:
    with httpx.Client(base_url=server.base_url, headers={"authorization": f"Bearer {new_key()}"}) as api:
        _refused_for_nul(api.get("/v1/calls", params={"search": "\x00"}), "'search'")
        _refused_for_nul(api.post("/v1/agents", json={"name": "x\x00"}), "'name'")
        assert ok(api.get("/v1/calls", params={"search": "+1415"}))["total"] == 0


def test_every_integer_column_is_64_bit() -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    narrow = [f"{table.name}.{column.name}" for table in Base.metadata.sorted_tables for column in table.columns
              if isinstance(column.type, Integer) and column.type.compile(dialect=dialect) != "BIGINT"]
    assert narrow == []
    account = Base.metadata.tables["accounts"]
    assert isinstance(account.c.balance_cents.type, BigInteger)


def test_a_balance_of_2_63_minus_1_is_kept_exactly(server: InProcessEmulator, control: httpx.Client) -> None:
    key = new_key()
    biggest = 2**63 - 1
    settings = ok(control.patch(f"/_emulator/accounts/{key}", json={"balanceCents": biggest}))
    assert settings["balanceCents"] == biggest
    assert ok(control.get(f"/_emulator/accounts/{key}"))["balanceCents"] == biggest
    over = control.patch(f"/_emulator/accounts/{key}", json={"balanceCents": biggest + 1})
    assert over.status_code == 400 and over.json()["detail"].endswith(".")
    with server.client(key) as api:
        make_agent(api)  # the account works with it
    assert ok(control.get(f"/_emulator/accounts/{key}"))["balanceCents"] == biggest


def _first_requests_at_once(emulators: list[InProcessEmulator], key: str) -> list[int]:
    """The statuses of one first request per emulator with the same new key, released together."""
    statuses: list[int] = []
    gate = threading.Barrier(len(emulators))

    def hit(emulator: InProcessEmulator) -> None:
        with emulator.client(key) as api:
            gate.wait()
            statuses.append(api.get("/v1/agents").status_code)

    threads = [threading.Thread(target=hit, args=(emulator,)) for emulator in emulators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return statuses


def test_two_first_requests_with_one_new_key_make_one_account_across_two_processes_on_one_file(
        make_emulator: Callable[..., InProcessEmulator], tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    first, second = make_emulator(db=db), make_emulator(db=db)
    for round_ in range(5):
        key = new_key()
        statuses = _first_requests_at_once([first, second, first, second], key)
        assert statuses == [200] * 4, f"round {round_}: {statuses}"
        with first.client() as control_one, second.client() as control_two:
            assert account_id(control_one, key) == account_id(control_two, key)


LONGEST_KEY = "sk_test_" + "k" * int(re.findall(r"\{1,(\d+)\}", KEY_RULE)[0])
PG_SERVER = os.environ.get("AGENTPHONE_EMULATOR_TEST_PG")


def _longest(model: Any, field: str) -> int:
    """The most characters a request model's text field allows, as its served schema states it."""
    schema = json.dumps(model.model_json_schema(by_alias=False)["properties"][field])
    found = re.findall(r'"maxLength": (\d+)', schema)
    assert found, f"{model.__name__}.{field} has no length rule"
    return int(found[0])


# Each text a request may send at its longest, and the column that keeps it.
KEPT = [(accounts.SubAccountName, "name", "accounts.name"), (agents.CreateAgent, "name", "agents.name"),
        (agents.CreateAgent, "voice", "agents.voice"), (contacts.CreateContact, "name", "contacts.name"),
        (contacts.CreateContact, "email", "contacts.email"),
        (numbers.BuyNumber, "external_id", "phone_numbers.external_id")]


@pytest.mark.parametrize(("model", "field", "column"), KEPT, ids=[c for _m, _f, c in KEPT])
def test_every_text_rule_fits_its_column(model: Any, field: str, column: str) -> None:
    table, name = column.split(".")
    kind = Base.metadata.tables[table].c[name].type
    assert isinstance(kind, String) and kind.length is not None and kind.length >= _longest(model, field)


def test_every_key_column_holds_the_longest_key_the_rule_allows() -> None:
    keys = [column for table in Base.metadata.sorted_tables for column in table.columns if column.name == "key"]
    assert len(keys) >= 3 and len(LONGEST_KEY) == 208
    assert all(isinstance(c.type, String) and (c.type.length or 0) >= len(LONGEST_KEY) for c in keys), keys


def test_the_longest_texts_the_rules_allow_are_stored(server: InProcessEmulator, control: httpx.Client) -> None:
    name = "n" * _longest(accounts.SubAccountName, "name")
    with server.client(LONGEST_KEY) as api:
        assert ok(api.get("/v1/agents"))["total"] >= 0  # the key's account is made and found
        sub = ok(api.post("/v1/sub-accounts", json={"name": name}))
        assert sub["name"] == name
        renamed = ok(api.patch(f"/v1/sub-accounts/{sub['id']}", json={"name": "r" + name[1:]}))
        assert renamed["name"] == "r" + name[1:]
        agent = ok(api.post("/v1/agents", json={"name": "a" * _longest(agents.CreateAgent, "name")}))
        assert ok(api.get(f"/v1/agents/{agent['id']}"))["name"] == agent["name"]
    assert ok(control.get(f"/_emulator/accounts/{LONGEST_KEY}"))["key"] == LONGEST_KEY
    over = control.put(f"/_emulator/accounts/{LONGEST_KEY}k", json={})
    assert over.status_code == 401 and "sk_test_" in over.json()["detail"]
    with server.client(new_key()) as api:
        refused = api.post("/v1/sub-accounts", json={"name": name + "n"})
        assert refused.status_code == 400 and "'name'" in refused.json()["detail"]


@pytest.mark.skipif(not PG_SERVER, reason="AGENTPHONE_EMULATOR_TEST_PG names no PostgreSQL server")
def test_an_older_postgresql_database_gets_its_text_columns_widened() -> None:
    assert PG_SERVER is not None
    with throwaway_database(PG_SERVER) as url:
        key = new_key()
        with InProcessEmulator(Settings(db=url)) as first, first.client(key) as api:
            ok(api.get("/v1/agents"))

            async def narrow() -> None:
                async with first.state.store.write() as session:
                    for column in ("key", "name"):
                        await session.execute(text(f"ALTER TABLE accounts ALTER COLUMN {column} TYPE VARCHAR(200)"))
            first.run(narrow(), timeout=60)

        async def lengths(emulator: InProcessEmulator) -> dict[str, int]:
            async with emulator.state.store.read() as session:
                rows = await session.execute(text(
                    "SELECT column_name, character_maximum_length FROM information_schema.columns "
                    "WHERE table_name = 'accounts' AND column_name IN ('key', 'name')"))
                return {row[0]: row[1] for row in rows}

        with InProcessEmulator(Settings(db=url)) as second, second.client(LONGEST_KEY) as api, \
                second.client() as control:
            assert second.run(lengths(second), timeout=60) == {"key": 220, "name": 500}
            assert ok(api.post("/v1/sub-accounts", json={"name": "n" * 500}))["name"] == "n" * 500
            assert ok(control.get(f"/_emulator/accounts/{key}"))["key"] == key  # the rows stayed


def test_a_fixture_id_is_as_long_as_an_id_column_holds(server: InProcessEmulator, control: httpx.Client) -> None:
    key, longest = new_key(), "agent_" + "a" * 58
    fixture = {"accounts": [{"key": key, "agents": [{"id": longest, "name": "Longest"}],
                             "numbers": [{"phoneNumber": "+14155550141", "country": "US"}]}]}
    ok(control.post("/_emulator/fixtures", json=fixture))
    with server.client(key) as api:
        assert ok(api.get(f"/v1/agents/{longest}"))["name"] == "Longest"
    for field, fixture in [
        ("accounts[0].agents[0].id",
         {"accounts": [{"key": new_key(), "agents": [{"id": longest + "a", "name": "A"}]}]}),
        ("accounts[0].numbers[0].country",
         {"accounts": [{"key": new_key(), "numbers": [{"phoneNumber": "+14155550142", "country": "X" * 9}]}]}),
    ]:
        refused = control.post("/_emulator/fixtures", json=fixture)
        assert refused.status_code == 400 and f"'{field}'" in refused.json()["detail"], refused.text
        assert control.get(f"/_emulator/accounts/{fixture['accounts'][0]['key']}").status_code == 404
