"""Start-up to healthy: the emulator against a bare uvicorn app started the same way.

    python benchmarks/bench_startup.py [--runs 7]

Each run starts a child process on a free loopback port and polls its health endpoint every 5 ms until it
answers 200: `python -m emulator serve` with a fresh SQLite file (`GET /_emulator/health`), and
`benchmarks/bare_app.py` (Starlette on uvicorn, `GET /health`). The two alternate, run after run, so both
see the same machine. It prints the median and the spread of each, and their ratio (the goal: at most 2x).
The time counts everything a user waits for: the interpreter, the imports, the database created, the
server listening and the first answer. Only loopback traffic; every process is stopped after its run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.testing import free_port  # noqa: E402

BARE_APP = Path(__file__).resolve().parent / "bare_app.py"
TIMEOUT = 60.0


def time_to_healthy(cmd: list[str], url: str) -> float:
    """Seconds from spawning `cmd` to the first 200 from `url`."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(timeout=1.0) as client:
            while time.perf_counter() - started < TIMEOUT:
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd[1:3]} exited with code {proc.returncode} before it was healthy")
                try:
                    if client.get(url).status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.005)
        raise RuntimeError(f"{cmd[1:3]} was not healthy within {TIMEOUT:g} s")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each server (default 7)")
    args = parser.parse_args(argv)
    emulator: list[float] = []
    bare: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        for run in range(args.runs):
            port = free_port()
            bare.append(time_to_healthy([sys.executable, str(BARE_APP), "--port", str(port)],
                                        f"http://127.0.0.1:{port}/health"))
            port = free_port()
            db = str(Path(tmp) / f"run-{run}.db")
            emulator.append(time_to_healthy(
                [sys.executable, "-m", "emulator", "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db],
                f"http://127.0.0.1:{port}/_emulator/health"))
    print(f"start-up to healthy, {args.runs} runs each, alternating:")
    for label, times in (("bare uvicorn app", bare), ("emulator", emulator)):
        print(f"  {label:<18} median {statistics.median(times) * 1000:7.0f} ms   min {min(times) * 1000:7.0f} ms   "
              f"max {max(times) * 1000:7.0f} ms")
    ratio = statistics.median(emulator) / statistics.median(bare)
    print(f"  emulator / bare: {ratio:.2f}x (goal: at most 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
