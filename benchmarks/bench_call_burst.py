"""Calls placed all at once: how fast `POST /v1/calls` answers, how long until every call ended, and what another
account's writes and the event loop see meanwhile, next to the same with no calls running.

    python benchmarks/bench_call_burst.py [--calls 200] [--turns 10] [--reply-ms 0] [--rounds 3]
                                          [--interval-ms 10] [--quiet-seconds 3] [--realtime] [--timeout 120]

It starts three child processes on free loopback ports: the emulator (`python -m emulator serve`, a fresh
temporary SQLite file, log level warning), the webhook app of `bench_calls.py` (answers every voice
`agent.message` with a fixed text, records `call.ended` and long-polls for it on `/wait/{call_id}`), and a
bystander (this file with a hidden `--bystander`) that stands for everyone else using the emulator.

* Account A gets an agent with a number, a project webhook to the app and a callee script of `--turns` `say`
  turns for one destination (`bench_calls.prepare`). The app answers each turn at once, or `--reply-ms` late (an
  agent that takes time to answer), so calls last at least turns x reply-ms and overlap; `--realtime` runs the
  emulator in wall-clock time instead (a 10-turn call then lasts about a minute of simulated speech).
* Account B (another key) is the bystander: from start to end it sends `POST /v1/agents` every `--interval-ms`
  (open loop, one client: a write starts on time even when the previous one has not answered) and probes the
  event loop with `GET /_emulator/health` at the same rate. It has its own process, so the burst's client does not
  delay its timings. Every sample is kept with its start time and assigned to a phase afterwards.

Each of `--rounds` rounds has two phases:

1. quiet: `--quiet-seconds` with no calls (after the previous round's deliveries settled);
2. burst: `--calls` calls placed at once (one `POST /v1/calls` each, all started together on one asyncio client,
   the emulator's own lean HTTP client so the load generator spends little CPU of the two cores), then each waits
   for its `call.ended` at the app. The phase lasts until the last `call.ended` arrived.

After each burst every call is read back (`bench_calls.collect`): it must have completed with all its turns and the
app's reply in each (exit status 1 otherwise). Printed per round and as medians over the rounds:

* `POST /v1/calls` latency p50 / p99 / max, from just before the request to its whole answer;
* how long until every call had ended (burst start to the last `call.ended` at the app), calls per second, and
  how many calls were live at once at most (from each POST's answer to its `call.ended`);
* B's write latency and the health probe's, p50 / p99, in both phases, and the ratio burst / quiet;
* the CPU time (Linux `/proc`) of the emulator and of the webhook app per second of each phase (cores busy; the
  emulator's for each round too: the wall times follow how much of a core it got), and the emulator's CPU per
  caller turn (B's requests during the burst included: about 0.07 of a core).

Goals: `POST /v1/calls` p99 under 250 ms and B's writes p99 under 100 ms during 200 concurrent calls. The machine
is shared (two cores for the emulator, the app, the bystander and the burst's client), so compare the ratios of
one run, and medians over rounds. Loopback only; bounded by `--timeout`; stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_calls import (  # noqa: E402
    DESTINATION,
    REPLY_TEXT,
    CallTiming,
    Level,
    WebhookProcess,
    collect,
    cpu_seconds,
    load_average,
    percentile,
    prepare,
)
from emulator.testing import EmulatorProcess, new_key  # noqa: E402
from emulator.webhooks.http import Client, ProtocolError  # noqa: E402

GOAL_POST_P99_MS = 250.0
GOAL_WRITE_P99_MS = 100.0
SETTLE_SECONDS = 1.0  # after a burst's read-back: the last call.ended deliveries and row flushes finish


async def send(client: Client, url: str, body: bytes = b"", headers: dict[str, str] | None = None,
               method: str = "POST") -> tuple[int, bytes]:
    """One request through the emulator's own client: (status, whole body)."""
    async with client.stream(url, body, headers or {}, method=method) as response:
        chunks = [chunk async for chunk in response.aiter_raw()]
    return response.status_code, b"".join(chunks)


# --- the bystander (child process) -----------------------------------------------------------------------------------


async def bystand(base: str, key: str, interval: float) -> dict[str, Any]:
    """B's writes and the health probe, each every `interval` seconds (open loop) until stdin says stop.

    Returns {"writes": [[start, ms, ok], ...], "probes": [...]} with wall-clock start times."""
    client = Client()
    write_body = json.dumps({"name": "Bystander"}).encode()
    write_headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    samples: dict[str, list[list[float]]] = {"writes": [], "probes": []}
    failures: list[str] = []
    running: set[asyncio.Task[None]] = set()
    stop = asyncio.Event()

    async def timed(kind: str, url: str, body: bytes, headers: dict[str, str], method: str) -> None:
        at, started = time.time(), time.perf_counter()
        try:
            status, answer = await send(client, url, body, headers, method)
            ok = 200 <= status < 300
            if not ok:
                failures.append(f"{method} {url}: HTTP {status}: {answer[:200]!r}")
        except (OSError, ProtocolError) as exc:
            ok = False
            failures.append(f"{method} {url}: {type(exc).__name__}: {exc}")
        samples[kind].append([at, (time.perf_counter() - started) * 1000, 1.0 if ok else 0.0])

    async def ticks() -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not stop.is_set():
            for task in (timed("writes", f"{base}/v1/agents", write_body, write_headers, "POST"),
                         timed("probes", f"{base}/_emulator/health", b"", {}, "GET")):
                running.add(spawned := asyncio.create_task(task))
                spawned.add_done_callback(running.discard)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    ticking = asyncio.create_task(ticks())
    await asyncio.sleep(interval * 20)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    stop.set()
    await ticking
    if running:
        await asyncio.wait(running, timeout=60)
    await client.aclose()
    return {**samples, "failures": failures}


def serve_bystander(base: str, key: str, interval_ms: float) -> int:
    samples = asyncio.run(bystand(base, key, interval_ms / 1000))
    print(json.dumps(samples), flush=True)
    return 0


class Bystander:
    """This file with `--bystander BASE KEY INTERVAL_MS`: `start()` returns once it sends; `stop()` its samples."""

    def __init__(self, base: str, key: str, interval_ms: float) -> None:
        self.cmd = [sys.executable, str(Path(__file__).resolve()), "--bystander", base, key, f"{interval_ms:g}"]
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"the bystander did not start (it printed {line!r})")

    def stop(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        samples: dict[str, Any] = json.loads(self.proc.stdout.readline())
        self.proc.wait(timeout=30)
        self.proc = None
        return samples

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


# --- the burst -----------------------------------------------------------------------------------------------------


@dataclass
class Burst:
    level: Level  # bench_calls' record of the calls, for its read-back
    post_ms: list[float] = field(default_factory=list)
    answered: dict[str, float] = field(default_factory=dict)  # call id -> wall clock when its POST answered
    started: float = 0.0  # wall clock
    ended: float = 0.0  # wall clock: the last call.ended at the app, or the last POST answer

    @property
    def live_at_once(self) -> int:
        """The most calls live at one moment: between its POST's answer and its call.ended's arrival."""
        edges = sorted([(self.answered[t.call_id], 1) for t in self.level.calls if t.ended_arrived is not None]
                       + [(t.ended_arrived, -1) for t in self.level.calls if t.ended_arrived is not None])
        live = most = 0
        for _, step in edges:
            live += step
            most = max(most, live)
        return most


async def place_burst(base: str, hook_base: str, key: str, agent_id: str, count: int, timeout: float) -> Burst:
    """`count` calls placed at once; each then waits for its call.ended at the app."""
    api, hook = Client(max_per_origin=count + 8), Client(max_per_origin=count + 8)
    url = f"{base}/v1/calls"
    body = json.dumps({"agentId": agent_id, "toNumber": DESTINATION}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    burst = Burst(Level(count, [], 0.0, []))
    errors = burst.level.errors

    async def one() -> None:
        sent, started = time.time(), time.perf_counter()
        status, raw = await send(api, url, body, headers)
        burst.post_ms.append((time.perf_counter() - started) * 1000)
        if status != 200:
            errors.append(f"POST /v1/calls: HTTP {status}: {raw[:200]!r}")
            return
        timing = CallTiming(json.loads(raw)["id"], sent)
        burst.answered[timing.call_id] = time.time()
        burst.level.calls.append(timing)
        status, raw = await send(hook, f"{hook_base}/wait/{timing.call_id}?timeout={timeout:g}", method="GET")
        if status != 200:
            errors.append(f"call {timing.call_id}: no call.ended within {timeout:g} s")
            return
        timing.ended_arrived = json.loads(raw)["endedAt"]

    burst.started = time.time()
    await asyncio.gather(*(one() for _ in range(count)))
    burst.level.seconds = time.time() - burst.started
    arrivals = [t.ended_arrived for t in burst.level.calls if t.ended_arrived is not None]
    burst.ended = max([*arrivals, *burst.answered.values(), burst.started])
    await api.aclose()
    await hook.aclose()
    return burst


# --- rounds and figures --------------------------------------------------------------------------------------------


@dataclass
class Round:
    quiet: tuple[float, float]  # wall-clock window
    burst: Burst
    cpu: dict[str, float]  # "emulator quiet", "emulator burst", "app quiet", "app burst" (seconds)
    figures: dict[str, float] = field(default_factory=dict)


def window(samples: list[list[float]], start: float, end: float) -> list[float]:
    return [ms for at, ms, _ in samples if start <= at <= end]


def measure(round_: Round, samples: dict[str, Any], turns: int) -> dict[str, float]:
    burst = round_.burst
    figures: dict[str, float] = {
        "post_p50": percentile(burst.post_ms, 50), "post_p99": percentile(burst.post_ms, 99),
        "post_max": max(burst.post_ms, default=0.0),
        "all_ended_s": burst.ended - burst.started,
        "live_at_once": float(burst.live_at_once),
    }
    figures["calls_per_s"] = len(burst.level.calls) / figures["all_ended_s"] if figures["all_ended_s"] else 0.0
    for kind, label in (("writes", "write"), ("probes", "probe")):
        quiet = window(samples[kind], *round_.quiet)
        loaded = window(samples[kind], burst.started, burst.ended)
        figures[f"{label}_n_quiet"], figures[f"{label}_n_burst"] = len(quiet), len(loaded)
        for pct in (50, 99):
            figures[f"{label}_p{pct}_quiet"] = percentile(quiet, pct)
            figures[f"{label}_p{pct}_burst"] = percentile(loaded, pct)
        figures[f"{label}_max_burst"] = max(loaded, default=0.0)
    failed = [ok for kind in ("writes", "probes") for at, _, ok in samples[kind]
              if not ok and burst.started <= at <= burst.ended]
    figures["bystander_failed"] = float(len(failed))
    quiet_seconds = round_.quiet[1] - round_.quiet[0]
    burst_seconds = figures["all_ended_s"]
    for who in ("emulator", "app"):
        figures[f"{who}_cpu_quiet"] = round_.cpu.get(f"{who} quiet", 0.0) / quiet_seconds
        figures[f"{who}_cpu_burst"] = round_.cpu.get(f"{who} burst", 0.0) / burst_seconds if burst_seconds else 0.0
    turns_done = len(burst.level.calls) * turns
    figures["emulator_cpu_per_turn_ms"] = round_.cpu.get("emulator burst", 0.0) * 1000 / turns_done if turns_done \
        else 0.0
    return figures


def ratio(figures: dict[str, float], name: str) -> float:
    quiet = figures[f"{name}_quiet"]
    return figures[f"{name}_burst"] / quiet if quiet else 0.0


def report_round(number: int, figures: dict[str, float]) -> None:
    f = figures
    print(f"round {number}: POST /v1/calls p50 {f['post_p50']:6.1f} p99 {f['post_p99']:6.1f} "
          f"max {f['post_max']:6.1f} ms;"
          f" all ended {f['all_ended_s']:5.2f} s, {f['live_at_once']:.0f} live at once;"
          f" B's writes p99 {f['write_p99_quiet']:5.1f} -> {f['write_p99_burst']:6.1f} ms,"
          f" probe p99 {f['probe_p99_quiet']:5.1f} -> {f['probe_p99_burst']:6.1f} ms;"
          f" emulator {f['emulator_cpu_burst']:.2f} cores busy", flush=True)


def report(args: argparse.Namespace, results: list[dict[str, float]], load_before: str) -> None:
    def med(name: str) -> float:
        return statistics.median(r[name] for r in results)

    def med_ratio(name: str) -> float:
        return statistics.median(ratio(r, name) for r in results)

    how = (f"the app answering each turn {args.reply_ms:g} ms late" if args.reply_ms else "the app answering at once")
    if args.realtime:
        how += ", the emulator in wall-clock time (--realtime)"
    print(f"\n{args.calls} calls of {args.turns} turns placed at once, {how}; account B writes and probes every "
          f"{args.interval_ms:g} ms; {len(results)} round(s), medians. {os.cpu_count()} CPU(s) shared by the "
          f"emulator, the app, the bystander and the burst's client; load average {load_before} before, "
          f"{load_average()} after.\n")
    print(f"{'':<44} {'quiet':>9} {'burst':>9} {'ratio':>7}")
    print("-" * 72)
    for label, name in (("B's POST /v1/agents p50 (ms)", "write_p50"), ("B's POST /v1/agents p99 (ms)", "write_p99"),
                        ("event-loop probe GET /_emulator/health p50", "probe_p50"),
                        ("event-loop probe GET /_emulator/health p99", "probe_p99"),
                        ("emulator CPU (cores busy)", "emulator_cpu"), ("webhook app CPU (cores busy)", "app_cpu")):
        times = f"{med_ratio(name):>6.2f}x" if all(r[name + "_quiet"] for r in results) else f"{'-':>7}"
        print(f"{label:<44} {med(name + '_quiet'):>9.2f} {med(name + '_burst'):>9.2f} {times}")
    print(f"{'samples per phase (writes)':<44} {med('write_n_quiet'):>9.0f} {med('write_n_burst'):>9.0f}")
    print(f"{'B max during the burst: write / probe (ms)':<44} {'':>9} "
          f"{med('write_max_burst'):>5.0f} / {med('probe_max_burst'):.0f}")
    print("-" * 72)
    print(f"POST /v1/calls        p50 {med('post_p50'):7.1f} ms   p99 {med('post_p99'):7.1f} ms   "
          f"max {med('post_max'):7.1f} ms")
    print(f"every call ended after {med('all_ended_s'):6.2f} s ({med('calls_per_s'):.1f} calls/s); "
          f"at most {med('live_at_once'):.0f} live at once; emulator CPU per caller turn "
          f"{med('emulator_cpu_per_turn_ms'):.2f} ms")
    post = "met" if med("post_p99") < GOAL_POST_P99_MS else "MISSED"
    write = "met" if med("write_p99_burst") < GOAL_WRITE_P99_MS else "MISSED"
    print(f"goals: POST /v1/calls p99 < {GOAL_POST_P99_MS:g} ms: {post};   B's writes p99 during the burst < "
          f"{GOAL_WRITE_P99_MS:g} ms: {write}")


def explain(base: str, key: str, errors: list[str]) -> list[str]:
    """What went wrong in the turns of the calls `bench_calls.collect` found wanting (their rows' errors)."""
    found = []
    ids = [error.split()[1].rstrip(":") for error in errors if error.startswith("call call_")]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        for call_id in ids[:10]:
            rows = api.get(f"/v1/calls/{call_id}").json().get("transcripts") or []
            found += [f"call {call_id}, turn {n}: {row.get('error') or row.get('response')!r}"
                      for n, row in enumerate(rows) if row.get("kind") == "speech" and
                      (row.get("error") or row.get("response") != REPLY_TEXT)]
    return found


def run(args: argparse.Namespace) -> int:
    load_before = load_average()
    emulator = EmulatorProcess(args=["--log-level", "warning", *(["--realtime"] if args.realtime else [])])
    app = WebhookProcess()
    bystander: Bystander | None = None
    problems: list[str] = []
    rounds: list[Round] = []
    try:
        base = emulator.start()
        hook_base = app.start()
        hook_url = f"{hook_base}/hook" + (f"?delayMs={args.reply_ms:g}" if args.reply_ms else "")
        key, agent_id = prepare(base, hook_url, args.turns)
        other = new_key()
        httpx.patch(f"{base}/_emulator/accounts/{other}", json={"plan": "scale"}, timeout=10).raise_for_status()
        assert emulator.proc is not None and app.proc is not None
        pids = {"emulator": emulator.proc.pid, "app": app.proc.pid}
        if args.warmup:
            warm = asyncio.run(place_burst(base, hook_base, key, agent_id, args.warmup, args.timeout))
            collect(base, hook_base, key, warm.level, args.turns)
            if warm.level.errors:
                print("warm-up failed:\n  " + "\n  ".join(warm.level.errors[:10]), file=sys.stderr)
                return 1
        bystander = Bystander(base, other, args.interval_ms)
        bystander.start()
        for number in range(1, args.rounds + 1):
            time.sleep(SETTLE_SECONDS)
            cpu = {who: cpu_seconds(pid) or 0.0 for who, pid in pids.items()}
            quiet_started = time.time()
            time.sleep(args.quiet_seconds)
            quiet = (quiet_started, time.time())
            spent = {f"{who} quiet": (cpu_seconds(pid) or 0.0) - cpu[who] for who, pid in pids.items()}
            cpu = {who: cpu_seconds(pid) or 0.0 for who, pid in pids.items()}
            burst = asyncio.run(place_burst(base, hook_base, key, agent_id, args.calls, args.timeout))
            spent |= {f"{who} burst": (cpu_seconds(pid) or 0.0) - cpu[who] for who, pid in pids.items()}
            collect(base, hook_base, key, burst.level, args.turns)
            problems += burst.level.errors + explain(base, key, burst.level.errors)
            if len(burst.level.calls) != args.calls:
                problems.append(f"round {number}: {len(burst.level.calls)} of {args.calls} calls were placed")
            rounds.append(Round(quiet, burst, spent))
            print(f"round {number}: {len(burst.level.calls)} calls checked, "
                  f"{len(burst.level.errors)} problem(s)", flush=True)
        samples = bystander.stop()
        bystander = None
    finally:
        if bystander is not None:
            bystander.kill()
        emulator.stop()
        emulator.cleanup()
        app.stop()
        app.cleanup()
    problems += [f"B: {failure}" for failure in samples["failures"]]
    results = []
    for number, round_ in enumerate(rounds, 1):
        round_.figures = measure(round_, samples, args.turns)
        report_round(number, round_.figures)
        results.append(round_.figures)
        if round_.figures["bystander_failed"]:
            problems.append(f"round {number}: {round_.figures['bystander_failed']:.0f} of B's requests failed")
    report(args, results, load_before)
    if problems:
        print(f"{len(problems)} problem(s):\n  " + "\n  ".join(problems[:20]), file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls placed at once in each round (default 200)")
    parser.add_argument("--turns", type=int, default=10, help="caller `say` turns per call (default 10)")
    parser.add_argument("--reply-ms", type=float, default=0.0,
                        help="the webhook app answers each voice turn this late (default 0: at once)")
    parser.add_argument("--realtime", action="store_true", help="run the emulator with --realtime (calls last "
                        "as long as their simulated speech)")
    parser.add_argument("--rounds", type=int, default=3, help="quiet + burst rounds (default 3)")
    parser.add_argument("--interval-ms", type=float, default=10.0,
                        help="account B's write and probe interval (default 10)")
    parser.add_argument("--quiet-seconds", type=float, default=3.0, help="length of each quiet phase (default 3)")
    parser.add_argument("--warmup", type=int, default=10, help="calls placed at once before measuring (default 10)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for any one call (default 120)")
    parser.add_argument("--bystander", nargs=3, metavar=("BASE", "KEY", "INTERVAL_MS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bystander:
        base, key, interval = args.bystander
        return serve_bystander(base, key, float(interval))
    if args.calls < 1 or args.turns < 1 or args.rounds < 1 or args.interval_ms <= 0 or args.quiet_seconds <= 0 \
            or args.reply_ms < 0 or args.warmup < 0:
        parser.error("need --calls, --turns, --rounds >= 1, --interval-ms and --quiet-seconds > 0, --reply-ms and "
                     "--warmup >= 0")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
