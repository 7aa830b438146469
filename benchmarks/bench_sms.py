"""Inbound SMS throughput and webhook delivery latency of the emulator.

    python benchmarks/bench_sms.py [--messages 2000] [--concurrency 16] [--warmup 50] [--timeout 120] [--no-verify]

Starts the emulator (`python -m emulator serve`, a fresh temporary SQLite file, log level warning) in a child
process and a local webhook receiver (`emulator.testing.receiver`: a threaded HTTP server in this process that
answers 200 at once and, unless `--no-verify`, checks every delivery with the official SDK's `construct_event`). One
account gets an agent with one number and a project webhook pointing at the receiver.

After a warm-up, `--messages` inbound SMS are sent through the control API (`POST /_emulator/sms`) by
`--concurrency` asyncio httpx tasks on keep-alive connections, each task from its own sender number. Every SMS
produces two deliveries (`agent.message` and `message.received`). The script prints:

* accepted SMS per second: messages / time until the last control API call returned;
* delivered SMS per second: messages / time until the last of their `agent.message` deliveries arrived
  (and the same for all deliveries);
* p50 / p99 / max time from the start of an SMS's control API call to the arrival of its `agent.message`
  (and `message.received`) delivery at the receiver, matched by the message id in the payload;
* the emulator's own delivery log (all-time stats), which must show every delivery as a success.

Loopback only; bounded by `--timeout`; exits by itself (status 1 when deliveries are missing or failed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.testing import EmulatorProcess, new_key  # noqa: E402
from emulator.testing.receiver import WebhookReceiver  # noqa: E402

PATH = "/bench"


@dataclass
class Run:
    started: float = 0.0  # perf_counter when the first control call began
    sent_at: dict[str, float] = field(default_factory=dict)  # message id -> perf_counter before its call
    answered_at: dict[str, float] = field(default_factory=dict)  # message id -> perf_counter after its answer
    accept_ms: list[float] = field(default_factory=list)  # control API latencies
    last_accepted: float = 0.0
    errors: int = 0


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def prepare(base_url: str, rx: WebhookReceiver, verify: bool) -> tuple[str, str]:
    """An account with an agent, its number and a project webhook to the receiver: (API key, number)."""
    key = new_key()
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        # the skill doc's vocabulary: two deliveries per inbound SMS (agent.message, message.received)
        client.patch(f"/_emulator/accounts/{key}",
                     json={"plan": "scale", "webhookEvents": "skill-doc"}).raise_for_status()
        client.headers["Authorization"] = f"Bearer {key}"
        agent = client.post("/v1/agents", json={"name": "SMS bench"})
        agent.raise_for_status()
        number = client.post("/v1/numbers", json={"agentId": agent.json()["id"]})
        number.raise_for_status()
        hook = client.post("/v1/webhooks", json={"url": rx.url_for(PATH)})
        hook.raise_for_status()
        if verify:  # the receiver checks what it has a secret for
            rx.expect(PATH, hook.json()["secret"])
    return key, number.json()["phoneNumber"]


async def send_all(base_url: str, to: str, count: int, concurrency: int, label: str) -> Run:
    run = Run()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:

        async def worker(slot: int) -> None:
            sender = f"+1415555{2000 + slot:04d}"
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                try:
                    resp = await client.post("/_emulator/sms",
                                             json={"from": sender, "to": to, "body": f"{label} message {i}"})
                    done = time.perf_counter()
                    resp.raise_for_status()
                except httpx.HTTPError:
                    run.errors += 1
                    continue
                message_id = resp.json()["message"]["id"]
                run.sent_at[message_id] = started
                run.answered_at[message_id] = done
                run.accept_ms.append((done - started) * 1000)
                run.last_accepted = max(run.last_accepted, done)

        run.started = time.perf_counter()
        await asyncio.gather(*(worker(slot) for slot in range(concurrency)))
    return run


def arrivals(rx: WebhookReceiver, event: str) -> dict[str, float]:
    """message id -> perf_counter at the first arrival of `event` for it."""
    out: dict[str, float] = {}
    for delivery in rx.received(PATH):
        if delivery.name != event:
            continue
        message_id = json.loads(delivery.body)["data"]["messageId"]
        out.setdefault(message_id, delivery.arrived)
    return out


def wait_all(rx: WebhookReceiver, expected: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(rx.received(PATH)) >= expected:
            return True
        time.sleep(0.01)
    return False


def settled_log(base_url: str, key: str, timeout: float) -> dict[str, int]:
    """The all-time delivery stats once nothing is pending (a delivery arrives before its outcome is logged)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        while True:
            log = client.get("/v1/webhooks/deliveries/all-time").json()
            if not log.get("pending") or time.monotonic() > deadline:
                return log
            time.sleep(0.05)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=2000, help="inbound SMS to send (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent control API calls (default 16)")
    parser.add_argument("--warmup", type=int, default=50, help="SMS sent and delivered before measuring (default 50)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for all deliveries after the last send (default 120)")
    parser.add_argument("--no-verify", action="store_true",
                        help="do not check signatures in the receiver (less CPU taken from the emulator)")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.concurrency < 1 or args.warmup < 0 or args.timeout <= 0:
        parser.error("need --messages >= 1, --concurrency >= 1, --warmup >= 0 and --timeout > 0")

    rx = WebhookReceiver().start()  # stopped below; failures are reported, not raised
    with tempfile.TemporaryDirectory(prefix="bench-sms-") as tmp:
        emulator = EmulatorProcess(db=str(Path(tmp) / "emulator.db"), args=["--log-level", "warning"])
        try:
            base_url = emulator.start()
            key, to = prepare(base_url, rx, not args.no_verify)
            if args.warmup:
                warm = asyncio.run(send_all(base_url, to, args.warmup, args.concurrency, "warm-up"))
                if not wait_all(rx, 2 * len(warm.sent_at), args.timeout):
                    print("FAILED: the warm-up deliveries did not all arrive", file=sys.stderr)
                    return 1
            before = len(rx.received(PATH))
            print(f"Sending {args.messages} inbound SMS with {args.concurrency} concurrent control API calls ...",
                  flush=True)
            run = asyncio.run(send_all(base_url, to, args.messages, args.concurrency, "bench"))
            complete = wait_all(rx, before + 2 * len(run.sent_at), args.timeout)
            log = settled_log(base_url, key, args.timeout if complete else 1.0)
        finally:
            emulator.stop()
            emulator.log.unlink(missing_ok=True)
            rx.stop()

    agent_message = {m: t for m, t in arrivals(rx, "agent.message").items() if m in run.sent_at}
    received = {m: t for m, t in arrivals(rx, "message.received").items() if m in run.sent_at}
    accepted = len(run.sent_at)
    accept_s = run.last_accepted - run.started
    all_arrivals = [*agent_message.values(), *received.values()]
    delivered_s = (max(agent_message.values()) - run.started) if agent_message else float("nan")
    all_s = (max(all_arrivals) - run.started) if all_arrivals else float("nan")
    latency = {
        "agent.message": [(t - run.sent_at[m]) * 1000 for m, t in agent_message.items()],
        "message.received": [(t - run.sent_at[m]) * 1000 for m, t in received.items()],
    }
    after_answer = [(t - run.answered_at[m]) * 1000 for m, t in agent_message.items()]

    print()
    checking = "verifies every delivery with the SDK" if not args.no_verify else "does not verify signatures"
    print(f"Inbound SMS: {args.messages} messages, {args.concurrency} concurrent control API calls, "
          f"{args.warmup} warm-up messages; the receiver answers 200 at once and {checking}.")
    print(f"Machine: {os.cpu_count()} CPU(s); the sender and the receiver run in this process, the emulator in "
          "a child process, all on one machine.")
    print()
    print(f"{'accepted SMS/s (control API)':<44} {accepted / accept_s:>10,.0f}   ({accepted} in {accept_s:.2f} s; "
          f"call p50 {percentile(run.accept_ms, 50):.1f} ms, p99 {percentile(run.accept_ms, 99):.1f} ms)")
    print(f"{'delivered SMS/s (agent.message arrived)':<44} {len(agent_message) / delivered_s:>10,.0f}   "
          f"({len(agent_message)} in {delivered_s:.2f} s)")
    print(f"{'webhook deliveries/s (both events)':<44} {len(all_arrivals) / all_s:>10,.0f}   "
          f"({len(all_arrivals)} in {all_s:.2f} s)")
    print()
    print(f"{'control API call -> webhook arrival':<38} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for event, values in latency.items():
        print(f"  {event:<36} {percentile(values, 50):>8.1f} {percentile(values, 99):>8.1f} "
              f"{max(values, default=float('nan')):>8.1f}")
    print(f"  {'(agent.message after the API answered)':<36} {percentile(after_answer, 50):>8.1f} "
          f"{percentile(after_answer, 99):>8.1f} {max(after_answer, default=float('nan')):>8.1f}")
    print()
    print(f"emulator delivery log (all-time): total {log.get('total')}, success {log.get('success')}, "
          f"failed {log.get('failed')}, pending {log.get('pending')}")

    problems = []
    if run.errors:
        problems.append(f"{run.errors} control API calls failed")
    if not complete or len(agent_message) < accepted or len(received) < accepted:
        problems.append(f"missing deliveries: agent.message {len(agent_message)}/{accepted}, "
                        f"message.received {len(received)}/{accepted}")
    if log.get("failed") or log.get("pending"):
        problems.append("the emulator logged failed or pending deliveries")
    if rx.failures:
        problems.append(f"{len(rx.failures)} deliveries failed SDK verification, e.g. {rx.failures[0]}")
    if problems:
        print("\nFAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
