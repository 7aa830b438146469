"""Memory of the emulator under a flood of unknown API keys, against a baseline of the same requests from one key.

    python benchmarks/bench_key_memory.py [--keys 20000] [--connections 16] [--mode open|strict|both]

Starts the emulator (`python -m emulator serve`, a fresh temporary SQLite file, `--rate-limit 1000`, so the
per-key rate windows are in play) as a child process and reads its resident memory (VmRSS, Linux) between
batches of `GET /v1/agents`:

1. warm-up: 2,000 requests with one key;
2. baseline: `--keys` requests with that same key;
3. flood 1: `--keys` requests, each with a new key the emulator has never seen;
4. flood 2: another `--keys` new keys.

In `open` mode (the default settings) every new key becomes an account (a row in the database, an entry of
the key cache and a rate window); in `strict` mode (`--strict-keys`) every new key is refused with a 401
after taking a rate window. It prints the RSS after each batch, the RSS after each flood as a ratio to the RSS
after the baseline, and flood 2's growth over flood 1's: with bounded per-key memory the second flood grows
far less than the first once the bounds are reached (10,000 keys), where unbounded maps would grow it as much
again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.testing import EmulatorProcess  # noqa: E402

WARMUP = 2_000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc: this benchmark reads Linux process memory")


async def batch(base_url: str, keys: list[str], connections: int) -> dict[int, int]:
    """Send one GET /v1/agents per key, `connections` at a time; returns the count of each status (0: the
    connection failed)."""
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[str] = asyncio.Queue()
    for key in keys:
        queue.put_nowait(key)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            key = queue.get_nowait()
            try:
                response = await client.get("/v1/agents", headers={"Authorization": f"Bearer {key}"})
                status = response.status_code
            except httpx.TransportError:  # a connection the server closed: counted as status 0, not retried
                status = 0
            statuses[status] = statuses.get(status, 0) + 1

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    return statuses


def fresh(n: int) -> list[str]:
    return [f"sk_test_{uuid.uuid4().hex}" for _ in range(n)]


def run(mode: str, n: int, connections: int) -> None:
    one = f"sk_test_{uuid.uuid4().hex}"
    args = ["--rate-limit", "1000"] + (["--strict-keys", "--key", one] if mode == "strict" else [])
    with EmulatorProcess(args=args) as proc:
        assert proc.proc is not None
        pid = proc.proc.pid
        asyncio.run(batch(proc.base_url, [one] * WARMUP, connections))
        start = rss_mb(pid)
        rows = []
        for name, keys in [("baseline (one key)", [one] * n), ("flood 1 (new keys)", fresh(n)),
                           ("flood 2 (new keys)", fresh(n))]:
            before = rss_mb(pid)
            statuses = asyncio.run(batch(proc.base_url, keys, connections))
            after = rss_mb(pid)
            rows.append((name, before, after, statuses))
    print(f"\n{mode} mode, {n:,} requests per batch, {connections} connections; RSS after warm-up {start:.1f} MB")
    for name, before, after, statuses in rows:
        shown = ", ".join(f"{status}: {count:,}" for status, count in sorted(statuses.items()))
        print(f"  {name:20} RSS {before:7.1f} -> {after:7.1f} MB (+{after - before:5.1f})   [{shown}]")
    baseline = rows[0][2]
    first, second = (rows[1][2] - rows[1][1]), (rows[2][2] - rows[2][1])
    print(f"  RSS after flood 1 / after the baseline: {rows[1][2] / baseline:.3f}x; after flood 2: "
          f"{rows[2][2] / baseline:.3f}x; flood 2's growth / flood 1's: {second / first if first > 0 else 0.0:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=20_000, help="requests (and new keys) per batch")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--mode", choices=["open", "strict", "both"], default="both")
    args = parser.parse_args()
    for mode in (["open", "strict"] if args.mode == "both" else [args.mode]):
        run(mode, args.keys, args.connections)


if __name__ == "__main__":
    main()
