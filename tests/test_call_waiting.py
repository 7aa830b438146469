"""Waiting for calls over real HTTP: `GET /v1/calls/{id}?wait=true&timeout=N` and `POST /v1/calls` with
`waitForCompletion`. The answer comes when the call ends (transcripts included) or when the wait runs out;
waiting holds no lock and no database session (other requests, writes too, go on), 100+ waiters share one
call, a waiter that hangs up is freed, and another account's call is a 404 as without waiting."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from helpers import Line, http_client, ok, refused, script, wait_until

from emulator.testing import InProcessEmulator
from emulator.testing.receiver import WebhookReceiver, held

WAITERS = 120


def _slow_line(api: httpx.Client, voice: WebhookReceiver) -> tuple[Line, threading.Event]:
    """A webhook agent whose answer to "Hold on" waits until the test lets it go."""
    gate = threading.Event()
    voice.when("Hold on", held(gate))
    return Line.open(api, voice), gate


def test_post_with_wait_for_completion_answers_with_the_ended_call(http_api: httpx.Client,
                                                                  voice: WebhookReceiver) -> None:
    line = Line.open(http_api, voice)
    to = script(http_api, [{"say": "Hello"}, {"say": "Bye now"}])
    call = ok(http_api.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": to,
                                                "waitForCompletion": True, "maxWaitSeconds": 60}))
    assert call["status"] == "completed" and call["endedAt"] and call["retellCallId"] is None
    assert [t["transcript"] for t in call["transcripts"] if t["kind"] == "speech"] == ["Hello", "Bye now"]
    assert call["callee"] == "script" and call["agentName"] == line.agent["name"]
    assert call == {**ok(http_api.get(f"/v1/calls/{call['id']}")), "initialGreeting": None, "systemPrompt": None,
                    "variables": None, "callee": "script", "retellCallId": None}
    plain = line.place([{"say": "Hi"}])
    assert plain["retellCallId"] is None and "transcripts" not in plain
    for bad in (5, 601, "60"):
        refused(http_api.post("/v1/calls", json={"agentId": line.agent["id"], "toNumber": to,
                                                  "waitForCompletion": True, "maxWaitSeconds": bad}),
                400, "maxWaitSeconds")


def test_get_with_wait_answers_when_the_call_ends(http_api: httpx.Client, base_url: str, key: str,
                                                  voice: WebhookReceiver) -> None:
    line, gate = _slow_line(http_api, voice)
    placed = line.place([{"say": "Hold on"}, {"say": "Done?"}])
    voice.wait_for(1, where=lambda r: r.transcript == "Hold on")
    answered: dict[str, Any] = {}

    def waiter() -> None:
        with http_client(base_url, key) as client:
            answered["call"] = ok(client.get(f"/v1/calls/{placed['id']}", params={"wait": "true", "timeout": 120}))

    thread = threading.Thread(target=waiter)
    thread.start()
    # While it waits, the account writes (no lock is held) and reads.
    ok(http_api.post("/v1/agents", json={"name": "Written while a waiter waits"}))
    assert ok(http_api.get(f"/v1/calls/{placed['id']}"))["status"] == "in-progress"
    assert thread.is_alive()
    gate.set()
    thread.join(60)
    call = answered["call"]
    assert call["status"] == "completed"
    assert [t["transcript"] for t in call["transcripts"] if t["kind"] == "speech"] == ["Hold on", "Done?"]


def test_a_wait_that_runs_out_answers_with_the_call_as_it_is(http_api: httpx.Client, voice: WebhookReceiver) -> None:
    line, gate = _slow_line(http_api, voice)
    placed = line.place([{"say": "Hold on"}])
    voice.wait_for(1, where=lambda r: r.transcript == "Hold on")
    try:
        # (POST /v1/calls waits the same way, but at least 10 s: the shortest maxWaitSeconds is not waited here)
        call = ok(http_api.get(f"/v1/calls/{placed['id']}", params={"wait": "true", "timeout": 1}))
        assert call["status"] == "in-progress" and call["endedAt"] is None
    finally:
        gate.set()
    refused(http_api.get(f"/v1/calls/{placed['id']}", params={"wait": "true", "timeout": 0}), 400, "timeout")
    refused(http_api.get(f"/v1/calls/{placed['id']}", params={"wait": "maybe"}), 400, "wait")


def test_an_ended_call_answers_at_once_and_another_accounts_call_is_a_404(
        http_api: httpx.Client, base_url: str, voice: WebhookReceiver) -> None:
    call = Line.open(http_api, voice).run([{"say": "Hi"}])
    assert ok(http_api.get(f"/v1/calls/{call['id']}", params={"wait": "true", "timeout": 600}))["id"] == call["id"]
    with http_client(base_url, "sk_test_someone_else_entirely") as other:
        refused(other.get(f"/v1/calls/{call['id']}", params={"wait": "true", "timeout": 5}), 404, call["id"])


def test_a_hundred_and_twenty_waiters_share_one_call_and_the_server_stays_free(
        http_api: httpx.Client, base_url: str, key: str, server: InProcessEmulator, voice: WebhookReceiver) -> None:
    line, gate = _slow_line(http_api, voice)
    placed = line.place([{"say": "Hold on"}])
    voice.wait_for(1, where=lambda r: r.transcript == "Hold on")
    url = f"/v1/calls/{placed['id']}"
    waits = server.state.engine.waits

    async def crowd() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=WAITERS + 10)
        async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120,
                                     limits=limits) as client:
            tasks = [asyncio.ensure_future(client.get(url, params={"wait": "true", "timeout": 120}))
                     for _ in range(WAITERS)]
            # (the emulator's loop counts them: polled from a thread, as it is another loop)
            await asyncio.to_thread(wait_until, lambda: waits.waiting(placed["id"]) == WAITERS, "all are waiting")
            # All of them wait: the account can still write and read.
            assert (await client.post("/v1/agents", json={"name": "Busy?"})).status_code == 200
            assert (await client.get(url)).json()["status"] == "in-progress"
            gate.set()
            return [(await task).json() for task in tasks]

    answers = asyncio.run(crowd())
    assert len(answers) == WAITERS and {a["status"] for a in answers} == {"completed"}
    assert all(a["transcripts"] for a in answers)
    assert waits.waiting(placed["id"]) == 0


def test_a_waiter_that_hangs_up_is_freed(http_api: httpx.Client, base_url: str, key: str,
                                         server: InProcessEmulator, voice: WebhookReceiver) -> None:
    line, gate = _slow_line(http_api, voice)
    placed = line.place([{"say": "Hold on"}])
    voice.wait_for(1, where=lambda r: r.transcript == "Hold on")
    waits = server.state.engine.waits

    async def hang_up() -> None:
        async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as client:
            task = asyncio.ensure_future(client.get(f"/v1/calls/{placed['id']}",
                                                    params={"wait": "true", "timeout": 600}))
            await asyncio.to_thread(wait_until, lambda: waits.waiting(placed["id"]) == 1, "the waiter is waiting")
            task.cancel()  # the client goes away: its connection closes
            with pytest.raises(asyncio.CancelledError):
                await task

    try:
        asyncio.run(hang_up())
        wait_until(lambda: waits.waiting(placed["id"]) == 0, "the waiter was freed")
    finally:
        gate.set()


def test_a_web_call_is_waited_for_through_its_join(http_api: httpx.Client, base_url: str, key: str,
                                                   control: httpx.Client, server: InProcessEmulator) -> None:
    agent = ok(http_api.post("/v1/agents", json={"name": "Web", "voiceMode": "hosted", "systemPrompt": "Be brief."}))
    web = ok(http_api.post("/v1/calls/web", json={"agentId": agent["id"]}))
    answered: dict[str, Any] = {}

    def waiter() -> None:
        with http_client(base_url, key) as client:
            answered["call"] = ok(client.get(f"/v1/calls/{web['id']}", params={"wait": "true", "timeout": 120}))

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_until(lambda: server.state.engine.waits.waiting(web["id"]) == 1, "the waiter is waiting")
    assert ok(http_api.get(f"/v1/calls/{web['id']}"))["status"] == "registered"
    ok(control.post(f"/_emulator/calls/web/{web['id']}/join", json={"accessToken": web["accessToken"],
                                                                   "turns": [{"say": "Hello there"}]}))
    thread.join(60)
    assert answered["call"]["status"] == "completed" and answered["call"]["transcripts"]
