"""Run a real emulator process (uvicorn on a free loopback port) from tests and tools."""

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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_key() -> str:
    """A fresh API key: its own isolated account on first use."""
    return f"sk_test_{uuid.uuid4().hex}"


class ServerProcess:
    """A child process serving HTTP on loopback; `start()` returns once `health_path` answers 200."""

    name = "server"

    def __init__(self, cmd: list[str], port: int, health_path: str = "/", env: dict[str, str] | None = None) -> None:
        self.cmd = cmd
        self.port = port
        self.health_path = health_path
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix=f"{self.name}-log-", suffix=".txt")[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> str:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.base_url}{self.health_path}", timeout=0.5).status_code == 200:
                    return self.base_url
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not become healthy in {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
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
    """`python -m emulator serve` in a child process with its own SQLite file (or `db`)."""

    name = "emulator"

    def __init__(self, db: str | None = None, args: list[str] | None = None, port: int | None = None) -> None:
        self._own_dir = None if db else tempfile.mkdtemp(prefix="emulator-test-")
        self.db = db or str(Path(self._own_dir or "") / "emulator.db")
        self.args = args or []
        port = port or free_port()
        cmd = [sys.executable, "-m", "emulator", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--db", self.db, *self.args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPHONE_EMULATOR_")}
        super().__init__(cmd, port, "/_emulator/health", env)

    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def cleanup(self) -> None:
        """Remove the log file, and the database directory this object made (not a `db` it was given)."""
        super().cleanup()
        if self._own_dir:
            shutil.rmtree(self._own_dir, ignore_errors=True)
