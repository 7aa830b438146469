"""Latency of every list, search, usage and statistics endpoint at 100 rows and at 100,000, with query plans.

    python benchmarks/bench_scale.py [--calls 100000] [--messages 100000] [--deliveries 200000]
                                     [--requests 20] [--rounds 5] [--idle 10] [--no-plans]

Builds one SQLite database with two accounts alike in everything but size: the small one has 100 calls,
100 messages and 200 webhook deliveries, the large one `--calls`, `--messages` and `--deliveries`, both
spread over the last 60 days, on 5 agents with a number each, in conversations with many participants
(one per 100 messages). The rows are written straight into the file before the emulator starts (the
emulator's own triggers keep its rollups as they go in, exactly as for rows the API writes), then the
emulator (`python -m emulator serve`) serves it.

Each endpoint is then requested `--requests` times in a row for each account, the two accounts one after the
other in each of `--rounds` rounds; the table shows, per endpoint, the median latency (ms, keep-alive
httpx client) at each size and their ratio (the goal: within 2x). Afterwards the emulator's idle CPU is
measured for `--idle` seconds against the same for an empty emulator (the background sweeper runs twice a
second), and, unless `--no-plans`, each endpoint is run once more in this process with SQLite tracing the
statements it runs, and the plan of each statement (EXPLAIN QUERY PLAN) is printed.

Benchmarks are scripts, not tests: this one writes rows directly, which tests never do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_calls import cpu_seconds  # noqa: E402
from emulator.testing import EmulatorProcess  # noqa: E402

SPAN_DAYS = 60
AGENTS = 5
STATUSES = (("completed", 80), ("failed", 10), ("no-answer", 5), ("busy", 5))
EVENTS = ("agent.message", "message.received", "message.sent", "call.started", "call.ended")


def stamp(when: datetime) -> str:
    """A timestamp as SQLite stores it (SQLAlchemy's format)."""
    return when.isoformat(" ", "microseconds")


def spread(rng: random.Random, count: int, now: datetime) -> list[datetime]:
    start = now - timedelta(days=SPAN_DAYS)
    return sorted(start + timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400 - 60)) for _ in range(count))


def weighted(rng: random.Random, choices: Sequence[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


def seed(db: Path, tag: str, calls: int, messages: int, deliveries: int, now: datetime) -> dict[str, Any]:
    """One account with its agents, numbers, conversations, messages, calls and deliveries, written straight
    into the database (the emulator's triggers keep the rollups). Returns the IDs the endpoints need."""
    rng = random.Random(tag)
    key = f"sk_test_scale_{tag}_{os.getpid()}"
    account = f"acct_scale_{tag}"
    created = stamp(now - timedelta(days=SPAN_DAYS + 1))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO accounts (id, key, plan, balance_cents, recording_enabled, numbers_bought, created_at) "
                 "VALUES (?, ?, 'scale', 100000000, 0, ?, ?)", (account, key, AGENTS, created))
    agents, numbers = [], []
    for i in range(AGENTS):
        agent, number = f"agent_{tag}_{i}", f"pn_{tag}_{i}"
        e164 = f"+1415{'5' if tag == 'small' else '6'}{i:06d}"
        agents.append(agent)
        numbers.append((number, e164))
        conn.execute(
            "INSERT INTO agents (id, account_id, name, voice_mode, voice, model_tier, enable_messaging, stt_mode, "
            "ambient_sound, denoising_mode, max_silence_ms, voice_speed, interruption_sensitivity, "
            "enable_backchannel, language, created_at, updated_at) VALUES (?, ?, ?, 'webhook', 'alloy', 'balanced', "
            "1, 'fast', 'none', 'noise-cancellation', 600000, 1.0, 0.8, 1, 'en-US', ?, ?)",
            (agent, account, f"Agent {i}", created, created))
        conn.execute("INSERT INTO phone_numbers (id, account_id, agent_id, phone_number, country, status, type, "
                     "attached_at, created_at) VALUES (?, ?, ?, ?, 'US', 'active', 'sms', ?, ?)",
                     (number, account, agent, e164, created, created))
    # Messages in conversations of one (number, participant) each; the conversations' counters as the API keeps
    # them.
    participants = max(10, messages // 100)
    threads: dict[int, dict[str, Any]] = {}
    rows = []
    for n, at in enumerate(spread(rng, messages, now)):
        p = rng.randrange(participants)
        agent_index = p % AGENTS
        number_id, e164 = numbers[agent_index]
        participant = f"+1212{p:07d}"
        thread = threads.setdefault(p, {"id": f"conv_{tag}_{p}", "count": 0, "first": at, "agent": agents[agent_index],
                                        "number": number_id, "e164": e164, "participant": participant})
        thread["count"] += 1
        thread["last"] = at
        inbound = n % 2 == 0
        body = f"Message {n} of the scale benchmark." + (" More text." * rng.randrange(0, 30))
        rows.append((f"msg_{tag}_{n}", account, thread["agent"], thread["id"], number_id,
                     participant if inbound else e164, e164 if inbound else participant, body,
                     "inbound" if inbound else "outbound", "received" if inbound else "sent", stamp(at)))
    for thread in threads.values():
        conn.execute("INSERT INTO conversations (id, account_id, agent_id, phone_number_id, phone_number, participant, "
                     "channel, message_count, last_message_at, last_message_preview, created_at) VALUES "
                     "(?, ?, ?, ?, ?, ?, 'sms', ?, ?, 'Last message', ?)",
                     (thread["id"], account, thread["agent"], thread["number"], thread["e164"],
                      thread["participant"], thread["count"], stamp(thread["last"]), stamp(thread["first"])))
    conn.executemany("INSERT INTO messages (id, account_id, agent_id, conversation_id, phone_number_id, from_number, "
                     "to_number, body, direction, status, channel, received_at) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'sms', ?)", rows)
    rows = []
    for n, at in enumerate(spread(rng, calls, now)):
        i = rng.randrange(AGENTS)
        number_id, e164 = numbers[i]
        other = f"+1646{rng.randrange(10**7):07d}"
        outbound = rng.random() < 0.7
        status = weighted(rng, STATUSES)
        duration = rng.randrange(10, 300) if status == "completed" else 0
        rows.append((f"call_{tag}_{n}", account, agents[i], number_id, e164, e164 if outbound else other,
                     other if outbound else e164, "outbound" if outbound else "inbound", status, stamp(at),
                     stamp(at + timedelta(seconds=duration)), duration))
    conn.executemany("INSERT INTO calls (id, account_id, agent_id, phone_number_id, phone_number, from_number, "
                     "to_number, direction, type, status, started_at, ended_at, duration_seconds, "
                     "recording_available, end_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pstn', ?, ?, ?, ?, 0, "
                     "'caller-finished')", rows)
    rows = []
    for n, at in enumerate(spread(rng, deliveries, now)):
        ok = rng.random() < 0.92
        rows.append((f"dlv_{tag}_{n}", account, agents[rng.randrange(AGENTS)], rng.choice(EVENTS),
                     "success" if ok else "failed", 200 if ok else 500, stamp(at)))
    conn.executemany("INSERT INTO webhook_deliveries (id, account_id, agent_id, event_type, channel, url, payload, "
                     "status, http_status, attempt_count, latency_ms, test, last_attempt_at, created_at) VALUES "
                     "(?, ?, ?, ?, 'sms', 'https://example.com/hook', '{}', ?, ?, 1, 3.0, 0, ?, ?)",
                     [(*r[:6], r[6], r[6]) for r in rows])
    conn.execute("COMMIT")
    conn.close()
    middle = sorted(threads.values(), key=lambda t: -t["count"])[0]
    return {"key": key, "agent": agents[0], "number": numbers[0][0], "conversation": middle["id"],
            "deep": calls * 8 // 10,
            "search": numbers[0][1][-7:], "cursor": (now - timedelta(days=SPAN_DAYS // 2)).isoformat() + "Z"}


def endpoints(ids: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, path) of every list, search, usage and statistics endpoint."""
    return [
        ("calls", "/v1/calls?limit=20"),
        ("calls, status", "/v1/calls?limit=20&status=failed"),
        ("calls, direction", "/v1/calls?limit=20&direction=inbound"),
        ("calls, offset 60", "/v1/calls?limit=20&offset=60"),
        ("calls, 80% deep", f"/v1/calls?limit=20&offset={ids['deep']}"),
        ("calls, search", f"/v1/calls?limit=20&search={ids['search']}"),
        ("agent's calls", f"/v1/agents/{ids['agent']}/calls?limit=20"),
        ("number's calls", f"/v1/numbers/{ids['number']}/calls?limit=20"),
        ("conversations", "/v1/conversations?limit=20"),
        ("agent's conversations", f"/v1/agents/{ids['agent']}/conversations?limit=20"),
        ("conversation", f"/v1/conversations/{ids['conversation']}"),
        ("conversation's messages", f"/v1/conversations/{ids['conversation']}/messages?limit=20"),
        ("number's messages", f"/v1/numbers/{ids['number']}/messages?limit=20"),
        ("number's messages, before", f"/v1/numbers/{ids['number']}/messages?limit=20&before={ids['cursor']}"),
        ("deliveries", "/v1/webhooks/deliveries?limit=20"),
        ("deliveries, 7 d", "/v1/webhooks/deliveries?limit=20&hours=168"),
        ("agent's deliveries", f"/v1/agents/{ids['agent']}/webhook/deliveries"),
        ("delivery stats (24 h)", "/v1/webhooks/deliveries/stats"),
        ("delivery stats (30 d)", "/v1/webhooks/deliveries/stats?hours=720"),
        ("delivery stats, all time", "/v1/webhooks/deliveries/all-time"),
        ("usage", "/v1/usage"),
        ("usage, daily (30 d)", "/v1/usage/daily"),
        ("usage, daily (365 d)", "/v1/usage/daily?days=365"),
        ("usage, monthly", "/v1/usage/monthly"),
        ("usage by number", "/v1/usage/by-number"),
        ("usage by agent (month)", "/v1/usage/by-agent?period=month"),
        ("usage by agent (year)", "/v1/usage/by-agent?period=year"),
    ]


def items(body: Any) -> int:
    """How many things a response lists (its page, its hours, its days...), to show what each size returned."""
    if isinstance(body, list):
        return len(body)
    for name in ("data", "byHour", "messages"):
        if isinstance(body.get(name), list):
            return len(body[name])
    return 1


def measure(client: httpx.Client, key: str, path: str, requests: int) -> tuple[float, int]:
    """Median latency in ms of `requests` sequential requests, and how many items the answer lists."""
    headers = {"Authorization": f"Bearer {key}"}
    times = []
    response = None
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
    assert response is not None
    return statistics.median(times), items(response.json())


def idle_cpu(pid: int, seconds: float) -> float:
    """Share of one core the process used while nothing was asked of it."""
    before = cpu_seconds(pid) or 0.0
    time.sleep(seconds)
    return ((cpu_seconds(pid) or 0.0) - before) / seconds


def plans(db: Path, sizes: dict[str, dict[str, Any]]) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """For each endpoint (large account), the statements it runs and each one's query plan."""
    from emulator.app import create_app
    from emulator.config import Settings

    async def run() -> list[tuple[str, list[tuple[str, list[str]]]]]:
        app = create_app(Settings(db=str(db)))
        state = app.state.emulator
        await state.store.start()
        traced: list[str] = []
        raw = state.store._read_conn.connection.dbapi_connection
        raw.set_trace_callback(traced.append)
        explain = sqlite3.connect(db)
        out = []
        ids = sizes["large"]
        try:
            for label, path in endpoints(ids):
                path_only, _, query = path.partition("?")
                traced.clear()
                status, body = await _get(app, path_only, query, ids["key"])
                if status != 200:
                    raise RuntimeError(f"{path}: {status} {body[:200]!r}")
                statements = []
                # Statements an FTS index runs inside another are traced as comments ("-- SELECT ..."): skipped.
                for statement in (each for each in dict.fromkeys(traced) if not each.startswith("--")):
                    steps = [row[3] for row in explain.execute("EXPLAIN QUERY PLAN " + statement)]
                    statements.append((statement, steps))
                out.append((label, statements))
        finally:
            raw.set_trace_callback(None)
            explain.close()
            await state.store.close()
        return out

    return asyncio.run(run())


async def _get(app: Any, path: str, query: str, key: str) -> tuple[int, bytes]:
    """One GET straight into the ASGI app."""
    from benchmarks.profile_get import _scope

    headers = {"authorization": f"Bearer {key}"}
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    scope = _scope("GET", path, {"host": "127.0.0.1", **headers})
    scope["query_string"] = query.encode()
    await app(scope, receive, send)
    return status, b"".join(chunks)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--deliveries", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=20, help="requests per endpoint, size and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measured (0: skip)")
    parser.add_argument("--no-plans", action="store_true")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    now = datetime.utcnow().replace(microsecond=0)  # noqa: DTZ003 - rows store naive UTC
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        db = Path(tmp) / "scale.db"
        from emulator.store import Store

        async def create() -> None:
            store = Store(str(db))
            await store.start()
            await store.close()

        asyncio.run(create())
        started = time.perf_counter()
        sizes = {"small": seed(db, "small", 100, 100, 200, now),
                 "large": seed(db, "large", args.calls, args.messages, args.deliveries, now)}
        print(f"Seeded 100/100/200 and {args.calls:,}/{args.messages:,}/{args.deliveries:,} calls/messages/"
              f"deliveries in {time.perf_counter() - started:.1f} s ({db.stat().st_size / 1e6:.0f} MB)")
        emulator = EmulatorProcess(db=str(db), args=["--log-level", "warning"])
        latencies: dict[str, dict[str, list[float]]] = {}
        listed: dict[str, dict[str, int]] = {}
        try:
            base = emulator.start()
            assert emulator.proc is not None
            pid = emulator.proc.pid
            with httpx.Client(base_url=base, timeout=60) as client:
                for ids in sizes.values():  # warm up: every statement compiled, pages cached
                    for _, path in endpoints(ids):
                        measure(client, ids["key"], path, 2)
                for number in range(1, args.rounds + 1):
                    print(f" round {number}/{args.rounds}", flush=True)
                    for size, ids in sizes.items():
                        for label, path in endpoints(ids):
                            ms, count = measure(client, ids["key"], path, args.requests)
                            latencies.setdefault(label, {}).setdefault(size, []).append(ms)
                            listed.setdefault(label, {})[size] = count
            idle = idle_cpu(pid, args.idle) if args.idle > 0 else None
        finally:
            emulator.stop()
            emulator.cleanup()
        empty_idle = None
        if args.idle > 0:
            with EmulatorProcess(args=["--log-level", "warning"]) as empty:
                assert empty.proc is not None
                empty_idle = idle_cpu(empty.proc.pid, args.idle)
        plan_rows = [] if args.no_plans else plans(db, sizes)

    print()
    print(f"Latency at {args.calls:,} calls, {args.messages:,} messages and {args.deliveries:,} deliveries in one "
          f"account against 100 / 100 / 200 in another (same database, same server), median of {args.rounds} rounds "
          f"of {args.requests} sequential keep-alive requests each; load average {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after.")
    print()
    header = f"{'endpoint':<28} {'small ms':>9} {'large ms':>9} {'large/small':>12} {'items small/large':>18}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    for label, _ in endpoints(sizes["small"]):
        small = statistics.median(latencies[label]["small"])
        large = statistics.median(latencies[label]["large"])
        ratio = large / small if small > 0 else float("inf")
        worst = max(worst, ratio)
        counts = f"{listed[label]['small']} / {listed[label]['large']}"
        print(f"{label:<28} {small:>9.2f} {large:>9.2f} {ratio:>11.2f}x {counts:>18}{'' if ratio <= 2 else '  > 2x'}")
    print("-" * len(header))
    print(f"worst ratio {worst:.2f}x (goal: every endpoint within 2x). 'items': what each answer listed (a page, "
          "hours of statistics, messages of a conversation): a larger answer costs more to render and send.")
    if idle is not None and empty_idle is not None:
        print(f"idle CPU: {idle * 100:.2f}% of a core with the large account, {empty_idle * 100:.2f}% empty "
              "(the sweeper runs twice a second)")
    for label, statements in plan_rows:
        print(f"\n{label}:")
        for statement, steps in statements:
            print(textwrap.indent(textwrap.fill(statement, 110), "    "))
            for step in steps:
                print(f"      -> {step}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
