"""Run a real server in a child process (the emulator's `serve`, or any HTTP app) from tests and tools.

`start()` returns once the process answers its health route. It waits as long as the process is alive
and starting, up to a generous cap, so a busy machine only makes it slower, never a failure; when the
process exits or the cap is reached, the error carries what the process printed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

# How long a child process may take to answer its health route. A cap against a process that hangs,
# not an expectation: on a quiet machine the emulator is ready in about a second.
READY_CAP_SECONDS = 120.0


def free_port() -> int:
    """A loopback port that was free a moment ago (another process may still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_key() -> str:
    """A fresh API key: its own isolated account on first use."""
    return f"sk_test_{uuid.uuid4().hex}"


class NotReady(RuntimeError):
    """The process exited, or did not answer its health route within the cap; the message has its output."""


class ServerProcess:
    """A child process serving HTTP on loopback; `start()` returns once `health_path` answers 200."""

    name = "server"

    def __init__(self, cmd: list[str], port: int, health_path: str = "/", env: dict[str, str] | None = None) -> None:
        self.cmd = cmd
        self.port = port
        self.health_path = health_path
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        handle, name = tempfile.mkstemp(prefix=f"{self.name}-log-", suffix=".txt")
        os.close(handle)
        self.log = Path(name)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """What the process printed so far (stdout and stderr)."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def start(self, timeout: float = READY_CAP_SECONDS) -> str:
        """Start the process and wait until it is healthy; returns the base URL."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        started = time.monotonic()
        pause = 0.02
        with httpx.Client(timeout=5.0, trust_env=False) as probe:
            while True:
                if self.proc.poll() is not None:
                    code = self.proc.returncode
                    self.proc = None
                    raise NotReady(f"{self.name} exited with code {code} before it was ready; it printed:\n"
                                   f"{self.output()}")
                try:
                    if probe.get(f"{self.base_url}{self.health_path}").status_code == 200:
                        return self.base_url
                except httpx.HTTPError:
                    pass
                waited = time.monotonic() - started
                if waited > timeout:
                    self.stop()
                    raise NotReady(f"{self.name} did not answer {self.health_path} within {timeout:g} s "
                                   f"(cmd: {' '.join(self.cmd)}); it printed:\n{self.output()}")
                time.sleep(pause)
                pause = min(pause * 1.5, 0.25)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self) -> None:
        """Remove the log file (call once the process is no longer needed)."""
        self.log.unlink(missing_ok=True)

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.cleanup()


class EmulatorProcess(ServerProcess):
    """`python -m emulator serve` in a child process with its own SQLite file (or `db`).

    Without a `port`, a free one is picked; should another process take it before the emulator binds
    it, the start is retried on another port.
    """

    name = "emulator"
    BIND_RETRIES = 3

    def __init__(self, db: str | None = None, args: list[str] | None = None, port: int | None = None) -> None:
        self._own_dir = None if db else tempfile.mkdtemp(prefix="emulator-test-")
        self.db = db or str(Path(self._own_dir or "") / "emulator.db")
        self.args = args or []
        self._fixed_port = port is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPHONE_EMULATOR_")}
        port = port or free_port()
        super().__init__(self._command(port), port, "/_emulator/health", env)

    def _command(self, port: int) -> list[str]:
        return [sys.executable, "-m", "emulator", "serve", "--host", "127.0.0.1", "--port", str(port),
                "--db", self.db, *self.args]

    def start(self, timeout: float = READY_CAP_SECONDS) -> str:
        for attempt in range(self.BIND_RETRIES + 1):
            try:
                return super().start(timeout)
            except NotReady as exc:
                lost_port = "address already in use" in str(exc).lower()
                if self._fixed_port or not lost_port or attempt == self.BIND_RETRIES:
                    raise
                self.port = free_port()
                self.cmd = self._command(self.port)
        raise AssertionError("unreachable")

    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def cleanup(self) -> None:
        """Remove the log file, and the database directory this object made (not a `db` it was given)."""
        super().cleanup()
        if self._own_dir:
            shutil.rmtree(self._own_dir, ignore_errors=True)
