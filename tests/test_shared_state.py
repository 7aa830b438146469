"""Several processes on one database behave like one: `serve --workers 2` on a SQLite file, and two emulator
processes on one PostgreSQL database (when AGENTPHONE_EMULATOR_TEST_PG names a server; .ci/run starts one).

Each test works through two sides, `a` and `b`, that are known to be different processes: with workers, two
keep-alive connections that `GET /_emulator/health` showed landing on different worker PIDs; on PostgreSQL,
the two processes' own ports. What one side changes (faults, callee scripts, clock moves, strict keys, a
reset), the other obeys at once; a live call running in one is read, waited for, driven and ended from the
other; a rate limit counts both."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from helpers import WAIT_CAP, Line, fresh_number, live_events, ok, parse, refused, said, wait_until

from emulator.testing import EmulatorProcess, WebhookReceiver, new_key
from emulator.testing.postgres import throwaway_database
from emulator.testing.receiver import OK, held, json_reply

ADMIN = "shared-admin-token"
SERVER = os.environ.get("AGENTPHONE_EMULATOR_TEST_PG")
FIXTURE_KEY = "sk_test_from_a_fixture_shared"
RATE = 3
READY_CAP = 120.0


@dataclass
class Sides:
    """Two processes serving one database, and how to reach each of them."""

    urls: tuple[str, str]
    pinned: bool  # both sides share one port: a client keeps its connection (and so its process)
    stack: ExitStack
    processes: tuple[EmulatorProcess, ...] = ()  # each side's own process (not pinned)

    def client(self, side: int, key: str | None = None) -> httpx.Client:
        """A client that reaches process `side` (0 or 1) only."""
        headers = {"X-Emulator-Admin-Token": ADMIN}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if not self.pinned:
            return self.stack.enter_context(httpx.Client(base_url=self.urls[side], headers=headers, timeout=60))
        return self._pinned[side](headers)

    def pin(self) -> None:
        """Find a connection to each worker; later clients of a side reuse that side's process id."""
        pids: dict[int, int] = {}  # pid -> side
        self._pids: list[int] = []
        deadline = time.monotonic() + READY_CAP  # the second worker may still be starting
        while len(self._pids) < 2 and time.monotonic() < deadline:
            with httpx.Client(base_url=self.urls[0], timeout=60) as probe:
                pid = ok(probe.get("/_emulator/health"))["processId"]
            if pid not in pids:
                pids[pid] = len(self._pids)
                self._pids.append(pid)
            time.sleep(0.02)
        assert len(self._pids) == 2, "two workers never both answered"
        self._pinned = [self._maker(0), self._maker(1)]

    def _maker(self, side: int) -> Any:
        def make(headers: dict[str, str]) -> httpx.Client:
            for _ in range(200):
                client = httpx.Client(base_url=self.urls[0], headers=headers, timeout=60,
                                      limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
                if ok(client.get("/_emulator/health"))["processId"] == self._pids[side]:
                    self.stack.callback(client.close)
                    return client
                client.close()
            raise AssertionError(f"worker {self._pids[side]} took no new connection")
        return make

    def pid(self, client: httpx.Client) -> int:
        return int(ok(client.get("/_emulator/health"))["processId"])

    def stop(self, side: int) -> None:
        """Stop process `side` as Ctrl-C or a supervisor's SIGTERM would: its shutdown runs."""
        self._signal(side, signal.SIGTERM)

    def kill(self, side: int) -> None:
        """Kill process `side` at once, as a crash would (a worker is then replaced by uvicorn's supervisor)."""
        self._signal(side, signal.SIGKILL)

    def _signal(self, side: int, sig: signal.Signals) -> None:
        if self.pinned:
            os.kill(self._pids[side], sig)
        else:
            proc = self.processes[side].proc
            assert proc is not None
            proc.send_signal(sig)


def _workers(extra: list[str]) -> Iterator[Sides]:
    with ExitStack() as stack:
        proc = stack.enter_context(EmulatorProcess(args=["--workers", "2", "--admin-token", ADMIN, *extra]))
        sides = Sides((proc.base_url, proc.base_url), True, stack)
        sides.pin()
        yield sides


def _postgresql(extra: list[str]) -> Iterator[Sides]:
    if not SERVER:
        pytest.skip("AGENTPHONE_EMULATOR_TEST_PG names no PostgreSQL server (.ci/run starts one)")
    with ExitStack() as stack:
        url = stack.enter_context(throwaway_database(SERVER))
        args = ["--admin-token", ADMIN, *extra]
        first = stack.enter_context(EmulatorProcess(db=url, args=args))
        second = stack.enter_context(EmulatorProcess(db=url, args=args))
        sides = Sides((first.base_url, second.base_url), False, stack)
        sides.processes = (first, second)
        yield sides


@pytest.fixture(scope="module", params=["workers", "postgresql"])
def sides(request: pytest.FixtureRequest) -> Iterator[Sides]:
    yield from (_workers if request.param == "workers" else _postgresql)([])


@pytest.fixture(scope="module", params=["workers", "postgresql"])
def strict(request: pytest.FixtureRequest) -> Iterator[Sides]:
    """Two processes with --strict-keys and a rate limit of RATE requests a second per key."""
    extra = ["--strict-keys", "--key", "sk_test_configured_shared", "--rate-limit", str(RATE)]
    yield from (_workers if request.param == "workers" else _postgresql)(extra)


@pytest.fixture(params=["workers", "postgresql"])
def doomed(request: pytest.FixtureRequest) -> Iterator[Sides]:
    """Two processes of their own, for a test that kills one."""
    yield from (_workers if request.param == "workers" else _postgresql)([])


@pytest.fixture()
def key() -> str:
    return new_key()


def test_two_different_processes_answer(sides: Sides) -> None:
    a, b = sides.client(0), sides.client(1)
    assert sides.pid(a) != sides.pid(b)


def test_a_fault_armed_through_one_fires_once_in_the_other(sides: Sides, key: str) -> None:
    a, b = sides.client(0, key), sides.client(1, key)
    ok(a.post("/_emulator/faults", json={"key": key, "status": 503, "count": 1, "path": "/v1/agents"}))
    refused(b.get("/v1/agents"), 503, "Injected fault")
    assert a.get("/v1/agents").status_code == 200  # used up by the other process
    assert b.get("/v1/agents").status_code == 200
    ok(b.post("/_emulator/faults", json={"key": key, "status": 429, "count": 2}))
    assert ok(a.get("/_emulator/faults"))["api"] == [{"key": key, "status": 429, "remaining": 2, "path": None}]
    ok(a.delete("/_emulator/faults"))
    assert b.get("/v1/agents").status_code == 200  # cleared everywhere


def test_a_webhook_fault_armed_through_one_signs_the_others_delivery(sides: Sides, key: str) -> None:
    a, b = sides.client(0, key), sides.client(1, key)
    with WebhookReceiver() as rx:
        agent = ok(b.post("/v1/agents", json={"name": "SMS"}))
        number = ok(b.post("/v1/numbers", json={"agentId": agent["id"]}))
        hook = ok(b.post("/v1/webhooks", json={"url": rx.url_for("/hook")}))
        rx.expect("/hook", hook["secret"])
        ok(a.post("/_emulator/faults", json={"key": key, "webhook": "bad-signature", "count": 1}))
        ok(b.post("/_emulator/sms", json={"from": "+14155550100", "to": number["phoneNumber"], "body": "one"}))
        rx.wait_for(1, path="/hook")  # signed (and sent) before the next one is made
        ok(b.post("/_emulator/sms", json={"from": "+14155550100", "to": number["phoneNumber"], "body": "two"}))
        got = rx.wait_for(2, path="/hook")
    verified = {g.data["message"]: g.error is None for g in got}
    assert verified == {"one": False, "two": True}


def test_a_callee_script_put_through_one_answers_a_call_placed_in_the_other(sides: Sides, key: str,
                                                                            voice: WebhookReceiver) -> None:
    a, b = sides.client(0, key), sides.client(1, key)
    line = Line.open(b, voice)
    to = fresh_number()
    ok(a.put(f"/_emulator/callees/{to}", json={"turns": [{"say": "Scripted in the other process."}]}))
    placed = ok(b.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": to,
                                           "waitForCompletion": True}))
    assert placed["status"] == "completed"
    assert placed["callee"] == "script"
    assert said(placed) == [("Scripted in the other process.", "You said: Scripted in the other process.")]
    ok(b.delete(f"/_emulator/callees/{to}"))
    refused(a.get(f"/_emulator/callees/{to}"), 404, "No callee script")


def test_a_clock_moved_through_one_is_the_others_time(sides: Sides, key: str) -> None:
    a, b = sides.client(0, key), sides.client(1, key)
    moved = parse(ok(a.post("/_emulator/clock", json={"advance": 86_400 * 3}))["now"])
    assert parse(ok(b.get("/_emulator/clock"))["now"]) >= moved
    made = ok(b.post("/v1/agents", json={"name": "Later"}))
    assert parse(made["createdAt"]) >= moved


def test_strict_keys_loaded_through_one_are_accepted_by_the_other(strict: Sides) -> None:
    fresh = new_key()
    refused(strict.client(1, fresh).get("/v1/agents"), 401, "strict-keys")
    ok(strict.client(0).post("/_emulator/fixtures", json={"accounts": [{"key": fresh}]}))
    time.sleep(1.1)  # a second of the rate limit's window has passed
    assert ok(strict.client(1, fresh).get("/v1/agents"))["data"] == []


def test_an_account_reset_through_one_is_gone_for_the_other(sides: Sides, key: str) -> None:
    a, b = sides.client(0, key), sides.client(1, key)
    ok(b.post("/v1/agents", json={"name": "Before"}))  # b knows the key's account now
    ok(a.post("/_emulator/reset", json={"key": key}))
    assert ok(b.get("/v1/agents"))["data"] == []
    ok(b.post("/v1/agents", json={"name": "After"}))  # into the key's new account, not the removed one
    assert [x["name"] for x in ok(a.get("/v1/agents"))["data"]] == ["After"]


def test_a_live_call_in_one_is_driven_read_and_ended_from_the_other(sides: Sides, key: str,
                                                                    voice: WebhookReceiver) -> None:
    a, b = sides.client(0, key), sides.client(1, key)
    line = Line.open(a, voice, beginMessage="Hello.")
    to = fresh_number()
    ok(a.put(f"/_emulator/callees/{to}", json={"turns": [{"say": "First."}], "drive": True}))
    placed = ok(a.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": to}))  # runs in a
    route = f"/_emulator/calls/{placed['id']}/caller"
    asked = ok(b.post(route, json={}))
    assert asked["state"] == "asking" and asked["heard"]["text"] == "You said: First."
    again = ok(b.post(route, json={"turn": {"say": "From the other process."}}))
    assert again["heard"]["text"] == "You said: From the other process."
    live = ok(b.get(f"/v1/calls/{placed['id']}"))  # the rows the call has not written yet, too
    assert live["status"] == "in-progress"
    assert said(live)[1:] == [("First.", "You said: First."),
                              ("From the other process.", "You said: From the other process.")]
    ended = ok(b.post(f"/v1/calls/{placed['id']}/end"))
    assert ended["status"] == "completed"
    waited = ok(b.get(f"/v1/calls/{placed['id']}", params={"wait": "true", "timeout": 30}))
    assert waited["status"] == "completed"
    assert ok(b.post(route, json={}))["state"] == "ended"


def test_a_waiter_in_one_hears_the_end_of_a_call_in_the_other(sides: Sides, key: str,
                                                              voice: WebhookReceiver) -> None:
    a, b = sides.client(0, key), sides.client(1, key)
    line = Line.open(a, voice)
    to = fresh_number()
    ok(a.put(f"/_emulator/callees/{to}", json={"turns": [{"say": "Hi."}], "drive": True}))
    placed = ok(a.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": to}))
    ok(a.post(f"/_emulator/calls/{placed['id']}/caller", json={}))  # the call waits for its caller now
    with httpx.Client(base_url=sides.urls[0], headers=dict(a.headers), timeout=60) as spare:
        ok(spare.post(f"/_emulator/calls/{placed['id']}/caller", json={"turn": {"hangup": True}}))
    done = ok(b.get(f"/v1/calls/{placed['id']}", params={"wait": "true", "timeout": 30}))
    assert done["status"] == "completed" and done["endReason"] == "caller-hangup"


def _followed(client: httpx.Client, path: str, seen: list[tuple[str, Any]]) -> None:
    """Read the stream at `path` until its `ended` event, keeping every event in `seen` as it arrives."""
    with client.stream("GET", path) as stream:
        assert stream.status_code == 200
        for name, data in live_events(stream, within=WAIT_CAP):
            seen.append((name, data))
            if name == "ended":
                return


def test_a_live_call_in_one_is_streamed_live_from_the_other(sides: Sides, key: str, voice: WebhookReceiver) -> None:
    """The transcript stream and the inspector's timeline, opened in the process that does not run the call, get
    each turn while the call goes on, then its end."""
    a = sides.client(0, key)
    line = Line.open(a, voice)
    to = fresh_number()
    ok(a.put(f"/_emulator/callees/{to}", json={"turns": [{"say": "First."}], "drive": True}))
    placed = ok(a.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": to}))  # runs in a
    transcript: list[tuple[str, Any]] = []
    timeline: list[tuple[str, Any]] = []
    route = f"/_emulator/calls/{placed['id']}/caller"

    def turns(seen: list[tuple[str, Any]]) -> list[str]:  # a timeline's turn holds the row under "turn"
        return [(data["turn"] if seen is timeline else data)["transcript"] for name, data in list(seen)
                if name == "turn"]

    with ThreadPoolExecutor(2) as pool:
        streams = [pool.submit(_followed, sides.client(1, key), f"/v1/calls/{placed['id']}/transcript/stream",
                               transcript),
                   pool.submit(_followed, sides.client(1, key), f"/_emulator/calls/{placed['id']}/timeline",
                               timeline)]
        wait_until(lambda: transcript and len(timeline) >= 2, "both streams connected")
        ok(a.post(route, json={}))
        ok(a.post(route, json={"turn": {"say": "Second."}}))
        wait_until(lambda: "Second." in turns(transcript) and "Second." in turns(timeline),
                   "both turns streamed while the call runs")
        assert all(name != "ended" for name, _ in transcript + timeline)  # the call is still live
        ok(a.post(route, json={"turn": {"hangup": True}}))
        for stream in streams:
            stream.result(timeout=WAIT_CAP)
    assert transcript[0] == ("connected", {"callId": placed["id"], "status": "in-progress"})
    assert turns(transcript) == turns(timeline) == ["First.", "Second.", "[caller hung up]"]
    assert [data["response"] for name, data in transcript if name == "turn"] == \
        ["You said: First.", "You said: Second.", None]
    asked = [data["delivery"] for name, data in timeline if name == "turn"]
    assert [len(voice["attempts"]) if voice else 0 for voice in asked] == [1, 1, 0]  # the signed requests
    assert transcript[-1] == timeline[-1] == ("ended", transcript[-1][1])
    assert transcript[-1][1]["status"] == "completed" and transcript[-1][1]["endReason"] == "caller-hangup"
    assert timeline[-2][0] == "call" and timeline[-2][1]["status"] == "completed"


def test_the_activity_stream_in_one_tells_what_happens_in_the_other(sides: Sides, key: str) -> None:
    """A key's live stream of happenings, opened in one process, tells what the other did for that key (its
    requests too, in order) and nothing about another key; a later reader in the other gets the backlog."""
    a, b = sides.client(0, key), sides.client(1, key)
    agent = ok(a.post("/v1/agents", json={"name": "Watched"}))
    number = ok(a.post("/v1/numbers", json={"agentId": agent["id"]}))
    other = new_key()
    stranger = sides.client(0, other)
    their_number = ok(stranger.post("/v1/numbers", json={}))
    seen: list[tuple[str, Any]] = []
    with b.stream("GET", "/_emulator/events", params={"key": key}) as stream:
        assert stream.status_code == 200
        for name, data in live_events(stream, within=WAIT_CAP):
            seen.append((name, data))
            if name == "live":  # what follows happens now, in the other process
                ok(stranger.post("/_emulator/sms", json={"from": "+14155550161", "to": their_number["phoneNumber"],
                                                         "body": "for someone else"}))
                ok(a.get("/v1/agents"))
                ok(a.post("/_emulator/sms", json={"from": "+14155550161", "to": number["phoneNumber"],
                                                  "body": "Hello, watcher"}))
            if name == "happening" and data["kind"] == "sms.in":
                break
    account_id = ok(a.get(f"/_emulator/accounts/{key}"))["id"]
    names = [name for name, _ in seen]
    live = [data for name, data in seen[names.index("live") + 1:] if name == "happening"]
    assert all(h["accounts"] in ([], [account_id]) for h in live), live
    assert not any("for someone else" in h["text"] for h in live)
    texted = live[-1]
    assert '"Hello, watcher"' in texted["text"] and texted["data"]["direction"] == "inbound"
    asked = [i for i, h in enumerate(live) if h["kind"] == "request" and h["data"]["method"] == "GET"
             and h["data"]["path"] == "/v1/agents" and h["data"]["status"] == 200]
    assert len(asked) == 1 and asked[0] < len(live) - 1  # the request, before the text that followed it

    later = a.get("/_emulator/events", params={"key": key, "follow": "false", "since": texted["seq"] - 1})
    events = [data for name, data in (_sse_events(later.text)) if name == "happening"]
    assert [h["kind"] for h in events] == ["sms.in"] and events[0]["seq"] == texted["seq"]


def test_the_activity_stream_goes_on_after_a_reset_of_everything(sides: Sides, key: str) -> None:
    """Emptying every table does not make the stream's numbers start again under a reader in another process."""
    a, admin = sides.client(0, key), sides.client(1)
    number = ok(a.post("/v1/numbers", json={}))
    for body in ("one", "two", "three"):
        ok(a.post("/_emulator/sms", json={"from": "+14155550162", "to": number["phoneNumber"], "body": body}))
    seen: list[tuple[str, Any]] = []
    with admin.stream("GET", "/_emulator/events") as stream:
        for name, data in live_events(stream, within=WAIT_CAP):
            seen.append((name, data))
            if name == "live":
                ok(a.post("/_emulator/reset", json={}))
                again = ok(a.post("/v1/numbers", json={}))
                ok(a.post("/_emulator/sms", json={"from": "+14155550162", "to": again["phoneNumber"],
                                                  "body": "after the reset"}))
            if name == "happening" and data["kind"] == "sms.in" and "after the reset" in data["text"]:
                break
    names = [name for name, _ in seen]
    live = [data for name, data in seen[names.index("live") + 1:] if name == "happening"]
    kinds = [h["kind"] for h in live if h["kind"] != "request"]
    assert kinds[0] == "reset" and kinds[-1] == "sms.in"
    seqs = [h["seq"] for h in live if h["kind"] != "request"]
    assert seqs == sorted(seqs) and seqs[0] > seen[names.index("live")][1]["seq"]


def _sse_events(text: str) -> list[tuple[str, Any]]:
    return list(live_events(httpx.Response(200, text=text)))


def test_what_a_process_that_died_had_under_way_is_ended_or_sent_by_the_other(doomed: Sides, key: str,
                                                                              voice: WebhookReceiver) -> None:
    """A process killed mid-call and mid-delivery stops renewing its lease. The other fails its live call (as a
    restart would), keeping the turns it had said, instead of leaving it in progress for ever; and sends again
    the delivery whose attempt the dead process never finished, instead of leaving it pending for ever."""
    a, b = doomed.client(0, key), doomed.client(1, key)
    line = Line.open(a, voice)
    to = fresh_number()
    ok(a.put(f"/_emulator/callees/{to}", json={"turns": [{"say": "Before the crash."}], "drive": True}))
    placed = ok(a.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": to}))  # runs in a
    ok(a.post(f"/_emulator/calls/{placed['id']}/caller", json={}))  # one turn said; the caller waits
    assert ok(b.get(f"/v1/calls/{placed['id']}"))["status"] == "in-progress"
    texter = new_key()
    a_texts, b_texts = doomed.client(0, texter), doomed.client(1, texter)
    gate = threading.Event()
    with WebhookReceiver() as rx:
        rx.route("/held", held(gate), OK)  # a's attempt is held until a is gone; the next one is answered
        rx.secret = ok(a_texts.post("/v1/webhooks", json={"url": rx.url_for("/held")}))["secret"]
        texting = ok(a_texts.post("/v1/agents", json={"name": "Texts"}))
        number = ok(a_texts.post("/v1/numbers", json={"agentId": texting["id"]}))
        ok(a_texts.post("/_emulator/sms", json={"from": "+14155550123", "to": number["phoneNumber"], "body": "hi"}))
        first = rx.wait_for(1, path="/held")[0]  # under way in a
        [pending] = ok(b_texts.get("/v1/webhooks/deliveries"))["data"]
        assert pending["status"] == "pending" and pending["attemptCount"] == 0
        doomed.kill(0)
        ended = wait_until(lambda: (found := ok(b.get(f"/v1/calls/{placed['id']}")))["status"] != "in-progress"
                           and found, "the dead process's call ended")
        assert ended["status"] == "failed" and ended["endReason"] == "emulator-restarted"
        assert said(ended)[-1] == ("Before the crash.", "You said: Before the crash.")
        assert ok(b.get("/v1/calls", params={"status": "in-progress"}))["data"] == []
        sent = wait_until(lambda: (found := ok(b_texts.get("/v1/webhooks/deliveries"))["data"])[0]["status"]
                          != "pending" and found, "the dead process's delivery sent again")
        gate.set()
        assert [(d["id"], d["status"], d["attemptCount"]) for d in sent] == [(pending["id"], "success", 1)]
        again = rx.received(path="/held")
        assert len(again) == 2 and again[1].body == first.body and again[1].webhook_id == first.webhook_id
        assert rx.bad_signatures == []  # both signed with the hook's secret


def test_a_delivery_a_process_stops_with_is_sent_by_the_other(doomed: Sides) -> None:
    """A process stopped cleanly gives its attempts a few seconds, stops the rest, and leaves the deliveries it
    did not finish due at once, for the other process to send (instead of pending for ever)."""
    key = new_key()
    a, b = doomed.client(0, key), doomed.client(1, key)
    gate = threading.Event()
    with WebhookReceiver() as rx:
        rx.route("/held", held(gate), OK)
        rx.secret = ok(a.post("/v1/webhooks", json={"url": rx.url_for("/held")}))["secret"]
        number = ok(a.post("/v1/numbers", json={"agentId": ok(a.post("/v1/agents", json={"name": "T"}))["id"]}))
        ok(a.post("/_emulator/sms", json={"from": "+14155550124", "to": number["phoneNumber"], "body": "bye"}))
        first = rx.wait_for(1, path="/held")[0]  # under way in a
        doomed.stop(0)
        sent = wait_until(lambda: (found := ok(b.get("/v1/webhooks/deliveries"))["data"])[0]["status"]
                          != "pending" and found, "the stopped process's delivery sent by the other")
        gate.set()
        assert [(d["status"], d["attemptCount"]) for d in sent] == [("success", 1)]
        again = rx.received(path="/held")
        assert len(again) == 2 and again[1].webhook_id == first.webhook_id and rx.bad_signatures == []


def test_a_rate_limit_counts_the_requests_of_both(strict: Sides) -> None:
    """Three requests a second per key, spread over two processes: the fourth within the second is refused."""
    key = new_key()
    ok(strict.client(0).post("/_emulator/fixtures", json={"accounts": [{"key": key}]}))
    clients = [strict.client(0, key), strict.client(1, key)]
    for _ in range(5):  # a burst the machine spread over more than a second proves nothing: again
        time.sleep(1.1)
        started = time.monotonic()
        codes = [clients[i % 2].get("/v1/agents").status_code for i in range(RATE + 1)]
        if time.monotonic() - started < 0.9:
            break
    assert codes == [200] * RATE + [429]


def test_a_due_retry_is_sent_once_by_one_of_the_workers(sides: Sides, key: str) -> None:
    a, b = sides.client(0, key), sides.client(1, key)
    with WebhookReceiver(default=json_reply({}, status=500)) as rx:
        agent = ok(a.post("/v1/agents", json={"name": "Retry"}))
        number = ok(a.post("/v1/numbers", json={"agentId": agent["id"]}))
        ok(a.post("/v1/webhooks", json={"url": rx.url_for("/hook")}))
        ok(a.post("/_emulator/sms", json={"from": "+14155550100", "to": number["phoneNumber"], "body": "x"}))
        rx.wait_for(1, path="/hook")

        def attempts() -> int:
            return int(ok(a.get("/v1/webhooks/deliveries"))["data"][0]["attemptCount"])

        for made in (2, 3, 4):  # each clock move makes the next retry due, in both processes' sweeps
            ok(b.post("/_emulator/clock", json={"key": key, "advance": 8000}))
            wait_until(lambda made=made: attempts() >= made, f"attempt {made}")  # type: ignore[misc]
        time.sleep(1.2)  # two sweeps of each process: a duplicate would have gone out by now
        assert len(rx.received(path="/hook")) == attempts() == 4


def test_the_request_journal_lists_the_requests_every_process_answered(sides: Sides, key: str) -> None:
    a, b = sides.client(0, key), sides.client(1, key)
    ok(a.post("/v1/agents", json={"name": "Made in a"}))
    ok(b.post("/v1/agents", json={"name": "Made in b"}))
    refused(b.get("/v1/agents/agent_missing"), 404, "agent_missing")
    for side in (a, b):
        made = ok(side.get("/_emulator/requests", params={"key": key}))["data"]
        assert [(e["method"], e["path"], e["status"]) for e in made] == [
            ("POST", "/v1/agents", 200), ("POST", "/v1/agents", 200), ("GET", "/v1/agents/agent_missing", 404)]
        assert [e["body"] for e in made[:2]] == [{"name": "Made in a"}, {"name": "Made in b"}]
        assert made[0]["seq"] < made[1]["seq"] < made[2]["seq"]
    since = ok(a.get("/_emulator/requests", params={"key": key, "since": made[1]["seq"]}))["data"]
    assert [e["path"] for e in since] == ["/v1/agents/agent_missing"]
    ok(a.post("/_emulator/reset", json={"key": key}))
    assert ok(b.get("/_emulator/requests", params={"key": key}))["data"] == []


def test_a_web_call_waited_for_in_one_and_joined_in_the_other(sides: Sides, key: str) -> None:
    a, b = sides.client(0, key), sides.client(1, key)
    agent = ok(a.post("/v1/agents", json={"name": "Web", "voiceMode": "hosted", "systemPrompt": "Be brief."}))
    web = ok(a.post("/v1/calls/web", json={"agentId": agent["id"]}))
    with ThreadPoolExecutor(1) as pool:
        # The wait's own limit is far beyond the test's: answered at all, it was answered by the call's end.
        waiting = pool.submit(b.get, f"/v1/calls/{web['id']}", params={"wait": "true", "timeout": 600})
        time.sleep(0.5)  # the waiter is waiting (a join before it would only make the wait shorter)
        ok(a.post(f"/_emulator/calls/web/{web['id']}/join", json={"accessToken": web["accessToken"],
                                                                   "turns": [{"say": "Hello there"}]}))
        done = ok(waiting.result(timeout=WAIT_CAP))
    assert done["status"] == "completed" and said(done)[-1][0] == "Hello there"


def test_a_new_keys_first_requests_on_both_make_one_account_and_the_plan_limit_holds(sides: Sides) -> None:
    """The free plan allows one number ever: a new key's first requests are ten buys at once, five on each
    process; one account is made, and it gets exactly one number."""
    fresh = new_key()
    clients = [sides.client(side, fresh) for side in (0, 1) for _ in range(5)]
    with ThreadPoolExecutor(len(clients)) as pool:
        answers = list(pool.map(lambda c: c.post("/v1/numbers", json={}), clients))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [403] * (len(clients) - 1), [a.text for a in answers]
    assert ok(clients[0].get("/v1/numbers"))["total"] == 1
    owners = {ok(c.get(f"/_emulator/accounts/{fresh}"))["id"] for c in (sides.client(0), sides.client(1))}
    assert len(owners) == 1


def test_a_reused_id_fault_reuses_the_id_another_process_sent(sides: Sides, key: str) -> None:
    a, b = sides.client(0, key), sides.client(1, key)
    with WebhookReceiver() as rx:
        agent = ok(a.post("/v1/agents", json={"name": "SMS"}))
        number = ok(a.post("/v1/numbers", json={"agentId": agent["id"]}))
        ok(a.post("/v1/webhooks", json={"url": rx.url_for("/hook")}))
        ok(a.post("/_emulator/sms", json={"from": "+14155550100", "to": number["phoneNumber"], "body": "one"}))
        first = rx.wait_for(1, path="/hook")[0]
        ok(b.post("/_emulator/faults", json={"key": key, "webhook": "reused-id", "count": 1}))
        ok(b.post("/_emulator/sms", json={"from": "+14155550100", "to": number["phoneNumber"], "body": "two"}))
        second = rx.wait_for(2, path="/hook")[1]
    assert second.data["message"] == "two"
    assert second.webhook_id == first.webhook_id
