"""State lives in the SQLite file: a new process on the same file serves the same data.

Real `serve` processes: a first one writes, is stopped, and a second one on the same file reads. The
tests share the two runs (one database for the plain tests, each with a key of its own, and one for
the seeded test), and each run starts its processes side by side.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import Line, http_client, ok, parse

from emulator.testing import EmulatorProcess, new_key
from emulator.testing.receiver import WebhookReceiver, echo, held, json_reply

SEED_ARGS = ["--seed", "7"]


def client(proc: EmulatorProcess, key: str | None = None) -> httpx.Client:
    return http_client(proc.base_url, key)


def everything(api: httpx.Client, control: httpx.Client, key: str, agent_id: str, number_id: str) -> dict[str, Any]:
    usage = ok(api.get("/v1/usage"))
    return {
        "agent": ok(api.get(f"/v1/agents/{agent_id}")),
        "agents": ok(api.get("/v1/agents")),
        "number": ok(api.get(f"/v1/numbers/{number_id}")),
        "numbers": ok(api.get("/v1/numbers")),
        "projectWebhook": ok(api.get("/v1/webhooks")),
        "agentWebhook": ok(api.get(f"/v1/agents/{agent_id}/webhook")),
        "usage": {"plan": usage["plan"], "numbers": usage["numbers"]},
        "account": ok(control.get(f"/_emulator/accounts/{key}")),
    }


def start_all(procs: list[EmulatorProcess]) -> None:
    """Start processes side by side (each start mostly waits for its interpreter to import)."""
    with ThreadPoolExecutor(len(procs)) as pool:
        failures = [f.exception() for f in [pool.submit(p.start) for p in procs]]
    if any(failures):
        for proc in procs:
            proc.stop()
            proc.cleanup()
        raise next(e for e in failures if e is not None)


@dataclass
class Runs:
    """What the first processes wrote (per test), and the second processes on the same files."""

    written: dict[str, dict[str, Any]] = field(default_factory=dict)
    plain: EmulatorProcess | None = None
    seeded: EmulatorProcess | None = None


def write_survivors(proc: EmulatorProcess) -> dict[str, Any]:
    key = new_key()
    with client(proc, key) as api, client(proc) as control:
        agent = ok(api.post("/v1/agents", json={
            "name": "Persistent", "description": "kept on disk", "voiceMode": "hosted",
            "systemPrompt": "Be brief.", "beginMessage": "Hi!", "modelTier": "max", "voiceSpeed": 1.5,
            "transferNumber": "+14155550123", "maxSilenceMs": 20_000, "language": "fr-FR",
            "customTools": [{"name": "lookup", "description": "Find it", "url": "https://example.com/t"}],
        }))
        number = ok(api.post("/v1/numbers", json={"areaCode": "212", "agentId": agent["id"], "externalId": "ext-1"}))
        project_hook = ok(api.post("/v1/webhooks", json={"url": "https://example.com/all", "contextLimit": 5}))
        agent_hook = ok(api.post(f"/v1/agents/{agent['id']}/webhook",
                                 json={"url": "https://example.com/agent", "timeout": 45}))
        before = everything(api, control, key, agent["id"], number["id"])
    return {"key": key, "agent": agent, "number": number, "projectHook": project_hook, "agentHook": agent_hook,
            "before": before}


def write_deletions(proc: EmulatorProcess) -> dict[str, Any]:
    key = new_key()
    with client(proc, key) as api:
        gone = ok(api.post("/v1/agents", json={"name": "Gone"}))
        kept = ok(api.post("/v1/agents", json={"name": "Kept"}))
        number = ok(api.post("/v1/numbers", json={}))
        ok(api.delete(f"/v1/agents/{gone['id']}"))
        ok(api.delete(f"/v1/numbers/{number['id']}"))
        ok(api.post("/v1/webhooks", json={"url": "https://example.com/x"}))
        ok(api.delete("/v1/webhooks"))
    return {"key": key, "gone": gone, "kept": kept, "number": number}


def write_seeded(proc: EmulatorProcess, key: str) -> list[str]:
    with client(proc, key) as api:
        return [ok(api.post("/v1/agents", json={"name": name}))["id"] for name in ("one", "two")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    folder = tmp_path_factory.mktemp("restart")
    plain_db, seeded_db = str(folder / "plain.db"), str(folder / "seeded.db")
    out = Runs()
    seeded_key = new_key()
    writers: list[tuple[str, Callable[[EmulatorProcess], Any], int]] = [
        ("survivors", write_survivors, 0), ("deletions", write_deletions, 0),
        ("seeded", lambda proc: write_seeded(proc, seeded_key), 1),
    ]
    first = [EmulatorProcess(db=plain_db), EmulatorProcess(db=seeded_db, args=SEED_ARGS)]
    start_all(first)
    try:
        for name, write, index in writers:
            out.written[name] = write(first[index])
    finally:
        for proc in first:
            proc.stop()
            proc.cleanup()
    out.written["seeded"] = {"key": seeded_key, "ids": out.written["seeded"]}
    second = [EmulatorProcess(db=plain_db), EmulatorProcess(db=seeded_db, args=SEED_ARGS)]
    start_all(second)
    out.plain, out.seeded = second
    try:
        yield out
    finally:
        for proc in second:
            proc.stop()
            proc.cleanup()


def test_data_survives_a_restart(runs: Runs) -> None:
    written = runs.written["survivors"]
    key, agent, number, before = written["key"], written["agent"], written["number"], written["before"]
    assert before["agent"]["numbers"][0]["id"] == number["id"]
    assert before["number"]["phoneNumber"].startswith("+1212")
    assert before["projectWebhook"]["id"] == written["projectHook"]["id"]
    assert before["agentWebhook"]["secret"] == written["agentHook"]["secret"]

    second = runs.plain
    assert second is not None
    with client(second, key) as api, client(second) as control:
        after = everything(api, control, key, agent["id"], number["id"])
        assert after == before

        # The account keeps its history: the free plan's lifetime number is still used.
        assert api.post("/v1/numbers", json={}).status_code == 403
        # New rows get new IDs and sit next to the old ones.
        newer = ok(api.post("/v1/agents", json={"name": "After restart"}))
        assert newer["id"] != agent["id"]
        assert [a["id"] for a in ok(api.get("/v1/agents"))["data"]] == [newer["id"], agent["id"]]
        # Another key still sees nothing.
        with client(second, new_key()) as stranger:
            assert ok(stranger.get("/v1/agents"))["total"] == 0


def test_deletes_and_releases_survive_a_restart(runs: Runs) -> None:
    written = runs.written["deletions"]
    second = runs.plain
    assert second is not None
    with client(second, written["key"]) as api:
        assert api.get(f"/v1/agents/{written['gone']['id']}").status_code == 404
        assert ok(api.get(f"/v1/agents/{written['kept']['id']}"))["name"] == "Kept"
        assert ok(api.get("/v1/numbers"))["total"] == 0
        released = ok(api.get(f"/v1/numbers/{written['number']['id']}"))
        assert released["status"] == "released"
        assert ok(api.get("/v1/webhooks")) is None


def test_seeded_restart_does_not_reuse_ids(runs: Runs) -> None:
    written = runs.written["seeded"]
    second = runs.seeded
    assert second is not None
    created = list(written["ids"]) + write_seeded(second, written["key"])
    assert len(set(created)) == 4


def test_a_call_cut_off_by_a_crash_ends_failed_at_the_next_start(tmp_path: Path) -> None:
    """A process killed mid-call leaves the call in progress in the file; the next start marks it failed."""
    db = str(tmp_path / "crashed.db")
    key = new_key()
    never = threading.Event()
    first = EmulatorProcess(db=db)
    with WebhookReceiver(default=json_reply({})) as voice:
        voice.answer_turns_with(echo)
        try:
            first.start()
            with client(first, key) as api:
                line = Line.open(api, voice)
                done = line.run([{"say": "Bye"}])  # a call that ended before the crash
                voice.answer_turns_with(held(never))  # from now on the agent never answers
                placed = line.place([{"say": "Hello?"}])
                voice.wait_event("agent.message", call_id=placed["id"])
                assert ok(api.get(f"/v1/calls/{placed['id']}"))["status"] == "in-progress"
            assert first.proc is not None
            first.proc.kill()  # no shutdown: nothing ends the call
            first.proc.wait()
        finally:
            never.set()
            first.stop()
            first.cleanup()
    with EmulatorProcess(db=db) as second, client(second, key) as api:
        call = ok(api.get(f"/v1/calls/{placed['id']}"))
        assert (call["status"], call["endReason"]) == ("failed", "emulator-restarted")
        assert call["endedAt"] is not None and parse(call["endedAt"]) >= parse(call["startedAt"])
        assert ok(api.get(f"/v1/calls/{done['id']}")) == done  # an ended call is left as it was
