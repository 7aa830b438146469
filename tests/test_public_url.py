"""Links the emulator hands out use --public-url when it is given."""

from __future__ import annotations

from collections.abc import Callable

from helpers import hosted_call, ok, set_account

from emulator.testing import InProcessEmulator, new_key


def test_recording_url_uses_the_public_url(make_emulator: Callable[..., InProcessEmulator]) -> None:
    emulator = make_emulator(public_url="http://emulator.example:9999/")
    key = new_key()
    with emulator.client(key) as api, emulator.client() as control:
        set_account(control, key, recordingEnabled=True)
        agent = ok(api.post("/v1/agents", json={"name": "Rec", "voiceMode": "hosted", "systemPrompt": "Hi"}))
        ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
        done = hosted_call(api, control, agent["id"])

    assert done["recordingUrl"] == f"http://emulator.example:9999/v1/calls/{done['id']}/recording"
