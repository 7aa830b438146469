"""Simulated voice calls end to end: calls per second, turns per second, and the emulator's own time per turn.

    python benchmarks/bench_calls.py [--calls 50] [--concurrency 1,4] [--turns 10] [--warmup 5] [--timeout 120]
    python benchmarks/bench_calls.py --in-process [--calls 200] [--profile FILE]

Over HTTP (the default) it starts two child processes on free loopback ports:

* the emulator (`python -m emulator serve`, a fresh temporary SQLite file, log level warning), and
* a webhook app (Starlette on uvicorn, this file with `--serve-webhook`) that answers every voice
  `agent.message` at once with `{"text": "..."}` (or `delayMs` ms late, when the hook URL has `?delayMs=N`:
  `bench_call_burst.py` uses it for calls that last), acknowledges other events, and records for every request
  its event, call id, arrival time (wall clock) and its own handling time (from the start of the handler to
  the response object, so uvicorn's HTTP parsing is outside it).

One account gets an agent with one number and a project webhook pointing at the app, and a callee script of
`--turns` `say` turns is registered for one destination (`PUT /_emulator/callees/{e164}`). Then, per
concurrency level, `--calls` calls are placed (`POST /v1/calls`) by that many asyncio workers, each waiting
for its call's `call.ended` to reach the webhook app (a long poll on the app, so waiting puts no load on the
emulator) before placing the next. Afterwards every call is read back (`GET /v1/calls/{id}`) to check that
it completed with all its turns. Printed per level:

* calls per second and caller turns per second (calls / wall time of the level);
* wall time per call, p50 / p99: from just before `POST /v1/calls` to the arrival of its `call.ended`;
* the webhook's share: the sum over the call's turns of the emulator's own `finalChunkMs` (request sent to
  the closing reply read, i.e. network + the app) and, for comparison, of the app's handling time;
* the emulator's own time per turn, p50 / p99: (call wall time - sum of `finalChunkMs`) / turns. This is
  everything the emulator does that is not waiting for the agent: the REST call that places the call,
  building and signing payloads, the transcript and delivery writes, and sending `call.ended`. (The HTTP
  client's own work for each turn is inside `finalChunkMs`, so it counts as the webhook's here.)
* the emulator process's CPU time per caller turn over the level (Linux `/proc`), which depends much less
  than wall times on other work running on the machine.

After the levels: calls/s at the highest concurrency over concurrency 1 (the goal: 3x), and beside it the two
ceilings that level's CPU sets on that ratio: one event loop doing the emulator's work for every call (1 / its CPU
per call, over the calls/s of concurrency 1), and the machine's cores running all three processes (cores / the
CPU per call of the emulator, the webhook app and this client together). A ratio can reach neither.

With `--in-process` no server runs: the call engine is driven directly (a real store in a temporary SQLite
file, a fake voice turn that answers at once, a fake transport for `call.ended`), calls one after the other,
which isolates the engine's per-turn cost; `--profile FILE` writes a cProfile of that run and prints the top
functions by cumulative and by own time.

Goals it compares against: under 2 ms of emulator time per turn at p50, and a 10-turn call in under 100 ms.
Loopback only; bounded by `--timeout`; exits by itself (status 1 when a call did not complete properly).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx

if TYPE_CHECKING:
    from starlette.applications import Starlette

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.testing import EmulatorProcess, ServerProcess, free_port, new_key  # noqa: E402

DESTINATION = "+14155550142"
REPLY_TEXT = "Sure, I can help with that."
GOAL_TURN_MS = 2.0
GOAL_CALL_MS = 100.0
CALLER_LINES = [
    "Hi, I would like to book an appointment.",
    "Next Tuesday would be best for me.",
    "Around ten in the morning, if possible.",
    "My name is Ada Lovelace.",
    "It is for a routine cleaning.",
    "Yes, I have been there before.",
    "Can you send me a reminder by text?",
    "The number is the one I am calling from.",
    "Great, is there anything I should bring?",
    "Perfect, thank you very much.",
]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def caller_turns(count: int) -> list[dict[str, Any]]:
    return [{"say": CALLER_LINES[i % len(CALLER_LINES)]} for i in range(count)]


# --- the webhook app (child process) -------------------------------------------------------------------------------


def webhook_app() -> Starlette:
    """Answers voice turns at once and records every request; `/wait/{call_id}` long-polls for `call.ended`."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    records: list[dict[str, Any]] = []
    ended: dict[str, float] = {}
    waiters: dict[str, asyncio.Event] = {}
    answer = {"text": REPLY_TEXT}

    async def hook(request: Request) -> Response:
        started = time.perf_counter()
        payload = json.loads(await request.body())
        event = payload.get("event")
        # `?delayMs=N` on the hook URL: voice turns are answered N ms late (an agent that thinks), outside handleMs
        delay = float(request.query_params.get("delayMs") or 0) / 1000
        if delay > 0 and event == "agent.message":
            slept = time.perf_counter()
            await asyncio.sleep(delay)
            started += time.perf_counter() - slept
        call_id = (payload.get("data") or {}).get("callId")
        response = JSONResponse(answer if event == "agent.message" else {"received": True})
        arrived = time.time()
        records.append({"event": event, "callId": call_id, "at": arrived,
                        "handleMs": (time.perf_counter() - started) * 1000})
        if event == "call.ended" and call_id:
            ended[call_id] = arrived
            waiters.setdefault(call_id, asyncio.Event()).set()
        return response

    async def wait(request: Request) -> Response:
        call_id = request.path_params["call_id"]
        timeout = float(request.query_params.get("timeout", "30"))
        event = waiters.setdefault(call_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return JSONResponse({"callId": call_id, "endedAt": None}, status_code=504)
        return JSONResponse({"callId": call_id, "endedAt": ended[call_id]})

    async def stats(_request: Request) -> Response:
        return JSONResponse(records)

    async def clear(_request: Request) -> Response:
        records.clear()
        ended.clear()
        waiters.clear()
        return JSONResponse({"cleared": True})

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[
        Route("/hook", hook, methods=["POST"]),
        Route("/wait/{call_id}", wait, methods=["GET"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/clear", clear, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ])


def serve_webhook(port: int) -> int:
    import uvicorn

    config = uvicorn.Config(webhook_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()
    return 0


class WebhookProcess(ServerProcess):
    """This file with `--serve-webhook` in a child process; `start()` returns once it answers."""

    name = "bench-calls-webhook"

    def __init__(self) -> None:
        port = free_port()
        super().__init__([sys.executable, str(Path(__file__).resolve()), "--serve-webhook", str(port)], port, "/health")


# --- over HTTP -----------------------------------------------------------------------------------------------------


@dataclass
class CallTiming:
    call_id: str
    sent: float  # wall clock just before POST /v1/calls
    ended_arrived: float | None = None  # wall clock at the webhook app when call.ended arrived
    final_ms: list[float] = field(default_factory=list)  # per turn, as the emulator measured the webhook
    handle_ms: list[float] = field(default_factory=list)  # per turn, as the webhook app measured itself
    status: str | None = None
    speech_rows: int = 0

    @property
    def wall_ms(self) -> float:
        return ((self.ended_arrived or self.sent) - self.sent) * 1000


@dataclass
class Level:
    concurrency: int
    calls: list[CallTiming]
    seconds: float
    errors: list[str]
    cpu_seconds: float | None = None  # the emulator process's CPU time during the level
    others_cpu_seconds: float | None = None  # the webhook app's and this client's together


def prepare(base_url: str, hook_url: str, turns: int) -> tuple[str, str]:
    """Account on the largest plan, an agent with a number, a project webhook and the callee script."""
    key = new_key()
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        # the skill doc's vocabulary: a call's end arrives as `call.ended`
        client.patch(f"/_emulator/accounts/{key}",
                     json={"plan": "scale", "webhookEvents": "skill-doc"}).raise_for_status()
        agent = client.post("/v1/agents", json={"name": "Bench caller", "beginMessage": "Hello, Acme dental."},
                            headers=auth)
        agent.raise_for_status()
        agent_id = agent.json()["id"]
        client.post("/v1/numbers", json={"agentId": agent_id}, headers=auth).raise_for_status()
        client.post("/v1/webhooks", json={"url": hook_url}, headers=auth).raise_for_status()
        client.put(f"/_emulator/callees/{DESTINATION}", json={"turns": caller_turns(turns)}).raise_for_status()
    return key, agent_id


async def place_calls(base_url: str, hook_base: str, key: str, agent_id: str, count: int, concurrency: int,
                      timeout: float) -> Level:
    auth = {"Authorization": f"Bearer {key}"}
    body = {"agentId": agent_id, "toNumber": DESTINATION}
    timings: list[CallTiming] = []
    errors: list[str] = []
    remaining = count
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=base_url, headers=auth, timeout=timeout, limits=limits) as api, \
            httpx.AsyncClient(base_url=hook_base, timeout=timeout + 5, limits=limits) as hook:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                sent = time.time()
                response = await api.post("/v1/calls", json=body)
                if response.status_code != 200:
                    errors.append(f"POST /v1/calls: HTTP {response.status_code}: {response.text[:200]}")
                    continue
                timing = CallTiming(response.json()["id"], sent)
                timings.append(timing)
                waited = await hook.get(f"/wait/{timing.call_id}", params={"timeout": timeout})
                if waited.status_code != 200:
                    errors.append(f"call {timing.call_id}: no call.ended within {timeout:g} s")
                    continue
                timing.ended_arrived = waited.json()["endedAt"]

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Level(concurrency, timings, seconds, errors)


def collect(base_url: str, hook_base: str, key: str, level: Level, turns: int) -> None:
    """Read every call back and attach the webhook app's records; completes `level.errors`."""
    with httpx.Client(base_url=hook_base, timeout=30.0) as hook:
        records = hook.get("/stats").json()
        hook.post("/clear").raise_for_status()
    handled: dict[str, list[float]] = {}
    for record in records:
        if record["event"] == "agent.message":
            handled.setdefault(record["callId"], []).append(record["handleMs"])
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30.0) as api:
        for timing in level.calls:
            call = api.get(f"/v1/calls/{timing.call_id}").json()
            timing.status = call.get("status")
            rows = [t for t in call.get("transcripts") or [] if t.get("kind") == "speech"]
            timing.speech_rows = len(rows)
            timing.final_ms = [float(t.get("finalChunkMs") or 0.0) for t in rows]
            timing.handle_ms = handled.get(timing.call_id, [])
            failed = [t for t in rows if t.get("error") or t.get("response") != REPLY_TEXT]
            if timing.status != "completed" or timing.speech_rows != turns or failed:
                level.errors.append(f"call {timing.call_id}: status {timing.status}, {timing.speech_rows} speech "
                                    f"rows of {turns}, {len(failed)} without the expected reply")


def report_level(level: Level, turns: int) -> dict[str, float]:
    """Print one level's figures; returns the headline ones."""
    done = [t for t in level.calls if t.ended_arrived is not None]
    walls = [t.wall_ms for t in done]
    final_sums = [sum(t.final_ms) for t in done]
    handle_sums = [sum(t.handle_ms) for t in done]
    own = [(t.wall_ms - sum(t.final_ms)) / turns for t in done]
    own_vs_app = [(t.wall_ms - sum(t.handle_ms)) / turns for t in done]
    per_turn_final = [ms for t in done for ms in t.final_ms]
    per_turn_handle = [ms for t in done for ms in t.handle_ms]
    figures = {
        "calls_per_s": len(done) / level.seconds if level.seconds else 0.0,
        "turns_per_s": len(done) * turns / level.seconds if level.seconds else 0.0,
        "call_p50": percentile(walls, 50), "call_p99": percentile(walls, 99),
        "own_p50": percentile(own, 50), "own_p99": percentile(own, 99),
    }
    print(f"\nconcurrency {level.concurrency}: {len(done)} calls of {turns} turns in {level.seconds:.2f} s")
    print(f"  calls/s {figures['calls_per_s']:8.1f}    caller turns/s {figures['turns_per_s']:8.1f}")
    print(f"  wall time per call (POST -> call.ended at the app)  p50 {figures['call_p50']:7.1f} ms   "
          f"p99 {figures['call_p99']:7.1f} ms   mean {statistics.fmean(walls) if walls else 0:7.1f} ms")
    print(f"  webhook round trip per turn (emulator finalChunkMs)  p50 {percentile(per_turn_final, 50):7.2f} ms   "
          f"p99 {percentile(per_turn_final, 99):7.2f} ms   per call p50 {percentile(final_sums, 50):7.1f} ms")
    print(f"  webhook app's own handling per turn                  p50 {percentile(per_turn_handle, 50):7.3f} ms   "
          f"p99 {percentile(per_turn_handle, 99):7.3f} ms   per call p50 {percentile(handle_sums, 50):7.2f} ms")
    print(f"  emulator time per turn (wall - sum finalChunkMs)     p50 {figures['own_p50']:7.2f} ms   "
          f"p99 {figures['own_p99']:7.2f} ms")
    print(f"  (wall - sum of the app's handling) / turns           p50 {percentile(own_vs_app, 50):7.2f} ms   "
          f"p99 {percentile(own_vs_app, 99):7.2f} ms")
    verdict_turn = "met" if figures["own_p50"] < GOAL_TURN_MS else "MISSED"
    verdict_call = "met" if figures["call_p50"] < GOAL_CALL_MS else "MISSED"
    if level.cpu_seconds is not None and done:
        per_turn_cpu = level.cpu_seconds * 1000 / (len(done) * turns)
        print(f"  emulator process CPU per caller turn (all its work, /proc)  {per_turn_cpu:7.2f} ms")
    print(f"  goals: emulator time per turn p50 < {GOAL_TURN_MS:g} ms: {verdict_turn};   "
          f"{turns}-turn call p50 < {GOAL_CALL_MS:g} ms: {verdict_call}")
    return figures


def run_http(args: argparse.Namespace, levels: list[int]) -> int:
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-calls-") as tmp:
        emulator = EmulatorProcess(db=args.db or str(Path(tmp) / "emulator.db"), args=["--log-level", "warning"])
        app = WebhookProcess()
        try:
            base_url = emulator.start()
            hook_base = app.start()
            key, agent_id = prepare(base_url, f"{hook_base}/hook", args.turns)
            print(f"Emulator {base_url} (db {emulator.db}), webhook app {hook_base}; {os.cpu_count()} CPU(s) "
                  f"shared by the emulator, the app and this client; load average {load_average()}.")
            if args.warmup:
                warm = asyncio.run(place_calls(base_url, hook_base, key, agent_id, args.warmup, 1, args.timeout))
                collect(base_url, hook_base, key, warm, args.turns)
                if warm.errors:
                    print("warm-up failed:\n  " + "\n  ".join(warm.errors[:10]), file=sys.stderr)
                    return 1
            pid = emulator.proc.pid if emulator.proc is not None else 0
            others = [app.proc.pid if app.proc is not None else 0, os.getpid()]
            measured: list[tuple[Level, dict[str, float]]] = []
            for concurrency in levels:
                cpu_before, others_before = cpu_seconds(pid), [cpu_seconds(other) for other in others]
                level = asyncio.run(place_calls(base_url, hook_base, key, agent_id, args.calls, concurrency,
                                                args.timeout))
                cpu_after, others_after = cpu_seconds(pid), [cpu_seconds(other) for other in others]
                if cpu_before is not None and cpu_after is not None:
                    level.cpu_seconds = cpu_after - cpu_before
                if None not in others_before and None not in others_after:
                    level.others_cpu_seconds = sum(others_after) - sum(others_before)  # type: ignore[arg-type]
                collect(base_url, hook_base, key, level, args.turns)
                measured.append((level, report_level(level, args.turns)))
                if level.errors:
                    failed = True
                    print(f"  {len(level.errors)} problem(s):\n    " + "\n    ".join(level.errors[:10]),
                          file=sys.stderr)
            report_scaling(measured)
        finally:
            emulator.stop()
            emulator.log.unlink(missing_ok=True)
            app.stop()
    return 1 if failed else 0


def report_scaling(measured: list[tuple[Level, dict[str, float]]]) -> None:
    """Calls/s at the highest concurrency over concurrency 1 (the goal: 3x), beside the two ceilings the CPU
    measured at the highest level sets: one event loop running all of the emulator's work for a call (its CPU per
    call, on one core), and the machine (every process's CPU per call, on all its cores)."""
    first = next((figures for level, figures in measured if level.concurrency == 1), None)
    top_level, top = max(measured, key=lambda pair: pair[0].concurrency)
    done = sum(1 for t in top_level.calls if t.ended_arrived is not None)
    if first is None or top_level.concurrency == 1 or not done or not first["calls_per_s"]:
        return
    print(f"\nconcurrency {top_level.concurrency} / concurrency 1: {top['calls_per_s'] / first['calls_per_s']:.2f}x "
          "calls/s (goal: 3x)")
    if top_level.cpu_seconds is None or top_level.others_cpu_seconds is None:
        return
    emulator_ms = top_level.cpu_seconds * 1000 / done
    all_ms = (top_level.cpu_seconds + top_level.others_cpu_seconds) * 1000 / done
    cores = os.cpu_count() or 1
    print(f"  CPU per call at concurrency {top_level.concurrency}: emulator {emulator_ms:.2f} ms, "
          f"with the webhook app and this client {all_ms:.2f} ms")
    print(f"  ceilings over concurrency 1: one event loop {1000 / emulator_ms / first['calls_per_s']:.2f}x, "
          f"{cores} cores for all three {cores * 1000 / all_ms / first['calls_per_s']:.2f}x")


# --- in process ----------------------------------------------------------------------------------------------------


async def engine_run(calls: int, turns: int, db: str | None = None) -> tuple[list[float], list[float], int]:
    """Run calls one after the other through the engine alone.

    Returns wall ms and CPU ms (the whole process: the event loop and aiosqlite's thread) per call, and the
    number of transcript rows written."""
    from sqlalchemy import func, select

    from emulator import ids
    from emulator.calls.bus import CallBus
    from emulator.calls.callees import Callee
    from emulator.calls.engine import CallEngine, CallRun
    from emulator.calls.script import parse_turns
    from emulator.calls.setup import CallSetup
    from emulator.clock import Clock
    from emulator.store import Account, Agent, Call, PhoneNumber, Store, Transcript, Webhook
    from emulator.webhooks.delivery import Deliverer
    from emulator.webhooks.transport import Outcome, Transport
    from emulator.webhooks.voice import TurnReply, TurnRequest

    class NullTransport:
        async def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
            return Outcome(True, 200, None, b"{}", 0.0, "application/json")

        async def close(self) -> None:
            return None

    async def voice_turn(request: TurnRequest) -> TurnReply:
        return TurnReply(chunks=[REPLY_TEXT], http_status=200, first_chunk_ms=0.0, final_ms=0.0)

    with tempfile.TemporaryDirectory(prefix="bench-calls-engine-") as tmp:
        store = Store(db or str(Path(tmp) / "engine.db"))
        await store.start()
        clock = Clock()
        deliverer = Deliverer(store, clock, cast(Transport, NullTransport()), voice=voice_turn)
        engine = CallEngine(store, clock, deliverer, CallBus())
        now = clock.now()
        account = Account(id=ids.new_id("acct"), key=new_key(), plan="scale", balance_cents=0,
                          recording_enabled=False, numbers_bought=1, created_at=now)
        agent = Agent(id=ids.new_id("agent"), account_id=account.id, name="Bench", voice_mode="webhook",
                      begin_message="Hello, Acme dental.", voice="alloy", model_tier="balanced",
                      enable_messaging=True, stt_mode="fast", ambient_sound="none",
                      denoising_mode="noise-cancellation", max_silence_ms=600_000, voice_speed=1.0,
                      interruption_sensitivity=0.8, enable_backchannel=True, language="en-US", created_at=now,
                      updated_at=now)
        number = PhoneNumber(id=ids.new_id("pn"), account_id=account.id, agent_id=agent.id,
                             phone_number="+14155550100", country="US", status="active", created_at=now)
        hook = Webhook(id=ids.new_id("wh"), account_id=account.id, agent_id=None, url="http://127.0.0.1:9/hook",
                       secret=ids.new_secret(), status="active", context_limit=10, timeout=30, created_at=now,
                       updated_at=now)
        async with store.write() as session:
            session.add_all([account, agent, number, hook])
        script = parse_turns(caller_turns(turns))
        walls: list[float] = []
        cpus: list[float] = []
        try:
            for _ in range(calls):
                started = time.perf_counter()
                cpu_started = time.process_time()
                call = Call(id=ids.new_id("call"), account_id=account.id, agent_id=agent.id,
                            phone_number_id=number.id, phone_number=number.phone_number,
                            from_number=number.phone_number, to_number=DESTINATION, direction="outbound",
                            type="pstn", status="in-progress", started_at=clock.now(), recording_available=False)
                async with store.write() as session:
                    session.add(call)
                setup = CallSetup.of(call, agent, hook, Callee(list(script), "script"))
                await engine.run(CallRun(setup, call.started_at))
                await deliverer.drain()
                walls.append((time.perf_counter() - started) * 1000)
                cpus.append((time.process_time() - cpu_started) * 1000)
            async with store.read() as session:
                rows = int(await session.scalar(select(func.count()).select_from(Transcript)) or 0)
        finally:
            await engine.close()
            await deliverer.close()
            await store.close()
    return walls, cpus, rows


def run_in_process(args: argparse.Namespace) -> int:
    asyncio.run(engine_run(min(args.warmup, args.calls) or 1, args.turns, args.db))  # warm caches
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    walls, cpus, rows = asyncio.run(engine_run(args.calls, args.turns, args.db))
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
    per_turn = [w / args.turns for w in walls]
    print(f"In-process engine: {args.calls} calls of {args.turns} turns one after the other in {seconds:.2f} s "
          f"({rows} transcript rows), fake voice turn answering at once, db {args.db or 'a temporary file'}, "
          f"load average {load_average()}")
    print(f"  calls/s {args.calls / seconds:8.1f}    caller turns/s {args.calls * args.turns / seconds:8.1f}")
    print(f"  wall time per call   p50 {percentile(walls, 50):7.2f} ms   p99 {percentile(walls, 99):7.2f} ms")
    print(f"  engine time per turn p50 {percentile(per_turn, 50):7.3f} ms   p99 {percentile(per_turn, 99):7.3f} ms")
    cpu_turn = [c / args.turns for c in cpus]
    print(f"  CPU per turn         p50 {percentile(cpu_turn, 50):7.3f} ms   p99 {percentile(cpu_turn, 99):7.3f} ms "
          "(process-wide, less sensitive to other load on the machine)")
    if profiler is not None:
        profiler.dump_stats(args.profile)
        print(f"\ncProfile written to {args.profile}; top functions:")
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(20)
    expected = args.calls * (args.turns + 1)
    return 0 if rows >= expected else 1


# --- entry point ---------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=50, help="calls per concurrency level (default 50)")
    parser.add_argument("--concurrency", default="1,4",
                        help="comma-separated concurrency levels, each run in turn (default 1,4)")
    parser.add_argument("--turns", type=int, default=10, help="caller `say` turns per call (default 10)")
    parser.add_argument("--warmup", type=int, default=5, help="calls placed before measuring (default 5)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for any one call (default 120)")
    parser.add_argument("--db", help="the database (default: a temporary SQLite file; ':memory:' is a file in "
                        "/dev/shm where it exists, which takes the disk out of the figures)")
    parser.add_argument("--in-process", action="store_true", help="drive the call engine directly, no HTTP")
    parser.add_argument("--profile", metavar="FILE", help="with --in-process: write a cProfile of the run to FILE")
    parser.add_argument("--serve-webhook", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_webhook:
        return serve_webhook(args.serve_webhook)
    try:
        levels = [int(part) for part in args.concurrency.split(",") if part.strip()]
    except ValueError:
        parser.error("--concurrency takes whole numbers separated by commas, like 1,4")
    if args.calls < 1 or args.turns < 1 or args.warmup < 0 or not levels or min(levels) < 1:
        parser.error("need --calls >= 1, --turns >= 1, --warmup >= 0 and concurrency levels >= 1")
    if args.profile and not args.in_process:
        parser.error("--profile goes with --in-process")
    if args.in_process:
        return run_in_process(args)
    return run_http(args, levels)


if __name__ == "__main__":
    sys.exit(main())
