"""/v1/usage, /v1/usage/daily and /v1/usage/monthly: shapes, ranges, and counts computed from stored rows."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from helpers import advance, delivery_log, emulator_now, fresh_number, iso, ok, parse, seed_account, tag

from emulator.config import Settings
from emulator.testing import InProcessEmulator, new_key
from emulator.testing.receiver import OK, Reply, WebhookReceiver, status

pytestmark = pytest.mark.also_on_postgresql  # and on PostgreSQL, where CI names a server

STAT_KEYS = {
    "totalMessages", "messagesLast24h", "messagesLast7d", "messagesLast30d",
    "totalCalls", "callsLast24h", "callsLast7d", "callsLast30d",
    "minutesLast30d", "smsSegmentsLast30d",
    "totalWebhookDeliveries", "successfulWebhookDeliveries", "failedWebhookDeliveries",
}


def month_label(day: date, back: int = 0) -> str:
    index = day.year * 12 + day.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def first_of_month(day: date, ahead: int = 0) -> str:
    return f"{month_label(day, -ahead)}-01T00:00:00.000Z"


class Rows:
    """Messages and calls of one account at given times, loaded as a fixture (again after each addition:
    a fixture replaces the account), with the times kept to compute what the breakdowns must show."""

    def __init__(self, control: httpx.Client, key: str, **account: Any) -> None:
        self.control, self.key, self.account = control, key, account
        self.t = tag()
        self.number = {"id": f"pn_{self.t}", "phoneNumber": fresh_number()}
        self.messages: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.stamps: dict[str, list[datetime]] = {"messages": [], "calls": [], "webhooks": []}
        self.seconds: list[tuple[datetime, int]] = []  # each call's start and length

    def load(self) -> None:
        conversation = {"id": f"conv_{self.t}", "numberId": self.number["id"], "participant": "+14155550199",
                        "messages": self.messages}
        seed_account(self.control, self.key, numbers=[self.number], calls=self.calls,
                     conversations=[conversation] if self.messages else [], **self.account)

    def message(self, at: datetime, body: str = "hello") -> None:
        self.messages.append({"direction": "inbound", "body": body, "at": iso(at)})
        self.stamps["messages"].append(at)
        self.load()

    def call(self, at: datetime, seconds: int) -> None:
        self.calls.append({"numberId": self.number["id"], "direction": "inbound", "from": "+14155550100",
                           "startedAt": iso(at), "durationSeconds": seconds})
        self.stamps["calls"].append(at)
        self.seconds.append((at, seconds))
        self.load()

    def daily(self, days: list[str]) -> list[dict[str, Any]]:
        counts = {kind: Counter(ts.date().isoformat() for ts in stamps) for kind, stamps in self.stamps.items()}
        spent = Counter[str]()
        for at, seconds in self.seconds:
            spent[at.date().isoformat()] += seconds
        return [{"date": day, **{kind: counts[kind][day] for kind in self.stamps},
                 "voiceMinutes": math.ceil(spent[day] / 60)} for day in days]

    def monthly(self, months: list[str]) -> list[dict[str, Any]]:
        counts = {kind: Counter(ts.strftime("%Y-%m") for ts in stamps) for kind, stamps in self.stamps.items()}
        spent = Counter[str]()
        for at, seconds in self.seconds:
            spent[at.strftime("%Y-%m")] += seconds
        return [{"month": month, **{kind: counts[kind][month] for kind in self.stamps},
                 "voiceMinutes": math.ceil(spent[month] / 60)} for month in months]


@pytest.fixture
def rows(control: httpx.Client, key: str) -> Rows:
    return Rows(control, key, plan="free")


# --- shapes ----------------------------------------------------------------------------------


def test_usage_of_a_new_account(api: httpx.Client, control: httpx.Client) -> None:
    before = emulator_now(control)
    usage = api.get("/v1/usage").json()
    after = emulator_now(control)
    assert usage["plan"]["name"] == "free" and usage["plan"]["numberLimit"] == 1
    assert usage["plan"]["limits"]["numbers"] == 1
    assert usage["numbers"] == {"used": 0, "limit": 1, "remaining": 1}
    assert set(usage["stats"]) >= STAT_KEYS
    assert all(usage["stats"][name] == 0 for name in STAT_KEYS)
    generated = datetime.fromisoformat(usage["reportGeneratedAt"].rstrip("Z"))
    assert before - timedelta(milliseconds=1) <= generated <= after
    assert usage["periodStart"] == first_of_month(generated.date())
    assert usage["periodEnd"] == first_of_month(generated.date(), ahead=1)


def test_daily_breakdown_shape(api: httpx.Client, control: httpx.Client) -> None:
    today = emulator_now(control).date()
    body = api.get("/v1/usage/daily", params={"days": 7}).json()
    assert body["days"] == 7
    data = body["data"]
    assert len(data) == 7
    assert all(set(entry) == {"date", "messages", "calls", "webhooks", "voiceMinutes"} for entry in data)
    dates = [date.fromisoformat(entry["date"]) for entry in data]
    assert all(later - earlier == timedelta(days=1) for earlier, later in zip(dates, dates[1:], strict=False))
    assert dates[-1] in (today, emulator_now(control).date())
    assert all(entry["messages"] == entry["calls"] == entry["webhooks"] == 0 for entry in data)


def test_daily_default_and_bounds(api: httpx.Client) -> None:
    assert len(api.get("/v1/usage/daily").json()["data"]) == 30
    assert len(api.get("/v1/usage/daily?days=1").json()["data"]) == 1
    assert len(api.get("/v1/usage/daily?days=365").json()["data"]) == 365


def test_monthly_breakdown_shape(api: httpx.Client, control: httpx.Client) -> None:
    today = emulator_now(control).date()
    body = api.get("/v1/usage/monthly", params={"months": 3}).json()
    assert body["months"] == 3
    data = body["data"]
    assert all(set(entry) == {"month", "messages", "calls", "webhooks", "voiceMinutes"} for entry in data)
    assert [entry["month"] for entry in data] == [month_label(today, 2), month_label(today, 1), month_label(today)]
    assert len(api.get("/v1/usage/monthly").json()["data"]) == 6
    assert len(api.get("/v1/usage/monthly?months=24").json()["data"]) == 24


@pytest.mark.parametrize(("path", "query", "name"), [
    ("/v1/usage/daily", "days=0", "days"),
    ("/v1/usage/daily", "days=366", "days"),
    ("/v1/usage/daily", "days=-7", "days"),
    ("/v1/usage/daily", "days=week", "days"),
    ("/v1/usage/daily", "days=7.5", "days"),
    ("/v1/usage/monthly", "months=0", "months"),
    ("/v1/usage/monthly", "months=25", "months"),
    ("/v1/usage/monthly", "months=x", "months"),
])
def test_out_of_range_breakdowns_are_400(api: httpx.Client, path: str, query: str, name: str) -> None:
    response = api.get(f"{path}?{query}")
    assert response.status_code == 400
    assert f"'{name}'" in response.json()["detail"]


# --- counts come from the stored rows --------------------------------------------------------


def test_counts_follow_the_rows(make_emulator: Callable[..., InProcessEmulator]) -> None:
    """Rows of all ages: messages and finished calls from a fixture; webhook deliveries (test sends, answered
    200 or 500) and a call still in progress made through the API, the emulator's clock moved between them
    (its own emulator; realtime, so that the live call stays live while the test looks)."""
    emulator, key, secret = make_emulator(realtime=True), new_key(), "whsec_usage_" + tag()
    with emulator.client(key) as api, emulator.client() as control, \
            WebhookReceiver(secret, strict=True, default=OK) as rx:
        start = emulator_now(control)
        now = start + timedelta(days=40)  # where the clock will be when the counts are read
        rows = Rows(control, key, plan="free", webhook={"url": rx.url, "secret": secret},
                    agents=[{"id": "agent_usage", "name": "Live", "voiceMode": "hosted", "systemPrompt": "Hi."}])
        rows.number["agentId"] = "agent_usage"
        for age in (timedelta(hours=1), timedelta(days=2), timedelta(days=10), timedelta(days=40)):
            rows.message(now - age)
        rows.call(now - timedelta(minutes=30), 90)
        rows.call(now - timedelta(days=3), 60)
        rows.call(now - timedelta(days=40), 600)  # outside the 30-day window
        # Another account's rows never count.
        stranger = Rows(control, new_key(), webhook={"url": rx.url_for("/stranger"), "secret": secret})
        stranger.message(now - timedelta(hours=1))
        stranger.call(now - timedelta(hours=1), 3600)

        def delivery(client: httpx.Client, answer: Reply, path: str = "/webhook") -> None:
            rx.route(path, answer)
            sent = ok(client.post("/v1/webhooks/test"))
            assert sent["delivered"] is (answer.status == 200)
            if client is api:
                [logged] = [d for d in delivery_log(api) if d["id"] == sent["deliveryId"]]
                rows.stamps["webhooks"].append(parse(logged["createdAt"]))

        delivery(api, OK)  # 40 days old
        advance(control, (now - timedelta(hours=2) - emulator_now(control)).total_seconds())
        delivery(api, status(500))
        advance(control, 3600)
        delivery(api, OK)
        with emulator.client(stranger.key) as theirs:
            delivery(theirs, status(500), "/stranger")
        advance(control, 3600 - 300)
        live = ok(api.post("/v1/calls", json={"agentId": "agent_usage", "toNumber": fresh_number(),
                                              "initialGreeting": " ".join(["word"] * 200)}))
        rows.stamps["calls"].append(parse(live["startedAt"]))  # still in progress: counted, no minutes yet
        now = advance(control, 300)
        assert ok(api.get(f"/v1/calls/{live['id']}"))["status"] == "in-progress"
        check_counts(api, rows, now)


def check_counts(api: httpx.Client, rows: Rows, now: datetime) -> None:
    stats = api.get("/v1/usage").json()["stats"]
    assert {name: stats[name] for name in STAT_KEYS} == {
        "totalMessages": 4, "messagesLast24h": 1, "messagesLast7d": 2, "messagesLast30d": 3,
        "totalCalls": 4, "callsLast24h": 2, "callsLast7d": 3, "callsLast30d": 3,
        "minutesLast30d": math.ceil((90 + 60) / 60), "smsSegmentsLast30d": 3,
        "totalWebhookDeliveries": 3, "successfulWebhookDeliveries": 2, "failedWebhookDeliveries": 1,
    }

    today = now.date()
    days = [(today - timedelta(days=back)).isoformat() for back in range(6, -1, -1)]
    daily = api.get("/v1/usage/daily?days=7").json()["data"]
    assert daily == rows.daily(days)
    assert sum(entry["messages"] for entry in daily) == 2
    assert sum(entry["calls"] for entry in daily) == 3

    months = [month_label(today, back) for back in (2, 1, 0)]
    assert api.get("/v1/usage/monthly?months=3").json()["data"] == rows.monthly(months)


def test_minutes_round_up_and_grow_with_each_call(api: httpx.Client, control: httpx.Client, rows: Rows) -> None:
    now = emulator_now(control)
    minutes = []
    for seconds in (1, 59, 60, 125):
        rows.call(now - timedelta(hours=1), seconds)
        minutes.append(api.get("/v1/usage").json()["stats"]["minutesLast30d"])
    assert minutes == [1, 1, 2, 5]  # ceil(1/60), ceil(60/60), ceil(120/60), ceil(245/60)


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3)])
def test_sms_segments(api: httpx.Client, control: httpx.Client, rows: Rows, length: int, segments: int) -> None:
    rows.message(emulator_now(control) - timedelta(minutes=1), body="x" * length)
    assert api.get("/v1/usage").json()["stats"]["smsSegmentsLast30d"] == segments


# --- the emulator clock moves the windows (own server: the clock is process-wide) -------------


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessEmulator]:
    db = tmp_path_factory.mktemp("clocked") / "emulator.db"
    with InProcessEmulator(Settings(db=str(db))) as emulator:
        yield emulator


@pytest.fixture
def clocked_api(clocked: InProcessEmulator) -> Iterator[tuple[httpx.Client, httpx.Client, Rows]]:
    key = new_key()
    with clocked.client(key) as api, clocked.client() as control:
        yield api, control, Rows(control, key, plan="free")


def test_advancing_the_clock_moves_the_windows(clocked_api: tuple[httpx.Client, httpx.Client, Rows]) -> None:
    api, control, rows = clocked_api
    start = emulator_now(control)
    rows.message(start - timedelta(minutes=1))
    rows.call(start - timedelta(minutes=1), 120)
    stats = api.get("/v1/usage").json()["stats"]
    assert (stats["messagesLast24h"], stats["callsLast24h"], stats["minutesLast30d"]) == (1, 1, 2)

    later = advance(control, 2 * 86_400)
    assert later - start >= timedelta(days=2)
    stats = api.get("/v1/usage").json()["stats"]
    assert (stats["messagesLast24h"], stats["messagesLast7d"], stats["callsLast24h"], stats["callsLast7d"]) == \
        (0, 1, 0, 1)
    daily = api.get("/v1/usage/daily?days=7").json()["data"]
    assert daily[-1]["date"] == later.date().isoformat()
    assert daily == rows.daily([(later.date() - timedelta(days=back)).isoformat() for back in range(6, -1, -1)])
    assert sum(entry["messages"] for entry in daily) == 1

    much_later = advance(control, 31 * 86_400)
    usage = api.get("/v1/usage").json()
    stats = usage["stats"]
    assert (stats["messagesLast30d"], stats["callsLast30d"], stats["minutesLast30d"]) == (0, 0, 0)
    assert (stats["totalMessages"], stats["totalCalls"]) == (1, 1)
    assert usage["periodStart"] == first_of_month(much_later.date())
    monthly = api.get("/v1/usage/monthly?months=3").json()["data"]
    assert [entry["month"] for entry in monthly] == [month_label(much_later.date(), back) for back in (2, 1, 0)]
    assert monthly == rows.monthly([entry["month"] for entry in monthly])


def test_rows_written_after_the_clock_moved_count_as_recent(
    clocked_api: tuple[httpx.Client, httpx.Client, Rows]
) -> None:
    api, control, rows = clocked_api
    now = advance(control, 86_400)
    rows.message(now - timedelta(seconds=30))
    stats = api.get("/v1/usage").json()["stats"]
    assert (stats["messagesLast24h"], stats["totalMessages"]) == (1, 1)
    assert api.get("/v1/usage/daily?days=1").json()["data"] == rows.daily([now.date().isoformat()])


@pytest.mark.parametrize(("body", "status", "word"), [
    ({}, 400, "advance"),
    ({"advance": 1, "set": "2100-01-01T00:00:00Z"}, 400, "advance"),
    ({"advance": 1, "set": None}, 400, "advance"),
    ({"advance": -1}, 400, "advance"),
    ({"advance": "soon"}, 400, "advance"),
    ({"set": "next week"}, 400, "set"),
    # Field rules kept, refused by the current time: 400 (with --validation-status 422 too).
    ({"advance": 1e300}, 400, "past"),
    ({"set": "2000-01-01T00:00:00Z"}, 400, "forward"),
    ({"set": "0001-01-01T00:00:00+01:00"}, 400, "forward"),
    ({"set": "9999-12-31T23:59:59Z"}, 400, "past"),
])
def test_bad_clock_changes_are_refused_and_leave_the_clock(clocked: InProcessEmulator, body: dict[str, Any],
                                                           status: int, word: str) -> None:
    with clocked.client() as control:
        offset = control.get("/_emulator/clock").json()["offsetSeconds"]
        response = control.post("/_emulator/clock", json=body)
        assert response.status_code == status, response.text
        assert word in response.json()["detail"]
        assert control.get("/_emulator/clock").json()["offsetSeconds"] == offset
        # Usage still works at the unchanged clock.
        with clocked.client(new_key()) as api:
            assert api.get("/v1/usage").status_code == 200


def test_usage_works_at_the_latest_allowed_clock(make_emulator: Callable[..., InProcessEmulator]) -> None:
    proc = make_emulator()
    with proc.client() as control:
        moved = control.post("/_emulator/clock", json={"set": "8999-12-31T23:59:00Z"})
        assert moved.status_code == 200, moved.text
        assert control.post("/_emulator/clock", json={"advance": 120}).status_code == 400
        with proc.client(new_key()) as api:
            usage = api.get("/v1/usage").json()
            assert usage["periodStart"] == "8999-12-01T00:00:00.000Z"
            assert usage["periodEnd"] == "9000-01-01T00:00:00.000Z"
            daily = api.get("/v1/usage/daily?days=365").json()["data"]
            assert daily[-1]["date"] == "8999-12-31"
            monthly = api.get("/v1/usage/monthly?months=24").json()["data"]
            assert (monthly[0]["month"], monthly[-1]["month"]) == ("8998-01", "8999-12")
