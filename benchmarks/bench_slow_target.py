"""One account's slow webhook target against everyone else: write latency and event-loop lag with hundreds
of deliveries pending to it, next to the same without; and what queueing requests costs an HTTP client.

    python benchmarks/bench_slow_target.py [--pending 400] [--delay 5] [--seconds 8] [--writers 4]

It starts the emulator (`python -m emulator serve`, a fresh SQLite file) and a slow target in child
processes: the target accepts any number of connections and answers every request after `--delay`
seconds. Account A's project webhook points at the target; account B has none.

1. Baseline: for `--seconds`, `--writers` tasks create agents as account B (`POST /v1/agents`) one after the
   other while another task measures the event loop's lag through `GET /_emulator/health`.
2. Load: `--pending / 2` inbound SMS arrive for account A (two deliveries each, all pending on the slow
   target), then the same measurements run again while those deliveries wait.

It prints p50/p99 of B's writes and of the health probe in both phases with their ratio (the goal: the
same p99), the emulator's CPU time during each phase, and A's deliveries still pending at the end.

Then, with no emulator, it measures what queueing costs an HTTP client: N concurrent POSTs to a target
that answers after a second, through httpx (httpcore's pool, `max_connections=200`) and through the
emulator's own client (emulator/webhooks/http.py, the same limit), for N = 200, 400 and 800: the CPU time
the client spent while the requests waited and were answered. httpcore assigns queued requests to
connections by walking the queue on every change, so its cost grows with the square of the queue.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_calls import cpu_seconds  # noqa: E402
from emulator.testing import EmulatorProcess, ServerProcess, free_port, new_key  # noqa: E402


class SlowTarget(ServerProcess):
    """This file with `--serve-slow PORT DELAY` in a child process."""

    name = "slow-target"

    def __init__(self, delay: float) -> None:
        port = free_port()
        super().__init__([sys.executable, __file__, "--serve-slow", str(port), str(delay)], port, "/health")


async def _slow_server(port: int, delay: float) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                if not head.startswith(b"GET /health"):
                    await asyncio.sleep(delay)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))] if ordered else 0.0


async def phase(base: str, key: str, seconds: float, writers: int) -> tuple[list[float], list[float]]:
    """(write latencies, health probe latencies) in ms over `seconds`."""
    writes: list[float] = []
    probes: list[float] = []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=writers + 2)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        headers = {"Authorization": f"Bearer {key}"}

        async def writer() -> None:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                response = await client.post("/v1/agents", json={"name": "Bystander"}, headers=headers)
                writes.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()

        async def probe() -> None:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                (await client.get("/_emulator/health")).raise_for_status()
                probes.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.01)

        await asyncio.gather(probe(), *(writer() for _ in range(writers)))
    return writes, probes


def row(label: str, values: list[float]) -> str:
    return f"{label:<34} {len(values):>7,} {statistics.median(values):>8.2f} {percentile(values, 99):>8.2f}"


async def client_queueing(count: int, url: str) -> dict[str, float]:
    """CPU seconds each client spent on `count` concurrent POSTs to a target that answers after a second."""
    from emulator.webhooks.http import Client

    body = json.dumps({"event": "agent.message", "data": {"message": "x" * 200}}).encode()
    out = {}
    async with httpx.AsyncClient(trust_env=False, timeout=None,
                                 limits=httpx.Limits(max_connections=200, max_keepalive_connections=50)) as hx:
        started = time.process_time()
        await asyncio.gather(*(hx.post(url, content=body) for _ in range(count)))
        out["httpx"] = time.process_time() - started
    own = Client(max_per_origin=200)

    async def post() -> None:
        async with own.stream(url, body, {"Content-Type": "application/json"}) as response:
            async for _chunk in response.aiter_raw():
                pass

    started = time.process_time()
    await asyncio.gather(*(post() for _ in range(count)))
    out["own"] = time.process_time() - started
    await own.aclose()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--serve-slow":
        asyncio.run(_slow_server(int(sys.argv[2]), float(sys.argv[3])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pending", type=int, default=400, help="deliveries left pending on the slow target")
    parser.add_argument("--delay", type=float, default=5.0, help="seconds the slow target takes to answer")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each measured phase")
    parser.add_argument("--writers", type=int, default=4, help="account B's concurrent writers")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    target = SlowTarget(args.delay)
    emulator = EmulatorProcess(args=["--log-level", "warning"])
    try:
        target_url = target.start()
        base = emulator.start()
        assert emulator.proc is not None
        pid = emulator.proc.pid
        slow_key, other_key = new_key(), new_key()
        with httpx.Client(base_url=base, timeout=60) as client:
            for key in (slow_key, other_key):
                # the skill doc's vocabulary: two deliveries per inbound SMS (agent.message, message.received)
                client.patch(f"/_emulator/accounts/{key}",
                             json={"plan": "scale", "webhookEvents": "skill-doc"}).raise_for_status()
            auth = {"Authorization": f"Bearer {slow_key}"}
            number = client.post("/v1/numbers", json={}, headers=auth).json()["phoneNumber"]
            client.post("/v1/webhooks", json={"url": f"{target_url}/hook", "timeout": 120},
                        headers=auth).raise_for_status()

        cpu = cpu_seconds(pid) or 0.0
        quiet = asyncio.run(phase(base, other_key, args.seconds, args.writers))
        quiet_cpu = (cpu_seconds(pid) or 0.0) - cpu

        async def flood() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                for start in range(0, args.pending // 2, 20):
                    await asyncio.gather(*(client.post("/_emulator/sms", json={
                        "from": "+14155550123", "to": number, "body": f"message {i}"})
                        for i in range(start, min(start + 20, args.pending // 2))))

        asyncio.run(flood())
        cpu = cpu_seconds(pid) or 0.0
        loaded = asyncio.run(phase(base, other_key, args.seconds, args.writers))
        loaded_cpu = (cpu_seconds(pid) or 0.0) - cpu
        with httpx.Client(base_url=base, timeout=60) as client:
            stats = client.get("/v1/webhooks/deliveries/stats", headers={"Authorization": f"Bearer {slow_key}"}).json()
    finally:
        emulator.stop()
        emulator.cleanup()

    print(f"\nAccount A's target answers after {args.delay:g} s; {args.pending} deliveries to it were made pending "
          f"before phase 2. Account B writes with {args.writers} concurrent writers for {args.seconds:g} s per phase. "
          f"Load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after.\n")
    header = f"{'':<34} {'count':>7} {'p50 ms':>8} {'p99 ms':>8}"
    print(header)
    print("-" * len(header))
    print(row("B's writes, no pending deliveries", quiet[0]))
    print(row(f"B's writes, {args.pending} pending to A", loaded[0]))
    print(row("health probe, no pending", quiet[1]))
    print(row(f"health probe, {args.pending} pending", loaded[1]))
    print("-" * len(header))
    write_ratio = percentile(loaded[0], 99) / percentile(quiet[0], 99)
    probe_ratio = percentile(loaded[1], 99) / percentile(quiet[1], 99)
    print(f"p99 with / without the pending deliveries: writes {write_ratio:.2f}x, event-loop probe {probe_ratio:.2f}x "
          f"(goal: about 1x)")
    print(f"emulator CPU: {quiet_cpu:.2f} s in phase 1, {loaded_cpu:.2f} s in phase 2; A's deliveries at the end: "
          f"{stats.get('pending')} pending, {stats.get('success')} succeeded")

    print("\nHTTP client queueing: CPU seconds for N concurrent POSTs to a target answering after 1 s, 200 "
          "connections at most")
    target = SlowTarget(1.0)
    try:
        url = target.start() + "/hook"
        print(f"{'N':>6} {'httpx':>9} {'emulator':>9}")
        for count in (200, 400, 800):
            spent = asyncio.run(client_queueing(count, url))
            print(f"{count:>6} {spent['httpx']:>8.3f}s {spent['own']:>8.3f}s")
    finally:
        target.stop()
        target.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
