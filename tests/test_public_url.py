"""Links the emulator hands out use --public-url when it is given."""

from __future__ import annotations

import time

import httpx

from emulator.testing import EmulatorProcess, new_key


def test_recording_url_uses_the_public_url() -> None:
    with EmulatorProcess(args=["--public-url", "http://emulator.example:9999/"]) as proc:
        key = new_key()
        with httpx.Client(base_url=proc.base_url, headers={"Authorization": f"Bearer {key}"}) as api:
            api.patch(f"/_emulator/accounts/{key}", json={"recordingEnabled": True}).raise_for_status()
            agent = api.post("/v1/agents", json={"name": "Rec", "voiceMode": "hosted", "systemPrompt": "Hi"}).json()
            api.post("/v1/numbers", json={"agentId": agent["id"]}).raise_for_status()
            call = api.post("/v1/calls", json={"agentId": agent["id"], "toNumber": "+14155550188"}).json()
            deadline = time.monotonic() + 10
            while (done := api.get(f"/v1/calls/{call['id']}").json())["status"] == "in-progress":
                assert time.monotonic() < deadline
                time.sleep(0.02)

    assert done["recordingUrl"] == f"http://emulator.example:9999/v1/calls/{call['id']}/recording"
