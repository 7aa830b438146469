"""REST throughput of the emulator, endpoint by endpoint, against a bare Starlette app served the same way.

    python benchmarks/bench_rest.py [--seconds 5] [--warmup 1] [--connections 16] [--rounds 3]
                                    [--client auto|wrk|httpx] [--only NAME ...]

Starts two servers on free loopback ports, both as `uvicorn` in a child process with one worker and
uvicorn's default loop and HTTP implementations at log level warning:

* the emulator (`python -m emulator serve`, a fresh temporary SQLite file, default settings), and
* `benchmarks/bare_app.py`, one endpoint returning a small fixed JSON object.

It seeds the emulator through its API (accounts on the largest plan, agents, numbers, calls, a conversation)
and loads each endpoint in turn at a fixed number of keep-alive connections for a fixed time after a
warm-up, the bare endpoint once per round like the others, and prints requests per second, p50 and p99
latency, the server's CPU time per request (user + system time of its process over the measured run, from
`/proc`, with wrk) and each endpoint's throughput as a ratio of the bare one measured in the same round. The emulator
keeps no response cache: every request reads or writes the database. No webhook is configured, so the
writes that produce events (`POST /v1/messages`, `POST /_emulator/sms`) write their delivery rows as
undeliverable and send nothing (`bench_sms.py` measures deliveries). The load generator is `wrk` when it
is on PATH (a Lua script sets method, body and headers), else an asyncio httpx client with one task per
connection. Only loopback traffic; every run stops by itself.
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
    goal: float | None = None  # the ratio to the bare endpoint this endpoint should reach
    keys: list[str] = field(default_factory=list)  # rotate through these API keys, PER_KEY requests each
    cursor: int = 0  # the first key the next run uses (each run takes fresh keys)

    @property
    def name(self) -> str:
        return self.label.split(" ", 1)[1] if " " in self.label else self.label


# Requests per key when a target rotates keys: POST /v1/numbers buys numbers, and the largest plan holds 100.
PER_KEY = 90


@dataclass
class Result:
    label: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_s: float | None = None  # the server process's CPU time (user + system) over the measured run

    @property
    def cpu_us(self) -> float | None:
        """The server's CPU time per completed request, in microseconds."""
        return None if self.cpu_s is None or not self.requests else self.cpu_s / self.requests * 1e6

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
    if target.keys:
        keys = target.keys[target.cursor:]
        lines += [
            "keys = {" + ", ".join(_lua_string(k) for k in keys) + "}",
            "counter = 0",
            "request = function()",
            f"  local key = keys[math.floor(counter / {PER_KEY}) % #keys + 1]",
            "  counter = counter + 1",
            '  wrk.headers["Authorization"] = "Bearer " .. key',
            "  return wrk.format()",
            "end",
        ]
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
    script = script_dir / f"{abs(hash(target.label))}.lua"
    script.write_text(wrk_script(target))
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
           target.url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            data = json.loads(line[len(RESULT_MARK):])
            if target.keys:
                target.cursor += data["requests"] // PER_KEY + connections + 1
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
    sent_count = 0
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + seconds

        async def worker() -> None:
            nonlocal errors, sent_count
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                headers = target.headers
                if target.keys:
                    key = target.keys[(target.cursor + sent_count // PER_KEY) % len(target.keys)]
                    headers = {**headers, "Authorization": f"Bearer {key}"}
                sent_count += 1
                try:
                    response = await client.request(target.method, target.url, headers=headers, content=content)
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
    target.cursor += sent_count // PER_KEY + connections + 1
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

def _scale(client: httpx.Client, key: str) -> dict[str, str]:
    client.patch(f"/_emulator/accounts/{key}", json={"plan": "scale", "balanceCents": 10**12}).raise_for_status()
    return {"Authorization": f"Bearer {key}"}


def _ok(response: httpx.Response) -> dict[str, object]:
    response.raise_for_status()
    data: dict[str, object] = response.json()
    return data


def prepare_emulator(base_url: str, number_keys: int) -> tuple[list[Target], list[str]]:
    """Seed the emulator through its API; returns the targets and a line per seeded thing."""
    notes = []
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        main = new_key()
        auth = _scale(client, main)
        agent = _ok(client.post("/v1/agents", json={"name": "Bench"}, headers=auth))
        number = _ok(client.post("/v1/numbers", json={"agentId": agent["id"]}, headers=auth))

        lister = new_key()
        list_auth = _scale(client, lister)
        for i in range(20):
            _ok(client.post("/v1/agents", json={"name": f"Agent {i}"}, headers=list_auth))
        notes.append("an account with 20 agents")

        for i in range(25):  # hosted calls: the built-in responder answers, no webhook needed
            _ok(client.post("/v1/calls", headers=auth, json={
                "agentId": agent["id"], "toNumber": f"+1415555{i:04d}", "systemPrompt": "You are a bench."}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            calls = _ok(client.get("/v1/calls", params={"limit": 100}, headers=auth))["data"]
            if all(call["status"] != "in-progress" for call in calls):  # type: ignore[attr-defined, index]
                break
            time.sleep(0.1)
        notes.append("25 finished calls")

        participant = "+14155550123"
        for i in range(10):
            _ok(client.post("/_emulator/sms", json={"from": participant, "to": number["phoneNumber"],
                                                    "body": f"Message {i} of the benchmark's conversation."}))
        conversation = _ok(client.get("/v1/conversations", headers=auth))["data"][0]  # type: ignore[index]
        notes.append("a conversation of 10 messages")

        keys = [new_key() for _ in range(number_keys)]
        for key in keys:
            _scale(client, key)
        notes.append(f"{number_keys} accounts to buy numbers with ({PER_KEY} each)")

    json_auth = {**auth, "Content-Type": "application/json"}
    sms = json.dumps({"from": "+14155550199", "to": number["phoneNumber"], "body": "Hello from the benchmark."})
    message = json.dumps({"agent_id": agent["id"], "to_number": "+14155550177", "body": "Hello from the benchmark."})
    targets = [
        Target("emulator GET /v1/agents/{id}", "GET", f"{base_url}/v1/agents/{agent['id']}", auth, goal=0.5),
        Target("emulator GET /v1/agents", "GET", f"{base_url}/v1/agents", list_auth, goal=0.5),
        Target("emulator GET /v1/calls?limit=20", "GET", f"{base_url}/v1/calls?limit=20", auth, goal=0.5),
        Target("emulator GET /v1/conversations/{id}", "GET", f"{base_url}/v1/conversations/{conversation['id']}",
               auth, goal=0.5),
        Target("emulator POST /v1/agents", "POST", f"{base_url}/v1/agents", json_auth, json.dumps({"name": "Bench"}),
               goal=0.5),
        Target("emulator POST /v1/numbers", "POST", f"{base_url}/v1/numbers", {"Content-Type": "application/json"},
               "{}", goal=0.3, keys=keys),
        Target("emulator POST /v1/messages", "POST", f"{base_url}/v1/messages", json_auth, message, goal=0.3),
        Target("emulator POST /_emulator/sms", "POST", f"{base_url}/_emulator/sms",
               {"Content-Type": "application/json"}, sms, goal=0.3),
    ]
    return targets, notes


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (Linux `/proc`), or None where it cannot be read."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(target: Target, args: argparse.Namespace, use_wrk: bool, script_dir: Path, pid: int | None) -> Result:
    print(f"  {target.label:<40}", end="", flush=True)
    if use_wrk:
        if args.warmup > 0:
            run_wrk(target, args.warmup, args.connections, args.threads, script_dir)
        before = cpu_seconds(pid)
        result = run_wrk(target, args.seconds, args.connections, args.threads, script_dir)
    else:  # the httpx client's warm-up is part of its run: the CPU figure covers it too
        before = cpu_seconds(pid)
        result = run_httpx(target, args.warmup, args.seconds, args.connections)
    after = cpu_seconds(pid)
    if before is not None and after is not None and use_wrk:
        result.cpu_s = after - before
    cpu = f" {result.cpu_us:>7,.0f} us CPU/request" if result.cpu_us is not None else ""
    print(f" {result.rps:>9,.0f} req/s{cpu}", flush=True)
    return result


def _cpu(results: list[Result]) -> str:
    """The median CPU time per request of the server over these runs, as a column of the table."""
    figures = [r.cpu_us for r in results if r.cpu_us is not None]
    return f"{median(figures):>7,.0f}" if figures else f"{'-':>7}"


def _pid(server: ServerProcess) -> int | None:
    return server.proc.pid if server.proc is not None else None


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def print_report(targets: list[Target], rounds: list[list[Result]], bares: list[Result], client: str,
                 args: argparse.Namespace, load_before: float | None, notes: list[str]) -> bool:
    cpus = os.cpu_count() or 0
    print()
    print(f"REST throughput: {args.connections} keep-alive connections, {args.seconds} s measured after a "
          f"{args.warmup} s warm-up, client {client}, {len(rounds)} round(s)")
    lines = [
        "Each round loads the bare endpoint and then every emulator endpoint once; an endpoint's ratio is its "
        "req/s over the bare req/s of the same round, and the table shows medians over the rounds.",
        f"Seeded through the API: {'; '.join(notes)}. No response cache; no webhook configured (event rows are "
        "written as undeliverable, nothing is sent).",
        f"Machine: {cpus} CPU(s); the load generator runs on it too, in the same way for both servers.",
    ]
    if client.startswith("httpx"):
        lines.append("The httpx client costs far more CPU per request than the bare endpoint does, so here it is the "
                     "bottleneck of the bare run and the ratios flatter the emulator; install wrk for real figures.")
    if load_before is not None:
        lines.append(f"Load average (1 min) before the run: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}.")
    for line in lines:
        print(textwrap.fill(line, width=110))
    print()
    header = (f"{'endpoint':<40} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU us':>7} "
              f"{'x bare':>7} {'goal':>6}")
    print(header)
    print("-" * len(header))
    bare_rps = median([b.rps for b in bares])
    print(f"{'bare GET /bare':<40} {bare_rps:>9,.0f} {median([b.p50_ms for b in bares]):>8.2f} "
          f"{median([b.p99_ms for b in bares]):>8.2f} {sum(b.errors for b in bares):>7,} {_cpu(bares)} {1.0:>7.2f}")
    met = True
    for index, target in enumerate(targets):
        results = [row[index] for row in rounds]
        ratio = median([r.rps / b.rps for r, b in zip(results, bares, strict=True) if b.rps > 0])
        goal = f">={target.goal:.1f}" if target.goal is not None else ""
        ok = target.goal is None or ratio >= target.goal
        met = met and ok
        rps, p50 = median([r.rps for r in results]), median([r.p50_ms for r in results])
        print(f"{target.name:<40} {rps:>9,.0f} {p50:>8.2f} "
              f"{median([r.p99_ms for r in results]):>8.2f} {sum(r.errors for r in results):>7,} {_cpu(results)} "
              f"{ratio:>7.2f} "
              f"{goal:>5}{'' if ok else ' !'}")
    print("-" * len(header))
    print("goals: " + ("every endpoint at or above its ratio" if met else "'!' marks an endpoint below its ratio"))
    return met


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=5, help="measured seconds per endpoint (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up seconds before each measurement (default 1)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto",
                        help="load generator: wrk if on PATH (auto), or force one")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: leave a core to the server)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of every endpoint in turn; the table shows medians (default 3)")
    parser.add_argument("--only", nargs="*", default=None, metavar="TEXT",
                        help="load only the endpoints whose label contains one of these texts")
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
    # Accounts to buy numbers with: enough for every run at up to 10,000 purchases a second.
    number_keys = args.rounds * (args.warmup + args.seconds) * 10_000 // PER_KEY + 2 * args.connections
    with tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp:
        work = Path(tmp)
        emulator = EmulatorProcess(db=str(work / "emulator.db"), args=["--log-level", "warning"])
        bare_server = BareProcess()
        try:
            emulator_url = emulator.start()
            bare_url = bare_server.start()
            targets, notes = prepare_emulator(emulator_url, number_keys)
            if args.only:
                targets = [t for t in targets if any(text in t.label for text in args.only)]
            bare = Target("bare GET /bare", "GET", f"{bare_url}/bare")
            print(f"Loading each endpoint for {args.warmup} s + {args.seconds} s with {client}:")
            rounds: list[list[Result]] = []
            bares: list[Result] = []
            for number in range(1, args.rounds + 1):
                print(f" round {number}/{args.rounds}")
                bares.append(load(bare, args, use_wrk, work, _pid(bare_server)))
                rounds.append([load(target, args, use_wrk, work, _pid(emulator)) for target in targets])
        finally:
            for server in (emulator, bare_server):
                server.stop()
                server.log.unlink(missing_ok=True)

    print_report(targets, rounds, bares, client, args, load_before, notes)
    failed = [r for row in [*rounds, bares] for r in row if r.errors or not r.requests]
    if failed:
        print(f"\nFAILED: {', '.join(sorted({r.label for r in failed}))} had errors or no completed requests; "
              "the figures above are not valid.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
