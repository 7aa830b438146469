"""Helpers for testing against the emulator, in one package.

- `process`: `EmulatorProcess` / `ServerProcess`, a real server in a child process.
- `inprocess`: `InProcessEmulator`, the app in this process (ASGI clients, optionally uvicorn too).
- `receiver`: `WebhookReceiver`, a local webhook target that verifies signatures and answers as told.
- `control`: `ControlClient`, the control API (`/_emulator/*`) and the wait for a call to end.
- `plugin`: the pytest plugin (fixtures `agentphone_emulator`, `agentphone_webhook`, ...).
- `postgres`: a throwaway database on a PostgreSQL server (`throwaway_database`).

The names below import lazily, so `from emulator.testing import EmulatorProcess` does not load the app.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from emulator.testing.process import EmulatorProcess, NotReady, ServerProcess, free_port, new_key

if TYPE_CHECKING:
    from emulator.testing.control import CallStillInProgress, ControlClient, ControlError, wait_for_call
    from emulator.testing.inprocess import InProcessEmulator
    from emulator.testing.receiver import Received, Reply, WebhookReceiver

_LAZY = {
    "ControlClient": "control", "ControlError": "control", "CallStillInProgress": "control",
    "wait_for_call": "control", "InProcessEmulator": "inprocess", "WebhookReceiver": "receiver",
    "Received": "receiver", "Reply": "receiver",
}

__all__ = ["CallStillInProgress", "ControlClient", "ControlError", "EmulatorProcess", "InProcessEmulator",
           "NotReady", "Received", "Reply", "ServerProcess", "WebhookReceiver", "free_port", "new_key",
           "wait_for_call"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"emulator.testing.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'emulator.testing' has no attribute {name!r}")
