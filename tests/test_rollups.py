"""The rollups the database keeps (emulator/store/rollups.py) stay equal to counting the rows, whatever
writes them, and the reads that use them answer as counting the rows would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from helpers import (
    advance,
    buy_number,
    hosted_call,
    inbound,
    make_agent,
    ok,
    seed_account,
    set_account,
    set_webhook,
    settled,
    tag,
    upgrade,
    wait_log,
)
from sqlalchemy import text

from emulator.domain import calls as calls_domain
from emulator.store import rollups
from emulator.testing.inprocess import InProcessEmulator
from emulator.testing.process import new_key
from emulator.testing.receiver import WebhookReceiver, status


def _snapshot(emulator: InProcessEmulator) -> dict[str, set[tuple[Any, ...]]]:
    """Every rollup table's rows with a non-zero measure, then the same rebuilt from the rows (the rebuild is
    written: it is what the triggers kept, if this test passes)."""

    async def work() -> dict[str, set[tuple[Any, ...]]]:
        store = emulator.state.store
        out: dict[str, set[tuple[Any, ...]]] = {}

        async def read(session: Any, suffix: str) -> None:
            for table in rollups.TABLES:
                measures = [c.name for c in table.columns if not c.primary_key]
                nonzero = " OR ".join(f"{m} != 0" for m in measures)
                result = await session.execute(text(f"SELECT * FROM {table.name} WHERE {nonzero}"))
                out[table.name + suffix] = {tuple(row) for row in result}

        async with store.write() as session:
            await read(session, "")
            for table in rollups.TABLES:
                await session.execute(table.delete())
            for rollup in rollups.ROLLUPS:
                await session.execute(text(rollup.rebuild("sqlite")))
            await read(session, ":rebuilt")
        return out

    return emulator.run(work())


def test_rollups_equal_a_count_of_the_rows_after_every_kind_of_write(
        make_emulator: Callable[..., InProcessEmulator], rx: WebhookReceiver) -> None:
    emulator = make_emulator()
    key = new_key()
    with emulator.client() as control, emulator.client(key) as api:
        upgrade(control, key)
        set_account(control, key, webhookEvents="skill-doc")  # a sent message makes a delivery too
        keep, gone = make_agent(api, "Keeps"), make_agent(api, "Goes")
        numbers = [buy_number(api, keep["id"])["phoneNumber"], buy_number(api, gone["id"])["phoneNumber"]]
        set_webhook(api, rx, "/ok")
        set_webhook(api, rx, "/down", gone["id"])
        rx.route("/down", status(503))
        for number in numbers:  # deliveries that succeed and that fail (status moves pending -> success/pending)
            inbound(control, number, "hello")
            ok(api.post("/v1/messages", json={"agent_id": keep["id"], "to_number": "+14155550177", "body": "x" * 400}))
        wait_log(api, settled(6))
        for agent in (keep, gone):  # calls: inserted in progress, finished with a status and seconds
            hosted_call(api, control, agent["id"])
        ok(api.delete(f"/v1/agents/{gone['id']}"))  # moves its calls, messages and conversations to no agent
        advance(control, 3 * 86400)  # later rows land in other day and hour buckets
        inbound(control, numbers[0], "three days later")
        past = tag()
        seed_account(control, new_key(), numbers=[{"id": f"pn_{past}", "phoneNumber": "+14155553434"}],
                     conversations=[{"numberId": f"pn_{past}", "participant": "+14155550111", "messages": [
                         {"direction": "inbound", "body": "old", "at": "2025-01-01T10:00:00Z"},
                         {"direction": "outbound", "body": "older", "at": "2024-12-31T23:59:59Z"}]}],
                     calls=[{"numberId": f"pn_{past}", "to": "+14155550112", "startedAt": "2025-01-02T03:04:05Z",
                             "durationSeconds": 42, "status": "completed"}])
    snapshot = _snapshot(emulator)
    for table in rollups.TABLES:
        assert snapshot[table.name], f"{table.name} counted nothing"
        assert snapshot[table.name] == snapshot[table.name + ":rebuilt"], table.name


@pytest.fixture
def busy(make_emulator: Callable[..., InProcessEmulator]) -> tuple[InProcessEmulator, str]:
    """An emulator with one account of 60 calls over five days, several in the same second."""
    emulator = make_emulator()
    key = new_key()
    start = datetime(2026, 2, 1, 22, 30, tzinfo=UTC)
    number = f"pn_{tag()}"
    fx_calls = []
    for i in range(60):
        when = start + timedelta(hours=2 * (i // 3))  # three calls at each moment: ties broken by insertion
        fx_calls.append({"numberId": number, "to": f"+1415555{i:04d}", "startedAt": when.isoformat(),
                         "durationSeconds": i})
    with emulator.client() as control:
        seed_account(control, key, numbers=[{"id": number, "phoneNumber": "+14155557878"}], calls=fx_calls)
    return emulator, key


def test_deep_pages_located_from_the_buckets_are_the_pages_an_offset_gives(
        busy: tuple[InProcessEmulator, str], monkeypatch: pytest.MonkeyPatch) -> None:
    emulator, key = busy

    def pages(client: httpx.Client) -> list[list[str]]:
        return [[c["id"] for c in ok(client.get("/v1/calls", params={"limit": 7, "offset": offset}))["data"]]
                for offset in range(0, 66)]

    located_from: list[int] = []
    locate = calls_domain._SKIP.locate

    async def counted(session: Any, offset: int, **params: Any) -> Any:
        located_from.append(offset)
        return await locate(session, offset, **params)

    with emulator.client(key) as api:
        plain = pages(api)
        assert not located_from  # shallow pages are plain offsets
        monkeypatch.setattr(calls_domain, "DEEP", 1)  # every page but the first located from the buckets
        monkeypatch.setattr(calls_domain._SKIP, "locate", counted)
        located = pages(api)
    assert located_from == list(range(1, 66))
    assert located == plain
    assert plain[0] and plain[59] and not plain[60]
    assert len({call for page in plain[::7] for call in page}) == 60


def test_windows_count_what_the_rows_say_at_every_edge(busy: tuple[InProcessEmulator, str]) -> None:
    """Usage windows end now and start in a partial hour; moving the clock walks them over the calls."""
    emulator, key = busy
    with emulator.client() as control, emulator.client(key) as api:
        starts = sorted(datetime.fromisoformat(c["startedAt"].replace("Z", "+00:00"))
                        for c in ok(api.get("/v1/calls", params={"limit": 100}))["data"])
        now = datetime.fromisoformat(ok(control.get("/_emulator/clock"))["now"].replace("Z", "+00:00"))
        target = starts[-1] + timedelta(days=29, minutes=17)  # 30-day window starting mid-hour among the calls
        if target > now:
            advance(control, (target - now).total_seconds())
        now = datetime.fromisoformat(ok(control.get("/_emulator/clock"))["now"].replace("Z", "+00:00"))
        stats = ok(api.get("/v1/usage"))["stats"]
    for window, span in (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("30d", timedelta(days=30))):
        assert stats[f"callsLast{window}"] == sum(1 for s in starts if s >= now - span), window
    assert stats["totalCalls"] == 60
