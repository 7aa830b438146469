"""State lives in the SQLite file: a new process on the same file serves the same data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from emulator.testing import EmulatorProcess, new_key


def client(proc: EmulatorProcess, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=proc.base_url, headers=headers, timeout=10)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


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


def test_data_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "emulator.db")
    key = new_key()
    with EmulatorProcess(db=db) as first, client(first, key) as api, client(first) as control:
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

    assert before["agent"]["numbers"][0]["id"] == number["id"]
    assert before["number"]["phoneNumber"].startswith("+1212")
    assert before["projectWebhook"]["id"] == project_hook["id"]
    assert before["agentWebhook"]["secret"] == agent_hook["secret"]

    with EmulatorProcess(db=db) as second, client(second, key) as api, client(second) as control:
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


def test_deletes_and_releases_survive_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "emulator.db")
    key = new_key()
    with EmulatorProcess(db=db) as first, client(first, key) as api:
        gone = ok(api.post("/v1/agents", json={"name": "Gone"}))
        kept = ok(api.post("/v1/agents", json={"name": "Kept"}))
        number = ok(api.post("/v1/numbers", json={}))
        ok(api.delete(f"/v1/agents/{gone['id']}"))
        ok(api.delete(f"/v1/numbers/{number['id']}"))
        ok(api.post("/v1/webhooks", json={"url": "https://example.com/x"}))
        ok(api.delete("/v1/webhooks"))

    with EmulatorProcess(db=db) as second, client(second, key) as api:
        assert api.get(f"/v1/agents/{gone['id']}").status_code == 404
        assert ok(api.get(f"/v1/agents/{kept['id']}"))["name"] == "Kept"
        assert ok(api.get("/v1/numbers"))["total"] == 0
        released = ok(api.get(f"/v1/numbers/{number['id']}"))
        assert released["status"] == "released"
        assert ok(api.get("/v1/webhooks")) is None


def test_seeded_restart_does_not_reuse_ids(tmp_path: Path) -> None:
    db = str(tmp_path / "emulator.db")
    key = new_key()
    created: list[str] = []
    for _ in range(2):
        with EmulatorProcess(db=db, args=["--seed", "7"]) as proc, client(proc, key) as api:
            for name in ("one", "two"):
                response = api.post("/v1/agents", json={"name": name})
                assert response.status_code == 200, response.text
                created.append(response.json()["id"])
    assert len(set(created)) == 4
