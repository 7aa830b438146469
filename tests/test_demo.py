"""`agentphone-emulator demo` as a user runs it, in a child process from the repository's top directory: the
shipped scenarios pass against the real emulator and example agent, the printed next steps work (the docs, the
demo key, the rerun command), the exit code follows the scenarios, and no process it started outlives it."""

from __future__ import annotations

import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from emulator.testing import free_port

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "scenarios").rglob("*.yaml"))  # scenarios/advanced too
READY_CAP = 180.0  # start two processes and run every scenario, on a machine that may be busy


def demo_command(*args: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPHONE_")}
    return [sys.executable, "-m", "emulator", "demo", *args], env


def still_running(*ports: int) -> list[str]:
    """Command lines of live processes started with any of these ports (the demo's children)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            status = (entry / "stat").read_text().split(") ")[-1].split()[0]
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv]
        if status != "Z" and any(f"--port {p}" in " ".join(words) for p in ports) and "pytest" not in words[1:2]:
            found.append(" ".join(words))
    return found


def assert_gone(*ports: int) -> None:
    for port in ports:
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    if Path("/proc").is_dir():
        assert still_running(*ports) == []


@contextmanager
def running_demo(*args: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """The demo in the background; yields once it printed 'Press Ctrl-C', with the lines so far."""
    cmd, env = demo_command(*args)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + READY_CAP
        while not any("Press Ctrl-C" in line for line in seen):
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"the demo exited with {proc.wait()}:\n{''.join(seen)}"
            seen.append(line)
        yield proc, seen
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        while (line := lines.get(timeout=10)) is not None:
            seen.append(line)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_demo_serves_until_ctrl_c_and_its_next_steps_work() -> None:
    port, agent_port = free_port(), free_port()
    base, agent = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{agent_port}"
    with running_demo("--port", str(port), "--agent-port", str(agent_port)) as (proc, seen):
        out = "".join(seen)
        assert f"{len(SHIPPED)}/{len(SHIPPED)} scenarios passed" in out, out
        docs = httpx.get(f"{base}/docs", timeout=10)
        assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
        inspector = httpx.get(f"{base}/", timeout=10)
        assert inspector.status_code == 200 and "<title>Inspector" in inspector.text
        demo_key = {"Authorization": "Bearer sk_test_demo"}
        agents = httpx.get(f"{base}/v1/agents", headers=demo_key, timeout=10).json()
        assert {a["id"] for a in agents["data"]} == {"agent_support", "agent_concierge"}
        hook = httpx.get(f"{base}/v1/webhooks", headers=demo_key, timeout=10).json()
        assert hook["url"] == f"{agent}/agent"  # the fixture's webhook follows the agent's port
        assert hook["secret"] == "whsec_demo_0123456789abcdef"

        rerun = re.search(r"^\s+(agentphone-emulator scenario run .+)$", out, re.MULTILINE)
        assert rerun, out
        argv = shlex.split(rerun.group(1))
        assert argv[3:] == ["scenarios", "--base-url", base, "--target", f"{agent}/agent"]
        # the printed command against the running demo, narrowed to one scenario (the demo just ran them all)
        argv[3] = "scenarios/01_outbound_appointment.yaml"
        again = subprocess.run([sys.executable, "-m", "emulator", *argv[1:]], cwd=ROOT, capture_output=True,
                               text=True, timeout=READY_CAP)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "1/1 scenarios passed" in again.stdout, again.stdout
    assert proc.returncode == 0, "".join(seen)
    assert "Stopping the emulator and the example agent." in "".join(seen)
    assert_gone(port, agent_port)


def test_demo_once_exits_with_the_scenarios_code(tmp_path: Path) -> None:
    """--once (for CI) in a checkout whose one scenario expects what the example agent never says: exit 1, where
    to look next, and no leftovers. (The shipped scenarios passing, exit 0, is the test above.)"""
    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures")
    shutil.copytree(ROOT / "scenarios" / "example_agent", tmp_path / "scenarios" / "example_agent",
                    ignore=shutil.ignore_patterns("__pycache__"))
    booking = (ROOT / "scenarios" / "01_outbound_appointment.yaml").read_text()
    (tmp_path / "scenarios" / "01_wrong_day.yaml").write_text(booking.replace("contains: Tuesday",
                                                                               "contains: Wednesday"))
    port, agent_port = free_port(), free_port()
    cmd, env = demo_command("--once", "--dir", str(tmp_path), "--port", str(port), "--agent-port", str(agent_port))
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=READY_CAP)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "0/1 scenarios passed" in out and "Wednesday" in out, out
    assert f"http://127.0.0.1:{port}/docs" in out
    assert "key sk_test_demo" in out and f"agentphone-emulator demo --dir {tmp_path.resolve()} --once" in out
    assert "Press Ctrl-C" not in out
    assert_gone(port, agent_port)


def test_demo_outside_a_checkout_says_where_to_run_it(tmp_path: Path) -> None:
    cmd, env = demo_command("--once")
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout.strip() == (
        "error: the demo runs from a checkout of agentphone-emulator, and the working directory has no "
        "fixtures/demo.yaml, scenarios, scenarios/example_agent/app.py; run it from the repository's top "
        "directory, or pass --dir PATH.")


def test_demo_refuses_a_busy_port_in_one_sentence() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        cmd, env = demo_command("--once", "--port", str(free_port()), "--agent-port", str(busy))
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert (f"error: the example agent cannot listen on 127.0.0.1:{busy}: the port is in use by another process; "
            "stop it, or choose another --agent-port.") in done.stdout, done.stdout
    assert "Traceback" not in done.stdout + done.stderr
