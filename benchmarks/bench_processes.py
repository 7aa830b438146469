"""Throughput of one emulator process against two on one database, side by side in one run.

    python benchmarks/bench_processes.py --pg postgresql+asyncpg://user@127.0.0.1:5432/postgres
                                         [--seconds 5] [--connections 16] [--rounds 3]
    python benchmarks/bench_processes.py --workers [--seconds 5] [--connections 16] [--rounds 3]

With `--workers`: `serve` against `serve --workers 2` on SQLite files of their own (each seeded the same
way), every connection to the one port; the two alternate, endpoint by endpoint and round by round. With
`--pg`:

Creates a throwaway database on the server (dropped at the end), starts two emulators on it
(`python -m emulator serve --db <it>`, each a child process with one uvicorn worker), seeds one account on
the largest plan with an agent, and loads `GET /v1/agents/{id}` and `POST /v1/agents` with `wrk` at
`--connections` keep-alive connections: first against one process, then against both at once (half the
connections each, the figures summed). It prints requests per second for 1 and 2 processes and their
ratio, per endpoint, as medians over `--rounds` interleaved rounds. On a 2-core machine whose load generator
shares the cores, two processes mostly show that nothing is lost by sharing the database: a larger machine
is where the ratio grows. Loopback only; it stops by itself.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_rest import Result, Target, run_wrk  # noqa: E402

from emulator.testing import EmulatorProcess, new_key  # noqa: E402
from emulator.testing.postgres import throwaway_database  # noqa: E402


def _seed(base_url: str) -> tuple[str, str]:
    key = new_key()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.patch(f"/_emulator/accounts/{key}", json={"plan": "scale"}).raise_for_status()
        agent = client.post("/v1/agents", json={"name": "Bench"}, headers={"Authorization": f"Bearer {key}"})
        agent.raise_for_status()
        return key, str(agent.json()["id"])


def _targets(base_url: str, key: str, agent_id: str, tag: str = "") -> list[Target]:
    """The loaded endpoints on one process (`tag`: its wrk scripts' names, which follow the label, differ)."""
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return [Target(f"GET /v1/agents/{{id}}{tag}", "GET", f"{base_url}/v1/agents/{agent_id}", auth),
            Target(f"POST /v1/agents{tag}", "POST", f"{base_url}/v1/agents", auth, '{"name": "Bench"}')]


def _together(groups: list[Target], seconds: int, connections: int, scripts: Path) -> Result:
    """The same endpoint on each process at once; requests summed, latencies of the slower."""
    with ThreadPoolExecutor(len(groups)) as pool:
        results = list(pool.map(lambda t: run_wrk(t, seconds, connections, 1, scripts), groups))
    return Result(groups[0].label, sum(r.requests for r in results), max(r.seconds for r in results),
                  max(r.p50_ms for r in results), max(r.p99_ms for r in results), sum(r.errors for r in results))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pg", help="a PostgreSQL server URL (postgresql+asyncpg://user@host/db)")
    where.add_argument("--workers", action="store_true", help="serve against serve --workers 2, on SQLite")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    figures = _workers(args) if args.workers else _processes(args)
    print(f"{'endpoint':24} {'1 process req/s':>16} {'2 processes req/s':>18} {'ratio':>7}  errors")
    for label, (ones, twos) in figures.items():
        a, b = statistics.median(r.rps for r in ones), statistics.median(r.rps for r in twos)
        errors = sum(r.errors for r in ones + twos)
        print(f"{label:24} {a:16,.0f} {b:18,.0f} {b / a if a else 0:6.2f}x  {errors}")
    return 0


Figures = dict[str, tuple[list[Result], list[Result]]]


def _workers(args: argparse.Namespace) -> Figures:
    quiet = ["--log-level", "warning"]
    with EmulatorProcess(args=quiet) as one, EmulatorProcess(args=[*quiet, "--workers", "2"]) as two, \
            tempfile.TemporaryDirectory() as scripts:
        _both_workers(two.base_url)
        singles = _targets(one.base_url, *_seed(one.base_url))
        doubles = _targets(two.base_url, *_seed(two.base_url), " (2)")
        figures: Figures = {t.label: ([], []) for t in singles}
        for _ in range(args.rounds):
            for single, double in zip(singles, doubles, strict=True):
                figures[single.label][0].append(run_wrk(single, args.seconds, args.connections, 1, Path(scripts)))
                figures[single.label][1].append(run_wrk(double, args.seconds, args.connections, 1, Path(scripts)))
    return figures


def _both_workers(base_url: str) -> None:
    """Until both workers answer (the second may still be starting when the first is healthy)."""
    seen: set[int] = set()
    while len(seen) < 2:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            seen.add(client.get("/_emulator/health").json()["processId"])


def _processes(args: argparse.Namespace) -> Figures:
    with throwaway_database(args.pg, "bench") as database, \
            EmulatorProcess(db=database, args=["--log-level", "warning"]) as one, \
            EmulatorProcess(db=database, args=["--log-level", "warning"]) as two, \
            tempfile.TemporaryDirectory() as scripts:
        key, agent_id = _seed(one.base_url)
        singles, pairs = _targets(one.base_url, key, agent_id), _targets(two.base_url, key, agent_id, " (2)")
        figures: Figures = {t.label: ([], []) for t in singles}
        for _ in range(args.rounds):
            for single, other in zip(singles, pairs, strict=True):
                figures[single.label][0].append(run_wrk(single, args.seconds, args.connections, 1, Path(scripts)))
                figures[single.label][1].append(_together([single, other], args.seconds,
                                                          max(1, args.connections // 2), Path(scripts)))
    return figures


if __name__ == "__main__":
    raise SystemExit(main())
