"""A call never outlasts its plan's maximum call duration (free: 10 minutes)."""

from __future__ import annotations

import uuid

import httpx
from helpers import wait_ended


def test_a_call_is_cut_off_at_the_plans_maximum_duration(api: httpx.Client, control: httpx.Client) -> None:
    agent = api.post("/v1/agents", json={"name": "Patient", "voiceMode": "hosted", "systemPrompt": "Wait.",
                                         "maxSilenceMs": 3_600_000}).json()
    api.post("/v1/numbers", json={"agentId": agent["id"]}).raise_for_status()
    callee = f"+1415557{uuid.uuid4().int % 10_000:04d}"
    control.put(f"/_emulator/callees/{callee}", json={"turns": [
        {"silence": 590}, {"say": "Are you still there?"}, {"silence": 100}, {"say": "Never said."},
    ]}).raise_for_status()

    call = api.post("/v1/calls", json={"agentId": agent["id"], "toNumber": callee}).json()
    done = wait_ended(api, call["id"])

    assert (done["status"], done["endReason"], done["durationSeconds"]) == ("completed", "max-duration", 600)
    assert "Never said." not in [t["transcript"] for t in done["transcripts"]]
