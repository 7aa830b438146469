"""The emulator on a real PostgreSQL server: `serve --db postgresql+asyncpg://...` as a user runs it, and two
emulator processes on one database. The server is the one named by AGENTPHONE_EMULATOR_TEST_PG (CI starts a
throwaway PostgreSQL 15 cluster on a loopback port and sets it); each module run gets a database of its own.

The whole suite also runs on PostgreSQL: AGENTPHONE_EMULATOR_TEST_DB=postgresql+asyncpg://... python -m pytest
puts the session's emulator there."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from helpers import SENDER, http_client, ok, refused, settled, wait_log

from emulator.testing import EmulatorProcess, WebhookReceiver, new_key
from emulator.testing.postgres import throwaway_database
from emulator.testing.receiver import delayed, say, status

SERVER = os.environ.get("AGENTPHONE_EMULATOR_TEST_PG")
pytestmark = pytest.mark.skipif(not SERVER, reason="AGENTPHONE_EMULATOR_TEST_PG names no PostgreSQL server "
                                                   "(.ci/run starts one)")
ADMIN = "pg-admin-token"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A fresh database on the server, dropped afterwards; its SQLAlchemy URL."""
    assert SERVER is not None
    with throwaway_database(SERVER) as url:
        yield url


@pytest.fixture(scope="module")
def pair(database: str) -> Iterator[tuple[EmulatorProcess, EmulatorProcess]]:
    """Two emulator processes on the one database (a server database takes no file lock)."""
    with EmulatorProcess(db=database, args=["--admin-token", ADMIN]) as first, \
            EmulatorProcess(db=database, args=["--admin-token", ADMIN]) as second:
        yield first, second


def admin(proc: EmulatorProcess) -> httpx.Client:
    return http_client(proc.base_url, **{"X-Emulator-Admin-Token": ADMIN})


def test_an_agent_a_number_and_a_signed_sms_delivery(pair: tuple[EmulatorProcess, EmulatorProcess],
                                                     database: str) -> None:
    proc = pair[0]
    key = new_key()
    with http_client(proc.base_url, key) as api, admin(proc) as control, WebhookReceiver() as rx:
        assert ok(control.get("/_emulator/health"))["database"].endswith(database.rsplit("/", 1)[1])
        agent = ok(api.post("/v1/agents", json={"name": "On Postgres"}))
        number = ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
        hook = ok(api.post("/v1/webhooks", json={"url": rx.url_for("/hook")}))
        rx.expect("/hook", hook["secret"])
        sent = ok(control.post("/_emulator/sms", json={"from": SENDER, "to": number["phoneNumber"], "body": "hi"}))
        got = rx.wait_for(1, event="agent.message")[0]
        assert got.data["message"] == "hi" and got.data["numberId"] == number["id"]
        assert sent["message"]["body"] == "hi"
        usage = ok(api.get("/v1/usage"))
        assert usage["stats"]["messagesLast24h"] == 1
        assert ok(api.get("/v1/conversations"))["total"] == 1


def test_nul_characters_and_64_bit_balances(pair: tuple[EmulatorProcess, EmulatorProcess]) -> None:
    proc = pair[0]
    key = new_key()
    with http_client(proc.base_url, key) as api, admin(proc) as control:
        refused(api.post("/v1/agents", json={"name": "a\u0000b"}), 400, "name")
        refused(api.get("/v1/calls", params={"search": "\u0000"}), 400, "search")
        most = 2**63 - 1
        assert ok(control.patch(f"/_emulator/accounts/{key}", json={"balanceCents": most}))["balanceCents"] == most
        assert ok(control.get(f"/_emulator/accounts/{key}"))["balanceCents"] == most


def test_two_processes_see_each_others_writes_at_once(pair: tuple[EmulatorProcess, EmulatorProcess]) -> None:
    first, second = pair
    key = new_key()
    with http_client(first.base_url, key) as one, http_client(second.base_url, key) as two:
        agent = ok(one.post("/v1/agents", json={"name": "Written by one"}))
        assert ok(two.get(f"/v1/agents/{agent['id']}"))["name"] == "Written by one"
        ok(two.patch(f"/v1/agents/{agent['id']}", json={"name": "Renamed by two"}))
        assert ok(one.get(f"/v1/agents/{agent['id']}"))["name"] == "Renamed by two"
        assert [a["id"] for a in ok(one.get("/v1/agents"))["data"]] == [agent["id"]]
        ok(one.delete(f"/v1/agents/{agent['id']}"))
        refused(two.get(f"/v1/agents/{agent['id']}"), 404)


def test_a_new_keys_first_requests_on_both_processes_make_one_account(
        pair: tuple[EmulatorProcess, EmulatorProcess]) -> None:
    key = new_key()
    clients = [http_client(proc.base_url, key) for proc in pair for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(lambda c: c.get("/v1/agents"), clients))
        assert [a.status_code for a in answers] == [200] * len(clients), [a.text for a in answers]
        with admin(pair[0]) as control:
            ids = {ok(control.get(f"/_emulator/accounts/{key}"))["id"]}
        with admin(pair[1]) as control:
            ids.add(ok(control.get(f"/_emulator/accounts/{key}"))["id"])
        assert len(ids) == 1
    finally:
        for client in clients:
            client.close()


def test_the_plan_limit_holds_across_processes(pair: tuple[EmulatorProcess, EmulatorProcess]) -> None:
    """The free plan allows one number ever: ten buys at once, five on each process, give exactly one."""
    key = new_key()
    clients = [http_client(proc.base_url, key) for proc in pair for _ in range(5)]
    try:
        ok(clients[0].get("/v1/agents"))  # the account exists before the race
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(lambda c: c.post("/v1/numbers", json={}), clients))
        codes = sorted(a.status_code for a in answers)
        assert codes == [200] + [403] * (len(clients) - 1), [a.text for a in answers]
        assert ok(clients[-1].get("/v1/numbers"))["total"] == 1
    finally:
        for client in clients:
            client.close()


def test_a_due_retry_is_sent_once_by_one_of_the_processes(pair: tuple[EmulatorProcess, EmulatorProcess]) -> None:
    """Both processes sweep for due retries every half second; each retry is claimed by one of them."""
    key = new_key()
    with http_client(pair[0].base_url, key) as api, WebhookReceiver() as rx:
        number = ok(api.post("/v1/numbers", json={}))["phoneNumber"]
        hook = ok(api.post("/v1/webhooks", json={"url": rx.url_for("/flaky")}))
        rx.expect("/flaky", hook["secret"])
        rx.route("/flaky", status(500, "try later"), delayed(0.5))  # the retry takes a while: both could send it
        with admin(pair[0]) as control:
            sent = ok(control.post("/_emulator/sms", json={"from": SENDER, "to": number, "body": "hello"}))
        delivery_id = sent["deliveries"][0]["id"]
        rx.wait_for(1)
        wait_log(api, settled(1))  # the first attempt failed and was logged, its retry due in 10 s
        def advance(proc: EmulatorProcess) -> None:
            with admin(proc) as control:
                ok(control.post("/_emulator/clock", json={"advance": 10}))

        with ThreadPoolExecutor(2) as pool:  # the clock is each process's own: move both at once past the retry
            list(pool.map(advance, pair))
        wait_log(api, settled(1, "success"))
        quiet = 1.5  # three sweeps of each process: a second copy of the retry would have gone out by now
        with pytest.raises(AssertionError):
            rx.wait_for(3, timeout=quiet)
        assert [r.webhook_id for r in rx.wait_for(2)] == [delivery_id, delivery_id]


def test_a_process_starting_on_the_database_leaves_the_others_live_calls_alone(
        pair: tuple[EmulatorProcess, EmulatorProcess], database: str) -> None:
    """A new emulator on a shared database does not take the calls another is running for a last run's."""
    key = new_key()
    with http_client(pair[0].base_url, key) as api, WebhookReceiver() as voice:
        voice.answer_turns_with(say("Hello there."))
        agent = ok(api.post("/v1/agents", json={"name": "Live"}))
        ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
        hook = ok(api.post("/v1/webhooks", json={"url": voice.url}))
        voice.secret = hook["secret"]
        to = "+14155550177"
        ok(api.put(f"/_emulator/callees/{to}", json={"turns": [], "drive": True}, params={"key": key}))
        placed = ok(api.post("/v1/calls", json={"agentId": agent["id"], "toNumber": to}))
        with EmulatorProcess(db=database, args=["--admin-token", ADMIN]) as third:
            with http_client(third.base_url, key) as late:
                assert ok(late.get(f"/v1/calls/{placed['id']}"))["status"] == "in-progress"
        ok(api.post(f"/v1/calls/{placed['id']}/end"))
        assert ok(api.get(f"/v1/calls/{placed['id']}"))["endReason"] != "emulator-restarted"


def test_emulators_starting_at_once_on_a_new_database_both_start() -> None:
    """Two processes making the tables of one new database at the same moment take turns."""
    assert SERVER is not None
    with throwaway_database(SERVER) as url:
        procs = [EmulatorProcess(db=url, args=["--admin-token", ADMIN]) for _ in range(3)]
        try:
            with ThreadPoolExecutor(len(procs)) as pool:
                list(pool.map(lambda proc: proc.start(), procs))
            for proc in procs:
                with admin(proc) as control:
                    assert ok(control.get("/_emulator/health"))["status"] == "ok"
        finally:
            for proc in procs:
                proc.stop()
                proc.cleanup()
