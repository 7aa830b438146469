"""REST throughput of the emulator against a bare Starlette app served the same way.

    python benchmarks/bench_rest.py [--seconds 5] [--warmup 1] [--connections 16] [--client auto|wrk|httpx]

Starts two servers on free loopback ports, both as `uvicorn` in a child process with one worker and
uvicorn's default loop and HTTP implementations at log level warning:

* the emulator (`python -m emulator serve`, a fresh temporary SQLite file, default settings), and
* `benchmarks/bare_app.py`, one endpoint returning a small fixed JSON object.

It creates one account (moved to the largest plan, so nothing it does can hit a limit) and one agent, then
loads, one after the other, at a fixed number of keep-alive connections for a fixed time after a warm-up:

* emulator `GET /v1/agents/{id}`,
* emulator `POST /v1/agents` with `{"name": "Bench"}`,
* bare `GET /bare`,

and prints requests per second, p50 and p99 latency, and the emulator / bare throughput ratios. The load
generator is `wrk` when it is on PATH (a Lua script sets method, body and headers), else an asyncio httpx
client with one task per connection. Only loopback traffic; every run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.testing import EmulatorProcess, ServerProcess, free_port, new_key  # noqa: E402

BARE_APP = Path(__file__).resolve().parent / "bare_app.py"
RESULT_MARK = "BENCH_RESULT "


@dataclass
class Target:
    label: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass
class Result:
    label: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


class BareProcess(ServerProcess):
    """`benchmarks/bare_app.py` in a child process, served as the emulator is; `start()` returns once it answers."""

    name = "bare-app"

    def __init__(self, port: int | None = None) -> None:
        port = port or free_port()
        cmd = [sys.executable, str(BARE_APP), "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        super().__init__(cmd, port, "/health")


# --- wrk ---------------------------------------------------------------------------------------------------------

def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for these ASCII values


def wrk_script(target: Target) -> str:
    lines = [f"wrk.method = {_lua_string(target.method)}"]
    if target.body is not None:
        lines.append(f"wrk.body = {_lua_string(target.body)}")
    for name, value in target.headers.items():
        lines.append(f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}")
    lines += [
        "done = function(summary, latency, requests)",
        "  local e = summary.errors",
        f'  io.write(string.format("{RESULT_MARK}'
        '{\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d, '
        '\\"errors\\": %d}\\n",',
        "    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),",
        "    e.connect + e.read + e.write + e.status + e.timeout))",
        "end",
    ]
    return "\n".join(lines) + "\n"


def run_wrk(target: Target, seconds: int, connections: int, threads: int, script_dir: Path) -> Result:
    script = script_dir / f"{target.label.split()[0]}-{target.method.lower()}.lua"
    script.write_text(wrk_script(target))
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
           target.url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            data = json.loads(line[len(RESULT_MARK):])
            return Result(target.label, data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1000,
                          data["p99_us"] / 1000, data["errors"])
    raise RuntimeError(f"wrk gave no result (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def wrk_version() -> str:
    proc = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10, check=False)
    first = (proc.stdout or proc.stderr).strip().splitlines()
    return first[0].split(" [")[0] if first else "wrk"


# --- httpx fallback ----------------------------------------------------------------------------------------------

async def _httpx_load(target: Target, warmup: float, seconds: float, connections: int) -> Result:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    content = target.body.encode() if target.body is not None else None
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + seconds

        async def worker() -> None:
            nonlocal errors
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                try:
                    response = await client.request(target.method, target.url, headers=target.headers,
                                                     content=content)
                    ok = 200 <= response.status_code < 400
                except httpx.HTTPError:
                    ok = False
                done = time.perf_counter()
                if sent >= measure_from and done <= stop_at:
                    if ok:
                        latencies.append(done - sent)
                    else:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    latencies.sort()
    return Result(target.label, len(latencies) + errors, seconds, _percentile(latencies, 50) * 1000,
                  _percentile(latencies, 99) * 1000, errors)


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def run_httpx(target: Target, warmup: int, seconds: int, connections: int) -> Result:
    return asyncio.run(_httpx_load(target, warmup, seconds, connections))


# --- the benchmark -----------------------------------------------------------------------------------------------

def prepare_emulator(base_url: str) -> tuple[str, str]:
    """One account on the largest plan and one agent: returns (API key, agent ID)."""
    key = new_key()
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        client.patch(f"/_emulator/accounts/{key}", json={"plan": "scale"}).raise_for_status()
        auth = {"Authorization": f"Bearer {key}"}
        created = client.post("/v1/agents", json={"name": "Bench"}, headers=auth)
        created.raise_for_status()
        agent_id = created.json()["id"]
        client.get(f"/v1/agents/{agent_id}", headers=auth).raise_for_status()
    return key, agent_id


def load(target: Target, args: argparse.Namespace, use_wrk: bool, script_dir: Path) -> Result:
    print(f"  {target.label:<34}", end="", flush=True)
    if use_wrk:
        if args.warmup > 0:
            run_wrk(target, args.warmup, args.connections, args.threads, script_dir)
        result = run_wrk(target, args.seconds, args.connections, args.threads, script_dir)
    else:
        result = run_httpx(target, args.warmup, args.seconds, args.connections)
    print(f" {result.rps:>9,.0f} req/s", flush=True)
    return result


def median_round(rounds: list[Result]) -> Result:
    """The round with the median throughput (the lower middle one for an even count)."""
    ordered = sorted(rounds, key=lambda r: r.rps)
    return ordered[(len(ordered) - 1) // 2]


def print_report(results: list[Result], client: str, args: argparse.Namespace,
                 load_before: float | None) -> None:
    cpus = os.cpu_count() or 0
    print()
    print(f"REST throughput: {args.connections} keep-alive connections, {args.seconds} s measured after a "
          f"{args.warmup} s warm-up, client {client}")
    if args.rounds > 1:
        print(f"{args.rounds} rounds, the three endpoints in turn in each; each row is the round with the median req/s")
    notes = [
        f"Machine: {cpus} CPU(s). The load generator runs on the same machine and competes with the server for CPU; "
        "it does so in the same way for both servers, so the ratios are fair, while absolute figures are lower than "
        "on a machine where the client has cores of its own.",
    ]
    if client.startswith("httpx"):
        notes.append("The httpx client costs far more CPU per request than the bare endpoint does, so here it is the "
                     "bottleneck of the bare run and the ratios flatter the emulator; install wrk for real figures.")
    if load_before is not None:
        notes.append(f"Load average (1 min) before the run: {load_before:.2f}; anything else running on the machine "
                     "skews the figures.")
    for note in notes:
        print(textwrap.fill(note, width=110))
    print()
    header = f"{'endpoint':<34} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.label:<34} {r.requests:>9,} {r.rps:>9,.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors:>7,}")
    print("-" * len(header))
    get, post, bare = results
    if bare.rps > 0:
        print(f"{'emulator GET / bare (req/s)':<34} {get.rps / bare.rps:>9.2f}x")
        print(f"{'emulator POST / bare (req/s)':<34} {post.rps / bare.rps:>9.2f}x")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=5, help="measured seconds per endpoint (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up seconds before each measurement (default 1)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto",
                        help="load generator: wrk if on PATH (auto), or force one")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: leave a core to the server)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure the three endpoints in turn this many times and report the median round")
    args = parser.parse_args(argv)
    if args.seconds < 1 or args.warmup < 0 or args.connections < 1 or args.rounds < 1:
        parser.error("need --seconds >= 1, --warmup >= 0, --connections >= 1 and --rounds >= 1")
    if not 1 <= args.threads <= args.connections:
        parser.error("need 1 <= --threads <= --connections")

    has_wrk = shutil.which("wrk") is not None
    if args.client == "wrk" and not has_wrk:
        parser.error("wrk is not on PATH (Debian/Ubuntu: apt-get install -y wrk)")
    use_wrk = has_wrk and args.client != "httpx"
    client = (f"{wrk_version()}, {args.threads} thread(s)" if use_wrk
              else f"httpx {httpx.__version__} asyncio, {args.connections} tasks")

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp:
        work = Path(tmp)
        emulator = EmulatorProcess(db=str(work / "emulator.db"), args=["--log-level", "warning"])
        bare = BareProcess()
        try:
            emulator_url = emulator.start()
            bare_url = bare.start()
            key, agent_id = prepare_emulator(emulator_url)
            auth = {"Authorization": f"Bearer {key}"}
            targets = [
                Target("emulator GET /v1/agents/{id}", "GET", f"{emulator_url}/v1/agents/{agent_id}", auth),
                Target("emulator POST /v1/agents", "POST", f"{emulator_url}/v1/agents",
                       {**auth, "Content-Type": "application/json"}, json.dumps({"name": "Bench"})),
                Target("bare GET /bare", "GET", f"{bare_url}/bare"),
            ]
            print(f"Loading each endpoint for {args.warmup} s + {args.seconds} s with {client}:")
            rounds: list[list[Result]] = []
            for number in range(1, args.rounds + 1):
                if args.rounds > 1:
                    print(f" round {number}/{args.rounds}")
                rounds.append([load(target, args, use_wrk, work) for target in targets])
            results = [median_round([row[i] for row in rounds]) for i in range(len(targets))]
        finally:
            for server in (emulator, bare):
                server.stop()
                server.log.unlink(missing_ok=True)

    print_report(results, client, args, load_before)
    failed = [r for row in rounds for r in row if r.errors or not r.requests]
    if failed:
        print(f"\nFAILED: {', '.join(r.label for r in failed)} had errors or no completed requests; "
              "the figures above are not valid.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
