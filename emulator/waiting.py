"""Waiting for a server that was just started: an emulator's health route, or any listener on a URL's port.

Each wait polls until the server answers, the cap passes, or the child process that should become the
server exits (then there is nothing to wait for). The cap is only a last resort for a server that hangs;
a loaded machine can take many seconds to start a Python process, so callers give generous ones.
"""

from __future__ import annotations

import socket
import subprocess
import time
from urllib.parse import urlsplit

import httpx

POLL_SECONDS = 0.1


class NotReady(Exception):
    pass


def _exited(proc: subprocess.Popen[bytes] | None) -> int | None:
    return None if proc is None else proc.poll()


def wait_for_emulator(base_url: str, seconds: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until GET {base_url}/_emulator/health answers 200."""
    url = f"{base_url.rstrip('/')}/_emulator/health"
    deadline = time.monotonic() + seconds
    while (code := _exited(proc)) is None:
        try:
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:  # loopback: never via a proxy
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise NotReady(f"no emulator answered at {url} within {seconds:g} s; "
                           "start one with `agentphone-emulator serve` (or check --base-url).")
        time.sleep(POLL_SECONDS)
    raise NotReady(f"the emulator exited with code {code} before it answered at {url}.")


def wait_for_port(url: str, seconds: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until something accepts TCP connections on the host and port of `url`."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    deadline = time.monotonic() + seconds
    while (code := _exited(proc)) is None:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise NotReady(f"nothing accepted connections at {host}:{port} ({url}) within {seconds:g} s; "
                           "is the agent running?")
        time.sleep(POLL_SECONDS)
    raise NotReady(f"the process that should listen at {host}:{port} exited with code {code}.")
