"""Start-up to healthy: the emulator against a bare uvicorn app started the same way.

    python benchmarks/bench_startup.py [--runs 7]

Each run starts a child process on a free loopback port and polls its health endpoint every 5 ms until it
answers 200: `python -m emulator serve` with a fresh SQLite file (`GET /_emulator/health`), and
`benchmarks/bare_app.py` (Starlette on uvicorn, `GET /health`). The two alternate, run after run, so both
see the same machine. It prints the median and the spread of each, and their ratio (the goal: at most 2x).
The time counts everything a user waits for: the interpreter, the imports, the database created, the
server listening and the first answer. Beside the wall time, the CPU time the process had spent when it
first answered (from /proc, on Linux): steadier than the wall time on a machine shared with other work.

Then, on the emulator just started, the first `POST /v1/agents` and the first `GET /v1/agents` are timed
(what a client pays for anything the emulator leaves to first use), the time from spawn until that first
agent was created, and the first request to three resources whose code is imported on first use
(`POST /v1/numbers`, `GET /v1/calls`, `GET /v1/usage`).

The emulator package's bytecode is compiled first (as `pip install` does for an installed package), so
that a checkout on a machine setting PYTHONDONTWRITEBYTECODE is not measured compiling its sources at
every start; `--no-compile` leaves it as it is. Only loopback traffic; every process is stopped after its
run.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.testing import free_port  # noqa: E402

BARE_APP = Path(__file__).resolve().parent / "bare_app.py"
TIMEOUT = 60.0
KEY = {"Authorization": "Bearer sk_test_startup"}


@dataclass
class Figures:
    healthy: list[float] = field(default_factory=list)  # spawn to the first 200, seconds
    cpu: list[float] = field(default_factory=list)  # the process's CPU seconds at that moment
    first_post: list[float] = field(default_factory=list)
    first_get: list[float] = field(default_factory=list)
    to_agent: list[float] = field(default_factory=list)  # spawn to the first agent created
    first_other: dict[str, list[float]] = field(default_factory=dict)  # the first request to other resources


def cpu_seconds(pid: int) -> float:
    """The CPU time a running process has had so far, all its threads (Linux's scheduler statistics, in
    nanoseconds; else utime + stime in clock ticks), NaN elsewhere."""
    try:
        return sum(int((task / "schedstat").read_text().split()[0])
                   for task in Path(f"/proc/{pid}/task").iterdir()) / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(cmd: list[str], url: str, figures: Figures, first_requests: str | None = None) -> None:
    """Spawn `cmd`, wait for the first 200 from `url`, then (with `first_requests`, a base URL) time the first
    POST and GET of /v1/agents."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(timeout=5.0) as client:
            while True:
                if time.perf_counter() - started > TIMEOUT:
                    raise RuntimeError(f"{cmd[1:3]} was not healthy within {TIMEOUT:g} s")
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd[1:3]} exited with code {proc.returncode} before it was healthy")
                try:
                    if client.get(url).status_code == 200:
                        figures.healthy.append(time.perf_counter() - started)
                        figures.cpu.append(cpu_seconds(proc.pid))
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.005)
            if first_requests is not None:
                before = time.perf_counter()
                created = client.post(f"{first_requests}/v1/agents", json={"name": "first"}, headers=KEY)
                figures.first_post.append(time.perf_counter() - before)
                figures.to_agent.append(time.perf_counter() - started)
                before = time.perf_counter()
                listed = client.get(f"{first_requests}/v1/agents", headers=KEY)
                figures.first_get.append(time.perf_counter() - before)
                if created.status_code != 200 or listed.json()["total"] != 1:
                    raise RuntimeError(f"the first requests failed: {created.status_code} {listed.text[:200]}")
                for method, path, body in (("POST", "/v1/numbers", {"agentId": created.json()["id"]}),
                                           ("GET", "/v1/calls", None), ("GET", "/v1/usage", None)):
                    before = time.perf_counter()
                    answer = client.request(method, f"{first_requests}{path}", json=body, headers=KEY)
                    figures.first_other.setdefault(f"first {method} {path}", []).append(time.perf_counter() - before)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{method} {path} failed: {answer.status_code} {answer.text[:200]}")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def line(label: str, times: list[float]) -> str:
    return (f"  {label:<34} median {statistics.median(times) * 1000:7.1f} ms   min {min(times) * 1000:7.1f} ms   "
            f"max {max(times) * 1000:7.1f} ms")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each server (default 7)")
    parser.add_argument("--no-compile", action="store_true", help="do not compile the package's bytecode first")
    args = parser.parse_args(argv)
    if not args.no_compile:
        compileall.compile_dir(str(ROOT / "emulator"), quiet=1)
    emulator, bare = Figures(), Figures()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        for index in range(args.runs):
            port = free_port()
            run([sys.executable, str(BARE_APP), "--port", str(port)], f"http://127.0.0.1:{port}/health", bare)
            port = free_port()
            db = str(Path(tmp) / f"run-{index}.db")
            base = f"http://127.0.0.1:{port}"
            run([sys.executable, "-m", "emulator", "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db],
                f"{base}/_emulator/health", emulator, first_requests=base)
    print(f"start-up to healthy, {args.runs} runs each, alternating:")
    print(line("bare uvicorn app", bare.healthy))
    print(line("emulator", emulator.healthy))
    print(f"  emulator / bare: {statistics.median(emulator.healthy) / statistics.median(bare.healthy):.2f}x "
          "(goal: at most 2x)")
    print("CPU time of the process when it first answered:")
    print(line("bare uvicorn app", bare.cpu))
    print(line("emulator", emulator.cpu))
    print(f"  emulator / bare: {statistics.median(emulator.cpu) / statistics.median(bare.cpu):.2f}x")
    print("the emulator's first requests, right after its first 200:")
    print(line("first POST /v1/agents", emulator.first_post))
    print(line("first GET /v1/agents", emulator.first_get))
    print(line("spawn to the first agent created", emulator.to_agent))
    for label, times in emulator.first_other.items():
        print(line(label, times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
