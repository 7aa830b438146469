"""A clock per account: an account's key moves that account's time only (and its sub-accounts'), and what
runs on time (webhook retries, number expiries, row timestamps, usage windows) follows the clock of the
account it belongs to, whoever moves which clock. Two accounts here stand for two CI jobs sharing one
emulator; the emulator is the module's own, so its clock is not shared with other tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from helpers import (
    advance,
    buy_number,
    delivery_log,
    emulator_now,
    inbound,
    iso,
    ok,
    parse,
    refused,
    set_webhook,
    settled,
    upgrade,
    wait_log,
)

from emulator.config import Settings
from emulator.testing import InProcessEmulator, WebhookReceiver, new_key
from emulator.testing.receiver import OK, status

RETRY_SECONDS = 10  # the first retry's delay


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessEmulator]:
    db = tmp_path_factory.mktemp("account-clocks") / "emulator.db"
    with InProcessEmulator(Settings(db=str(db))) as emulator:
        yield emulator


@dataclass
class Job:
    key: str
    api: httpx.Client
    number: str

    def clock(self, seconds: float | None = None) -> dict[str, Any]:
        """This account's clock (first moved forward by `seconds`, with the account's own key)."""
        if seconds is None:
            return dict(ok(self.api.get("/_emulator/clock")))
        return dict(ok(self.api.post("/_emulator/clock", json={"advance": seconds})))


@pytest.fixture
def control(emulator: InProcessEmulator) -> Iterator[httpx.Client]:
    with emulator.client() as client:
        yield client


@pytest.fixture
def jobs(emulator: InProcessEmulator, control: httpx.Client) -> Iterator[tuple[Job, Job]]:
    made = []
    for _ in range(2):
        key = new_key()
        upgrade(control, key)
        api = emulator.client(key)
        made.append(Job(key, api, buy_number(api)["phoneNumber"]))
    yield made[0], made[1]
    for job in made:
        job.api.close()


def test_an_account_key_moves_its_own_clock_only(jobs: tuple[Job, Job], control: httpx.Client) -> None:
    a, b = jobs
    emulator_before = emulator_now(control)
    moved = a.clock(7200)
    assert moved["accountId"] is not None and moved["offsetSeconds"] >= 7200
    assert parse(moved["now"]) - emulator_before >= timedelta(hours=2)

    assert parse(a.clock()["now"]) - emulator_now(control) >= timedelta(hours=2) - timedelta(seconds=5)
    assert b.clock()["offsetSeconds"] < 7200 and parse(b.clock()["now"]) - emulator_now(control) < timedelta(hours=1)
    emulator_clock = ok(control.get("/_emulator/clock"))
    assert emulator_clock["accountId"] is None and emulator_clock["offsetSeconds"] < 7200
    assert ok(control.get("/_emulator/clock", params={"key": a.key}))["offsetSeconds"] == a.clock()["offsetSeconds"]

    detail = refused(a.api.post("/_emulator/clock", json={"advance": 60, "key": b.key}), 403)
    assert "another account" in detail
    assert b.clock()["offsetSeconds"] < 60

    admin_moved = ok(control.post("/_emulator/clock", json={"advance": 30, "key": b.key}))
    assert admin_moved["accountId"] == b.clock()["accountId"] and 30 <= b.clock()["offsetSeconds"] < 7200


def test_rows_are_stamped_on_their_accounts_clock(jobs: tuple[Job, Job], control: httpx.Client) -> None:
    a, b = jobs
    a.clock(3 * 3600)
    via_key = ok(a.api.post("/_emulator/sms", json={"from": "+14155550100", "to": a.number, "body": "own key"}))
    via_admin = inbound(control, a.number, "through the admin")
    other = inbound(control, b.number, "other job")
    wall = emulator_now(control)
    for answer in (via_key, via_admin):
        assert parse(answer["message"]["receivedAt"]) - wall >= timedelta(hours=3) - timedelta(seconds=5)
    assert abs(parse(other["message"]["receivedAt"]) - wall) < timedelta(minutes=5)

    # the usage windows of each account follow its own time
    usage = ok(a.api.get("/v1/usage"))
    assert usage["stats"]["messagesLast24h"] == 2
    assert ok(b.api.get("/v1/usage"))["stats"]["messagesLast24h"] == 1
    a.clock(25 * 3600)
    assert ok(a.api.get("/v1/usage"))["stats"]["messagesLast24h"] == 0
    assert ok(b.api.get("/v1/usage"))["stats"]["messagesLast24h"] == 1


def test_retries_fall_due_on_their_accounts_clock(jobs: tuple[Job, Job], control: httpx.Client,
                                                  rx: WebhookReceiver) -> None:
    a, b = jobs
    for job, path in ((a, "/a"), (b, "/b")):
        set_webhook(job.api, rx, path)
        rx.route(path, status(500, "down"), OK)
        inbound(control, job.number, "hello")
    for job in (a, b):
        for item in wait_log(job.api, settled(1)):
            assert (item["status"], item["attemptCount"]) == ("pending", 1)

    a.clock(RETRY_SECONDS)  # a's retry is due; b's is not, on b's clock
    assert [(i["status"], i["attemptCount"]) for i in wait_log(a.api, settled(1, "success"))] == [("success", 2)]
    rx.wait_for(3)
    assert [(i["status"], i["attemptCount"]) for i in delivery_log(b.api)] == [("pending", 1)]
    assert len(rx.wait_for(1, path="/b")) == 1

    b.clock(RETRY_SECONDS)
    assert [(i["status"], i["attemptCount"]) for i in wait_log(b.api, settled(1, "success"))] == [("success", 2)]
    assert len(rx.wait_for(2, path="/b")) == 2


def test_numbers_expire_on_their_accounts_clock(jobs: tuple[Job, Job], control: httpx.Client) -> None:
    a, b = jobs
    numbers = {}
    for job in (a, b):
        now = parse(job.clock()["now"])
        numbers[job.key] = buy_number(job.api, expiresAt=iso(now + timedelta(seconds=120)))
    a.clock(121)
    assert ok(a.api.get(f"/v1/numbers/{numbers[a.key]['id']}"))["status"] == "released"
    assert ok(b.api.get(f"/v1/numbers/{numbers[b.key]['id']}"))["status"] == "active"
    advance(control, 121)  # the emulator's clock moves every account, b's number expires too
    assert ok(b.api.get(f"/v1/numbers/{numbers[b.key]['id']}"))["status"] == "released"


def test_sub_accounts_keep_their_parents_time(jobs: tuple[Job, Job]) -> None:
    a, _ = jobs
    a.clock(600)
    sub = ok(a.api.post("/v1/sub-accounts", json={"name": "Clinic"}))
    scoped = {"X-Sub-Account-Id": sub["id"]}
    parent_now = parse(a.clock()["now"])
    assert abs(parse(sub["createdAt"]) - parent_now) < timedelta(minutes=1)
    sub_number = ok(a.api.post("/v1/numbers", json={}, headers=scoped))
    assert abs(parse(sub_number["createdAt"]) - parent_now) < timedelta(minutes=1)
    a.clock(3600)  # the parent's key moves the family's time
    later = ok(a.api.post("/v1/numbers", json={}, headers=scoped))
    assert parse(later["createdAt"]) - parse(sub_number["createdAt"]) >= timedelta(hours=1)


def test_the_admin_reset_of_an_account_forgets_its_clock(emulator: InProcessEmulator, control: httpx.Client) -> None:
    key = new_key()
    with emulator.client(key) as api:
        assert ok(api.post("/_emulator/clock", json={"advance": 900}))["offsetSeconds"] >= 900
        ok(control.post("/_emulator/reset", json={"key": key}))
        assert ok(api.get("/_emulator/clock"))["offsetSeconds"] == ok(control.get("/_emulator/clock"))["offsetSeconds"]
