"""The official TypeScript SDK (npm `agentphone`, pinned in tests/ts_sdk/package.json), unchanged, against the
real emulator through its `baseUrl` option. tests/ts_sdk/drive.mjs does the driving and the checking, iMessage
groups and a WhatsApp number included (the SDK has no WhatsApp methods: the connection is made over plain HTTP,
its number then used through the SDK)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from helpers import TS_SDK_DIR, install_ts_sdk, ts_sdk_version

from emulator.testing import InProcessEmulator, new_key

DRIVE_TIMEOUT = 180


def _tools() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if path is None)
        pytest.skip(f"{missing} not on PATH: the TypeScript SDK check needs Node.js and npm")
    return node, npm


def test_typescript_sdk_drives_the_emulator(server: InProcessEmulator) -> None:
    """The session's emulator, over real HTTP; its own log lines are in pytest's captured log."""
    node, npm = _tools()
    install_ts_sdk(npm)
    env = {**os.environ, "AGENTPHONE_BASE_URL": server.base_url, "AGENTPHONE_API_KEY": new_key()}
    try:
        result = subprocess.run(
            [node, "drive.mjs"], cwd=TS_SDK_DIR, env=env, capture_output=True, text=True, timeout=DRIVE_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"drive.mjs did not finish in {DRIVE_TIMEOUT}s\nstdout:\n{exc.stdout}\nstderr:\n{exc.stderr}"
        )
    report = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, f"drive.mjs exited with {result.returncode}\n{report}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, f"drive.mjs printed nothing\n{report}"
    summary = json.loads(lines[-1])
    assert summary["ok"] is True, report
    assert summary["sdk"] == f"agentphone@{ts_sdk_version()}", report
    assert summary["steps"] >= 50, report
    for step in ("messages.sendMessage (recipients)", "messages.sendMessage (group id)",
                 "conversations.getConversation (group)", "messages.sendMessage (whatsapp)",
                 "conversations.getConversation (whatsapp)"):  # iMessage groups and a WhatsApp number
        assert step in summary["stepNames"], report
    for type_name in (
        "AgentResponse",
        "PhoneNumberResponse",
        "WebhookResponse",
        "CallSummary",
        "ConversationDetail",
        "SendMessageResponse",
        "UsageResponse",
        "PaginatedDeliveriesResponse",
    ):
        assert type_name in summary["typesChecked"], report
