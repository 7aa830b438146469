"""`agentphone-emulator serve` as real processes: it binds before it prints its banner, a busy port or a
database another live emulator holds is refused with one sentence before anything is touched, and the
database lock dies with its holder."""

from __future__ import annotations

import os
import queue
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from emulator.testing import EmulatorProcess, free_port, new_key

READY_CAP = 120.0  # generous: a busy 2-core machine can take many seconds to start a Python process


def serve_command(*args: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPHONE_EMULATOR_")}
    return [sys.executable, "-m", "emulator", "serve", "--host", "127.0.0.1", *args], env


def second_serve(*args: str, probe: bool = True) -> tuple[int, str]:
    """Run a serve that is expected to refuse; with `probe`, fail the test at once if it comes up instead on
    its own (free) port."""
    cmd, env = serve_command(*args)
    port = args[args.index("--port") + 1]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + READY_CAP
    try:
        while proc.poll() is None:
            if not probe:
                proc.wait(timeout=READY_CAP)
                break
            try:
                httpx.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=0.5)
            except httpx.HTTPError:
                pass
            else:
                pytest.fail(f"the second serve started on port {port} instead of refusing")
            assert time.monotonic() < deadline, f"the second serve neither refused nor started in {READY_CAP}s"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
        out = proc.communicate()[0]
    return proc.returncode, out


def call_status_in_file(db: Path, call_id: str) -> tuple[str, str | None]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT status, end_reason FROM calls WHERE id = ?", (call_id,)).fetchone()


@dataclass
class Live:
    emulator: EmulatorProcess
    db: Path
    key: str
    call_id: str

    def call(self) -> dict[str, object]:
        headers = {"Authorization": f"Bearer {self.key}"}
        response = httpx.get(f"{self.emulator.base_url}/v1/calls/{self.call_id}", headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A running emulator on its own SQLite file with one call that stays in progress: the agent's webhook
    is a socket that accepts connections and never answers (the turn waits for the webhook's 120 s)."""
    db = tmp_path_factory.mktemp("live") / "held.db"
    hung = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    emulator = EmulatorProcess(db=str(db))
    key = new_key()
    try:
        emulator.start(timeout=READY_CAP)
        with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as api:
            agent = api.post("/v1/agents", json={"name": "Waiting Bot", "beginMessage": "Hello?"}).json()
            api.post("/v1/numbers", json={"agentId": agent["id"]}).raise_for_status()
            hook = f"http://127.0.0.1:{hung.getsockname()[1]}/agent"
            api.post(f"/v1/agents/{agent['id']}/webhook", json={"url": hook, "timeout": 120}).raise_for_status()
            call = api.post("/v1/calls", json={"agentId": agent["id"], "toNumber": "+14155550123"})
            assert call.status_code == 200, call.text
        yield Live(emulator, db, key, call.json()["id"])
    finally:
        hung.close()
        emulator.stop()
        emulator.cleanup()


def test_second_serve_on_a_held_database_refuses_and_leaves_the_live_call_alone(live: Live) -> None:
    assert live.call()["status"] == "in-progress"
    code, out = second_serve("--port", str(free_port()), "--db", str(live.db))
    assert code == 1, out
    assert live.emulator.proc is not None
    pid = live.emulator.proc.pid
    assert re.search(rf"database {re.escape(str(live.db))} is in use by another emulator \(pid {pid}\)", out), out
    assert "--db" in out and "stop" in out, out
    assert "listening" not in out and "Traceback" not in out, out
    assert len(out.strip().splitlines()) == 1, out
    assert live.call()["status"] == "in-progress"
    assert call_status_in_file(live.db, live.call_id) == ("in-progress", None)


def test_second_serve_on_a_busy_port_refuses_before_touching_any_database(live: Live, tmp_path: Path) -> None:
    port = str(live.emulator.port)
    fresh = tmp_path / "not-yet" / "fresh.db"
    code, out = second_serve("--port", port, "--db", str(fresh), probe=False)
    assert code == 1, out
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in out, out
    assert "--port" in out, out
    assert "listening" not in out and "Traceback" not in out, out
    assert not fresh.parent.exists()

    # The same database as the live emulator's: the port is checked first, so the lock is not even tried.
    code, out = second_serve("--port", port, "--db", str(live.db), probe=False)
    assert code == 1 and "the port is in use" in out and "listening" not in out, out
    assert call_status_in_file(live.db, live.call_id) == ("in-progress", None)
    assert live.call()["status"] == "in-progress"


def test_root_serves_the_inspector_and_the_docs_stay_at_docs(live: Live) -> None:
    page = httpx.get(f"{live.emulator.base_url}/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "<title>Inspector" in page.text
    docs = httpx.get(f"{live.emulator.base_url}/docs", timeout=10)
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]


def _lines(stream: object, into: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)
    into.put(None)


def test_banner_is_printed_once_the_server_answers(tmp_path: Path) -> None:
    """--port 0 takes a free port; the banner names it, and the very first request after it succeeds."""
    cmd, env = serve_command("--port", "0", "--db", str(tmp_path / "banner.db"))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + READY_CAP
        while not any("SDK:" in line for line in seen):  # the banner's last line
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"serve exited with {proc.wait()} before its banner:\n{''.join(seen)}"
            seen.append(line)
        banner = "".join(seen)
        match = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", banner)
        assert match and match.group(2) != "0", banner
        base = match.group(1)
        health = httpx.get(f"{base}/_emulator/health", timeout=10)  # no retry: it must answer now
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert f"{base}/docs" in banner
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_database_lock_dies_with_its_holder(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    lock = db.with_name(db.name + ".lock")
    first, second = EmulatorProcess(db=str(db)), EmulatorProcess(db=str(db))
    try:
        first.start(timeout=READY_CAP)
        assert first.proc is not None
        assert lock.read_text().strip() == str(first.proc.pid)
        first.proc.kill()  # no chance to clean up: the operating system must drop the lock
        first.proc.wait()
        second.start(timeout=READY_CAP)
        assert second.proc is not None
        assert lock.read_text().strip() == str(second.proc.pid)
        assert "in use" not in second.log.read_text()
    finally:
        for proc in (first, second):
            proc.stop()
            proc.cleanup()


def test_serve_help_shows_the_defaults() -> None:
    cmd, env = serve_command("--help")
    env["COLUMNS"] = "200"  # no line wrapping inside a value
    done = subprocess.run(cmd[:4] + ["--help"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "(default: 127.0.0.1)" in text
    assert "(default: 8000)" in text
    assert "(default: agentphone-emulator.db)" in text
    assert "(default: None)" not in text and "(default: False)" not in text and "(default: [])" not in text
