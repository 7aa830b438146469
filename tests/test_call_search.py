"""`GET /v1/calls?search=` read through the index of numbers (emulator/domain/search.py) answers exactly what
`from_number LIKE '%text%' OR to_number LIKE '%text%'` over the calls answers: the same calls, in the same order,
with the same total, for every kind of text (runs of three characters or more, one or two, LIKE's own wildcards,
letters, quotes), with the other filters, page after page. The index follows the calls as they are written and
ended, removed with their account, reset and replaced; a database made before the index gets it at start-up."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import (
    buy_number,
    emulator_now,
    fresh_number,
    iso,
    make_agent,
    ok,
    script,
    seed_account,
    tag,
    upgrade,
    wait_ended,
)
from sqlalchemy import text

from emulator.config import Settings
from emulator.domain import calls as calls_domain
from emulator.domain.search import NumberSearch, fts_query
from emulator.testing import InProcessEmulator, new_key
from emulator.testing.postgres import throwaway_database

pytestmark = pytest.mark.also_on_postgresql  # and on PostgreSQL, where CI names a server

PG_SERVER = os.environ.get("AGENTPHONE_EMULATOR_TEST_PG")
COLUMNS = {"status": "status", "direction": "direction", "type": "type", "call_type": "type", "agent_id": "agent_id",
           "number_id": "phone_number_id"}
STATUSES = ("completed", "completed", "failed", "busy", "no-answer")


def like(emulator: InProcessEmulator, account: str, search: str, **filters: str) -> list[str]:
    """The IDs of the account's calls the plain LIKE over both numbers matches, in the list's order."""
    where = "".join(f" AND {COLUMNS[name]} = :{name}" for name in filters)
    statement = text("SELECT id FROM calls WHERE account_id = :account AND (from_number LIKE :pattern OR "
                     f"to_number LIKE :pattern){where} ORDER BY started_at DESC, pk DESC")

    async def run() -> list[str]:
        async with emulator.state.store.read() as session:
            result = await session.execute(statement, {"account": account, "pattern": f"%{search.strip()}%",
                                                       **filters})
            return [row[0] for row in result]

    return emulator.run(run(), timeout=30)


def listed(api: httpx.Client, search: str, **params: Any) -> dict[str, Any]:
    return dict(ok(api.get("/v1/calls", params={"search": search, **params})))


def assert_pages(api: httpx.Client, expected: list[str], search: str, limit: int, **filters: str) -> None:
    """Every page of the search, one after the other, is its slice of the expected list."""
    offset = 0
    while True:
        body = listed(api, search, limit=limit, offset=offset, **filters)
        want = expected[offset:offset + limit]
        assert [item["id"] for item in body["data"]] == want, (search, filters, offset)
        assert body["total"] == len(expected), (search, filters, offset)
        assert body["hasMore"] is (offset + len(want) < len(expected))
        if offset >= len(expected):
            return
        offset += limit


def assert_index_consistent(emulator: InProcessEmulator) -> None:
    """The rollup holds every number of every call; on SQLite the index of numbers holds exactly the rollup's
    numbers (each as often as rollup rows name it) and its FTS index agrees with it; on PostgreSQL the trigram
    index exists. Read in one write, so nothing is written in between."""

    async def check() -> None:
        store = emulator.state.store
        async with store.write() as session:
            rollup = {(row[0], int(row[1])) for row in await session.execute(
                text("SELECT number, count(*) FROM call_numbers GROUP BY number"))}
            numbers = {row[0] for row in await session.execute(
                text("SELECT from_number FROM calls UNION SELECT to_number FROM calls"))}
            assert {number for number, _ in rollup} == numbers
            if store.dialect_name == "sqlite":
                indexed = {(row[0], int(row[1])) for row in await session.execute(
                    text("SELECT number, refs FROM search_numbers"))}
                assert indexed == rollup
                await session.execute(text("INSERT INTO search_numbers_fts (search_numbers_fts, rank) "
                                           "VALUES ('integrity-check', 1)"))
            else:
                found = await session.execute(text("SELECT indexname FROM pg_indexes WHERE indexname = "
                                                   "'ix_call_numbers_number_trgm'"))
                assert found.first() is not None

    emulator.run(check(), timeout=60)


def served_by_index(emulator: InProcessEmulator, account: str, search: str, **filters: str) -> bool:
    """Whether the index of numbers answers the search (rather than a read of every call)."""

    async def run() -> bool:
        async with emulator.state.store.read() as session:
            found = await calls_domain.SEARCH.page(session, account, 20, 0, search.strip(), filters)
            return found is not None

    return emulator.run(run(), timeout=30)


@dataclass
class World:
    """One account's calls on two numbers of a prefix of their own, with others sharing that prefix or digits
    between them; calls between the two numbers, from a number to itself, at the same instant as others, with
    the other agent, and web calls ("web" to "agent:<id>")."""

    server: InProcessEmulator
    api: httpx.Client
    account: str
    base: str  # "+1" and a random area code and exchange: the account's numbers start with it
    own: list[str]
    others: list[str]
    agents: list[str]
    numbers: list[str]
    ids: list[str] = field(default_factory=list)

    def texts(self) -> list[str]:
        n1, n2 = self.own
        o = self.others
        return [
            n1, n2[1:], n1[-7:], self.base, self.base[2:], o[0][-4:], "0001", o[0][:8], o[5][-5:],  # 3 or more
            "+1", "0", "00", "1", "+",  # one or two
            f"{self.base[2:5]}_{self.base[6:]}", f"{n1[2:5]}%0001", "%", "_", "%%", "__", "0_0", "1%2%3", "50%",
            "web", "WEB", "agent:", self.agents[0][:9].upper(),  # letters: LIKE's case rules on each database
            'a"b"c', "\\00", "  0001  ", "9" * 12, n1 + "0", o[1] + o[2],
        ]


@pytest.fixture(scope="module")
def world(server: InProcessEmulator) -> Iterator[World]:
    key, t, rng = new_key(), tag(), random.Random(20240607)
    area, exchange = random.randint(201, 989), random.randint(200, 999)
    base = f"+1{area}{exchange}"
    other_area = 201 + (area - 201 + 1 + random.randint(0, 700)) % 789
    others = [f"+1{other_area}{exchange}{i:04d}" for i in (10, 11, 12, 21, 22, 123, 1230)] + [base + "0110"]
    own = [base + "0001", base + "0002"]
    agents, numbers = [f"agent_{t}_a", f"agent_{t}_b"], [f"pn_{t}_a", f"pn_{t}_b"]
    with server.client() as control, server.client(key) as api:
        start = emulator_now(control) - timedelta(days=2)
        fixture_calls = []
        for i in range(70):
            n = 0 if rng.random() < 0.7 else 1
            inbound = rng.random() < 0.4
            pick = rng.random()
            other = own[1 - n] if pick < 0.08 else own[n] if pick < 0.12 else rng.choice(others)
            call: dict[str, Any] = {
                "id": f"call_{t}_{i:02d}", "numberId": numbers[n], "direction": "inbound" if inbound else "outbound",
                "status": rng.choice(STATUSES), "durationSeconds": rng.randrange(0, 90),
                "startedAt": iso(start + timedelta(minutes=rng.randrange(0, 40))),  # 70 calls in 40 minutes: ties
                ("from" if inbound else "to"): other}
            if rng.random() < 0.2:
                call["agentId"] = agents[1 - n]
            fixture_calls.append(call)
        seed_account(control, key, plan="scale", agents=[{"id": a, "name": f"Agent {a[-1]}"} for a in agents],
                     numbers=[{"id": numbers[i], "phoneNumber": own[i], "agentId": agents[i]} for i in (0, 1)],
                     webhook={"url": "http://127.0.0.1:9/hook"}, calls=fixture_calls)
        web = [ok(api.post("/v1/calls/web", json={"agentId": agent}))["callId"] for agent in agents]
        account = str(ok(control.get(f"/_emulator/accounts/{key}"))["id"])
        yield World(server, api, account, base, own, others, agents, numbers, [c["id"] for c in fixture_calls] + web)


def test_the_world_has_what_the_searches_need(world: World) -> None:
    every = like(world.server, world.account, "")
    assert sorted(every) == sorted(world.ids)
    assert len(like(world.server, world.account, world.base)) > 40  # most calls, between numbers of the prefix too
    assert like(world.server, world.account, "web") and like(world.server, world.account, world.others[0])
    assert served_by_index(world.server, world.account, world.own[0])
    assert served_by_index(world.server, world.account, world.base)
    assert served_by_index(world.server, world.account, f"{world.own[0][2:5]}%0001")
    assert served_by_index(world.server, world.account, world.own[0][-7:], status="completed")
    for short in ("+1", "00", "%", "0_0", "1%2%3"):  # no run of three characters: the calls are read
        assert not served_by_index(world.server, world.account, short)


@pytest.fixture(params=["as chosen", "walking the list", "reading each number"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A page read the way the search chooses (by what each way is expected to read), or always one way: both
    must give the same page."""
    if request.param != "as chosen":
        walk = request.param == "walking the list"

        async def forced(*_args: Any, **_kwargs: Any) -> bool:
            return walk

        monkeypatch.setattr(NumberSearch, "_walk_is_cheaper", forced)
    return str(request.param)


@pytest.mark.parametrize("filters", [{}, {"status": "completed"}, {"status": "failed"}, {"direction": "inbound"},
                                     {"direction": "outbound"}, {"type": "web"},
                                     {"type": "pstn", "status": "completed", "direction": "outbound"}])
def test_search_answers_what_like_answers(world: World, filters: dict[str, str], reading: str) -> None:
    for search in world.texts():
        expected = like(world.server, world.account, search, **filters)
        body = listed(world.api, search, limit=100, **filters)
        assert [item["id"] for item in body["data"]] == expected, (search, filters)
        assert body["total"] == len(expected) and body["hasMore"] is False, (search, filters)
        if len(expected) > 4 and len(filters) < 2:
            assert_pages(world.api, expected, search, 4 if filters else 7, **filters)


def test_each_number_of_a_call_matches(world: World) -> None:
    """Digits of a number the account's calls have on either side find the calls of both directions."""
    other = world.others[0]
    expected = like(world.server, world.account, other[-6:])
    body = listed(world.api, other[-6:], limit=100)
    found = body["data"]
    assert [item["id"] for item in found] == expected and expected
    assert {item["direction"] for item in found} == {"inbound", "outbound"}
    assert all(other in (item["fromNumber"], item["toNumber"]) for item in found)
    assert listed(world.api, f"  {other[-6:]} ", limit=100) == body  # the text is stripped, as before
    assert listed(world.api, world.own[0], limit=1)["total"] == len(like(world.server, world.account, world.own[0]))


def test_search_with_an_agent_or_a_number(world: World, reading: str) -> None:
    """The agent's and the number's lists combine with a search in the domain as the call list does (the
    endpoints do not offer it, the reads do)."""
    combos = [{"agent_id": world.agents[0]}, {"agent_id": world.agents[1]}, {"number_id": world.numbers[1]},
              {"number_id": world.numbers[0], "status": "completed"}, {"agent_id": world.agents[1], "direction":
                                                                       "inbound"}]

    async def page(search: str, limit: int, offset: int, filters: dict[str, str]) -> tuple[list[str], int]:
        async with world.server.state.store.read() as session:
            rows, total = await calls_domain.list_page(session, world.account, limit, offset, search=search,
                                                       **filters)
            return [row.id for row in rows], total

    for filters in combos:
        for search in (world.own[0], world.base, world.others[0][-4:], "0001", f"{world.base[2:5]}_{world.base[6:]}"):
            expected = like(world.server, world.account, search, **filters)
            for offset in range(0, len(expected) + 3, 3):
                got = world.server.run(page(search, 3, offset, filters), timeout=30)
                assert got == (expected[offset:offset + 3], len(expected)), (search, filters, offset)


def test_search_over_real_http(server: InProcessEmulator, world: World) -> None:
    """Through uvicorn on a loopback port, page after page, with a filter."""
    key, t = new_key(), tag()
    prefix = f"{world.base[:5]}{(int(world.base[5:]) - 199) % 800 + 200:03d}"  # its own, beside the world's
    own, callers = prefix + "0009", [prefix + f"{i:04d}" for i in range(10, 16)]
    with server.client() as control:
        start = emulator_now(control) - timedelta(hours=3)
        seed_account(control, key, numbers=[{"id": f"pn_{t}", "phoneNumber": own}], calls=[
            {"id": f"call_{t}_{i:02d}", "numberId": f"pn_{t}", "direction": "inbound", "from": callers[i % 6],
             "status": STATUSES[i % 5], "startedAt": iso(start + timedelta(minutes=i // 2))} for i in range(30)])
        account = str(ok(control.get(f"/_emulator/accounts/{key}"))["id"])
    with server.http_client(key) as http:
        for search, filters in ((prefix, {}), (callers[2][-5:], {}), (own[-6:], {"status": "completed"}),
                                (prefix[2:], {"status": "failed"})):
            expected = like(server, account, search, **filters)
            assert expected
            assert_pages(http, expected, search, 4, **filters)
    assert served_by_index(server, account, prefix)


def placed(api: httpx.Client, control: httpx.Client, agent_id: str, callee: str) -> dict[str, Any]:
    """A hosted call to a scripted callee at `callee`, once ended."""
    to = script(control, [{"say": "Hello?"}, {"say": "Goodbye."}], callee)
    call = ok(api.post("/v1/calls", json={"agentId": agent_id, "toNumber": to, "systemPrompt": "Be brief."}))
    return wait_ended(api, call["id"])


def in_index(emulator: InProcessEmulator, number: str) -> tuple[bool, bool]:
    """Whether the rollup has rows for the number, and whether the index of numbers finds it (on PostgreSQL the
    trigram index is the rollup's own)."""

    async def run() -> tuple[bool, bool]:
        store = emulator.state.store
        async with store.read() as session:
            rollup = int((await session.execute(text("SELECT count(*) FROM call_numbers WHERE number = :n"),
                                                {"n": number})).scalar_one())
            if store.dialect_name != "sqlite":
                return rollup > 0, rollup > 0
            found = int((await session.execute(text(
                "SELECT count(*) FROM search_numbers_fts JOIN search_numbers ON search_numbers.id = "
                "search_numbers_fts.rowid WHERE search_numbers_fts MATCH :q AND search_numbers.number = :n"),
                {"q": fts_query(number), "n": number})).scalar_one())
            return rollup > 0, found > 0

    return emulator.run(run(), timeout=30)


def test_the_index_follows_calls_as_they_are_placed_and_end(server: InProcessEmulator, api: httpx.Client,
                                                             control: httpx.Client, key: str) -> None:
    upgrade(control, key)
    agent = make_agent(api, "Desk")
    buy_number(api, agent["id"])
    account = str(ok(control.get(f"/_emulator/accounts/{key}"))["id"])
    callee = fresh_number()
    assert listed(api, callee[-8:])["total"] == 0 and in_index(server, callee) == (False, False)
    first = placed(api, control, agent["id"], callee)
    assert in_index(server, callee) == (True, True)
    body = listed(api, callee[-8:])
    assert [item["id"] for item in body["data"]] == [first["id"]] and body["total"] == 1
    # Placed in progress, then ended: the rollup moved the call to its last status.
    assert listed(api, callee[-8:], status=first["status"])["total"] == 1
    assert listed(api, callee[-8:], status="in-progress")["total"] == 0
    second = placed(api, control, agent["id"], callee)
    for search in (callee, callee[-8:], callee[2:6]):
        expected = like(server, account, search)
        assert [item["id"] for item in listed(api, search)["data"]] == expected
    assert like(server, account, callee) == [second["id"], first["id"]]
    assert served_by_index(server, account, callee)
    assert_index_consistent(server)


def test_the_index_forgets_calls_removed_with_their_account(server: InProcessEmulator, api: httpx.Client,
                                                             control: httpx.Client, key: str) -> None:
    upgrade(control, key)
    sub = ok(api.post("/v1/sub-accounts", json={"name": "Branch"}))
    callee = fresh_number()
    with server.client(key, headers={"X-Sub-Account-Id": sub["id"]}) as branch:
        agent = make_agent(branch, "Branch desk")
        buy_number(branch, agent["id"])
        call = placed(branch, control, agent["id"], callee)
        assert [item["id"] for item in listed(branch, callee)["data"]] == [call["id"]]
    assert listed(api, callee)["total"] == 0  # the parent's own list
    assert in_index(server, callee) == (True, True)
    ok(api.delete(f"/v1/sub-accounts/{sub['id']}"))
    assert in_index(server, callee) == (False, False)
    assert_index_consistent(server)


def test_the_index_follows_a_fixture_that_replaces_the_account_and_a_reset(
        server: InProcessEmulator, api: httpx.Client, control: httpx.Client, key: str) -> None:
    t = tag()
    own, before, after = fresh_number(), fresh_number(), fresh_number()

    def seed(caller: str) -> None:
        seed_account(control, key, numbers=[{"id": f"pn_{t}", "phoneNumber": own}], calls=[
            {"id": f"call_{t}_{caller[-4:]}_{i}", "numberId": f"pn_{t}", "direction": "inbound", "from": caller}
            for i in range(3)])

    seed(before)
    assert listed(api, before)["total"] == 3 and in_index(server, before) == (True, True)
    seed(after)  # the same key loaded again: the account is replaced
    assert listed(api, before)["total"] == 0 and in_index(server, before) == (False, False)
    assert listed(api, after)["total"] == 3 and listed(api, own)["total"] == 3
    ok(control.post("/_emulator/reset", json={"key": key}))
    assert listed(api, after)["total"] == 0 and listed(api, own)["total"] == 0
    assert in_index(server, after) == (False, False) and in_index(server, own) == (False, False)
    assert_index_consistent(server)


@pytest.fixture(params=["sqlite", "postgresql"] if PG_SERVER else ["sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own: a SQLite file, or one on the PostgreSQL server CI names."""
    if request.param == "sqlite":
        yield str(tmp_path / "emulator.db")
        return
    assert PG_SERVER is not None
    with throwaway_database(PG_SERVER) as url:
        yield url


def seed_calls(control: httpx.Client, key: str, own: str, callers: list[str], count: int) -> None:
    t = tag()
    seed_account(control, key, numbers=[{"id": f"pn_{t}", "phoneNumber": own}], calls=[
        {"id": f"call_{t}_{i:02d}", "numberId": f"pn_{t}", "direction": "inbound" if i % 3 else "outbound",
         ("from" if i % 3 else "to"): callers[i % len(callers)], "status": STATUSES[i % 5]} for i in range(count)])


def test_a_reset_of_everything_empties_the_index(database: str) -> None:
    keys, own, callers = [new_key(), new_key()], [fresh_number(), fresh_number()], [fresh_number() for _ in range(4)]
    with InProcessEmulator(Settings(db=database)) as emulator, emulator.client() as control:
        for i, key in enumerate(keys):
            seed_calls(control, key, own[i], callers, 12)
        assert_index_consistent(emulator)
        assert in_index(emulator, callers[0]) == (True, True)
        ok(control.post("/_emulator/reset", json={}))
        for number in (*own, *callers):
            assert in_index(emulator, number) == (False, False)
        assert_index_consistent(emulator)
        seed_calls(control, keys[0], own[0], callers[:1], 5)
        with emulator.client(keys[0]) as api:
            assert listed(api, callers[0])["total"] == 5
            assert listed(api, callers[1])["total"] == 0
        assert_index_consistent(emulator)


_SQLITE_BEFORE = (  # what a database made before the search index has not: its tables, triggers, indexes, rollup
    "DROP TRIGGER search_call_numbers_added", "DROP TRIGGER search_call_numbers_removed",
    "DROP TRIGGER search_numbers_added", "DROP TRIGGER search_numbers_removed",
    "DROP TABLE search_numbers_fts", "DROP TABLE search_numbers",
    "DROP TRIGGER rollup_calls_insert", "DROP TRIGGER rollup_calls_update", "DROP TABLE call_numbers",
)
_POSTGRESQL_BEFORE = ("DROP TRIGGER rollup_calls_insert ON calls", "DROP TRIGGER rollup_calls_update ON calls",
                      "DROP TABLE call_numbers", "DROP EXTENSION pg_trgm")
_BOTH_BEFORE = ("DROP INDEX ix_calls_account_from_number_time", "DROP INDEX ix_calls_account_to_number_time",
                "DROP INDEX ix_calls_account_from_to", "UPDATE store_meta SET value = 'older' WHERE name = 'rollups'",
                "DELETE FROM store_meta WHERE name = 'search'")


def test_an_older_database_gets_the_index_at_start_up(database: str) -> None:
    key, own, callers = new_key(), fresh_number(), [fresh_number() for _ in range(5)]
    with InProcessEmulator(Settings(db=database)) as first, first.client() as control:
        seed_calls(control, key, own, callers, 40)
        account = str(ok(control.get(f"/_emulator/accounts/{key}"))["id"])

        async def make_older() -> None:
            store = first.state.store
            async with store.write() as session:
                before = _SQLITE_BEFORE if store.dialect_name == "sqlite" else _POSTGRESQL_BEFORE
                for statement in (*before, *_BOTH_BEFORE):
                    await session.execute(text(statement))

        first.run(make_older(), timeout=60)
    if "://" not in database:
        with sqlite3.connect(database) as conn:
            names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert not names & {"call_numbers", "search_numbers", "search_numbers_fts", "ix_calls_account_from_to"}
    with InProcessEmulator(Settings(db=database)) as second, second.client(key) as api, second.client() as control:
        for number in (own, *callers):
            assert in_index(second, number) == (True, True)
        assert_index_consistent(second)
        for search in (own, callers[1], callers[2][-5:], own[:5]):
            expected = like(second, account, search)
            assert expected and [item["id"] for item in listed(api, search, limit=100)["data"]] == expected
            assert listed(api, search, limit=1)["total"] == len(expected)
            assert served_by_index(second, account, search)
        later = fresh_number()
        seed_calls(control, key, own, [later], 3)  # written after the upgrade: the triggers keep the index
        assert listed(api, later)["total"] == 3 and listed(api, callers[1])["total"] == 0
        assert_index_consistent(second)


@pytest.mark.parametrize(("text_", "query"), [
    ("4155550123", '"4155550123"'), ("+1415", '"+1415"'), ("415_555%0123", '"415" AND "555" AND "0123"'),
    ('a"b"c', '"a""b""c"'), ("12", None), ("1_2%3", None), ("%", None), ("", None), ("ab_cde", '"cde"'),
])
def test_the_fts_query_holds_every_run_of_three_between_wildcards(text_: str, query: str | None) -> None:
    assert fts_query(text_) == query


async def _as_owner(url: str, *statements: str) -> None:
    import asyncpg  # type: ignore[import-untyped]  # the `postgresql` extra

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.mark.skipif(not PG_SERVER, reason="AGENTPHONE_EMULATOR_TEST_PG names no PostgreSQL server (.ci/run starts one)")
def test_postgresql_without_pg_trgm_searches_alike() -> None:
    """A user who may not create extensions in the database: the emulator starts, searches answer the same from
    the rollup without the trigram index, and the next start tries again."""
    assert PG_SERVER is not None
    role = f"emulator_plain_{tag()}"
    with throwaway_database(PG_SERVER) as url:
        host = url.split("@", 1)[1]
        asyncio.run(_as_owner(url, f"CREATE ROLE {role} LOGIN", f"GRANT USAGE, CREATE ON SCHEMA public TO {role}"))
        try:
            key, own, callers = new_key(), fresh_number(), [fresh_number() for _ in range(3)]
            plain = f"postgresql+asyncpg://{role}@{host}"
            with InProcessEmulator(Settings(db=plain)) as emulator, emulator.client() as control, \
                    emulator.client(key) as api:
                seed_calls(control, key, own, callers, 20)
                account = str(ok(control.get(f"/_emulator/accounts/{key}"))["id"])
                for search in (own, callers[0], callers[1][-6:], "+1"):
                    expected = like(emulator, account, search)
                    assert expected and [item["id"] for item in listed(api, search)["data"]] == expected
                assert served_by_index(emulator, account, callers[0])

                async def state() -> tuple[Any, Any]:
                    async with emulator.state.store.read() as session:
                        index = (await session.execute(text("SELECT indexname FROM pg_indexes WHERE indexname = "
                                                            "'ix_call_numbers_number_trgm'"))).first()
                        meta = (await session.execute(text("SELECT value FROM store_meta WHERE name = 'search'"))
                                ).first()
                        return index, meta

                assert emulator.run(state(), timeout=30) == (None, None)
        finally:
            asyncio.run(_as_owner(url, f"DROP OWNED BY {role}"))
    asyncio.run(_as_owner(PG_SERVER, f"DROP ROLE {role}"))
