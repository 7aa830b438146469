"""What waiting for calls costs: other requests with many `GET /v1/calls/{id}?wait=true` waiters open, and how
fast the waiters are answered once the call ends.

    python benchmarks/bench_waiters.py [--waiters 500] [--samples 300]

Starts the emulator (`python -m emulator serve`, a fresh temporary SQLite file) in a child process, and a webhook
receiver in this process that holds the call's one voice turn until the benchmark lets it go. It then:

1. times `--samples` sequential `GET /v1/agents/{id}` with no waiter (the baseline), and again with `--waiters`
   clients waiting on the held call over their own connections; prints p50/p99 of both and their ratio;
2. writes while they wait (`POST /v1/agents`), timed the same way (a waiter holds no write lock);
3. lets the turn go and prints how long it took until every waiter had its answer (all `completed`).

Exits 1 when a waiter's answer is not the ended call. Only loopback traffic; everything stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.testing import EmulatorProcess, new_key  # noqa: E402
from emulator.testing.receiver import WebhookReceiver, held  # noqa: E402


def p(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(pct / 100 * len(ordered)))]


async def timed(client: httpx.AsyncClient, samples: int, method: str, url: str, **kwargs: object) -> list[float]:
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        response.raise_for_status()
        out.append((time.perf_counter() - started) * 1000)
    return out


def line(name: str, base: list[float], loaded: list[float]) -> str:
    ratio = statistics.median(loaded) / statistics.median(base)
    return (f"{name}: p50 {statistics.median(base):.2f} ms -> {statistics.median(loaded):.2f} ms "
            f"(p99 {p(base, 99):.2f} -> {p(loaded, 99):.2f}): {ratio:.2f}x")


async def run(base_url: str, key: str, receiver: WebhookReceiver, gate: threading.Event, waiters: int,
              samples: int) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=waiters + 20, max_keepalive_connections=waiters + 20)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=600, limits=limits) as client:
        agent = (await client.post("/v1/agents", json={"name": "Bench"})).json()
        await client.post("/v1/numbers", json={"agentId": agent["id"]})
        hook = (await client.post("/v1/webhooks", json={"url": receiver.url})).json()
        receiver.secret = hook["secret"]
        before_get = await timed(client, samples, "GET", f"/v1/agents/{agent['id']}")
        before_post = await timed(client, samples // 3, "POST", "/v1/agents", json={"name": "Write"})
        call = (await client.post("/v1/calls", json={"agentId": agent["id"], "toNumber": "+14155550100"})).json()
        await asyncio.to_thread(receiver.wait_for, 1)
        # One client (one connection pool) per waiter: a single pool with hundreds of requests in flight is
        # slow on the client's side, which is not what this measures.
        crowd = [httpx.AsyncClient(base_url=base_url, headers=headers, timeout=600) for _ in range(waiters)]
        tasks = [asyncio.ensure_future(c.get(f"/v1/calls/{call['id']}", params={"wait": "true", "timeout": 600}))
                 for c in crowd]
        await asyncio.sleep(1.0)  # let every waiter reach the emulator
        during_get = await timed(client, samples, "GET", f"/v1/agents/{agent['id']}")
        during_post = await timed(client, samples // 3, "POST", "/v1/agents", json={"name": "Write"})
        released = time.perf_counter()
        gate.set()
        answers = [(await task).json() for task in tasks]
        answered_ms = (time.perf_counter() - released) * 1000
        for c in crowd:
            await c.aclose()
    print(f"{waiters} waiters on one call")
    print(line("GET /v1/agents/{id}", before_get, during_get))
    print(line("POST /v1/agents", before_post, during_post))
    print(f"every waiter answered {answered_ms:.0f} ms after the call was let go")
    bad = [a for a in answers if a.get("status") != "completed" or not a.get("transcripts")]
    if bad:
        print(f"{len(bad)} waiters did not get the ended call: {bad[0]}")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waiters", type=int, default=500)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    gate = threading.Event()
    with WebhookReceiver(default=held(gate)) as receiver, EmulatorProcess() as proc:
        return asyncio.run(run(proc.base_url, new_key(), receiver, gate, args.waiters, args.samples))


if __name__ == "__main__":
    sys.exit(main())
